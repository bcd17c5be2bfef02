//! Per-source request budget for the SIP listener: a fixed one-minute
//! window per IP address, in a bounded table (the oldest window is
//! forgotten past the cap, so spoofed sources cannot grow it).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Sources tracked at once.
pub const MAX_SOURCES: usize = 4096;
const WINDOW: Duration = Duration::from_secs(60);

pub struct Limiter {
    per_window: u32,
    seen: HashMap<IpAddr, (Instant, u32)>,
}

impl Limiter {
    pub fn new(per_minute: u32) -> Limiter {
        Limiter {
            per_window: per_minute,
            seen: HashMap::new(),
        }
    }

    /// Count one request from `ip`; false once its minute is spent.
    pub fn allow(&mut self, now: Instant, ip: IpAddr) -> bool {
        if !self.seen.contains_key(&ip) && self.seen.len() >= MAX_SOURCES {
            self.seen
                .retain(|_, (start, _)| now.saturating_duration_since(*start) < WINDOW);
            if self.seen.len() >= MAX_SOURCES
                && let Some(oldest) = self
                    .seen
                    .iter()
                    .min_by_key(|(_, (s, _))| *s)
                    .map(|(ip, _)| *ip)
            {
                self.seen.remove(&oldest);
            }
        }
        let e = self.seen.entry(ip).or_insert((now, 0));
        if now.saturating_duration_since(e.0) >= WINDOW {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= self.per_window
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_past_its_budget_waits_for_the_next_minute_and_others_are_unaffected() {
        let (mut l, t0) = (Limiter::new(3), Instant::now());
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| l.allow(t0, a)));
        assert!(!l.allow(t0, a));
        assert!(l.allow(t0, b));
        assert!(l.allow(t0 + WINDOW, a));
    }

    #[test]
    fn the_table_never_grows_past_its_cap() {
        let (mut l, t0) = (Limiter::new(3), Instant::now());
        for i in 0..(MAX_SOURCES as u32 + 50) {
            l.allow(t0, IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)));
        }
        assert_eq!(l.len(), MAX_SOURCES);
    }
}
