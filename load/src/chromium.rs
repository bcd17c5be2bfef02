//! Joins with a real browser: Debian's headless Chromium in the load's
//! namespace, driven by a page of our own (`chromium_join.html`, loaded from
//! a file in the temp dir) that reports on its console, which the harness
//! reads from Chromium's stderr. One Chromium publishes its fake camera
//! (VP8 simulcast q/h/f, as the room page sends it: real frames from
//! libwebrtc's encoder, so the viewers can decode them and keyframes have
//! their real size); a second makes `joins` viewer joins one after another,
//! each timed from its offer (diemcau) or subscribe request (Janus) to the
//! first decoded video frame (`framesDecoded` in getStats). Chromium paces
//! its ICE checks itself, unlike webrtc-rs's 200 ms ticker.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::Value;

use crate::cleanup;
use crate::stats::percentile_ms;

pub const CHROMIUM: &str = "/usr/bin/chromium";
const PAGE: &str = include_str!("chromium_join.html");
/// Flags of the browser tests (tests/it/support/browser.rs), plus the
/// console on stderr.
const ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-quic",
    "--enable-logging=stderr",
    "--v=0",
];
/// The publisher's Chromium starts, captures and connects within this.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);
/// Per join (the page gives up on one after 10 s).
const JOIN_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Serialize)]
pub struct ChromiumJoinResult {
    pub joins: usize,
    pub ok: usize,
    /// Offer (or subscribe request) → first decoded video frame.
    pub join_p50_ms: f64,
    pub join_p99_ms: f64,
    pub join_max_ms: f64,
    /// Phases, p50: signalling (→ answer applied, ICE gathering included),
    /// ICE + DTLS (→ connected), first frame decoded after that.
    pub signal_p50_ms: f64,
    pub connect_p50_ms: f64,
    pub media_p50_ms: f64,
    /// Of the signalling: the wait for Chromium's ICE gathering to
    /// complete (the offer's for diemcau, the answer's for Janus), p50.
    pub gather_p50_ms: f64,
    /// The first-frame phase in steps, p50 after connecting: the first
    /// video packet, the first whole frame (before decoding). Both on the
    /// 50 ms grain of Chromium's stats reports (the decoded frame is not).
    pub first_packet_p50_ms: f64,
    pub first_frame_received_p50_ms: f64,
    /// Within 60 ms of the first frame, p50: its width, the PLIs and
    /// NACKs the viewer sent, the RTX packets it received (a server's
    /// probe padding).
    pub width_at_first_frame_p50: f64,
    pub plis_at_first_frame_p50: f64,
    pub nacks_at_first_frame_p50: f64,
    pub rtx_at_first_frame_p50: f64,
    /// Whether the server's SDP said `a=ice-lite` (first join).
    pub remote_ice_lite: Option<bool>,
    pub failures: Vec<String>,
}

/// Where the page signals.
pub enum Signalling {
    /// diemcau refuses a WebSocket from another origin (harden.rs): the
    /// script runs in its `/healthz` page (`http_base`), put there over the
    /// DevTools protocol.
    Diemcau {
        http_base: String,
        meeting: String,
        token: String,
        /// Wait for ICE gathering before sending the offer (the room page
        /// does); false: offer at once, without candidates.
        gather: bool,
    },
    Janus {
        ws_url: String,
        room: u64,
    },
}

impl Signalling {
    fn query(&self) -> String {
        match self {
            Signalling::Diemcau {
                http_base,
                meeting,
                token,
                gather,
            } => format!(
                "target=diemcau&ws={}/ws&meeting={meeting}&token={token}&gather={}",
                http_base.replacen("http", "ws", 1),
                u8::from(*gather)
            ),
            Signalling::Janus { ws_url, room } => format!("target=janus&ws={ws_url}&room={room}"),
        }
    }
}

/// One Chromium process (its own process group and profile); ended by PID.
struct Browser {
    pid: u32,
    lines: mpsc::Receiver<(String, Value)>,
}

