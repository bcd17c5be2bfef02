//! A latency histogram for /metrics: fixed bounds, atomics only, so any
//! thread can observe without a lock and a scrape reads it as it stands.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, seconds (Prometheus `le`): from half a
/// millisecond (a join answered by an idle worker) to a second (a worker
/// far behind).
pub const BOUNDS_SECS: [f64; 11] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
];

#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is above
    /// every bound.
    buckets: [AtomicU64; BOUNDS_SECS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

/// What a scrape shows: cumulative counts per bound, then the total.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// (bound in seconds, observations at or below it).
    pub cumulative: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_secs: f64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BOUNDS_SECS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BOUNDS_SECS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Read bucket by bucket while others may observe: the total is taken
    /// as the buckets' sum, so `+Inf` and `_count` always agree.
    pub fn snapshot(&self) -> Snapshot {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(BOUNDS_SECS.len());
        for (bound, bucket) in BOUNDS_SECS.iter().zip(&self.buckets) {
            running += bucket.load(Ordering::Relaxed);
            cumulative.push((*bound, running));
        }
        let count = running + self.buckets[BOUNDS_SECS.len()].load(Ordering::Relaxed);
        Snapshot {
            cumulative,
            count,
            sum_secs: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }

    /// The Prometheus text exposition of this histogram as `name`.
    pub fn exposition(&self, name: &str, help: &str) -> String {
        let s = self.snapshot();
        let mut out = format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        for (bound, n) in &s.cumulative {
            out.push_str(&format!("{name}_bucket{{le=\"{bound}\"}} {n}\n"));
        }
        out.push_str(&format!(
            "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}\n",
            count = s.count,
            sum = s.sum_secs,
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_count_in_the_first_bucket_whose_bound_they_do_not_exceed() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(1)); // on a bound: that bucket
        h.observe(Duration::from_micros(1_001));
        h.observe(Duration::from_secs(3)); // above every bound
        let s = h.snapshot();
        assert_eq!(s.cumulative[0], (0.0005, 1));
        assert_eq!(s.cumulative[1], (0.001, 2));
        assert_eq!(s.cumulative[2], (0.002, 3));
        assert_eq!(s.cumulative.last(), Some(&(1.0, 3)));
        assert_eq!(s.count, 4);
        assert!((s.sum_secs - 3.002301).abs() < 1e-9, "{}", s.sum_secs);
    }

    #[test]
    fn the_exposition_is_cumulative_and_ends_with_inf_sum_and_count() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(40));
        let text = h.exposition("x_seconds", "Help.");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "# HELP x_seconds Help.");
        assert_eq!(lines[1], "# TYPE x_seconds histogram");
        assert!(lines.contains(&"x_seconds_bucket{le=\"0.002\"} 0"));
        assert!(lines.contains(&"x_seconds_bucket{le=\"0.005\"} 1"));
        assert!(lines.contains(&"x_seconds_bucket{le=\"0.05\"} 2"));
        assert!(lines.contains(&"x_seconds_bucket{le=\"1\"} 2"));
        let tail = &lines[lines.len() - 3..];
        assert_eq!(tail[0], "x_seconds_bucket{le=\"+Inf\"} 2");
        assert!(tail[1].starts_with("x_seconds_sum 0.043"), "{}", tail[1]);
        assert_eq!(tail[2], "x_seconds_count 2");
    }
}
