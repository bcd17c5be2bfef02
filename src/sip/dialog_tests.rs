use super::*;
use crate::sip::message::tests::INVITE;
use crate::sip::transport::Transport;

fn peer() -> SocketAddr {
    "127.0.0.1:5070".parse().unwrap()
}

fn invite() -> Message {
    Message::parse(INVITE.as_bytes()).unwrap()
}

/// An in-dialog request from the codec: `method` with CSeq `n`, our tag.
fn in_dialog(method: &str, n: u32) -> Message {
    let raw = format!(
        "{method} sip:diemcau@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{method}{n}\r\n\
         From: <sip:room-a@127.0.0.1>;tag=1928301774\r\nTo: <sip:7001@127.0.0.1>;tag=srv\r\n\
         Call-ID: a84b4c76e66710@pc33\r\nCSeq: {n} {method}\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse(raw.as_bytes()).unwrap()
}

fn accepted(now: Instant, reliable: bool) -> (Dialogs, DialogId) {
    let mut d = Dialogs::default();
    let inv = invite();
    let ok = Message::response_to(&inv, 200, "OK", Some("srv"));
    let (id, _) = d
        .accept(
            now,
            &inv,
            &ok,
            peer(),
            if reliable {
                Transport::Tcp
            } else {
                Transport::Udp
            },
        )
        .unwrap();
    (d, id)
}

#[test]
fn the_2xx_is_retransmitted_until_the_ack_comes() {
    let t0 = Instant::now();
    let (mut d, _) = accepted(t0, false);
    assert_eq!(d.poll(t0 + T1, "127.0.0.1:5060").transmit.len(), 1);
    assert_eq!(d.receive(t0 + T1, &in_dialog("ACK", 314159)), InDialog::Ack);
    assert!(d.poll(t0 + 10 * T1, "127.0.0.1:5060").transmit.is_empty());
    assert_eq!(
        d.receive(t0 + T1, &in_dialog("ACK", 314159)),
        InDialog::Stale
    );
}

#[test]
fn no_ack_within_64_t1_ends_the_call_with_a_bye_to_the_contact() {
    let t0 = Instant::now();
    let (mut d, id) = accepted(t0, false);
    let mut now = t0;
    let mut sent = 0;
    while now < t0 + 64 * T1 {
        now += T1;
        let due = d.poll(now, "127.0.0.1:5060");
        sent += due.transmit.len();
        if let Some((ended, bye)) = due.ended.first() {
            assert_eq!(ended, &id);
            assert_eq!(
                bye.start,
                StartLine::Request {
                    method: Method::Bye,
                    uri: "sip:room-a@127.0.0.1:5070".into()
                }
            );
            assert_eq!(bye.from_tag(), Some("srv"));
            assert_eq!(bye.to_tag(), Some("1928301774"));
        }
    }
    assert!(d.is_empty());
    // T1 doubling to T2 within 32 s: 0.5, 1.5, 3.5, 7.5, then every 4 s.
    assert_eq!(sent, 10);
}

#[test]
fn a_bye_ends_the_dialog_and_a_later_request_is_unknown() {
    let t0 = Instant::now();
    let (mut d, _) = accepted(t0, true);
    assert_eq!(
        d.receive(t0, &in_dialog("ACK", 314159)),
        InDialog::Stale,
        "tcp: no 2xx pending"
    );
    assert_eq!(
        d.receive(t0, &in_dialog("INFO", 314160)),
        InDialog::Request(Method::Info)
    );
    assert_eq!(
        d.receive(t0, &in_dialog("INFO", 314160)),
        InDialog::Stale,
        "same cseq again"
    );
    assert_eq!(d.receive(t0, &in_dialog("BYE", 314161)), InDialog::Bye);
    assert_eq!(d.receive(t0, &in_dialog("INFO", 314162)), InDialog::Unknown);
}

#[test]
fn a_session_not_refreshed_in_its_interval_ends_and_a_refresh_extends_it() {
    let t0 = Instant::now();
    let raw = INVITE.replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nSession-Expires: 30\r\n",
    );
    let inv = Message::parse(raw.as_bytes()).unwrap();
    assert_eq!(
        session_interval(&inv),
        MIN_SESSION_EXPIRES,
        "raised to Min-SE"
    );
    let mut d = Dialogs::default();
    let ok = Message::response_to(&inv, 200, "OK", Some("srv"));
    d.accept(t0, &inv, &ok, peer(), Transport::Tcp).unwrap();
    let half = t0 + MIN_SESSION_EXPIRES / 2;
    assert_eq!(
        d.receive(half, &in_dialog("UPDATE", 314160)),
        InDialog::Request(Method::Update)
    );
    assert!(
        d.poll(t0 + MIN_SESSION_EXPIRES, "h").ended.is_empty(),
        "refreshed"
    );
    assert_eq!(d.poll(half + MIN_SESSION_EXPIRES, "h").ended.len(), 1);
}

