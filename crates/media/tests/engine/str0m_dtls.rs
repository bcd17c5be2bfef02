//! str0m patch 10 "dtls-quiet" (vendor/str0m/PATCHES.md): once connected,
//! an `Rtc` stops polling its DTLS instance until the instance has input,
//! a timeout or data to send. Two plain str0m peers on virtual time, no
//! engine: what must still cross DTLS after it went quiet does.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::channel::ChannelId;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

struct Peer {
    rtc: Rtc,
    addr: SocketAddr,
    next: Instant,
    connected: bool,
    opened: Vec<ChannelId>,
    got: Vec<Vec<u8>>,
}

impl Peer {
    fn new(now: Instant, addr: &str) -> Peer {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut rtc = Rtc::builder().build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        Peer {
            rtc,
            addr,
            next: now,
            connected: false,
            opened: Vec::new(),
            got: Vec::new(),
        }
    }

    /// Everything the peer has to send now, after draining its events.
    fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(t) => {
                    self.next = t;
                    return out;
                }
                Output::Transmit(t) => out.push(t.contents.to_vec()),
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::ChannelOpen(id, _)) => self.opened.push(id),
                Output::Event(Event::ChannelData(d)) => self.got.push(d.data),
                Output::Event(_) => {}
            }
        }
    }

    fn receive(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: from,
                destination: self.addr,
                contents: bytes.try_into().unwrap(),
            },
        );
        self.rtc.handle_input(input).unwrap();
    }
}

/// Runs both peers for `d` of virtual time: every datagram delivered at
/// once, each peer's timeout as it comes up.
fn run(now: &mut Instant, a: &mut Peer, b: &mut Peer, d: Duration) {
    let end = *now + d;
    loop {
        for _ in 0..32 {
            let (from_a, from_b) = (a.drain(), b.drain());
            if from_a.is_empty() && from_b.is_empty() {
                break;
            }
            for p in from_a {
                b.receive(*now, a.addr, &p);
            }
            for p in from_b {
                a.receive(*now, b.addr, &p);
            }
        }
        if *now >= end {
            return;
        }
        *now = a
            .next
            .min(b.next)
            .min(end)
            .max(*now + Duration::from_micros(100));
        if a.next <= *now {
            a.rtc.handle_input(Input::Timeout(*now)).unwrap();
        }
        if b.next <= *now {
            b.rtc.handle_input(Input::Timeout(*now)).unwrap();
        }
    }
}

#[test]
fn a_data_channel_opened_after_dtls_went_quiet_carries_messages_both_ways() {
    let mut now = Instant::now();
    let mut a = Peer::new(now, "127.0.0.1:41000");
    let mut b = Peer::new(now, "127.0.0.2:42000");
    // An m=application line so SCTP is negotiated; the channel comes later.
    let mut change = a.rtc.sdp_api();
    let _first = change.add_channel("first".into());
    let (offer, pending) = change.apply().unwrap();
    let answer = b.rtc.sdp_api().accept_offer(offer).unwrap();
    a.rtc.sdp_api().accept_answer(pending, answer).unwrap();
    run(&mut now, &mut a, &mut b, Duration::from_secs(3));
    assert!(a.connected && b.connected, "the peers connect");

    // Seconds with nothing to say: both DTLS instances have gone quiet.
    run(&mut now, &mut a, &mut b, Duration::from_secs(5));

    // A new channel and its messages are DTLS application data both ways.
    let id = a
        .rtc
        .direct_api()
        .create_data_channel(str0m::channel::ChannelConfig {
            label: "later".into(),
            ..Default::default()
        });
    run(&mut now, &mut a, &mut b, Duration::from_secs(1));
    assert!(
        a.opened.contains(&id),
        "the new channel opens: {:?}",
        a.opened
    );
    let on_b = *b.opened.last().expect("b sees a channel open");
    run(&mut now, &mut a, &mut b, Duration::from_secs(2));
    a.rtc.channel(id).unwrap().write(true, b"to b").unwrap();
    run(&mut now, &mut a, &mut b, Duration::from_millis(500));
    b.rtc.channel(on_b).unwrap().write(true, b"to a").unwrap();
    run(&mut now, &mut a, &mut b, Duration::from_millis(500));
    assert!(b.got.iter().any(|m| m == b"to b"), "b got {:?}", b.got);
    assert!(a.got.iter().any(|m| m == b"to a"), "a got {:?}", a.got);
}
