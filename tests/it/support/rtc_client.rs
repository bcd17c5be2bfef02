//! The WebRTC test client, `diemcau_testkit::rtc_client` (shared with
//! `diemcau-load`), and what only these tests add to it: entering a
//! loopback-only namespace, `/metrics` scraping, publishers and subscribers
//! that panic with the client's name when they cannot connect.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

pub use diemcau_testkit::rtc_client::*;

/// Run a media test: enter a loopback-only network namespace first, then
/// start a multi-threaded tokio runtime and drive `fut` on it.
pub fn run_in_loopback_netns<F: Future<Output = ()>>(fut: F) {
    crate::support::netns::enter_loopback_only();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(fut)
}

/// GET `{base}/metrics` and return the value of the first sample whose
/// metric name satisfies `name_pred` (summed over label sets).
pub async fn scrape_metrics(base: &str) -> Result<String, String> {
    let resp = http_client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    let status = resp.status();
    let body = resp
        .text()
        .await
        .map_err(|e| format!("GET /metrics body: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET /metrics answered {status}: {body}"));
    }
    Ok(body)
}

/// Sum of Prometheus samples per metric name (labels folded).
pub fn metric_sums(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name_part, rest) = match line.find('{') {
            Some(i) => {
                let close = line.rfind('}').unwrap_or(i);
                (&line[..i], &line[close + 1..])
            }
            None => match line.split_once(' ') {
                Some((n, r)) => (n, r),
                None => continue,
            },
        };
        if let Some(v) = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        {
            *out.entry(name_part.to_string()).or_insert(0.0) += v;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Test conveniences
// ---------------------------------------------------------------------------

/// Generous bound for ICE + DTLS on a loaded 2-core CI machine.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// A publisher (simulcast VP8 + Opus) connected over WHIP.
pub async fn whip_publisher(
    base: &str,
    meeting: &str,
    token: &str,
    name: &str,
    publish: PublishConfig,
) -> (RtcClient, HttpSession) {
    let mut c = RtcClient::new(ClientConfig {
        name: name.into(),
        publish: Some(publish),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{name}: build peer connection: {e}"));
    let session = c
        .whip_publish(base, meeting, token)
        .await
        .unwrap_or_else(|e| panic!("{name}: WHIP publish failed: {e}"));
    c.wait_connected(CONNECT_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{name}: WHIP session did not connect: {e}"));
    (c, session)
}

/// A receive-only subscriber connected over WHEP.
pub async fn whep_subscriber(
    base: &str,
    meeting: &str,
    token: &str,
    name: &str,
    recv_video: usize,
    recv_audio: usize,
    loss: Option<LossConfig>,
) -> (RtcClient, HttpSession) {
    let mut c = RtcClient::new(ClientConfig {
        name: name.into(),
        recv_video,
        recv_audio,
        loss,
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{name}: build peer connection: {e}"));
    let session = c
        .whep_play(base, meeting, token)
        .await
        .unwrap_or_else(|e| panic!("{name}: WHEP play failed: {e}"));
    c.wait_connected(CONNECT_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{name}: WHEP session did not connect: {e}"));
    (c, session)
}
