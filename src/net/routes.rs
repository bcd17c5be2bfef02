//! The receive thread's remote address -> worker map (pure, bounded).
//!
//! An address is learnt from a STUN request naming a known ICE username
//! (ufrag); its later datagrams go to that worker without parsing. Bounded
//! by construction: at most [`MAX_ROUTES_PER_UFRAG`] addresses per ufrag (a
//! flood of STUN from new source ports replaces that session's least
//! recently heard address), at most [`MAX_ROUTES`] in all (beyond, new
//! addresses are not learnt — their STUN is still routed by ufrag — until
//! the sweep frees room), and each sweep drops addresses unheard for
//! [`ROUTE_IDLE`] and those of sessions that left (their ufrag is gone).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Addresses one session (ufrag) may be routed from at once: the same
/// bound as the engine's (`media::addrs::MAX_ADDRS_PER_SESSION`), so the
/// two maps agree on what a peer may use.
pub(super) const MAX_ROUTES_PER_UFRAG: usize = crate::media::addrs::MAX_ADDRS_PER_SESSION;

/// Addresses routed in all, per receive thread: 8 192 sessions' worth of
/// the per-session bound, far above one server's load (a province meeting
/// is ~200 sessions), about 1 MiB of map.
pub(super) const MAX_ROUTES: usize = 8_192 * MAX_ROUTES_PER_UFRAG;

/// An address unheard this long is forgotten (as in the engine: twice
/// ICE consent's 30 s expiry, so a path in use is never dropped).
pub(super) const ROUTE_IDLE: Duration = crate::media::addrs::ADDR_IDLE;

/// How often the receive thread sweeps: a scan of the map and one read of
/// the ufrag map, so not per batch; a session that left loses its routes
/// within this.
pub(super) const ROUTE_SWEEP: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Route {
    shard: usize,
    ufrag: Arc<str>,
    last: Instant,
}

#[derive(Debug, Default)]
pub(super) struct Routes {
    by_addr: HashMap<SocketAddr, Route>,
    by_ufrag: HashMap<Arc<str>, Vec<SocketAddr>>,
    last_sweep: Option<Instant>,
}

impl Routes {
    /// The worker for `addr`; counts as hearing from it.
    pub fn lookup(&mut self, now: Instant, addr: SocketAddr) -> Option<usize> {
        let r = self.by_addr.get_mut(&addr)?;
        r.last = now;
        Some(r.shard)
    }

    /// A STUN request for `ufrag` (on `shard`) came from `addr`. Returns
    /// how many routes it evicted (0 or 1) or refused (1 at [`MAX_ROUTES`]).
    pub fn learn(&mut self, now: Instant, addr: SocketAddr, ufrag: &str, shard: usize) -> u64 {
        if let Some(r) = self.by_addr.get_mut(&addr) {
            if &*r.ufrag == ufrag {
                r.shard = shard;
                r.last = now;
                return 0;
            }
            // The address is another session's now (a peer that rejoined).
            let old = r.ufrag.clone();
            self.by_addr.remove(&addr);
            self.unlist(&old, addr);
        }
        let mut evicted = 0;
        let key: Arc<str> = match self.by_ufrag.get_key_value(ufrag) {
            Some((k, _)) => k.clone(),
            None => {
                if self.by_addr.len() >= MAX_ROUTES {
                    return 1;
                }
                Arc::from(ufrag)
            }
        };
        let list = self.by_ufrag.entry(key.clone()).or_default();
        if list.len() >= MAX_ROUTES_PER_UFRAG {
            let by_addr = &self.by_addr;
            if let Some(i) = (0..list.len()).min_by_key(|&i| by_addr.get(&list[i]).map(|r| r.last))
            {
                let gone = list.swap_remove(i);
                self.by_addr.remove(&gone);
                evicted = 1;
            }
        } else if self.by_addr.len() >= MAX_ROUTES {
            return 1;
        }
        list.push(addr);
        self.by_addr.insert(
            addr,
            Route {
                shard,
                ufrag: key,
                last: now,
            },
        );
        evicted
    }

