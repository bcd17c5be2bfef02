//! S6 endurance: the province meeting of S2 (hub + sectors + communes, a
//! console watching every room) held for an hour (two with `--s6-minutes
//! 120`) with churn — every `churn_every` a tenth of the communes drop and
//! rejoin — and the stage moving every 30 s. Every `sample_every` it reads
//! the server's RSS, open file descriptors, CPU and the media maps'
//! entries (`diemcau_media_map_entries` in /metrics). After the warm-up,
//! RSS must grow less than 5 % and no map may grow with the number of
//! rejoins (the leak check).
//!
//! With `--s6-hog-at-minutes`, a core is also hogged on purpose for a
//! while after the warm-up (`hog`): a starved worker piles up input, and
//! the same check then says whether the memory comes back once it catches
//! up (the hog must end at least [`HOG_RECOVERY_MIN`] minutes before the
//! end, so the last samples are after the recovery).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use crate::client::{Endpoint, EndpointConfig};
use crate::s1::Target;
use crate::s2::{self, Member, S2Options};
use crate::server;

/// RSS may grow this much from the end of the warm-up to the end.
const RSS_GROWTH_MAX_PCT: f64 = 5.0;
/// A map's entries at the end may exceed its entries after the warm-up by
/// this fraction plus [`MAP_SLACK`] (rooms between leaving and rejoining at
/// the moment of a sample).
const MAP_GROWTH_MAX: f64 = 0.10;
const MAP_SLACK: f64 = 4.0;
/// Reported, not judged: the engine's timer heap deletes lazily — an entry
/// superseded by a later deadline stays until its own time passes, seconds
/// later — so its length follows the packet rate of the moment, not the
/// number of rejoins (measured: 42–195 entries for 24 steady sessions).
const NOT_JUDGED: [&str; 1] = ["timers"];
/// Minutes between the hog's end and the run's end.
pub const HOG_RECOVERY_MIN: f64 = 10.0;

#[derive(Debug, Clone, Serialize)]
pub struct S6Options {
    pub communes: usize,
    pub sectors: usize,
    pub minutes: f64,
    pub warmup_minutes: f64,
    pub churn_every_secs: f64,
    /// Fraction of the communes dropped and rejoined at each churn.
    pub churn_fraction: f64,
    pub stage_every_secs: f64,
    pub sample_every_secs: f64,
    pub commune_layers_kbps: Vec<u32>,
    pub hog: Option<S6Hog>,
}

/// A core hogged on purpose in the middle of the run.
#[derive(Debug, Clone, Serialize)]
pub struct S6Hog {
    pub at_minutes: f64,
    pub secs: f64,
    pub cpu: usize,
}

impl S6Hog {
    /// After the warm-up, and over early enough to judge the recovery.
    pub fn check(&self, opts: &S6Options) -> anyhow::Result<()> {
        if self.at_minutes < opts.warmup_minutes {
            bail!(
                "the hog starts at {} min, inside the {} min warm-up",
                self.at_minutes,
                opts.warmup_minutes
            );
        }
        let end = self.at_minutes + self.secs / 60.0;
        if end + HOG_RECOVERY_MIN > opts.minutes {
            bail!(
                "the hog ends at {end:.1} min: the run must go on {HOG_RECOVERY_MIN} min after it (--s6-minutes {})",
                opts.minutes
            );
        }
        Ok(())
    }

