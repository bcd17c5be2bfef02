//! The server's ICE-lite agent and its one check per pair (str0m patch 7,
//! `vendor/str0m/PATCHES.md`).

use std::time::Duration;

use diemcau_testkit::vt::World;

/// A publisher and a viewer of its stage, joined and run for `d`.
fn publisher_and_viewer(d: Duration) -> (World, usize, usize) {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let b = w.join(false, 1, 1);
    w.run(d);
    (w, a, b)
}

/// A controlling agent that nominates on its own timer (webrtc-rs, pion)
/// nominates at once when the peer's check reaches a pair it has seen
/// succeed; an ice-lite server that never checks leaves it to its next tick.
#[test]
fn the_server_answers_a_peers_first_check_with_one_check_of_its_own() {
    let (w, a, b) = publisher_and_viewer(Duration::from_secs(20));
    for c in [a, b] {
        let client = &w.clients[c];
        assert!(
            client.stun_requests_out >= 3,
            "client {c} sent {} checks: the keepalives must have reached the server",
            client.stun_requests_out
        );
        assert_eq!(
            client.stun_requests_in, 1,
            "client {c}: one check from the server for its one pair, none for later checks"
        );
    }
    // The check did not disturb the session: media flows as before.
    let stage = w.clients[b].recv_mids[0];
    assert!(w.clients[b].on_mid(stage).len() > 1000);
}

/// Answering an `actpass` offer as the DTLS client (RFC 5763 §5): the
/// ClientHello leaves right after the reply to the peer's nomination, so a
/// client whose own ClientHello would wait for its next wake-up (webrtc-rs
/// queues it until its 200 ms ICE tick) does not hold the join.
#[test]
fn the_server_answers_an_actpass_offer_as_the_dtls_client() {
    let (w, a, b) = publisher_and_viewer(Duration::from_secs(2));
    for c in [a, b] {
        assert_eq!(
            w.clients[c].first_dtls_handshake_in,
            Some(1),
            "client {c}: the server's first DTLS handshake message is its ClientHello"
        );
    }
    let stage = w.clients[b].recv_mids[0];
    assert!(w.clients[b].on_mid(stage).len() > 100);
}
