//! The live stream over time (issue 18): for five minutes, twenty HLS
//! viewers watch a live meeting — nineteen following the playlist, one
//! reading each segment at a few kilobytes a second, as a viewer on a
//! choked office link would. The server's segment memory stays within its
//! window plus what viewers are reading now, the process's memory does not
//! grow with time, and the slow viewer costs the others nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::live_stream::{live_meeting, operator_token, red_and_blue_rooms};
use crate::support::api::world;
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

const SOAK: Duration = Duration::from_secs(300);
const VIEWERS: usize = 20;
/// The slow viewer's reading rate: a segment of the test stream takes it
/// several seconds, so it is always behind and often asks for a segment the
/// window has dropped.
const SLOW_BYTES_PER_S: usize = 4_000;
/// Memory measured from here on (the stream, the viewers' clients and the
/// allocator have warmed up).
const WARM: Duration = Duration::from_secs(60);
/// What the process may grow by between the end of the warm-up and the end:
/// allocator noise, not a stream. Five minutes of this stream kept by
/// mistake, or a queue per viewer, is well above it.
const RSS_GROWTH_MAX_BYTES: u64 = 24 << 20;

#[derive(Default)]
struct Viewed {
    /// Sequence numbers fetched whole, in order.
    sequences: Vec<u64>,
    largest: usize,
    gone: u32,
    /// Per segment first seen listed: how old its first picture was then,
    /// ms (now − its `EXT-X-PROGRAM-DATE-TIME`).
    age_listed_ms: Vec<i64>,
    aged_up_to: Option<u64>,
}

/// The playlist's segments with their program time (ms since the epoch).
fn listed(playlist: &str) -> Vec<(u64, i64)> {
    let mut program = None;
    let mut out = Vec::new();
    for l in playlist.lines() {
        if let Some(t) = l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            program =
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .ok()
                    .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
        } else if let Some(n) = l.strip_suffix(".m4s").and_then(|n| n.parse().ok()) {
            out.push((
                n,
                program.take().expect("a program time before each segment"),
            ));
        }
    }
    out
}

