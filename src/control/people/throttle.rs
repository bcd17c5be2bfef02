//! Throttling logins: per (login name, source address) with growing delays,
//! and a ceiling per source address.
//!
//! An attempt is counted when it is admitted, *before* its password is
//! verified: fifty requests arriving together are admitted one by one under
//! the lock, so only the free attempts get an argon2 run and the rest are
//! told when to come back. A success gives its attempt back.
//!
//! There is no lock on a name by itself: a stranger hammering someone's
//! account from their own address slows only their own (name, address)
//! pair and their address, and the owner logging in from another address
//! is not held up. Guessing from many addresses is still paid for with
//! argon2 runs, of which only a few run at once (`People`'s semaphore).
//!
//! In memory on purpose: the counts matter for minutes, a restart resetting
//! them costs an attacker a restart they cannot cause, and keeping them out
//! of the database keeps a password-guessing flood from turning into a
//! write flood. With several nodes each counts its own attempts.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Attempts on one (name, address) pair that wait for nothing: enough for
/// a person who mistypes twice, too few to guess with.
pub const FREE_ATTEMPTS_PER_PAIR: u32 = 3;
/// The wait before the first attempt past the free ones; it doubles with
/// each further attempt.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts of one pair (reached after ten
/// failures): a guesser gets about twelve tries an hour per address, a
/// person who forgot their password is told to wait minutes, not hours.
pub const MAX_DELAY: Duration = Duration::from_secs(5 * 60);
/// A pair left alone this long starts afresh. Longer than `MAX_DELAY`, so a
/// guesser pacing at the ceiling never gets the free attempts back.
const PAIR_FORGOTTEN_AFTER: Duration = Duration::from_secs(15 * 60);
/// The window the per-address ceiling counts over.
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Failed (or still running) attempts per source address per window, over
/// all names: a shared office NAT may hold a few people mistyping at once,
/// but not a spray over many names.
pub const MAX_ATTEMPTS_PER_ADDRESS: usize = 20;
/// Keys kept before stale ones are swept: bounds memory under a spray of
/// random names (each address adds at most its ceiling of names per window).
const SWEEP_ABOVE_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Pair {
    /// Attempts admitted and not given back by a success.
    attempts: u32,
    last: Instant,
}

impl Pair {
    /// When the next attempt may start.
    fn next_allowed(&self) -> Instant {
        self.last + delay_after(self.attempts)
    }
}