impl Browser {
    /// Chromium running the page's script with `query`.
    fn start(
        dir: &std::path::Path,
        name: &str,
        sig: &Signalling,
        query: &str,
    ) -> anyhow::Result<Browser> {
        let page = dir.join("chromium_join.html");
        std::fs::write(&page, PAGE)?;
        let profile = dir.join(format!("chromium-{name}"));
        std::fs::create_dir_all(&profile)?;
        let mut cmd = Command::new(CHROMIUM);
        cmd.args(ARGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let inject = match sig {
            Signalling::Diemcau { http_base, .. } => {
                let url = format!("{http_base}/healthz");
                // Its camera and microphone need a secure context, which
                // Chromium did not grant the plain-text page.
                cmd.arg("--remote-debugging-port=0")
                    .arg(format!(
                        "--unsafely-treat-insecure-origin-as-secure={http_base}"
                    ))
                    .arg(&url);
                Some(url)
            }
            Signalling::Janus { .. } => {
                cmd.arg(format!("file://{}?{query}", page.display()));
                None
            }
        };
        // Own process group: its renderer and GPU helpers end with it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().with_context(|| format!("start {CHROMIUM}"))?;
        let pid = child.id();
        cleanup::register_child(pid);
        let stderr = child.stderr.take().context("chromium stderr")?;
        drop(child);
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(":CONSOLE") && !line.contains("\"DL ") {
                    // The page's own errors, for a failed join.
                    eprintln!("chromium: {line}");
                }
                let m = match line.split_once("DevTools listening on ") {
                    Some((_, url)) => Some(("DEVTOOLS".to_string(), Value::from(url.trim()))),
                    None => console_message(&line),
                };
                if let Some(m) = m
                    && tx.send(m).is_err()
                {
                    break;
                }
            }
        });
        let b = Browser { pid, lines };
        if let Some(url) = inject {
            let r = b
                .expect("DEVTOOLS", Duration::from_secs(20))
                .and_then(|v| inject_script(v.as_str().unwrap_or(""), &url, query));
            if let Err(e) = r {
                b.stop();
                return Err(e);
            }
        }
        Ok(b)
    }
    /// The next message tagged `tag` (others: FAIL ends the wait).
    fn expect(&self, tag: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (t, v) = self
                .lines
                .recv_timeout(left)
                .with_context(|| format!("no {tag} from Chromium within {timeout:?}"))?;
            if t == tag {
                return Ok(v);
            }
            if t == "FAIL" {
                bail!("the Chromium page failed: {v}");
            }
        }
    }

    fn stop(self) {
        // SAFETY: signalling the process group of a child we spawned.
        unsafe { libc::kill(-(self.pid as i32), libc::SIGTERM) };
        cleanup::stop_child(self.pid as i32);
        cleanup::forget_child(self.pid);
    }
}

/// Evaluate the page's script, with `DL_QUERY = query`, in the page at
/// `url` once it has loaded (DevTools protocol: the page target's
/// WebSocket, `Runtime.evaluate`; evaluation is not subject to the page's
/// CSP, its WebSocket is same-origin).
fn inject_script(devtools: &str, url: &str, query: &str) -> anyhow::Result<()> {
    use tokio_tungstenite::tungstenite::{Message, connect};
    // ws://127.0.0.1:PORT/devtools/browser/ID → 127.0.0.1:PORT
    let hostport = devtools
        .strip_prefix("ws://")
        .and_then(|r| r.split('/').next())
        .with_context(|| format!("DevTools address {devtools:?}"))?
        .to_string();
    let script = PAGE
        .split_once("<script>")
        .and_then(|(_, r)| r.split_once("</script>"))
        .map(|(s, _)| s)
        .context("the page's script")?;
    let expr = format!("window.DL_QUERY = {};\n{script}", Value::from(query));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = devtools_pages(&hostport)?
            .into_iter()
            .find(|p| p["type"] == "page" && p["url"].as_str().is_some_and(|u| u.starts_with(url)));
        if let Some(ws) = page
            .as_ref()
            .and_then(|p| p["webSocketDebuggerUrl"].as_str())
        {
            let (mut sock, _) = connect(ws).with_context(|| format!("DevTools {ws}"))?;
            let ready = serde_json::json!({"id": 1, "method": "Runtime.evaluate",
                "params": {"expression": "document.readyState + ' ' + location.href", "returnByValue": true}});
            sock.send(Message::Text(ready.to_string().into()))?;
            let complete = loop {
                if let Message::Text(t) = sock.read()? {
                    let v: Value = serde_json::from_str(t.as_str())?;
                    if v["id"] == 1 {
                        // Loaded, and not the blank page before it.
                        break v["result"]["result"]["value"]
                            .as_str()
                            .is_some_and(|r| r == format!("complete {url}"));
                    }
                }
            };
            if complete {
                let run = serde_json::json!({"id": 2, "method": "Runtime.evaluate",
                    "params": {"expression": expr}});
                sock.send(Message::Text(run.to_string().into()))?;
                loop {
                    if let Message::Text(t) = sock.read()? {
                        let v: Value = serde_json::from_str(t.as_str())?;
                        if v["id"] == 2 {
                            if v["result"]["exceptionDetails"].is_object() {
                                bail!("the page's script threw: {v}");
                            }
                            return Ok(());
                        }
                    }
                }
            }
        }
        if Instant::now() > deadline {
            bail!("Chromium did not load {url} within 20 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `GET /json/list` of the DevTools HTTP endpoint.
fn devtools_pages(hostport: &str) -> anyhow::Result<Vec<Value>> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(hostport)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET /json/list HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n"
    )?;
    // Chromium keeps the connection open: read to the Content-Length.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let n = s.read(&mut chunk)?;
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if n == 0 || body.len() >= len {
                return Ok(serde_json::from_str(body).unwrap_or_default());
            }
        } else if n == 0 {
            bail!("DevTools closed /json/list without an answer");
        }
    }
}

