//! Which session each remote address belongs to (pure, bounded).
//!
//! A session learns an address from a STUN request for its ICE username;
//! later datagrams from that address go to it without parsing. Bounded by
//! construction: at most [`MAX_ADDRS_PER_SESSION`] per session (a flood of
//! STUN from new source ports replaces that session's least recently heard
//! address instead of growing anything), addresses unheard for
//! [`ADDR_IDLE`] are forgotten, and a session's addresses go when it
//! leaves. Total size ≤ sessions × [`MAX_ADDRS_PER_SESSION`].

use core::net::SocketAddr;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::ParticipantId;

/// Addresses one session may be reached from at once: a peer's candidates
/// (host, server-reflexive, relayed, over IPv4 and IPv6, on a couple of
/// interfaces) stay well under this; more is a flood, not ICE.
pub const MAX_ADDRS_PER_SESSION: usize = 8;

/// An address unheard this long is forgotten: twice ICE consent
/// freshness's 30 s expiry (RFC 7675), so an address in use — checked
/// every few seconds — is never dropped, and a dead one does not linger.
/// One that comes back is learnt again from its next STUN request.
pub const ADDR_IDLE: Duration = Duration::from_secs(60);

/// How often idle addresses are looked for: a scan of the map, so not on
/// every datagram.
pub const ADDR_SWEEP: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
struct Heard {
    session: ParticipantId,
    last: Instant,
}

#[derive(Debug, Default)]
pub struct AddrBook {
    by_addr: HashMap<SocketAddr, Heard>,
    by_session: HashMap<ParticipantId, Vec<SocketAddr>>,
    last_sweep: Option<Instant>,
    /// Addresses dropped by the cap or by age (not by a session leaving).
    pub evicted: u64,
}

impl AddrBook {
    /// The session `addr` belongs to; counts as hearing from it.
    pub fn lookup(&mut self, now: Instant, addr: SocketAddr) -> Option<ParticipantId> {
        let h = self.by_addr.get_mut(&addr)?;
        h.last = now;
        Some(h.session)
    }

    /// `session` was reached from `addr` (a STUN request for it). At the
    /// cap, the session's least recently heard address makes room.
    pub fn learn(&mut self, now: Instant, addr: SocketAddr, session: ParticipantId) {
        match self.by_addr.get_mut(&addr) {
            Some(h) if h.session == session => {
                h.last = now;
                return;
            }
            // The address moved to another session (a peer that came back).
            Some(h) => {
                let old = h.session;
                self.unlist(old, addr);
            }
            None => {}
        }
        let list = self.by_session.entry(session).or_default();
        if list.len() >= MAX_ADDRS_PER_SESSION {
            let by_addr = &self.by_addr;
            if let Some(i) = (0..list.len()).min_by_key(|&i| by_addr.get(&list[i]).map(|h| h.last))
            {
                let gone = list.swap_remove(i);
                self.by_addr.remove(&gone);
                self.evicted += 1;
            }
        }
        list.push(addr);
        self.by_addr.insert(addr, Heard { session, last: now });
    }

    /// A session left: its addresses go.
    pub fn forget_session(&mut self, session: ParticipantId) {
        for a in self.by_session.remove(&session).unwrap_or_default() {
            if self.by_addr.get(&a).is_some_and(|h| h.session == session) {
                self.by_addr.remove(&a);
            }
        }
    }

    /// Forget addresses unheard for [`ADDR_IDLE`] (at most every
    /// [`ADDR_SWEEP`]).
    pub fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|t| now.saturating_duration_since(t) < ADDR_SWEEP)
        {
            return;
        }
        self.last_sweep = Some(now);
        let idle: Vec<(SocketAddr, ParticipantId)> = self
            .by_addr
            .iter()
            .filter(|(_, h)| now.saturating_duration_since(h.last) >= ADDR_IDLE)
            .map(|(a, h)| (*a, h.session))
            .collect();
        for (a, s) in idle {
            self.by_addr.remove(&a);
            self.unlist(s, a);
            self.evicted += 1;
        }
    }

    fn unlist(&mut self, session: ParticipantId, addr: SocketAddr) {
        if let Some(list) = self.by_session.get_mut(&session) {
            list.retain(|a| *a != addr);
            if list.is_empty() {
                self.by_session.remove(&session);
            }
        }
    }

    /// Addresses known, over every session.
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    /// Addresses known for one session.
    pub fn of_session(&self, session: ParticipantId) -> usize {
        self.by_session.get(&session).map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    #[test]
    fn a_stun_flood_from_new_ports_keeps_a_session_at_its_cap_and_its_live_address() {
        let mut book = AddrBook::default();
        let t0 = Instant::now();
        book.learn(t0, addr(5000), 1);
        for p in 0..10_000u16 {
            let now = t0 + Duration::from_millis(u64::from(p));
            // The real path keeps being heard from.
            assert_eq!(book.lookup(now, addr(5000)), Some(1));
            book.learn(now, addr(20_000 + p), 1);
        }
        assert_eq!(book.of_session(1), MAX_ADDRS_PER_SESSION);
        assert_eq!(book.len(), MAX_ADDRS_PER_SESSION);
        assert_eq!(book.evicted, 10_000 + 1 - MAX_ADDRS_PER_SESSION as u64);
        assert_eq!(
            book.lookup(t0, addr(5000)),
            Some(1),
            "the address in use stays"
        );
    }

    #[test]
    fn addresses_go_when_their_session_leaves_or_after_they_fall_silent() {
        let mut book = AddrBook::default();
        let t0 = Instant::now();
        book.learn(t0, addr(1), 1);
        book.learn(t0, addr(2), 1);
        book.learn(t0, addr(3), 2);
        book.forget_session(1);
        assert_eq!((book.len(), book.lookup(t0, addr(1))), (1, None));
        assert_eq!(book.evicted, 0, "leaving is not an eviction");

        book.learn(t0, addr(4), 2);
        book.sweep(t0);
        // Heard from 4 recently; 3 silent.
        assert_eq!(book.lookup(t0 + ADDR_IDLE / 2, addr(4)), Some(2));
        book.sweep(t0 + ADDR_IDLE);
        assert_eq!(book.lookup(t0 + ADDR_IDLE, addr(3)), None);
        assert_eq!(book.lookup(t0 + ADDR_IDLE, addr(4)), Some(2));
        assert_eq!((book.len(), book.evicted), (1, 1));
        book.sweep(t0 + 3 * ADDR_IDLE);
        assert!(book.is_empty());
        assert_eq!(book.of_session(2), 0);
    }

    #[test]
    fn an_address_taken_by_a_new_session_is_not_removed_when_the_old_one_leaves() {
        let mut book = AddrBook::default();
        let t0 = Instant::now();
        book.learn(t0, addr(1), 1);
        book.learn(t0, addr(1), 2);
        book.forget_session(1);
        assert_eq!(book.lookup(t0, addr(1)), Some(2));
        assert_eq!(book.of_session(1), 0);
    }
}
