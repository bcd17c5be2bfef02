use super::*;
use crate::sip::message::tests::INVITE;
use crate::sip::transport::Transport;

const VIA: &str = "127.0.0.1:5060";

fn invite() -> Message {
    Message::parse(INVITE.as_bytes()).unwrap()
}

fn response(code: u16, reason: &str, to_tag: Option<&str>) -> Message {
    let mut r = Message::response_to(&invite(), code, reason, to_tag);
    if (200..300).contains(&code) {
        r.push_header("contact", "<sip:room@127.0.0.1:5099>");
    }
    Message::parse(&r.to_bytes()).unwrap()
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn an_unanswered_invite_is_retransmitted_doubling_then_times_out_after_timer_b() {
    let now = Instant::now();
    let (mut t, first) = ClientInvite::new(now, invite(), Transport::Udp, VIA);
    assert!(first_line(&first).starts_with("INVITE "));
    let mut sent_at = Vec::new();
    let mut at = now;
    let mut timed_out = None;
    while at < now + 70 * T1 {
        at += Duration::from_millis(100);
        let (out, ev) = t.poll(at);
        if !out.is_empty() {
            sent_at.push((at - now).as_millis());
        }
        if ev.is_some() {
            timed_out = Some((at - now).as_millis());
            break;
        }
    }
    // Timer A: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B at 32 s.
    assert_eq!(sent_at, vec![500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(timed_out, Some(32000));
    assert!(t.is_terminated());
}

#[test]
fn a_provisional_stops_retransmission_and_timer_b() {
    let now = Instant::now();
    let (mut t, _) = ClientInvite::new(now, invite(), Transport::Udp, VIA);
    let (ev, out) = t.receive(now, &response(180, "Ringing", Some("cal")));
    assert_eq!(ev, Some(UacEvent::Provisional(180)));
    assert!(out.is_empty());
    let (out, ev) = t.poll(now + 60 * T2);
    assert!(out.is_empty() && ev.is_none() && !t.is_final());
}

#[test]
fn a_busy_answer_is_acked_on_its_branch_and_its_retransmission_acked_again() {
    let now = Instant::now();
    let (mut t, _) = ClientInvite::new(now, invite(), Transport::Udp, VIA);
    let busy = response(486, "Busy Here", Some("cal"));
    let (ev, out) = t.receive(now, &busy);
    assert_eq!(ev, Some(UacEvent::Rejected(486, "Busy Here".into())));
    let ack = Message::parse(&out[0]).unwrap();
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.branch(), invite().branch());
    assert_eq!(ack.to_tag(), Some("cal"));
    assert_eq!(ack.cseq().unwrap().1, Method::Ack);
    let (ev, again) = t.receive(now + T1, &busy);
    assert_eq!((ev, again), (None, out));
    // Timer D ends it.
    t.poll(now + Duration::from_secs(33));
    assert!(t.is_terminated());
}

#[test]
fn a_2xx_is_acked_from_the_dialog_to_the_contact_and_retransmissions_get_the_same_ack() {
    let now = Instant::now();
    let (mut t, _) = ClientInvite::new(now, invite(), Transport::Udp, VIA);
    let ok = response(200, "OK", Some("cal"));
    let (ev, out) = t.receive(now, &ok);
    assert!(matches!(ev, Some(UacEvent::Answered(_))));
    let ack = Message::parse(&out[0]).unwrap();
    assert_eq!(first_line(&out[0]), "ACK sip:room@127.0.0.1:5099 SIP/2.0");
    assert_ne!(
        ack.branch(),
        invite().branch(),
        "a 2xx's ACK has a new branch"
    );
    assert_eq!(ack.cseq().unwrap().0, invite().cseq().unwrap().0);
    let (ev, again) = t.receive(now + T1, &ok);
    assert_eq!((ev, again), (None, out));
}

#[test]
fn abandoning_a_ringing_call_cancels_it_and_its_487_is_acked() {
    let now = Instant::now();
    let (mut t, _) = ClientInvite::new(now, invite(), Transport::Udp, VIA);
    t.receive(now, &response(180, "Ringing", Some("cal")));
    let cancel = Message::parse(&t.cancel(now).unwrap()).unwrap();
    assert_eq!(cancel.method(), Some(&Method::Cancel));
    assert_eq!(cancel.branch(), invite().branch());
    assert_eq!(cancel.cseq().unwrap().0, invite().cseq().unwrap().0);
    // Unanswered, the CANCEL is retransmitted.
    let (out, _) = t.poll(now + T1);
    assert_eq!(out.len(), 1);
    let mut ok_cancel = Message::response_to(&cancel, 200, "OK", Some("cal"));
    ok_cancel = Message::parse(&ok_cancel.to_bytes()).unwrap();
    t.receive(now + T1, &ok_cancel);
    assert!(t.poll(now + 10 * T1).0.is_empty());
    let (ev, out) = t.receive(now + T1, &response(487, "Request Terminated", Some("cal")));
    assert_eq!(
        ev,
        Some(UacEvent::Rejected(487, "Request Terminated".into()))
    );
    assert_eq!(out.len(), 1);
}

#[test]
fn a_call_abandoned_before_any_provisional_cancels_when_one_comes() {
    let now = Instant::now();
    let (mut t, _) = ClientInvite::new(now, invite(), Transport::Udp, VIA);
    assert_eq!(t.cancel(now), None, "no CANCEL before a provisional (§9.1)");
    let (_, out) = t.receive(now, &response(100, "Trying", None));
    let sent = Message::parse(&out[0]).unwrap();
    assert_eq!(sent.method(), Some(&Method::Cancel));
}

#[test]
fn over_tcp_nothing_is_retransmitted() {
    let now = Instant::now();
    let (mut t, _) = ClientInvite::new(now, invite(), Transport::Tcp, VIA);
    let (out, _) = t.poll(now + 10 * T1);
    assert!(out.is_empty());
}