    fn window(&self) -> (Duration, Duration) {
        let from = Duration::from_secs_f64(self.at_minutes * 60.0);
        (from, from + Duration::from_secs_f64(self.secs))
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct S6Sample {
    pub t_s: f64,
    pub rss_mib: f64,
    pub fds: usize,
    /// Server CPU over the last sample period, in cores.
    pub cpu_cores: f64,
    pub rejoins: usize,
    pub maps: BTreeMap<String, f64>,
    /// The server's heap in use and held (`diemcau_heap_*_bytes`): RSS
    /// minus what the allocator keeps, so a leak shows apart from
    /// fragmentation on a busy machine.
    pub heap_in_use_mib: Option<f64>,
    pub heap_held_mib: Option<f64>,
    /// Datagrams dropped so far because a worker was behind (its queue
    /// full, or upper layers shed): the hog's mark.
    pub dropped_behind: Option<f64>,
    /// The core was hogged when this sample was taken.
    pub hogged: bool,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct S6Result {
    pub endpoints: usize,
    pub rejoins: usize,
    pub rejoin_failures: usize,
    pub stage_moves: usize,
    pub samples: Vec<S6Sample>,
    /// RSS at the end over RSS after the warm-up, %.
    pub rss_growth_pct: f64,
    /// The same for the heap in use (reported; the verdict is RSS's).
    pub heap_in_use_growth_pct: Option<f64>,
    /// Maps whose entries grew past the allowance after the warm-up.
    pub maps_growing: Vec<String>,
    /// What the hog did, if there was one.
    pub hog: Option<crate::hog::HogResult>,
    pub pass: bool,
    pub failures: Vec<String>,
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// What a sample reads from /metrics.
#[derive(Default)]
struct Scraped {
    maps: BTreeMap<String, f64>,
    heap_in_use_mib: Option<f64>,
    heap_held_mib: Option<f64>,
    dropped_behind: Option<f64>,
}

/// The media maps' entries, the heap gauges (MiB) and the drops of a
/// worker behind, from /metrics.
async fn metrics(base: &str) -> Scraped {
    let mut out = Scraped::default();
    let url = server::metrics_base(base);
    let Ok(r) = crate::http::request(&url, "GET", "/metrics", &[], None).await else {
        return out;
    };
    let value = |name: &str| server::metric_value(&r.body, name);
    out.heap_in_use_mib = value("diemcau_heap_in_use_bytes").map(|b| b / 1048576.0);
    out.heap_held_mib = value("diemcau_heap_held_bytes").map(|b| b / 1048576.0);
    out.dropped_behind = value("diemcau_datagrams_dropped_queue_full_total")
        .zip(value("diemcau_datagrams_shed_overload_total"))
        .map(|(full, shed)| full + shed);
    for line in r.body.lines() {
        let Some(rest) = line.strip_prefix("diemcau_media_map_entries{map=\"") else {
            continue;
        };
        if let Some((name, value)) = rest.split_once("\"} ")
            && let Ok(v) = value.trim().parse()
        {
            out.maps.insert(name.to_string(), v);
        }
    }
    out
}

/// Put endpoint `name` on the stage (`POST /rooms/demo/stage`).
async fn stage(base: &str, name: &str) -> anyhow::Result<()> {
    let auth = format!("Bearer {}", server::DEMO_TOKEN);
    let path = format!("/rooms/{}/participants", server::MEETING);
    let r = crate::http::request(base, "GET", &path, &[("Authorization", &auth)], None).await?;
    let v = r.json()?;
    let Some(id) = v["participants"]
        .as_array()
        .and_then(|l| l.iter().find(|p| p["name"] == name))
        .and_then(|p| p["id"].as_str())
    else {
        bail!("{name} is not in the room");
    };
    let path = format!("/rooms/{}/stage", server::MEETING);
    let body = json!({ "participants": [id] });
    let r = crate::http::request(
        base,
        "POST",
        &path,
        &[("Authorization", &auth)],
        Some(&body),
    )
    .await?;
    if !(200..300).contains(&r.status) {
        bail!("{path}: {} {}", r.status, r.body);
    }
    Ok(())
}

/// The value at the end against the value after the warm-up: the median
/// of the first three samples after it, and of the last three.
fn medians(samples: &[&S6Sample], f: impl Fn(&S6Sample) -> f64) -> (f64, f64) {
    let median = |xs: &[&S6Sample]| {
        let mut v: Vec<f64> = xs.iter().map(|s| f(s)).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let k = samples.len().min(3);
    (median(&samples[..k]), median(&samples[samples.len() - k..]))
}

pub fn judge(res: &mut S6Result, warmup_s: f64) {
    let after: Vec<&S6Sample> = res.samples.iter().filter(|s| s.t_s >= warmup_s).collect();
    if after.len() < 2 {
        res.failures
            .push("too few samples after the warm-up".into());
        res.pass = false;
        return;
    }
    let (rss0, rss1) = medians(&after, |s| s.rss_mib);
    res.rss_growth_pct = if rss0 > 0.0 {
        (rss1 / rss0 - 1.0) * 100.0
    } else {
        0.0
    };
    let names: Vec<String> = after[0]
        .maps
        .keys()
        .filter(|k| !NOT_JUDGED.contains(&k.as_str()))
        .cloned()
        .collect();
    for name in names {
        let (m0, m1) = medians(&after, |s| s.maps.get(&name).copied().unwrap_or(0.0));
        if m1 > m0 * (1.0 + MAP_GROWTH_MAX) + MAP_SLACK {
            res.maps_growing.push(format!("{name} {m0:.0} → {m1:.0}"));
        }
    }
    let (h0, h1) = medians(&after, |s| s.heap_in_use_mib.unwrap_or(0.0));
    res.heap_in_use_growth_pct = (h0 > 0.0).then(|| (h1 / h0 - 1.0) * 100.0);
    res.pass = res.rss_growth_pct < RSS_GROWTH_MAX_PCT && res.maps_growing.is_empty();
}

pub async fn run(base: &str, server_pid: u32, opts: &S6Options) -> anyhow::Result<S6Result> {
    if let Some(h) = &opts.hog {
        h.check(opts)?;
    }
    let s2 = S2Options {
        communes: opts.communes,
        sectors: opts.sectors,
        talkers: 0,
        window_secs: 0.0,
        settle_secs: 0.0,
        commune_layers_kbps: opts.commune_layers_kbps.clone(),
        dtx: true,
        hog_cpu: None,
    };
    let target = Target::Diemcau { base: base.into() };
    let n = 1 + opts.sectors + opts.communes;
    let mut res = S6Result {
        endpoints: n,
        ..Default::default()
    };
    let mut members: Vec<Option<Member>> = Vec::with_capacity(n);
    for start in (0..n).step_by(s2::JOIN_BATCH) {
        let batch = start..n.min(start + s2::JOIN_BATCH);
        let joins = batch.map(|k| s2::join_publisher(&target, k, &s2, None));
        for r in futures_util::future::join_all(joins).await {
            members.push(r.map_err(|e| res.failures.push(format!("{e:#}"))).ok());
        }
        eprintln!("S6: {}/{n} in", members.iter().flatten().count());
    }
    let mut console = Endpoint::new(&EndpointConfig {
        name: "console".into(),
        recv_video: n,
        role: "console".into(),
        ..Default::default()
    })
    .await?;
    console
        .join_ws(base, server::MEETING, server::DEMO_TOKEN)
        .await?;
    console
        .wait_connected(s2::CONNECT_TIMEOUT)
        .await
        .context("the console")?;

    let t0 = Instant::now();
    let end = Duration::from_secs_f64(opts.minutes * 60.0);
    let mut next_churn = Duration::from_secs_f64(opts.churn_every_secs);
    let mut next_stage = Duration::ZERO;
    let mut next_sample = Duration::ZERO;
    let mut cpu = server::CpuMeter::start(server_pid);
    let communes: Vec<usize> = (1 + opts.sectors..n).collect();
    let per_churn = ((communes.len() as f64 * opts.churn_fraction).ceil() as usize).max(1);
    let mut churn_at = 0usize;
    let mut hog: Option<crate::hog::Hog> = None;
    while t0.elapsed() < end {
        let now = t0.elapsed();
        if let Some(plan) = &opts.hog {
            let (from, to) = plan.window();
            if now >= from && now < to && hog.is_none() && res.hog.is_none() {
                hog = Some(crate::hog::Hog::start(plan.cpu)?);
                eprintln!(
                    "S6: hogging CPU {} until {:.0} s",
                    plan.cpu,
                    to.as_secs_f64()
                );
            }
            if now >= to
                && let Some(h) = hog.take()
            {
                res.hog = Some(h.stop());
            }
        }
        if now >= next_sample {
            next_sample += Duration::from_secs_f64(opts.sample_every_secs);
            let m = metrics(base).await;
            let sample = S6Sample {
                t_s: now.as_secs_f64(),
                rss_mib: server::rss_bytes(server_pid).unwrap_or(0) as f64 / 1048576.0,
                fds: fds(server_pid),
                cpu_cores: cpu.lap(),
                rejoins: res.rejoins,
                maps: m.maps,
                heap_in_use_mib: m.heap_in_use_mib,
                heap_held_mib: m.heap_held_mib,
                dropped_behind: m.dropped_behind,
                hogged: hog.is_some(),
            };
            eprintln!(
                "S6 {:>5.0} s: RSS {:.1} MiB (heap in use {:.1}, held {:.1}), {} fds, {:.2} cores, {} rejoins, {:.0} dropped behind{}, maps {:?}",
                sample.t_s,
                sample.rss_mib,
                sample.heap_in_use_mib.unwrap_or(0.0),
                sample.heap_held_mib.unwrap_or(0.0),
                sample.fds,
                sample.cpu_cores,
                sample.rejoins,
                sample.dropped_behind.unwrap_or(0.0),
                if sample.hogged { ", core hogged" } else { "" },
                sample.maps
            );
            res.samples.push(sample);
        }
        if now >= next_stage {
            next_stage += Duration::from_secs_f64(opts.stage_every_secs);
            // Round the stage through the sectors and the first communes.
            let k = 1 + res.stage_moves % (n - 1).max(1);
            let name = members[k].as_ref().map(|m| m.name.clone());
            if let Some(name) = name
                && stage(base, &name).await.is_ok()
            {
                res.stage_moves += 1;
            }
        }
        if now >= next_churn {
            next_churn += Duration::from_secs_f64(opts.churn_every_secs);
            let picked: Vec<usize> = (0..per_churn)
                .map(|j| communes[(churn_at + j) % communes.len()])
                .collect();
            churn_at += per_churn;
            for &k in &picked {
                if let Some(m) = members[k].take() {
                    m.publisher.close().await;
                }
            }
            // Down for a moment, as a commune's link drops and comes back.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let joins = picked
                .iter()
                .map(|&k| s2::join_publisher(&target, k, &s2, None));
            for (&k, r) in picked
                .iter()
                .zip(futures_util::future::join_all(joins).await)
            {
                match r {
                    Ok(m) => {
                        members[k] = Some(m);
                        res.rejoins += 1;
                    }
                    Err(e) => {
                        res.rejoin_failures += 1;
                        if res.failures.len() < 5 {
                            res.failures.push(format!("rejoin: {e:#}"));
                        }
                    }
                }
            }
        }
        s2::trim(&members.iter().flatten().map(|m| m.rx()).collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    judge(&mut res, opts.warmup_minutes * 60.0);
    console.close().await;
    for m in members.into_iter().flatten() {
        m.publisher.close().await;
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_s: f64, rss_mib: f64, sessions: f64) -> S6Sample {
        S6Sample {
            t_s,
            rss_mib,
            maps: [("sessions".to_string(), sessions)].into(),
            ..Default::default()
        }
    }

    #[test]
    fn steady_rss_and_maps_after_the_warm_up_pass() {
        let mut r = S6Result {
            samples: vec![
                sample(0.0, 100.0, 10.0),
                sample(60.0, 200.0, 150.0),
                sample(120.0, 201.0, 151.0),
                sample(180.0, 202.0, 150.0),
                sample(240.0, 203.0, 149.0),
            ],
            ..Default::default()
        };
        judge(&mut r, 60.0);
        assert!(r.pass, "{r:?}");
        assert!(r.rss_growth_pct < 2.0);
    }

    #[test]
    fn a_map_that_grows_with_rejoins_fails() {
        let mut r = S6Result {
            samples: (0..8)
                .map(|i| sample(60.0 * i as f64, 200.0, 150.0 + 30.0 * i as f64))
                .collect(),
            ..Default::default()
        };
        judge(&mut r, 60.0);
        assert!(!r.pass);
        assert_eq!(r.maps_growing.len(), 1, "{r:?}");
    }

    fn opts(minutes: f64) -> S6Options {
        S6Options {
            communes: 1,
            sectors: 0,
            minutes,
            warmup_minutes: 5.0,
            churn_every_secs: 600.0,
            churn_fraction: 0.1,
            stage_every_secs: 30.0,
            sample_every_secs: 60.0,
            commune_layers_kbps: vec![],
            hog: None,
        }
    }

    #[test]
    fn a_hog_must_start_after_the_warm_up_and_leave_time_to_recover() {
        let hog = |at_minutes: f64, secs: f64| S6Hog {
            at_minutes,
            secs,
            cpu: 0,
        };
        assert!(hog(10.0, 60.0).check(&opts(30.0)).is_ok());
        assert!(hog(4.0, 60.0).check(&opts(30.0)).is_err());
        assert!(hog(19.5, 60.0).check(&opts(30.0)).is_err());
        assert_eq!(
            hog(10.0, 90.0).window(),
            (Duration::from_secs(600), Duration::from_secs(690))
        );
    }

    #[test]
    fn rss_growing_past_five_percent_fails() {
        let mut r = S6Result {
            samples: (0..8)
                .map(|i| sample(60.0 * i as f64, 200.0 + 5.0 * i as f64, 150.0))
                .collect(),
            ..Default::default()
        };
        judge(&mut r, 60.0);
        assert!(!r.pass && r.rss_growth_pct > 5.0, "{r:?}");
    }
}
