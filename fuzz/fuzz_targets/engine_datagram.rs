//! Arbitrary datagrams (and ICE-TCP frames) into an engine with a joined
//! session: from the session's address and from strangers. Must never panic.
#![no_main]
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use diemcau::media::{Command, Engine, EngineConfig, JoinRequest, Role};
use str0m::media::{Direction, MediaKind};

thread_local! {
    static WORLD: std::cell::RefCell<(Engine, Instant)> = std::cell::RefCell::new(world());
}

fn world() -> (Engine, Instant) {
    let now = Instant::now();
    let server: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    let tcp: SocketAddr = "127.0.0.1:50001".parse().unwrap();
    let mut engine = Engine::new(
        EngineConfig {
            local_addrs: vec![server],
            tcp_addrs: vec![tcp],
            audio_slots_max: 3,
            worker: 0,
            workers: 1,
        },
        now,
    );
    let mut client = str0m::Rtc::builder().set_rtp_mode(true).build(now);
    client.add_local_candidate(str0m::Candidate::host("127.0.0.2:4000".parse().unwrap(), "udp").unwrap());
    let mut change = client.sdp_api();
    change.add_media(MediaKind::Video, Direction::SendRecv, None, None, None);
    change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, _) = change.apply().unwrap();
    engine
        .handle_command(
            now,
            Command::Join(JoinRequest {
                participant: 1,
                room: "fuzz".into(),
                name: "fuzz".into(),
                role: Role::Room,
                max_kbps: None,
                offer: offer.to_sdp_string(),
            }),
        )
        .unwrap();
    (engine, now)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    WORLD.with(|w| {
        let (engine, now) = &mut *w.borrow_mut();
        *now += Duration::from_millis(1);
        let server: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let from: SocketAddr = if data.first().is_some_and(|b| b & 1 == 0) {
            "127.0.0.2:4000".parse().unwrap()
        } else {
            "127.0.0.3:4000".parse().unwrap()
        };
        // Odd second bytes arrive as ICE-TCP frames (RFC 4571), the rest as UDP.
        if data.get(1).is_some_and(|b| b & 1 == 1) {
            let tcp: SocketAddr = "127.0.0.1:50001".parse().unwrap();
            engine.handle_tcp_frame(*now, from, tcp, data);
        } else {
            engine.handle_datagram(*now, from, server, data);
        }
        engine.handle_timeout(*now);
        engine.drain_transmits().for_each(drop);
    });
});
