//! What SIP room systems cost the server (issue 17): N room codecs in a
//! call at once — 1, 5, 10, 20 — each a `sipp` caller (an independent SIP
//! stack) that dials the meeting's number with its digest credentials and
//! sends what a room codec sends: G.711 A-law (sipp's own `g711a.pcap`)
//! and 720p30 H.264 at 1.5 Mbit/s (packets captured once from ffmpeg's
//! libx264, replayed from a pcap). The server, in this process as in
//! production (a release build, the default 720p25 composite), answers each
//! call, mixes each room's mix-minus in G.711, forwards the H.264 into the
//! meeting and sends every room the composite. CPU is read per thread from
//! `/proc/self/task` over 20 s once the calls are up: the SIP rooms' work
//! (tokio workers: SIP, the call gateways, the mix-minus), the media
//! workers (forwarding), and the composer (decode, compose, encode — one
//! encoding shared by every room, whatever their number).
//!
//! Run: `cargo bench --bench sip_rooms` (needs sipp and ffmpeg, as the
//! tests do; loopback only).

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diemcau::control::endpoints::Endpoints;
use diemcau::control::meetings::Meetings;
use diemcau::store::Actor;

// Shared with the API benches, which read the fields this one does not.
#[allow(dead_code)]
#[path = "support/province.rs"]
mod province;

/// Seconds of CPU measured per step, once every call of the step is up.
const MEASURE: Duration = Duration::from_secs(20);
/// How long each caller stays in the call: the calls come up, settle,
/// are measured, then hang up.
const CALL_S: u64 = 35;

/// 720p30 H.264 (constrained baseline, 1.5 Mbit/s, a keyframe every 2 s)
/// as RTP in a pcap for sipp's `play_pcap_video`: ffmpeg streams 8 s to a
/// socket here, the datagrams are written with their arrival times.
fn video_pcap() -> PathBuf {
    let path = std::env::temp_dir().join("diemcau-bench-h264-720p30.pcap");
    if path.exists() {
        return path;
    }
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let port = sock.local_addr().unwrap().port();
    let mut ff = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30",
            "-t",
            "8",
        ])
        .args([
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-preset",
            "veryfast",
        ])
        .args([
            "-tune",
            "zerolatency",
            "-b:v",
            "1500k",
            "-g",
            "60",
            "-bf",
            "0",
        ])
        .args(["-payload_type", "96", "-f", "rtp"])
        .arg(format!("rtp://127.0.0.1:{port}?pkt_size=1200"))
        .spawn()
        .expect("ffmpeg runs");
    let t0 = Instant::now();
    let mut packets = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = sock.recv(&mut buf) {
        packets.push((t0.elapsed(), buf[..n].to_vec()));
    }
    let _ = ff.wait();
    assert!(packets.len() > 500, "ffmpeg sent {} packets", packets.len());
    std::fs::write(&path, pcap(&packets)).unwrap();
    path
}