/// The wait after `attempts` counted attempts: none for the free ones, then
/// `FIRST_DELAY` doubling up to `MAX_DELAY`.
fn delay_after(attempts: u32) -> Duration {
    if attempts < FREE_ATTEMPTS_PER_PAIR {
        return Duration::ZERO;
    }
    let doublings = (attempts - FREE_ATTEMPTS_PER_PAIR).min(16);
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

#[derive(Debug, Default)]
struct Book {
    pairs: HashMap<(String, Option<IpAddr>), Pair>,
    addresses: HashMap<IpAddr, VecDeque<Instant>>,
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    book: Mutex<Book>,
}

/// Whole seconds to wait, rounded up: "retry after 0 seconds" would invite
/// a retry too soon.
fn secs_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl LoginThrottle {
    /// Admit one attempt of `name` from `address`, counting it now; or
    /// `Err(seconds)` to wait first. Call [`LoginThrottle::succeeded`] when
    /// the password turns out right.
    pub fn admit(&self, name: &str, address: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        if book.pairs.len() + book.addresses.len() > SWEEP_ABOVE_KEYS {
            book.sweep(now);
        }
        let key = (name.to_string(), address);
        let mut wait = Duration::ZERO;
        if let Some(pair) = book.pairs.get(&key) {
            wait = pair.next_allowed().saturating_duration_since(now);
        }
        if let Some(a) = address
            && let Some(times) = book.addresses.get_mut(&a)
        {
            prune(times, now);
            if times.len() >= MAX_ATTEMPTS_PER_ADDRESS {
                // Free again when the oldest attempt that still counts
                // leaves the window.
                let oldest = times[times.len() - MAX_ATTEMPTS_PER_ADDRESS];
                wait = wait.max((oldest + ADDRESS_WINDOW).saturating_duration_since(now));
            }
        }
        if !wait.is_zero() {
            return Err(secs_up(wait));
        }
        let pair = book.pairs.entry(key).or_insert(Pair {
            attempts: 0,
            last: now,
        });
        if now.saturating_duration_since(pair.last) >= PAIR_FORGOTTEN_AFTER {
            pair.attempts = 0;
        }
        pair.attempts = pair.attempts.saturating_add(1);
        pair.last = now;
        if let Some(a) = address {
            book.addresses.entry(a).or_default().push_back(now);
        }
        Ok(())
    }

    /// The attempt admitted last for `name` from `address` was right: the
    /// pair starts afresh and the address gets that attempt back (one right
    /// password does not wipe a spray's other failures from it).
    pub fn succeeded(&self, name: &str, address: Option<IpAddr>) {
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        book.pairs.remove(&(name.to_string(), address));
        if let Some(a) = address
            && let Some(times) = book.addresses.get_mut(&a)
        {
            times.pop_back();
        }
    }
}

impl Book {
    fn sweep(&mut self, now: Instant) {
        self.pairs
            .retain(|_, p| now.saturating_duration_since(p.last) < PAIR_FORGOTTEN_AFTER);
        self.addresses.retain(|_, times| {
            prune(times, now);
            !times.is_empty()
        });
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= ADDRESS_WINDOW)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn a_pair_gets_its_free_attempts_then_doubling_waits() {
        let l = LoginThrottle::default();
        let t0 = Instant::now();
        let a = ip("10.0.0.1");
        for _ in 0..FREE_ATTEMPTS_PER_PAIR {
            assert_eq!(l.admit("an", a, t0), Ok(()));
        }
        assert_eq!(l.admit("an", a, t0), Err(1));
        let t1 = t0 + FIRST_DELAY;
        assert_eq!(l.admit("an", a, t1), Ok(()));
        assert_eq!(l.admit("an", a, t1), Err(2));
        assert_eq!(l.admit("an", a, t1 + Duration::from_secs(2)), Ok(()));
        assert_eq!(l.admit("an", a, t1 + Duration::from_secs(2)), Err(4));
    }

    #[test]
    fn the_wait_is_capped() {
        assert_eq!(delay_after(FREE_ATTEMPTS_PER_PAIR + 40), MAX_DELAY);
        assert_eq!(delay_after(FREE_ATTEMPTS_PER_PAIR - 1), Duration::ZERO);
    }

    #[test]
    fn hammering_from_one_address_does_not_hold_up_another() {
        let l = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..50 {
            let _ = l.admit("admin", ip("10.0.0.66"), t0);
        }
        assert!(l.admit("admin", ip("10.0.0.66"), t0).is_err());
        assert_eq!(l.admit("admin", ip("10.0.0.7"), t0), Ok(()));
    }

    #[test]
    fn an_address_has_a_ceiling_over_every_name() {
        let l = LoginThrottle::default();
        let t0 = Instant::now();
        let a = ip("10.0.0.2");
        for i in 0..MAX_ATTEMPTS_PER_ADDRESS {
            assert_eq!(l.admit(&format!("user{i}"), a, t0), Ok(()));
        }
        assert_eq!(l.admit("fresh", a, t0), Err(300));
        assert_eq!(l.admit("fresh", ip("10.0.0.3"), t0), Ok(()));
        assert_eq!(l.admit("fresh", a, t0 + ADDRESS_WINDOW), Ok(()));
    }

    #[test]
    fn success_clears_the_pair_and_gives_the_address_its_attempt_back() {
        let l = LoginThrottle::default();
        let t0 = Instant::now();
        let a = ip("10.0.0.4");
        for _ in 0..FREE_ATTEMPTS_PER_PAIR {
            l.admit("an", a, t0).unwrap();
        }
        assert!(l.admit("an", a, t0).is_err());
        l.succeeded("an", a);
        assert_eq!(l.admit("an", a, t0), Ok(()));
        let book = l.book.lock().unwrap();
        assert_eq!(
            book.addresses[&a.unwrap()].len(),
            FREE_ATTEMPTS_PER_PAIR as usize
        );
    }

    #[test]
    fn a_quiet_pair_starts_afresh() {
        let l = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_ATTEMPTS_PER_PAIR {
            l.admit("an", None, t0).unwrap();
        }
        let later = t0 + PAIR_FORGOTTEN_AFTER;
        for _ in 0..FREE_ATTEMPTS_PER_PAIR {
            assert_eq!(l.admit("an", None, later), Ok(()));
        }
    }
}