/// `[..:INFO:CONSOLE:12] "DL JOIN {...}", source: file:///… (12)` →
/// ("JOIN", {...}).
fn console_message(line: &str) -> Option<(String, Value)> {
    let start = line.find("\"DL ")? + 4;
    let end = line.rfind("\", source:")?;
    let msg = line.get(start..end)?;
    let (tag, json) = msg.split_once(' ')?;
    Some((tag.to_string(), serde_json::from_str(json).ok()?))
}

/// A Chromium publisher, then `joins` Chromium viewer joins `gap_ms` apart.
pub fn run(
    dir: &std::path::Path,
    sig: &Signalling,
    joins: usize,
    gap_ms: u64,
) -> anyhow::Result<ChromiumJoinResult> {
    std::fs::create_dir_all(dir)?;
    let publisher = Browser::start(dir, "pub", sig, &format!("mode=pub&{}", sig.query()))?;
    let feed = match publisher.expect("PUB", PUBLISH_TIMEOUT) {
        Ok(v) => v["feed"].as_u64().unwrap_or(0),
        Err(e) => {
            publisher.stop();
            return Err(e.context("the Chromium publisher"));
        }
    };
    // The encoder's first seconds (its bitrate ramps up), as S3 waits 1 s.
    std::thread::sleep(Duration::from_secs(2));
    let viewer = Browser::start(
        dir,
        "sub",
        sig,
        &format!(
            "mode=sub&n={joins}&gap={gap_ms}&feed={feed}&{}",
            sig.query()
        ),
    )?;
    let mut total = Vec::new();
    let (mut signal, mut connect, mut media) = (Vec::new(), Vec::new(), Vec::new());
    let mut gather = Vec::new();
    let (mut first_packet, mut first_received) = (Vec::new(), Vec::new());
    // Counts, not times: kept ×1e6 as the times are, for one percentile.
    let mut at_first: [Vec<u64>; 4] = Default::default();
    let mut failures = Vec::new();
    let mut remote_ice_lite = None;
    let ns = |v: &Value| (v.as_f64().unwrap_or(0.0) * 1e6) as u64;
    for _ in 0..joins {
        match viewer.expect("JOIN", JOIN_TIMEOUT) {
            Ok(v) if v["ok"] == Value::Bool(true) => {
                remote_ice_lite = remote_ice_lite.or(v["remote_ice_lite"].as_bool());
                total.push(ns(&v["total_ms"]));
                signal.push(ns(&v["signal_ms"]));
                connect.push(ns(&v["connect_ms"]));
                media.push(ns(&v["media_ms"]));
                gather.push(ns(&v["gather_ms"]));
                first_packet.push(ns(&v["first_packet_ms"]));
                first_received.push(ns(&v["first_frame_received_ms"]));
                for (k, key) in ["width", "plis", "nacks", "rtx_packets"].iter().enumerate() {
                    at_first[k].push(ns(&v[key]));
                }
            }
            Ok(v) => failures.push(v.to_string()),
            Err(e) => {
                failures.push(format!("{e:#}"));
                break;
            }
        }
    }
    viewer.stop();
    publisher.stop();
    let ok = total.len();
    failures.truncate(5);
    Ok(ChromiumJoinResult {
        joins,
        ok,
        join_p50_ms: percentile_ms(&mut total, 0.50),
        join_p99_ms: percentile_ms(&mut total, 0.99),
        join_max_ms: percentile_ms(&mut total, 1.0),
        signal_p50_ms: percentile_ms(&mut signal, 0.50),
        connect_p50_ms: percentile_ms(&mut connect, 0.50),
        media_p50_ms: percentile_ms(&mut media, 0.50),
        gather_p50_ms: percentile_ms(&mut gather, 0.50),
        first_packet_p50_ms: percentile_ms(&mut first_packet, 0.50),
        first_frame_received_p50_ms: percentile_ms(&mut first_received, 0.50),
        width_at_first_frame_p50: percentile_ms(&mut at_first[0], 0.50),
        plis_at_first_frame_p50: percentile_ms(&mut at_first[1], 0.50),
        nacks_at_first_frame_p50: percentile_ms(&mut at_first[2], 0.50),
        rtx_at_first_frame_p50: percentile_ms(&mut at_first[3], 0.50),
        remote_ice_lite,
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_console_line_of_the_page_is_read_back() {
        let line = r#"[1:1:1206/083230.417250:INFO:CONSOLE:170] "DL JOIN {"i":3,"ok":true,"total_ms":412.5}", source: file:///tmp/x/chromium_join.html?mode=sub (170)"#;
        let (tag, v) = console_message(line).unwrap();
        assert_eq!(tag, "JOIN");
        assert_eq!(v["i"], 3);
        assert_eq!(v["total_ms"], 412.5);
        assert!(console_message("[1:1:INFO:CONSOLE:1] \"hello\", source: x (1)").is_none());
    }
}