/// A pcap (Ethernet, IPv4, UDP) of RTP payloads at their times.
fn pcap(packets: &[(Duration, Vec<u8>)]) -> Vec<u8> {
    let mut out = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend(0i32.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out.extend(65_535u32.to_le_bytes());
    out.extend(1u32.to_le_bytes());
    for (at, payload) in packets {
        let udp_len = 8 + payload.len();
        let ip_len = 20 + udp_len;
        let frame_len = 14 + ip_len;
        out.extend((at.as_secs() as u32).to_le_bytes());
        out.extend(at.subsec_micros().to_le_bytes());
        out.extend((frame_len as u32).to_le_bytes());
        out.extend((frame_len as u32).to_le_bytes());
        out.extend([0u8; 12]);
        out.extend([0x08, 0x00]);
        let mut ip = vec![
            0x45,
            0,
            (ip_len >> 8) as u8,
            ip_len as u8,
            0,
            0,
            0,
            0,
            64,
            17,
            0,
            0,
        ];
        ip.extend([127, 0, 0, 1, 127, 0, 0, 1]);
        out.extend(ip);
        out.extend(6000u16.to_be_bytes());
        out.extend(6002u16.to_be_bytes());
        out.extend((udp_len as u16).to_be_bytes());
        out.extend([0, 0]);
        out.extend(payload);
    }
    out
}

/// The sipp scenario of one room codec: INVITE, the digest challenge
/// answered, the call held `CALL_S` seconds sending audio and video, BYE.
fn scenario(dir: &Path, video: &Path) -> PathBuf {
    let invite = |cseq: u32, auth: &str| {
        format!(
            r#"<send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:[field0]@[local_ip]:[local_port]>
{auth}Max-Forwards: 70
User-Agent: sipp room codec
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
m=video [media_port+2] RTP/AVP 96
a=rtpmap:96 H264/90000
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1
]]></send>
"#
        )
    };
    let ack = |cseq: u32| {
        format!(
            r#"<send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: {cseq} ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
"#
        )
    };
    let mut media = String::new();
    for _ in 0..CALL_S / 7 {
        media.push_str(&format!(
            "<nop><action><exec play_pcap_audio=\"/usr/share/sip-tester/g711a.pcap\"/>\
             <exec play_pcap_video=\"{}\"/></action></nop>\n<pause milliseconds=\"7000\"/>\n",
            video.display()
        ));
    }
    let xml = format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="room codec">
{first}<recv response="100" optional="true"/>
<recv response="401" auth="true"/>
{ack1}{second}<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="183" optional="true"/>
<recv response="200"/>
{ack2}{media}<send retrans="500"><![CDATA[
BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 3 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200"/>
</scenario>
"#,
        first = invite(1, ""),
        ack1 = ack(1),
        second = invite(2, "[authentication]\n"),
        ack2 = ack(2),
    );
    let path = dir.join("room.xml");
    std::fs::write(&path, xml).unwrap();
    path
}

