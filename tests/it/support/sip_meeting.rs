//! A meeting SIP room codecs dial into: a server with SIP listeners (UDP
//! and TCP on ephemeral ports, TLS when asked) and the demo province, every
//! room with a SIP password; baresip rooms that dial the meeting's number
//! (each in its own directory, on its own port) and the roll call that
//! shows them. The SIP tests (sip, sip_vp8, sip_browser, sip_tls, sip_g722,
//! sip_bad_input) set up their meeting through it.

use std::time::{Duration, Instant};

use diemcau::control::live::RollCall;
use diemcau::demo::DemoProvince;

use crate::support::baresip::{Baresip, Options};
use crate::support::server::{self, TestServer};

/// How long a call may take to show on the roll call.
const JOIN_TIMEOUT: Duration = Duration::from_secs(15);
/// baresip reads its config and opens its ports before it can dial.
const BARESIP_START: Duration = Duration::from_millis(500);
/// The SIP media ports the server takes (a test's own namespace).
const RTP_PORT_MIN: u16 = 31000;
const RTP_PORT_MAX: u16 = 31999;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Which of the server's SIP listeners a room dials.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    /// Needs [`SipMeeting::start_with`] turning `tls_listen` on; the room
    /// then trusts the server's generated CA.
    Tls,
}

/// How a baresip room dials in.
#[derive(Clone, Debug)]
pub struct Dial {
    /// The tone the room sends, Hz (what the others should hear).
    pub tone_hz: f32,
    pub transport: Transport,
    /// Video, SRTP, the audio codec module (the CA comes with `Tls`).
    pub options: Options,
}

impl Default for Dial {
    fn default() -> Self {
        Self {
            tone_hz: 440.0,
            transport: Transport::Udp,
            options: Options::default(),
        }
    }
}

impl Dial {
    /// A room sending `hz` over UDP, audio only.
    pub fn tone(hz: f32) -> Self {
        Self {
            tone_hz: hz,
            ..Self::default()
        }
    }

    /// A room codec with its camera (baresip's H.264), over UDP.
    pub fn with_video() -> Self {
        Self {
            options: Options {
                video: true,
                ..Options::default()
            },
            ..Self::default()
        }
    }
}

pub struct SipMeeting {
    pub s: TestServer,
    pub p: DemoProvince,
    /// The rooms' baresip directories (config, tone, what they heard).
    dirs: tempfile::TempDir,
}

impl SipMeeting {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// [`SipMeeting::start`] with more configuration.
    pub async fn start_with(tweak: impl FnOnce(&mut diemcau::config::Config)) -> Self {
        let s = server::start_with(|c| {
            c.sip.udp_listen = Some("127.0.0.1:0".parse().unwrap());
            c.sip.tcp_listen = Some("127.0.0.1:0".parse().unwrap());
            c.sip.rtp_port_min = RTP_PORT_MIN;
            c.sip.rtp_port_max = RTP_PORT_MAX;
            tweak(c);
        })
        .await;
        let store = s.server.state().store.clone();
        let mut p = diemcau::demo::seed(&store).await.expect("demo province");
        diemcau::demo::seed_sip(&store, &mut p, "diemcau")
            .await
            .expect("sip passwords");
        let dirs = tempfile::tempdir().expect("a directory for the rooms");
        Self { s, p, dirs }
    }

    pub fn meeting_id(&self) -> &str {
        &self.p.meeting_id
    }

    /// The demo's room `i` as a baresip dialling the meeting's number;
    /// returns it and the room's endpoint id. Does not wait for the call.
    pub fn dial(&self, i: usize, dial: Dial) -> (Baresip, String) {
        let server = &self.s.server;
        let (sip, transport) = match dial.transport {
            Transport::Udp => (server.sip_udp_addr(), ""),
            Transport::Tcp => (server.sip_tcp_addr(), ";transport=tcp"),
            Transport::Tls => (server.sip_tls_addr(), ";transport=tls"),
        };
        let sip = sip.expect("the server listens on the room's transport");
        let mut options = dial.options;
        if dial.transport == Transport::Tls {
            options.ca_pem = server.state().ca_pem.as_deref().map(str::to_owned);
        }
        let room = &self.p.rooms[i];
        let (user, password) = room.sip.clone().expect("a sip password");
        let mut b = Baresip::start_opts(
            &self.dirs.path().join(format!("room{i}")),
            &user,
            &password,
            &sip.to_string(),
            // baresip takes port + 1 for TLS: rooms ten apart.
            5070 + 10 * i as u16,
            dial.tone_hz,
            &options,
        );
        std::thread::sleep(BARESIP_START);
        let number = self.p.sip_dial_in.as_deref().expect("a dial-in number");
        b.dial(&format!("sip:{number}@{sip}{transport}"));
        (b, room.endpoint_id.clone())
    }

    /// Rooms `rooms` dialled in as `dial`, each on the roll call.
    pub async fn dial_connected(&self, rooms: &[usize], dial: Dial) -> Vec<(Baresip, String)> {
        let dialled: Vec<(Baresip, String)> =
            rooms.iter().map(|&i| self.dial(i, dial.clone())).collect();
        let ids: Vec<&str> = dialled.iter().map(|(_, e)| e.as_str()).collect();
        self.wait_connected(&ids).await;
        dialled
    }

    pub async fn roll_call(&self) -> RollCall {
        roll_call(&self.s, &self.p.meeting_id).await
    }

    /// Wait until every one of `endpoints` is connected on the roll call.
    pub async fn wait_connected(&self, endpoints: &[&str]) {
        let meeting = self.meeting_id();
        let deadline = Instant::now() + JOIN_TIMEOUT;
        loop {
            if self.s.server.state().live.get(meeting).is_none() {
                // The live room opens with the first admission.
                assert!(Instant::now() < deadline, "no live room for {meeting}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let rc = self.roll_call().await;
            let on = |e: &&str| {
                rc.sites
                    .iter()
                    .any(|site| site.endpoint_id == *e && site.connected)
            };
            if endpoints.iter().all(on) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "rooms {endpoints:?} not on the roll call"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Put `endpoint` on the main stage, as the console's operator does.
    pub async fn stage(&self, endpoint: &str) {
        let live = &self.s.server.state().live;
        let room = live.get(self.meeting_id()).expect("the live room");
        let staged = endpoint.to_string();
        live.apply(&room, |l, _| Ok(((), l.set_stage(vec![staged])?)))
            .await
            .expect("stage the room");
    }

    pub async fn shutdown(self) {
        self.s.server.shutdown().await;
    }
}

/// The roll call of `meeting`'s live room.
pub async fn roll_call(s: &TestServer, meeting: &str) -> RollCall {
    let live = &s.server.state().live;
    let room = live.get(meeting).expect("the meeting's live room");
    live.apply(&room, |l, now| Ok((l.roll_call(now), Vec::new())))
        .await
        .expect("roll call")
}
