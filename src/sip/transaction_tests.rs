use super::*;
use crate::sip::message::tests::INVITE;

fn invite() -> Message {
    Message::parse(INVITE.as_bytes()).unwrap()
}

fn ack_for(req: &Message) -> Message {
    let raw = String::from_utf8(req.to_bytes())
        .unwrap()
        .replacen("INVITE sip", "ACK sip", 1);
    let raw = raw.replace("314159 INVITE", "314159 ACK");
    let raw = raw.split("Content-Type").next().unwrap().to_owned() + "Content-Length: 0\r\n\r\n";
    Message::parse(raw.as_bytes()).unwrap()
}

const PEER: &str = "127.0.0.1:5070";

fn peer() -> SocketAddr {
    PEER.parse().unwrap()
}

#[test]
fn a_retransmitted_invite_gets_the_last_response_again() {
    let (mut t, now) = (ServerTransactions::default(), Instant::now());
    let req = invite();
    let Received::New(key) = t.receive(now, &req, peer(), false) else {
        panic!()
    };
    assert_eq!(
        t.receive(now, &req, peer(), false),
        Received::Retransmission(None)
    );
    let trying = t.respond(now, &key, &Message::response_to(&req, 100, "Trying", None));
    assert_eq!(
        t.receive(now, &req, peer(), false),
        Received::Retransmission(Some(trying))
    );
}

#[test]
fn a_final_error_is_retransmitted_doubling_to_t2_until_the_ack() {
    let (mut t, t0) = (ServerTransactions::default(), Instant::now());
    let req = invite();
    let Received::New(key) = t.receive(t0, &req, peer(), false) else {
        panic!()
    };
    let sent = t.respond(
        t0,
        &key,
        &Message::response_to(&req, 404, "Not Found", Some("x")),
    );
    let mut at = Vec::new();
    let mut now = t0;
    while now < t0 + Duration::from_secs(10) {
        now += Duration::from_millis(100);
        for (to, bytes) in t.poll(now) {
            assert_eq!((to, &bytes), (peer(), &sent));
            at.push((now - t0).as_millis());
        }
    }
    // Timer G: T1, then 1 s, 2 s, 4 s (capped at T2) apart.
    assert_eq!(at, [500, 1500, 3500, 7500]);
    assert_eq!(
        t.receive(now, &ack_for(&req), peer(), false),
        Received::Absorbed
    );
    assert!(
        t.poll(now + T2).is_empty(),
        "no retransmission after the ack"
    );
    // Timer I then ends it: the same INVITE is new again.
    t.poll(now + T4);
    assert!(t.is_empty());
}

#[test]
fn an_unacknowledged_error_gives_up_at_timer_h() {
    let (mut t, t0) = (ServerTransactions::default(), Instant::now());
    let req = invite();
    let Received::New(key) = t.receive(t0, &req, peer(), false) else {
        panic!()
    };
    t.respond(
        t0,
        &key,
        &Message::response_to(&req, 486, "Busy Here", Some("x")),
    );
    t.poll(t0 + 64 * T1 - Duration::from_millis(1));
    assert_eq!(t.len(), 1);
    t.poll(t0 + 64 * T1);
    assert!(t.is_empty());
}

#[test]
fn a_2xx_ends_the_invite_transaction_and_its_ack_goes_to_the_dialog() {
    let (mut t, t0) = (ServerTransactions::default(), Instant::now());
    let req = invite();
    let Received::New(key) = t.receive(t0, &req, peer(), false) else {
        panic!()
    };
    t.respond(t0, &key, &Message::response_to(&req, 200, "OK", Some("x")));
    assert!(t.is_empty());
    assert!(matches!(
        t.receive(t0, &ack_for(&req), peer(), false),
        Received::New(_)
    ));
}

#[test]
fn over_tcp_nothing_is_retransmitted_and_nothing_lingers() {
    let (mut t, t0) = (ServerTransactions::default(), Instant::now());
    let req = invite();
    let Received::New(key) = t.receive(t0, &req, peer(), true) else {
        panic!()
    };
    t.respond(
        t0,
        &key,
        &Message::response_to(&req, 403, "Forbidden", Some("x")),
    );
    assert!(t.poll(t0 + T1).is_empty());
    t.receive(t0, &ack_for(&req), peer(), true);
    t.poll(t0 + T1);
    assert!(t.is_empty());
}

#[test]
fn the_table_is_capped_and_a_flood_beyond_it_is_full() {
    let (mut t, t0) = (ServerTransactions::default(), Instant::now());
    for i in 0..=MAX_TRANSACTIONS {
        let raw = INVITE.replace("z9hG4bK776asdhds", &format!("z9hG4bK{i}"));
        let r = t.receive(t0, &Message::parse(raw.as_bytes()).unwrap(), peer(), false);
        if i < MAX_TRANSACTIONS {
            assert!(matches!(r, Received::New(_)));
        } else {
            assert_eq!(r, Received::Full);
        }
    }
    assert_eq!(t.len(), MAX_TRANSACTIONS);
}
