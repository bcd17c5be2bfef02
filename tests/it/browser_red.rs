//! Chromium's own offer against the real server: the answer carries RED
//! (RFC 2198, `red/48000/2` over Opus) and Opus in-band FEC, and Chromium
//! then sends its audio as RED. Runs in a loopback-only namespace like the
//! other browser tests.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::browser::ChromeDriver;
use crate::support::{netns, server};

/// ICE and DTLS with one Chromium on a loaded 2-core machine: seconds; 30 s
/// only trips on a real failure.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Publish the fake microphone over WHIP from the page, as an encoder
/// would: Chromium's offer, the server's answer, what Chromium will send.
const PUBLISH: &str = "(async () => {
  const pc = new RTCPeerConnection();
  const media = await navigator.mediaDevices.getUserMedia({ audio: true });
  pc.addTransceiver(media.getAudioTracks()[0], { direction: 'sendonly' });
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const r = await fetch('/whip/demo', {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + TOKEN },
    body: offer.sdp,
  });
  const answer = await r.text();
  if (r.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  window.redPc = pc;
  const codecs = pc.getSenders()[0].getParameters().codecs || [];
  return { status: r.status, offer: offer.sdp, answer, send: codecs.map((c) => c.mimeType) };
})()";

/// What Chromium reports sending on its audio.
const SENT: &str = "(async () => {
  const st = await window.redPc.getStats();
  let out = null;
  st.forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'audio') out = s;
  });
  if (!out) return { packets: 0, codec: null, state: window.redPc.connectionState };
  const codec = out.codecId ? st.get(out.codecId) : null;
  return { packets: out.packetsSent, codec: codec ? codec.mimeType : null,
           state: window.redPc.connectionState };
})()";

/// The audio m-section of an SDP.
fn audio_section(sdp: &str) -> &str {
    let start = sdp.find("m=audio").expect("an audio m-line");
    let rest = &sdp[start..];
    let end = rest[1..].find("\nm=").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

/// The payload type an `a=rtpmap` line gives `codec` (e.g. `red/48000/2`).
fn pt_of(section: &str, codec: &str) -> Option<String> {
    section.lines().find_map(|l| {
        let rest = l.trim_end().strip_prefix("a=rtpmap:")?;
        let (pt, name) = rest.split_once(' ')?;
        name.eq_ignore_ascii_case(codec).then(|| pt.to_string())
    })
}

fn fmtp_of<'a>(section: &'a str, pt: &str) -> Option<&'a str> {
    let prefix = format!("a=fmtp:{pt} ");
    section
        .lines()
        .find_map(|l| l.trim_end().strip_prefix(prefix.as_str()))
}

#[test]
fn the_answer_to_a_chromium_offer_carries_red_and_chromium_sends_it() {
    netns::enter_loopback_only();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let server = server::start().await;
        let base = server.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        // Any page of the server's origin: the script's fetch goes there.
        page.navigate(&format!("{base}/healthz")).await;
        let script = PUBLISH.replace("TOKEN", &format!("{:?}", server::DEMO_TOKEN));
        let r: Value = page.eval_promise(&script).await.expect("publish script");
        assert_eq!(r["status"], json!(201), "WHIP answer: {r}");
        let offer = r["offer"].as_str().unwrap();
        let answer = r["answer"].as_str().unwrap();

        let offered = audio_section(offer);
        assert!(
            pt_of(offered, "red/48000/2").is_some(),
            "this Chromium offers no RED, the test proves nothing:\n{offered}"
        );
        let answered = audio_section(answer);
        let opus = pt_of(answered, "opus/48000/2").expect("Opus answered");
        let red = pt_of(answered, "red/48000/2")
            .unwrap_or_else(|| panic!("the answer leaves RED out:\n{answered}"));
        assert_eq!(
            fmtp_of(answered, &red),
            Some(format!("{opus}/{opus}").as_str()),
            "RED wraps Opus:\n{answered}"
        );
        assert!(
            fmtp_of(answered, &opus).is_some_and(|f| f.contains("useinbandfec=1")),
            "Opus in-band FEC stays on:\n{answered}"
        );
        // libwebrtc sends RED only when it precedes Opus in the answer.
        let formats: Vec<&str> = answered
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let at = |pt: &str| formats.iter().position(|f| *f == pt);
        assert!(
            at(&red) < at(&opus),
            "RED after Opus: {}",
            formats.join(" ")
        );
        assert_eq!(
            r["send"][0],
            json!("audio/red"),
            "Chromium's first send codec: {r}"
        );

        // And it does send RED once connected.
        let deadline = Instant::now() + MEDIA_TIMEOUT;
        let sent = loop {
            let s: Value = page.eval_promise(SENT).await.expect("stats script");
            if s["packets"].as_u64().unwrap_or(0) > 20 {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "no audio sent after {MEDIA_TIMEOUT:?}: {s}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        };
        // Chromium's stats name the codec inside RED (Opus); the server
        // counts what arrived as RED.
        let metrics = reqwest::get(format!("{}/metrics", server.metrics_url()))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body");
        let red_in: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("diemcau_room_red_packets_in_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(red_in > 0.0, "no RED packet arrived ({sent}):\n{metrics}");

        page.close().await;
        drop(driver);
        drop(server);
    });
}
