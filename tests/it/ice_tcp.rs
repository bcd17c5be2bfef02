//! ICE-TCP (RFC 6544 passive candidates, RFC 4571 framing) through the real
//! media driver: str0m peers whose only candidate is TCP connect to the
//! listener, and media flows both ways over the two connections. Bad
//! connections are closed and counted. Each test runs in its own
//! loopback-only namespace.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use diemcau::media::{JoinRequest, Reply, Role};
use diemcau::net::{Media, MediaSettings};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Input, Rtc};

use crate::support::netns;
use crate::support::vt::{Client, Publisher, RIDS};

/// ICE, DTLS and the first keyframes over loopback TCP take well under a
/// second; 20 s only trips on a real failure on a loaded machine.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(20);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn start_media() -> Media {
    let (media, _events) = Media::start(MediaSettings {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        advertise: vec![("127.0.0.1".parse().unwrap(), None)],
        workers: 2,
        audio_slots_max: 3,
        socket_buffer_bytes: 1 << 20,
        tcp_port: Some(0),
        room_split_sessions: 0,
    })
    .expect("media driver starts");
    // Engine events are not needed here: with the receiver gone they are
    // dropped by the workers' `try_send`.
    media
}

/// A str0m peer reaching the SFU over one TCP connection only: its one
/// local candidate is TCP (active), so it pairs with the server's passive
/// TCP candidate and never with the UDP one in the answer.
struct TcpPeer {
    client: Client,
    stream: TcpStream,
    server: SocketAddr,
    local: SocketAddr,
    inbuf: Vec<u8>,
    /// The server's ICE ufrag for this session.
    server_ufrag: String,
}