/// One viewer: the playlist every half second, each new segment after the
/// last one fetched; `slow` reads its body at [`SLOW_BYTES_PER_S`].
async fn viewer(url: String, token: String, slow: bool, stop: Arc<AtomicBool>) -> Viewed {
    let http = reqwest::Client::new();
    let mut seen = Viewed::default();
    while !stop.load(Ordering::Relaxed) {
        let Ok(r) = http
            .get(format!("{url}/index.m3u8"))
            .bearer_auth(&token)
            .send()
            .await
        else {
            continue;
        };
        let now = diemcau::store::now_ms();
        let playlist = listed(&r.text().await.unwrap_or_default());
        let last = seen.sequences.last().copied();
        // Ages only from the second playlist on: the first lists segments
        // made before this viewer came.
        if let Some(aged) = seen.aged_up_to.or(last) {
            for &(n, at) in playlist.iter().filter(|(n, _)| *n > aged) {
                seen.age_listed_ms.push(now - at);
                seen.aged_up_to = Some(n);
            }
        } else {
            seen.aged_up_to = playlist.last().map(|(n, _)| *n);
        }
        let listed: Vec<u64> = playlist.iter().map(|(n, _)| *n).collect();
        let next: Vec<u64> = match last {
            Some(l) => listed.into_iter().filter(|&n| n > l).collect(),
            // A player starts near the live edge.
            None => listed.last().copied().into_iter().collect(),
        };
        for n in next {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let mut r = http
                .get(format!("{url}/{n}.m4s"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("segment request");
            if r.status() == 404 {
                // Left the window while this viewer lagged: go on from the
                // playlist's present.
                seen.gone += 1;
                break;
            }
            assert_eq!(r.status(), 200, "segment {n}");
            let mut len = 0;
            while let Some(chunk) = r.chunk().await.expect("segment body") {
                len += chunk.len();
                if slow {
                    let s = chunk.len() as f64 / SLOW_BYTES_PER_S as f64;
                    tokio::time::sleep(Duration::from_secs_f64(s)).await;
                }
            }
            seen.largest = seen.largest.max(len);
            seen.sequences.push(n);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    seen
}

async fn held_segment_bytes(metrics: &str) -> u64 {
    let text = reqwest::get(format!("{metrics}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    text.lines()
        .find_map(|l| l.strip_prefix("diemcau_live_stream_segment_bytes "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the segment gauge in /metrics")
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

#[test]
fn twenty_hls_viewers_one_slow_for_five_minutes_keep_the_servers_memory_flat() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = live_meeting(&w).await;
        let _rooms = red_and_blue_rooms(&w, &id).await;
        let r = w
            .as_role("operator")
            .post(
                &format!("/api/v1/meetings/{id}/live/stream"),
                json!({"on": true, "layout": "grid2x2"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let url = format!("{}/live/{id}", w.srv.base_url());
        let token = operator_token(&w);

        let stop = Arc::new(AtomicBool::new(false));
        let viewers: Vec<_> = (0..VIEWERS)
            .map(|i| tokio::spawn(viewer(url.clone(), token.clone(), i == 0, stop.clone())))
            .collect();

        // The gauge every 5 s; the process's memory at the end of the
        // warm-up and at the end.
        let metrics = w.srv.metrics_url();
        let started = Instant::now();
        let mut held_max = 0;
        let mut rss_warm = None;
        while started.elapsed() < SOAK {
            tokio::time::sleep(Duration::from_secs(5)).await;
            held_max = held_max.max(held_segment_bytes(&metrics).await);
            if rss_warm.is_none() && started.elapsed() >= WARM {
                rss_warm = Some(rss_bytes());
            }
        }
        let rss_end = rss_bytes();
        stop.store(true, Ordering::Relaxed);
        let mut seen = Vec::new();
        for v in viewers {
            seen.push(v.await.expect("viewer task"));
        }

        let newest = seen
            .iter()
            .filter_map(|v| v.sequences.last())
            .max()
            .copied()
            .expect("segments fetched");
        let largest = seen.iter().map(|v| v.largest).max().unwrap_or(0) as u64;
        let (slow, fast) = seen.split_at(1);
        let mut ages: Vec<i64> = fast
            .iter()
            .flat_map(|v| v.age_listed_ms.iter().copied())
            .collect();
        ages.sort_unstable();
        let pct = |q: f64| {
            ages.get(((ages.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or(-1)
        };
        eprintln!(
            "soak: a segment's first picture was {} ms old (p50; p95 {}, max {}) when a viewer \
             polling every 0.5 s first saw the segment listed ({} samples)",
            pct(0.5),
            pct(0.95),
            pct(1.0),
            ages.len()
        );
        eprintln!(
            "soak: newest segment {newest}, largest {largest} B, held at most {held_max} B, \
             RSS {} → {} MiB; slow viewer fetched {} and found {} gone",
            rss_warm.unwrap_or(0) >> 20,
            rss_end >> 20,
            slow[0].sequences.len(),
            slow[0].gone
        );
        // The stream ran the whole time (1 s segments).
        assert!(
            newest >= SOAK.as_secs() / 2,
            "only {newest} segments in {SOAK:?}"
        );
        // Every following viewer got every segment from its first on: the
        // slow one held nobody back.
        for (i, v) in fast.iter().enumerate() {
            let (first, last) = (v.sequences[0], *v.sequences.last().unwrap());
            assert_eq!(
                v.sequences,
                (first..=last).collect::<Vec<_>>(),
                "viewer {i} skipped a segment"
            );
            // Within the window at the end: a loaded machine may hold a
            // viewer's poll back a few seconds, and it still catches up.
            let window = diemcau::compose::hls::WINDOW as u64;
            assert!(
                last + window >= newest,
                "viewer {i} fell behind: {last} of {newest}"
            );
        }
        assert!(
            slow[0].sequences.len() >= 3,
            "the slow viewer got nothing: {:?}",
            slow[0].sequences
        );
        // The window, plus the one segment the slow viewer reads after the
        // window dropped it, plus one a following viewer may be finishing.
        let bound = (diemcau::compose::hls::WINDOW as u64 + 2) * largest;
        assert!(
            held_max <= bound,
            "segments held grew past the window: {held_max} B > {bound} B"
        );
        let rss_warm = rss_warm.expect("measured after the warm-up");
        assert!(
            rss_end <= rss_warm + RSS_GROWTH_MAX_BYTES,
            "the process grew from {} to {} MiB",
            rss_warm >> 20,
            rss_end >> 20
        );
    }));
}