    /// Whether a sweep is due (every [`ROUTE_SWEEP`]).
    pub fn sweep_due(&self, now: Instant) -> bool {
        self.last_sweep
            .is_none_or(|t| now.saturating_duration_since(t) >= ROUTE_SWEEP)
    }

    /// Drop routes unheard for [`ROUTE_IDLE`] and those whose ufrag no
    /// longer names a session (`live`); returns how many went.
    pub fn sweep(&mut self, now: Instant, live: impl Fn(&str) -> bool) -> u64 {
        self.last_sweep = Some(now);
        let gone: Vec<SocketAddr> = self
            .by_addr
            .iter()
            .filter(|(_, r)| now.saturating_duration_since(r.last) >= ROUTE_IDLE || !live(&r.ufrag))
            .map(|(a, _)| *a)
            .collect();
        for a in &gone {
            if let Some(r) = self.by_addr.remove(a) {
                self.unlist(&r.ufrag, *a);
            }
        }
        gone.len() as u64
    }

    fn unlist(&mut self, ufrag: &str, addr: SocketAddr) {
        if let Some(list) = self.by_ufrag.get_mut(ufrag) {
            list.retain(|a| *a != addr);
            if list.is_empty() {
                self.by_ufrag.remove(ufrag);
            }
        }
    }

    /// Routes held (remote addresses).
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u32) -> SocketAddr {
        SocketAddr::from((std::net::Ipv4Addr::from(0x0a00_0000 + (i >> 16)), i as u16))
    }

    #[test]
    fn a_stun_flood_from_new_ports_cannot_grow_one_sessions_routes() {
        let mut routes = Routes::default();
        let t0 = Instant::now();
        routes.learn(t0, addr(1), "abcd", 0);
        let mut evicted = 0;
        for i in 0..50_000u32 {
            let now = t0 + Duration::from_micros(u64::from(i) + 1);
            assert_eq!(
                routes.lookup(now, addr(1)),
                Some(0),
                "the path in use stays routed"
            );
            evicted += routes.learn(now, addr(1000 + i), "abcd", 0);
        }
        assert_eq!(routes.len(), MAX_ROUTES_PER_UFRAG);
        assert_eq!(evicted, 50_000 + 1 - MAX_ROUTES_PER_UFRAG as u64);
    }

    #[test]
    fn many_sessions_stop_at_the_total_cap_and_routes_are_refused_not_grown() {
        let mut routes = Routes::default();
        let t0 = Instant::now();
        let sessions = MAX_ROUTES / MAX_ROUTES_PER_UFRAG;
        for s in 0..sessions as u32 {
            for k in 0..MAX_ROUTES_PER_UFRAG as u32 {
                assert_eq!(routes.learn(t0, addr(s * 16 + k), &format!("u{s}"), 0), 0);
            }
        }
        assert_eq!(routes.len(), MAX_ROUTES);
        assert_eq!(routes.learn(t0, addr(u32::MAX), "new", 1), 1);
        assert_eq!(routes.lookup(t0, addr(u32::MAX)), None);
        assert_eq!(routes.len(), MAX_ROUTES);
    }

    #[test]
    fn routes_of_sessions_that_left_or_fell_silent_are_swept() {
        let mut routes = Routes::default();
        let t0 = Instant::now();
        routes.learn(t0, addr(1), "gone", 0);
        routes.learn(t0, addr(2), "here", 1);
        routes.learn(t0, addr(3), "here", 1);
        assert!(routes.sweep_due(t0));
        assert_eq!(
            routes.sweep(t0, |u| u == "here"),
            1,
            "the session that left"
        );
        assert_eq!(routes.lookup(t0, addr(1)), None);
        assert!(!routes.sweep_due(t0 + ROUTE_SWEEP / 2));
        let later = t0 + ROUTE_IDLE;
        assert_eq!(routes.lookup(later, addr(2)), Some(1));
        assert_eq!(routes.sweep(later, |_| true), 1, "the silent one");
        assert_eq!(routes.lookup(later, addr(3)), None);
        assert_eq!(routes.len(), 1);
    }
}