impl TcpPeer {
    async fn join(media: &Media, number: u8) -> TcpPeer {
        let server = media.tcp_addrs()[0];
        let stream = TcpStream::connect(server).expect("connect to the ICE-TCP port");
        stream.set_nonblocking(true).unwrap();
        stream.set_nodelay(true).unwrap();
        let local = stream.local_addr().unwrap();
        let now = Instant::now();
        let mut rtc = Rtc::builder()
            .set_rtp_mode(true)
            .set_stats_interval(Some(Duration::from_secs(1)))
            .build(now);
        rtc.add_local_candidate(
            Candidate::builder()
                .tcp()
                .host(local)
                .tcptype(TcpType::Active)
                .build()
                .unwrap(),
        );
        let mut change = rtc.sdp_api();
        let mut sim = Simulcast::new();
        for r in RIDS {
            sim.add_send_layer(SimulcastLayer::new(r));
        }
        let v = change.add_media(
            MediaKind::Video,
            Direction::SendOnly,
            Some("cam".into()),
            None,
            Some(sim),
        );
        let a = change.add_media(
            MediaKind::Audio,
            Direction::SendOnly,
            Some("cam".into()),
            None,
            None,
        );
        let recv_mids = vec![
            change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None),
            change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None),
        ];
        let (offer, pending) = change.apply().expect("offer");
        let (id, reply) = media
            .join(JoinRequest {
                participant: 0,
                room: "r".into(),
                name: format!("tcp {number}"),
                role: Role::Room,
                max_kbps: None,
                offer: offer.to_sdp_string(),
            })
            .await
            .expect("join");
        let Reply::Joined { answer, .. } = reply else {
            panic!("unexpected reply {reply:?}")
        };
        assert!(
            answer.contains(" tcp ") && answer.contains("tcptype passive"),
            "the answer offers a passive TCP candidate:\n{answer}"
        );
        let server_ufrag = answer
            .lines()
            .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
            .expect("an ice-ufrag in the answer")
            .to_string();
        rtc.sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .expect("answer");
        let client = Client {
            id,
            addr: local,
            rtc,
            publisher: Some(Publisher {
                number,
                video_mid: Some(v),
                audio_mid: Some(a),
                active: [true; 3],
                seq: [100, 20_000, 40_000],
                audio_seq: 5_000,
                frame_no: 0,
                keyframe_wanted: [true; 3],
                next_frame: now,
                next_audio: now,
                audio_level: -30,
                payload_len: 300,
                h264: false,
                red_levels: 0,
                drop_audio_every: None,
                audio_history: vec![],
                alt_mid: None,
                alt_on: false,
                alt_seq: 0,
                alt_keyframe_wanted: false,
                alt_sent: 0,
            }),
            received: vec![],
            keyframe_requests: 0,
            recv_mids,
            outbox: vec![],
            held_until: None,
            held_in: vec![],
            egress_loss: Default::default(),
            sender_reported: Default::default(),
            worker: 0,
            rtp_in_by_pt: Default::default(),
            stun_requests_in: 0,
            stun_requests_out: 0,
            first_dtls_handshake_in: None,
        };
        TcpPeer {
            client,
            stream,
            server,
            local,
            inbuf: Vec::new(),
            server_ufrag,
        }
    }

    /// One step: timers, publishing, our frames out, the server's in.
    fn step(&mut self) {
        let now = Instant::now();
        let c = &mut self.client;
        c.rtc.handle_input(Input::Timeout(now)).unwrap();
        c.drain();
        c.publish(now);
        c.drain();
        let mut wire = Vec::new();
        for (_, bytes) in c.outbox.drain(..) {
            wire.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            wire.extend_from_slice(&bytes);
        }
        write_all_nonblocking(&mut self.stream, &wire);
        let mut buf = [0u8; 65536];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("the server closed the ICE-TCP connection"),
                Ok(n) => self.inbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read from the ICE-TCP connection: {e}"),
            }
        }
        let mut off = 0;
        while self.inbuf.len() - off >= 2 {
            let len = u16::from_be_bytes([self.inbuf[off], self.inbuf[off + 1]]) as usize;
            if self.inbuf.len() - off - 2 < len {
                break;
            }
            let frame = &self.inbuf[off + 2..off + 2 + len];
            let input = Input::Receive(
                Instant::now(),
                Receive {
                    proto: Protocol::Tcp,
                    source: self.server,
                    destination: self.local,
                    contents: frame.try_into().expect("a frame str0m can parse"),
                },
            );
            c.rtc.handle_input(input).unwrap();
            c.drain();
            off += 2 + len;
        }
        self.inbuf.drain(..off);
    }

    /// Keep publishing, read nothing (the test reads the connection itself).
    fn step_sending(&mut self) {
        let now = Instant::now();
        let c = &mut self.client;
        c.rtc.handle_input(Input::Timeout(now)).unwrap();
        c.publish(now);
        c.drain();
        let mut wire = Vec::new();
        for (_, bytes) in c.outbox.drain(..) {
            wire.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            wire.extend_from_slice(&bytes);
        }
        // The server may close at any moment: a failed write is the close.
        let _ = self.stream.write_all(&wire);
    }

    /// Video and audio from publisher `from` arrived.
    fn got_media_of(&self, from: u8) -> (usize, usize) {
        let c = &self.client;
        let video = c
            .received
            .iter()
            .filter(|g| g.mid == c.recv_mids[0] && g.origin().0 == from)
            .count();
        let audio = c
            .received
            .iter()
            .filter(|g| g.mid == c.recv_mids[1] && g.payload.len() >= 5 && g.payload[3] == from)
            .count();
        (video, audio)
    }
}

fn write_all_nonblocking(stream: &mut TcpStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("write to the ICE-TCP connection: {e}"),
        }
    }
}

