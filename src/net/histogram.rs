//! A latency histogram for /metrics: fixed bounds, atomics only, so any
//! thread can observe without a lock and a scrape reads it as it stands.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of a join's buckets, seconds (Prometheus `le`): from half
/// a millisecond (a join answered by an idle worker) to a second (a worker
/// far behind).
pub const JOIN_BOUNDS_SECS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Upper bounds of a media packet's time in the server: fine below 5 ms,
/// where a forwarding server should be, so a 99th percentile can be read
/// from the buckets to a quarter of a millisecond there; coarse above, up
/// to a worker a second behind.
pub const TRANSIT_BOUNDS_SECS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_2, 0.000_3, 0.000_5, 0.000_75, 0.001, 0.001_25, 0.001_5, 0.002,
    0.002_5, 0.003, 0.004, 0.005, 0.007_5, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last one is above
    /// every bound.
    buckets: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new(JOIN_BOUNDS_SECS)
    }
}

/// What a scrape shows: cumulative counts per bound, then the total.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// (bound in seconds, observations at or below it).
    pub cumulative: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_secs: f64,
}

/// A histogram with [`TRANSIT_BOUNDS_SECS`], for counters built by
/// `Default`.
#[derive(Debug)]
pub struct TransitHistogram(Histogram);

impl Default for TransitHistogram {
    fn default() -> Self {
        TransitHistogram(Histogram::new(TRANSIT_BOUNDS_SECS))
    }
}

impl std::ops::Deref for TransitHistogram {
    type Target = Histogram;
    fn deref(&self) -> &Histogram {
        &self.0
    }
}

impl Histogram {
    /// `bounds` ascending, in seconds.
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn bucket(&self, nanos: u64) -> usize {
        let secs = nanos as f64 / 1e9;
        self.bounds
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(self.bounds.len())
    }

    pub fn observe(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[self.bucket(nanos)].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Observe many durations (ns) with one atomic add per bucket they
    /// fall in, not three per observation: a media worker times every
    /// packet of a batch, and the workers share this histogram.
    pub fn observe_nanos(&self, nanos: impl IntoIterator<Item = u64>) {
        let mut counts = [0u64; 32];
        let (mut sum, mut count) = (0u64, 0u64);
        for n in nanos {
            let i = self.bucket(n);
            match counts.get_mut(i) {
                Some(c) => *c += 1,
                None => {
                    self.buckets[i].fetch_add(1, Ordering::Relaxed);
                }
            }
            sum = sum.saturating_add(n);
            count += 1;
        }
        if count == 0 {
            return;
        }
        for (bucket, &c) in self.buckets.iter().zip(&counts) {
            if c > 0 {
                bucket.fetch_add(c, Ordering::Relaxed);
            }
        }
        self.sum_nanos.fetch_add(sum, Ordering::Relaxed);
        self.count.fetch_add(count, Ordering::Relaxed);
    }

    /// Read bucket by bucket while others may observe: the total is taken
    /// as the buckets' sum, so `+Inf` and `_count` always agree.
    pub fn snapshot(&self) -> Snapshot {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(self.bounds.len());
        for (bound, bucket) in self.bounds.iter().zip(self.buckets.iter()) {
            running += bucket.load(Ordering::Relaxed);
            cumulative.push((*bound, running));
        }
        let count = running + self.buckets[self.bounds.len()].load(Ordering::Relaxed);
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
    fn many_observed_at_once_count_as_each_observed_alone() {
        let (one, many) = (
            Histogram::new(TRANSIT_BOUNDS_SECS),
            Histogram::new(TRANSIT_BOUNDS_SECS),
        );
        let nanos = [40_000, 50_000, 50_001, 1_400_000, 9_000_000, 2_000_000_000];
        for n in nanos {
            one.observe(Duration::from_nanos(n));
        }
        many.observe_nanos(nanos);
        many.observe_nanos([]);
        assert_eq!(one.snapshot(), many.snapshot());
        let s = many.snapshot();
        assert_eq!(s.cumulative[0], (0.000_05, 2));
        assert_eq!(s.cumulative[1], (0.000_1, 3));
        assert_eq!(s.count, 6);
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