#[test]
fn the_dialog_table_is_capped() {
    let t0 = Instant::now();
    let mut d = Dialogs::default();
    for i in 0..=MAX_DIALOGS {
        let raw = INVITE.replace("a84b4c76e66710@pc33", &format!("call{i}"));
        let inv = Message::parse(raw.as_bytes()).unwrap();
        let ok = Message::response_to(&inv, 200, "OK", Some("srv"));
        assert_eq!(
            d.accept(t0, &inv, &ok, peer(), Transport::Tcp).is_some(),
            i < MAX_DIALOGS
        );
    }
}

/// A dialled call (dial-out): the fixture INVITE is ours, the codec
/// answered with tag "cal" and its Contact.
fn dialled(now: Instant) -> (Dialogs, DialogId) {
    let mut d = Dialogs::default();
    let inv = invite();
    let mut ok = Message::response_to(&inv, 200, "OK", Some("cal"));
    ok.push_header("contact", "<sip:codec@127.0.0.1:5099>");
    let ok = Message::parse(&ok.to_bytes()).unwrap();
    let id = d
        .insert_uac(now, &inv, &ok, peer(), Transport::Udp)
        .unwrap();
    (d, id)
}

#[test]
fn a_dialled_call_s_dialog_takes_the_codec_s_bye_and_ours_goes_to_its_contact() {
    let now = Instant::now();
    let (mut d, id) = dialled(now);
    assert_eq!(
        (id.local_tag.as_str(), id.remote_tag.as_str()),
        ("1928301774", "cal")
    );
    // Our BYE: to the codec's Contact, From us, To them, the next CSeq.
    let (to, bye) = d.hang_up(&id, "127.0.0.1:5060", "z9hG4bKbye").unwrap();
    assert_eq!(to, peer());
    assert_eq!(
        bye.start,
        StartLine::Request {
            method: Method::Bye,
            uri: "sip:codec@127.0.0.1:5099".into()
        }
    );
    assert_eq!(bye.from_tag(), Some("1928301774"));
    assert_eq!(bye.to_tag(), Some("cal"));
    assert_eq!(bye.cseq(), Some((314160, Method::Bye)));
    // The codec's BYE names our tag as its To: it ends the dialog.
    let (mut d, _) = dialled(now);
    let raw = "BYE sip:diemcau@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKcb1\r\n\
               From: <sip:codec@127.0.0.1>;tag=cal\r\nTo: <sip:room-a@127.0.0.1>;tag=1928301774\r\n\
               Call-ID: a84b4c76e66710@pc33\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        d.receive(now, &Message::parse(raw.as_bytes()).unwrap()),
        InDialog::Bye
    );
    assert!(d.is_empty());
}

#[test]
fn a_dialled_call_without_session_timers_is_not_ended_by_them_within_the_day() {
    let now = Instant::now();
    let (mut d, _) = dialled(now);
    let due = d.poll(now + Duration::from_secs(3 * 3600), "127.0.0.1:5060");
    assert!(due.ended.is_empty() && due.transmit.is_empty());
    assert_eq!(d.len(), 1);
}
