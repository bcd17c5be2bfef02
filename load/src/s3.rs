//! Scenario S3, join storm: the hub publishes (VP8 simulcast + Opus); then
//! `endpoints` rooms join within `spread_secs`, evenly spread, each with a
//! stage video slot and an audio slot. An endpoint is in when media flows on
//! both. Reported: the time from the storm's first join until every endpoint
//! receives media, join times (offer → media on both slots) p50/p99/max, the
//! endpoints that did not get in, and the server's CPU and RSS over the storm.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::client::Endpoint;
use crate::s1::{Target, join_subscriber, metrics_page, start_publisher};
use crate::server::{self, CpuMeter};
use crate::stats::percentile_ms;

#[derive(Debug, Clone, Serialize)]
pub struct S3Options {
    pub endpoints: usize,
    pub spread_secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct S3Result {
    pub endpoints: usize,
    pub spread_secs: f64,
    pub joined: usize,
    pub failed: usize,
    /// The first few reasons, when some did not get in.
    pub failures: Vec<String>,
    /// From the first join's start until the last endpoint receives media
    /// (None when some never did).
    pub all_receiving_ms: Option<f64>,
    pub join_p50_ms: f64,
    pub join_p99_ms: f64,
    pub join_max_ms: f64,
    /// The join's phases, p50 / p99 (ms): signalling (offer → answer
    /// applied), ICE + DTLS (→ connected), first media (→ both slots).
    pub signal_p50_ms: f64,
    pub signal_p99_ms: f64,
    pub connect_p50_ms: f64,
    pub connect_p99_ms: f64,
    pub media_p50_ms: f64,
    pub media_p99_ms: f64,
    /// Server CPU over the storm (first join → last endpoint in), in cores.
    pub server_cpu_cores: f64,
    pub server_rss_mib_before: f64,
    pub server_rss_mib_after: f64,
    /// diemcau's own part of the storm's joins, from its
    /// `diemcau_join_answer_seconds` histogram (the join reaching the media
    /// driver → the engine's answer): joins timed, mean, and the bucket
    /// bound the median lies at or below. None for Janus.
    pub server_join_answer: Option<JoinAnswer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JoinAnswer {
    pub joins: u64,
    pub mean_ms: f64,
    pub p50_at_most_ms: Option<f64>,
}

/// A scraped histogram: count, sum (seconds), cumulative buckets (bound in
/// seconds, count).
type Scraped = (f64, f64, Vec<(f64, f64)>);

/// The join histogram from a `/metrics` body.
fn join_histogram(body: &str) -> Option<Scraped> {
    const NAME: &str = "diemcau_join_answer_seconds";
    let count = server::metric_value(body, &format!("{NAME}_count"))?;
    let sum = server::metric_value(body, &format!("{NAME}_sum"))?;
    let prefix = format!("{NAME}_bucket{{le=\"");
    let buckets = body
        .lines()
        .filter_map(|l| {
            let (le, v) = l.strip_prefix(&prefix)?.split_once("\"} ")?;
            Some((le.parse().ok()?, v.trim().parse().ok()?))
        })
        .collect();
    Some((count, sum, buckets))
}

/// What the storm added to the histogram between two scrapes.
fn join_answer(before: &str, after: &str) -> Option<JoinAnswer> {
    let (c0, s0, b0) = join_histogram(before)?;
    let (c1, s1, b1) = join_histogram(after)?;
    let joins = c1 - c0;
    if joins <= 0.0 {
        return None;
    }
    let p50_at_most_ms = b1
        .iter()
        .zip(&b0)
        .find(|((_, n1), (_, n0))| n1 - n0 >= joins / 2.0)
        .map(|((le, _), _)| le * 1e3);
    Some(JoinAnswer {
        joins: joins as u64,
        mean_ms: (s1 - s0) / joins * 1e3,
        p50_at_most_ms,
    })
}

pub async fn run(target: &Target, server_pid: u32, opts: &S3Options) -> anyhow::Result<S3Result> {
    let (publisher, feed) = start_publisher(target)
        .await
        .context("S3: the hub publisher")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = server::rss_bytes(server_pid).unwrap_or(0);
    let n = opts.endpoints.max(1);
    let spread = Duration::from_secs_f64(opts.spread_secs.max(0.0));
    eprintln!(
        "S3 {}: {n} endpoints joining within {:.1} s",
        target.name(),
        opts.spread_secs
    );
    let metrics_before = metrics_page(target).await;
    let cpu = CpuMeter::start(server_pid);
    let storm = Instant::now();
    let joins = (0..n).map(|i| {
        let start = spread.mul_f64(i as f64 / n as f64);
        async move {
            tokio::time::sleep_until((storm + start).into()).await;
            let r = join_subscriber(target, feed, i).await;
            (r, storm.elapsed())
        }
    });
    let results = futures_util::future::join_all(joins).await;
    let (server_cpu_s, wall_s) = cpu.read();
    let rss_after = server::rss_bytes(server_pid).unwrap_or(0);
    let server_join_answer = match (metrics_before, metrics_page(target).await) {
        (Some(a), Some(b)) => join_answer(&a, &b),
        _ => None,
    };
    let mut endpoints: Vec<Endpoint> = Vec::new();
    let mut join_ns = Vec::new();
    let (mut signal_ns, mut connect_ns, mut media_ns) = (Vec::new(), Vec::new(), Vec::new());
    let mut failures = Vec::new();
    let mut last_in = Duration::ZERO;
    for (r, done_at) in results {
        match r {
            Ok((ep, d)) => {
                endpoints.push(ep);
                join_ns.push(d.total().as_nanos() as u64);
                signal_ns.push(d.signal.as_nanos() as u64);
                connect_ns.push(d.connect.as_nanos() as u64);
                media_ns.push(d.media.as_nanos() as u64);
                last_in = last_in.max(done_at);
            }
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    let joined = endpoints.len();
    let failed = failures.len();
    failures.truncate(5);
    for ep in endpoints {
        ep.close().await;
    }
    publisher.close().await;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let res = S3Result {
        endpoints: n,
        spread_secs: opts.spread_secs,
        joined,
        failed,
        failures,
        all_receiving_ms: (failed == 0).then_some(last_in.as_secs_f64() * 1e3),
        server_join_answer,
        join_p50_ms: percentile_ms(&mut join_ns, 0.50),
        join_p99_ms: percentile_ms(&mut join_ns, 0.99),
        join_max_ms: percentile_ms(&mut join_ns, 1.0),
        signal_p50_ms: percentile_ms(&mut signal_ns, 0.50),
        signal_p99_ms: percentile_ms(&mut signal_ns, 0.99),
        connect_p50_ms: percentile_ms(&mut connect_ns, 0.50),
        connect_p99_ms: percentile_ms(&mut connect_ns, 0.99),
        media_p50_ms: percentile_ms(&mut media_ns, 0.50),
        media_p99_ms: percentile_ms(&mut media_ns, 0.99),
        server_cpu_cores: if wall_s > 0.0 {
            server_cpu_s / wall_s
        } else {
            0.0
        },
        server_rss_mib_before: mib(rss_before),
        server_rss_mib_after: mib(rss_after),
    };
    eprintln!(
        "S3 {}: {joined}/{n} in; all receiving after {} ms; join p50 {:.0} ms p99 {:.0} ms max {:.0} ms; server {:.2} cores, RSS {:.1} → {:.1} MiB",
        target.name(),
        res.all_receiving_ms
            .map_or("—".to_string(), |v| format!("{v:.0}")),
        res.join_p50_ms,
        res.join_p99_ms,
        res.join_max_ms,
        res.server_cpu_cores,
        res.server_rss_mib_before,
        res.server_rss_mib_after
    );
    eprintln!(
        "S3 {}: join phases p50 / p99: signalling {:.0} / {:.0} ms, ICE + DTLS {:.0} / {:.0} ms, first media {:.0} / {:.0} ms",
        target.name(),
        res.signal_p50_ms,
        res.signal_p99_ms,
        res.connect_p50_ms,
        res.connect_p99_ms,
        res.media_p50_ms,
        res.media_p99_ms
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(count: u64, sum: f64, buckets: &[(&str, u64)]) -> String {
        let mut s = String::from("diemcau_datagrams_received_total 5\n");
        for (le, n) in buckets {
            s.push_str(&format!(
                "diemcau_join_answer_seconds_bucket{{le=\"{le}\"}} {n}\n"
            ));
        }
        s.push_str(&format!(
            "diemcau_join_answer_seconds_sum {sum}\ndiemcau_join_answer_seconds_count {count}\n"
        ));
        s
    }

    #[test]
    fn the_storms_share_of_the_join_histogram_is_read_between_two_scrapes() {
        let before = page(
            1,
            0.001,
            &[("0.001", 1), ("0.002", 1), ("0.005", 1), ("+Inf", 1)],
        );
        // Four joins more: two at or below 2 ms, two below 5 ms.
        let after = page(
            5,
            0.013,
            &[("0.001", 1), ("0.002", 3), ("0.005", 5), ("+Inf", 5)],
        );
        let j = join_answer(&before, &after).unwrap();
        assert_eq!(j.joins, 4);
        assert!((j.mean_ms - 3.0).abs() < 1e-9, "{}", j.mean_ms);
        assert_eq!(j.p50_at_most_ms, Some(2.0));
        // No join in between, or no histogram (Janus): nothing to say.
        assert!(join_answer(&after, &after).is_none());
        assert!(join_answer("x 1\n", &after).is_none());
    }
}