/// CPU ticks per thread group of this process: (group, ticks).
fn cpu_by_group() -> BTreeMap<&'static str, u64> {
    let mut out = BTreeMap::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        let group = if name.starts_with("composer") {
            "composer"
        } else if name.starts_with("media") || name.starts_with("recv") {
            "media"
        } else {
            "sip + api (tokio)"
        };
        *out.entry(group).or_default() += ticks;
    }
    out
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let video = video_pcap();
    let data = tempfile::tempdir().unwrap();
    let mut c = diemcau::config::Config {
        data_dir: data.path().to_path_buf(),
        ..Default::default()
    };
    c.http.http_listen = Some("127.0.0.1:0".parse().unwrap());
    c.http.https_listen = None;
    c.media.bind = "127.0.0.1".parse().unwrap();
    c.media.udp_port = 0;
    c.media.tcp_port = 0;
    c.media.advertise = vec!["127.0.0.1".parse().unwrap()];
    c.media.workers = 2;
    c.sip.udp_listen = Some("127.0.0.1:0".parse().unwrap());
    c.sip.rtp_port_min = 33000;
    c.sip.rtp_port_max = 33999;
    let server = diemcau::Server::start(c).await.expect("server starts");
    let sip = server.sip_udp_addr().expect("a SIP listener");
    let store = server.state().store.clone();
    let (meeting, number, rooms) = province(&store, 20).await;
    // sipp's scenario, its inputs and its logs (kept to read after a run).
    let dir = std::env::temp_dir().join("diemcau-sip-bench");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let xml = scenario(&dir, &video);
    println!("CPU of the server process per thread group, % of one core, over {MEASURE:?}");
    println!(
        "{:>6} {:>10} {:>10} {:>10} {:>10} {:>14}",
        "rooms", "total", "sip+tokio", "media", "composer", "per room (sip)"
    );
    let idle = measure(Duration::from_secs(5)).await;
    print_row(0, &idle);
    for n in [1usize, 5, 10, 20] {
        let mut callers: Vec<Child> = Vec::new();
        for (i, (user, password)) in rooms.iter().take(n).enumerate() {
            let csv = dir.join(format!("room{i}.csv"));
            std::fs::write(&csv, format!("SEQUENTIAL\n{user};{password};\n")).unwrap();
            callers.push(
                Command::new("sipp")
                    .arg(sip.to_string())
                    .args(["-sf", xml.to_str().unwrap(), "-inf", csv.to_str().unwrap()])
                    .args(["-s", &number, "-m", "1", "-l", "1"])
                    .args(["-au", user, "-ap", password])
                    .args(["-i", "127.0.0.1", "-p", &(15060 + i).to_string()])
                    .args(["-mp", &(20000 + 10 * i).to_string()])
                    .args(["-timeout", "60s", "-nostdin", "-trace_err", "-trace_msg"])
                    .current_dir(&dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("sipp runs (apt: sip-tester)"),
            );
        }
        // Every call up (on the roll call), then a few seconds to settle.
        let deadline = Instant::now() + Duration::from_secs(20);
        while connected(&server, &meeting).await < n {
            assert!(Instant::now() < deadline, "{n} calls did not all come up");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
        let row = measure(MEASURE).await;
        print_row(n, &row);
        for mut c in callers {
            let _ = tokio::task::spawn_blocking(move || c.wait()).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

async fn measure(over: Duration) -> BTreeMap<&'static str, f64> {
    let before = cpu_by_group();
    let t0 = Instant::now();
    tokio::time::sleep(over).await;
    let after = cpu_by_group();
    let secs = t0.elapsed().as_secs_f64();
    after
        .iter()
        .map(|(g, t)| {
            let d = t.saturating_sub(before.get(g).copied().unwrap_or(0));
            // Ticks are 1/100 s (USER_HZ on Linux).
            (*g, d as f64 / 100.0 / secs * 100.0)
        })
        .collect()
}

fn print_row(n: usize, r: &BTreeMap<&'static str, f64>) {
    let g = |k: &str| r.get(k).copied().unwrap_or(0.0);
    let total: f64 = r.values().sum();
    let sip = g("sip + api (tokio)");
    println!(
        "{:>6} {:>9.1}% {:>9.1}% {:>9.1}% {:>9.1}% {:>13}",
        n,
        total,
        sip,
        g("media"),
        g("composer"),
        if n > 0 {
            format!("{:.2}%", sip / n as f64)
        } else {
            "—".into()
        }
    );
}

/// SIP rooms connected to the meeting now.
async fn connected(server: &diemcau::Server, meeting: &str) -> usize {
    let live = &server.state().live;
    let Some(room) = live.get(meeting) else {
        return 0;
    };
    let rc = live
        .apply(&room, |l, now| Ok((l.roll_call(now), Vec::new())))
        .await
        .expect("roll call");
    rc.sites.iter().filter(|s| s.connected).count()
}

/// A province of `n` communes, each with a SIP room system, and a meeting
/// open now for all of them (`support/province.rs`, as the API benches):
/// (meeting, dial-in number, (user, password) of each room).
async fn province(
    store: &diemcau::store::Store,
    n: usize,
) -> (String, String, Vec<(String, String)>) {
    let p = province::seed(store, n, "Hội nghị thử tải SIP").await;
    let endpoints = Endpoints::new(store.clone());
    let actor = Actor::command_line();
    let mut rooms = Vec::new();
    for id in &p.endpoints {
        let (user, password) = endpoints
            .issue_sip_password(&actor, id, "diemcau")
            .await
            .unwrap();
        rooms.push((user, password.expose().to_string()));
    }
    let m = Meetings::new(store.clone()).get(&p.meeting).await.unwrap();
    (p.meeting, m.sip_dial_in.expect("a dial-in number"), rooms)
}