#[test]
fn two_peers_reaching_the_sfu_only_over_ice_tcp_get_each_others_media_until_one_leaves() {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let media = start_media();
        assert_eq!(media.tcp_addrs().len(), 1, "one TCP candidate address");
        let mut a = TcpPeer::join(&media, 1).await;
        let mut b = TcpPeer::join(&media, 2).await;
        let deadline = Instant::now() + MEDIA_TIMEOUT;
        loop {
            a.step();
            b.step();
            let (av, aa) = a.got_media_of(2);
            let (bv, ba) = b.got_media_of(1);
            if av > 30 && aa > 30 && bv > 30 && ba > 30 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "after {MEDIA_TIMEOUT:?}: A got {av} video / {aa} audio packets of B, \
                 B got {bv} / {ba} of A (connected: {} {})",
                a.client.rtc.is_connected(),
                b.client.rtc.is_connected(),
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The engine marks both links TCP (its peer stats, each second).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            a.step();
            b.step();
            let parts: Vec<_> = media
                .stats()
                .await
                .into_iter()
                .flat_map(|s| s.participants)
                .collect();
            if parts.len() == 2 && parts.iter().all(|p| p.connected && p.tcp) {
                break;
            }
            assert!(Instant::now() < deadline, "links not marked TCP: {parts:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let c = media.counters();
        assert_eq!(
            c.datagrams_in.load(Ordering::Relaxed),
            0,
            "nothing came over UDP"
        );
        assert!(c.tcp.frames_in.load(Ordering::Relaxed) > 100);
        assert_eq!(c.tcp.open.load(Ordering::Relaxed), 2);

        // A leaves (as the event pump forgets it): its connection closes
        // though A keeps sending; B's stays.
        media
            .participant_command(
                a.client.id,
                diemcau::media::Command::Leave {
                    participant: a.client.id,
                },
            )
            .await
            .expect("leave");
        media.forget(a.client.id);
        let deadline = Instant::now() + diemcau::net::tcp::SESSION_CHECK + Duration::from_secs(3);
        let mut buf = [0u8; 65536];
        loop {
            a.step_sending();
            b.step();
            match a.stream.read(&mut buf) {
                Ok(0) => break,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "the connection of a session that left is still open"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(c.tcp.closed_idle.load(Ordering::Relaxed), 1);
        assert_eq!(c.tcp.open.load(Ordering::Relaxed), 1);
        media.shutdown();
    });
}

/// A STUN binding request naming `ufrag` (enough for the demux; str0m
/// checks integrity later), framed.
fn framed_binding_request(ufrag: &str) -> Vec<u8> {
    let username = format!("{ufrag}:peer");
    let mut attr = vec![0x00, 0x06];
    attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attr.extend_from_slice(username.as_bytes());
    while attr.len() % 4 != 0 {
        attr.push(0);
    }
    let mut m = vec![0x00, 0x01];
    m.extend_from_slice(&(attr.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    m.extend_from_slice(&[7; 12]);
    m.extend_from_slice(&attr);
    let mut framed = (m.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&m);
    framed
}

/// Read until the server closes the connection (EOF or reset), within `within`.
fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn ice_tcp_connections_naming_no_session_or_sending_an_oversize_frame_are_closed_and_counted() {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let media = start_media();
        let server = media.tcp_addrs()[0];
        let c = media.counters();

        // A first frame that names no session: closed at once.
        let mut s = TcpStream::connect(server).unwrap();
        s.write_all(&framed_binding_request("nosuchufrag")).unwrap();
        assert!(closed_by_server(&mut s, Duration::from_secs(3)));
        // Garbage that is not STUN at all: the same.
        let mut s = TcpStream::connect(server).unwrap();
        s.write_all(&[0, 4, 0x80, 0x60, 0, 1]).unwrap();
        assert!(closed_by_server(&mut s, Duration::from_secs(3)));
        // Silence: closed after the authentication timeout.
        let mut s = TcpStream::connect(server).unwrap();
        let t0 = Instant::now();
        assert!(closed_by_server(
            &mut s,
            diemcau::net::tcp::AUTH_TIMEOUT + Duration::from_secs(3)
        ));
        assert!(t0.elapsed() >= diemcau::net::tcp::AUTH_TIMEOUT - Duration::from_millis(100));
        assert_eq!(c.tcp.refused_unauthenticated.load(Ordering::Relaxed), 3);

        // A live session's ufrag gets in; a frame above the cap then closes it.
        // (The peer's own connection stays open and quiet meanwhile.)
        let peer = TcpPeer::join(&media, 1).await;
        let mut s = TcpStream::connect(server).unwrap();
        s.write_all(&framed_binding_request(&peer.server_ufrag))
            .unwrap();
        let oversize = diemcau::net::tcp::MAX_FRAME_BYTES + 1;
        let mut frame = (oversize as u16).to_be_bytes().to_vec();
        frame.resize(2 + oversize, 0x80);
        s.write_all(&frame).unwrap();
        assert!(closed_by_server(&mut s, Duration::from_secs(3)));
        assert_eq!(c.tcp.closed_oversize_frame.load(Ordering::Relaxed), 1);
        assert_eq!(c.tcp.refused_unauthenticated.load(Ordering::Relaxed), 3);
        media.shutdown();
    });
}
