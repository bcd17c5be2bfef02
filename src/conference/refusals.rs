//! Rate limit for audit records of refusals: a room or person hammering a
//! meeting it may not reach leaves one record per window, not one per try,
//! so a flood can neither grow the audit log without bound nor hold the
//! store's write lock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One record per (caller, meeting, action) per minute: enough to show an
/// auditor who tried what and when, and how persistently.
const WINDOW: Duration = Duration::from_secs(60);
/// Distinct (caller, meeting, action) keys remembered; past this the
/// oldest are forgotten (and a flood of distinct keys is itself capped by
/// `MAX_PER_WINDOW`).
const MAX_KEYS: usize = 10_000;
/// Records written per window across all keys.
const MAX_PER_WINDOW: u32 = 600;

#[derive(Default)]
pub(super) struct RefusalLog {
    state: Mutex<State>,
    suppressed: AtomicU64,
}

#[derive(Default)]
struct State {
    last: HashMap<(String, String, String), Instant>,
    window_start: Option<Instant>,
    in_window: u32,
}

impl RefusalLog {
    /// Should this refusal be written now?
    pub fn admit(&self, who: &str, meeting: &str, action: &str) -> bool {
        self.admit_at(Instant::now(), who, meeting, action)
    }

    fn admit_at(&self, now: Instant, who: &str, meeting: &str, action: &str) -> bool {
        let mut s = self.state.lock().expect("refusal log");
        if s.window_start
            .is_none_or(|t| now.duration_since(t) >= WINDOW)
        {
            s.window_start = Some(now);
            s.in_window = 0;
            s.last.retain(|_, t| now.duration_since(*t) < WINDOW);
        }
        let key = (who.to_string(), meeting.to_string(), action.to_string());
        let fresh = s
            .last
            .get(&key)
            .is_none_or(|t| now.duration_since(*t) >= WINDOW);
        if !fresh || s.in_window >= MAX_PER_WINDOW || s.last.len() >= MAX_KEYS {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        s.in_window += 1;
        s.last.insert(key, now);
        true
    }

    pub fn suppressed(&self) -> u64 {
        self.suppressed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_refusal_is_written_once_per_window() {
        let log = RefusalLog::default();
        let t = Instant::now();
        assert!(log.admit_at(t, "ep1", "m1", "live_read"));
        for i in 1..100 {
            assert!(!log.admit_at(t + Duration::from_millis(i), "ep1", "m1", "live_read"));
        }
        assert!(log.admit_at(t, "ep1", "m2", "live_read"));
        assert!(log.admit_at(t + WINDOW, "ep1", "m1", "live_read"));
        assert_eq!(log.suppressed(), 99);
    }

    #[test]
    fn a_flood_of_distinct_callers_is_capped_per_window() {
        let log = RefusalLog::default();
        let t = Instant::now();
        let written = (0..5_000)
            .filter(|i| log.admit_at(t, &format!("ep{i}"), "m", "a"))
            .count();
        assert_eq!(written, MAX_PER_WINDOW as usize);
    }
}
