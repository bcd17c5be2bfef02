//! Counting failures after a cheap check, per key and per source address:
//! the cascade's node credentials (one SHA-256 each), keyed by node id and
//! address so nobody elsewhere can lock a node out. Password logins use
//! `throttle` instead, which counts before the costly argon2 run.
//!
//! In memory on purpose: the counts matter for minutes, a restart resetting
//! them costs an attacker a restart they cannot cause, and keeping them out
//! of the database keeps a password-guessing flood from turning into a
//! write flood. With several nodes each counts its own attempts, so the
//! effective limit is the per-node limit times the node count; argon2 still
//! makes every guess slow.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window failures are counted over.
pub const WINDOW: Duration = Duration::from_secs(5 * 60);
/// Failures per login name per window: enough for a person who mistypes,
/// far too few for guessing.
pub const MAX_FAILURES_PER_NAME: usize = 5;
/// Failures per source address per window: a shared office NAT may hold a
/// few people mistyping at once, but not a spray over many names.
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// Keys kept before stale ones are swept: bounds memory under a spray of
/// random names.
const SWEEP_ABOVE_KEYS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Name(String),
    Address(IpAddr),
}

#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// `Err(seconds)` when `name` or `address` must wait before trying again.
    pub fn check(&self, name: &str, address: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        let mut map = self.failures.lock().expect("login limiter lock");
        let mut wait = Duration::ZERO;
        let mut keys = vec![(Key::Name(name.to_string()), MAX_FAILURES_PER_NAME)];
        if let Some(a) = address {
            keys.push((Key::Address(a), MAX_FAILURES_PER_ADDRESS));
        }
        for (key, max) in keys {
            if let Some(times) = map.get_mut(&key) {
                prune(times, now);
                if times.len() >= max {
                    // Free again when the oldest failure that still counts
                    // leaves the window.
                    let oldest = times[times.len() - max];
                    wait = wait.max((oldest + WINDOW).saturating_duration_since(now));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            // Round up: "retry after 0 seconds" would invite a retry too soon.
            Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        }
    }

    pub fn record_failure(&self, name: &str, address: Option<IpAddr>, now: Instant) {
        let mut map = self.failures.lock().expect("login limiter lock");
        if map.len() > SWEEP_ABOVE_KEYS {
            map.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        map.entry(Key::Name(name.to_string()))
            .or_default()
            .push_back(now);
        if let Some(a) = address {
            map.entry(Key::Address(a)).or_default().push_back(now);
        }
    }

    /// A successful login forgets the name's failures (not the address's:
    /// one right password must not reset a spray from that address).
    pub fn record_success(&self, name: &str) {
        let mut map = self.failures.lock().expect("login limiter lock");
        map.remove(&Key::Name(name.to_string()));
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_name_until_the_first_leaves_the_window() {
        let l = LoginLimiter::default();
        let t0 = Instant::now();
        let addr = Some("10.0.0.1".parse().unwrap());
        for i in 0..5 {
            assert_eq!(l.check("an", addr, t0), Ok(()));
            l.record_failure("an", addr, t0 + Duration::from_secs(i * 10));
        }
        let now = t0 + Duration::from_secs(60);
        assert_eq!(l.check("an", addr, now), Err(240));
        assert_eq!(l.check("binh", addr, now), Ok(()), "other names are free");
        assert_eq!(l.check("an", addr, t0 + WINDOW), Ok(()));
    }

    #[test]
    fn twenty_failures_lock_the_address_for_every_name() {
        let l = LoginLimiter::default();
        let t0 = Instant::now();
        let addr = Some("10.0.0.2".parse().unwrap());
        for i in 0..20 {
            l.record_failure(&format!("user{i}"), addr, t0);
        }
        assert_eq!(l.check("fresh", addr, t0), Err(300));
        assert_eq!(
            l.check("fresh", Some("10.0.0.3".parse().unwrap()), t0),
            Ok(())
        );
    }

    #[test]
    fn success_clears_the_name_only() {
        let l = LoginLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            l.record_failure("an", None, t0);
        }
        assert!(l.check("an", None, t0).is_err());
        l.record_success("an");
        assert_eq!(l.check("an", None, t0), Ok(()));
    }
}
