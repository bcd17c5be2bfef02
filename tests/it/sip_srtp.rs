//! Our SRTP against an independent implementation (ffmpeg's, from
//! libavformat): what ffmpeg protects we unprotect to the very packets it
//! sends in clear, and what we protect ffmpeg decodes from an SDP carrying
//! our key in `a=crypto` (RFC 4568), as a room codec would.

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use diemcau::sip::srtp::{Context, MasterKey, Suite};

const SUITE: &str = "AES_CM_128_HMAC_SHA1_80";

/// RTP payloads ffmpeg sends for one second of a 440 Hz tone in PCMU, to
/// `url` (`rtp://` or `srtp://`), as received on `sock`.
fn ffmpeg_sends(sock: &UdpSocket, url: &str, srtp: Option<&str>) -> Vec<Vec<u8>> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=1"])
        .args(["-ar", "8000", "-ac", "1", "-c:a", "pcm_mulaw", "-f", "rtp"]);
    if let Some(key) = srtp {
        cmd.args(["-srtp_out_suite", SUITE, "-srtp_out_params", key]);
    }
    let mut child = cmd
        .arg(url)
        .stdout(Stdio::null())
        .spawn()
        .expect("ffmpeg runs");
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = sock.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    assert!(child.wait().unwrap().success(), "ffmpeg sent");
    got
}

#[test]
fn what_ffmpeg_protects_we_unprotect_to_the_packets_it_sends_in_clear() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let key = MasterKey::random();
    let clear = ffmpeg_sends(&sock, &format!("rtp://127.0.0.1:{port}"), None);
    let sealed = ffmpeg_sends(
        &sock,
        &format!("srtp://127.0.0.1:{port}"),
        Some(&key.to_inline()),
    );
    assert!(clear.len() >= 20, "{} packets", clear.len());
    assert_eq!(sealed.len(), clear.len());
    let mut rx = Context::new(Suite::AesCm128HmacSha1_80, &key);
    for (i, (s, c)) in sealed.iter().zip(&clear).enumerate() {
        let p = rx
            .unprotect_rtp(s)
            .unwrap_or_else(|e| panic!("packet {i}: {e}"));
        // ffmpeg picks its SSRC, sequence and timestamp at random each
        // run: the payloads must match.
        assert_eq!(p[12..], c[12..], "packet {i}");
    }
}

#[test]
fn what_we_protect_ffmpeg_decodes_from_an_sdp_with_our_key() {
    // Our payload: 1 s of µ-law samples of a ramp, known exactly (below
    // 0x7f: µ-law has two zeros, and ffmpeg re-encodes only one).
    let ulaw: Vec<u8> = (0..8000u32).map(|i| (i % 100) as u8 + 20).collect();
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let key = MasterKey::random();
    let dir = tempfile::tempdir().unwrap();
    let sdp = dir.path().join("in.sdp");
    std::fs::write(
        &sdp,
        format!(
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
             a=crypto:1 {SUITE} inline:{}\r\n",
            key.to_inline()
        ),
    )
    .unwrap();
    let out = dir.path().join("out.raw");
    let mut ffmpeg = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-protocol_whitelist", "file,udp,rtp,srtp", "-i"])
        .arg(&sdp)
        .args(["-t", "0.5", "-c:a", "pcm_mulaw", "-f", "mulaw"])
        .arg(&out)
        .stdout(Stdio::null())
        .spawn()
        .expect("ffmpeg runs");
    let tx_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut tx = Context::new(Suite::AesCm128HmacSha1_80, &key);
    // ffmpeg needs a moment to bind; send the second twice over, paced.
    std::thread::sleep(Duration::from_millis(700));
    for round in 0..2u16 {
        for (i, chunk) in ulaw.chunks(160).enumerate() {
            let seq = round * 50 + i as u16;
            let mut p = vec![0x80, 0x00];
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            p.extend_from_slice(&0x5eed_u32.to_be_bytes());
            p.extend_from_slice(chunk);
            let _ = tx_sock.send_to(&tx.protect_rtp(&p).unwrap(), ("127.0.0.1", port));
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert!(ffmpeg.wait().unwrap().success(), "ffmpeg decoded");
    let got = std::fs::read(&out).unwrap();
    assert!(got.len() >= 4000, "half a second of samples: {}", got.len());
    // Re-encoding µ-law to µ-law is lossless: the samples are ours, from
    // some point in the ramp on.
    let start = ulaw
        .iter()
        .position(|&b| b == got[0])
        .expect("a sample of ours");
    let ramp: Vec<u8> = ulaw
        .iter()
        .cycle()
        .skip(start)
        .take(got.len())
        .copied()
        .collect();
    assert_eq!(got, ramp);
}
