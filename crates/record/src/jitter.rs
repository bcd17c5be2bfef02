//! A small reorder buffer keyed by RTP sequence number.
//!
//! Packets come out in sequence order. A missing sequence number is waited
//! for until either the buffer holds `capacity` packets or the oldest
//! buffered packet has waited `max_wait_ms` (a time the caller passes in:
//! this module reads no clock); then the gap is declared lost and release
//! goes on after it. Duplicates and packets older than what was already
//! released are dropped and counted.
//!
//! Sequence numbers are extended to 64 bits relative to the next expected
//! one, so the u16 wrap-around is invisible to the ordering.

use std::collections::{BTreeMap, VecDeque};

/// What comes out of the buffer, in sequence order.
#[derive(Debug, PartialEq, Eq)]
pub enum JitterOut<T> {
    Packet {
        seq: u16,
        item: T,
    },
    /// `count` sequence numbers starting at `first` never arrived in time.
    Lost {
        first: u16,
        count: u32,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub received: u64,
    /// Seen before: still held, or already released.
    pub duplicates: u64,
    /// Arrived after their sequence number was declared lost (or before the
    /// first packet).
    pub late: u64,
    pub lost: u64,
    /// The sender's sequence jumped far backwards: the buffer started over.
    pub restarts: u64,
}

/// A packet this far behind the expected sequence is a sender restart, not
/// a straggler.
const RESTART_BEHIND: u64 = 3000;
/// Extended sequence numbers start here so that stepping back cannot underflow.
const BASE: u64 = 1 << 40;
/// Loss ranges remembered to tell a late packet from a duplicate.
const LOST_HISTORY: usize = 64;

#[derive(Debug)]
pub struct JitterBuffer<T> {
    capacity: usize,
    max_wait_ms: u64,
    next: Option<u64>,
    /// First extended sequence number ever expected (restarts move it).
    origin: u64,
    /// Recent (first, count) ranges declared lost.
    lost_ranges: VecDeque<(u64, u64)>,
    slots: BTreeMap<u64, (u64, T)>,
    ready: VecDeque<JitterOut<T>>,
    stats: JitterStats,
}

impl<T> JitterBuffer<T> {
    /// `capacity` packets at most are held (at least 1); a gap is waited for
    /// at most `max_wait_ms` after the oldest held packet arrived.
    pub fn new(capacity: usize, max_wait_ms: u64) -> Self {
        Self {
            capacity: capacity.max(1),
            max_wait_ms,
            next: None,
            origin: 0,
            lost_ranges: VecDeque::new(),
            slots: BTreeMap::new(),
            ready: VecDeque::new(),
            stats: JitterStats::default(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Packets held, waiting for a gap before them to fill.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty() && self.ready.is_empty()
    }

    /// Offers a packet that arrived at `now_ms`. Returns false when it was
    /// dropped (duplicate or late).
    pub fn push(&mut self, seq: u16, now_ms: u64, item: T) -> bool {
        self.stats.received += 1;
        let next = match self.next {
            Some(n) => n,
            None => {
                self.origin = BASE + seq as u64;
                *self.next.insert(self.origin)
            }
        };
        let delta = seq.wrapping_sub(next as u16) as i16 as i64;
        let ext = (next as i64 + delta) as u64;
        if ext < next {
            if next - ext < RESTART_BEHIND {
                let was_lost = ext < self.origin
                    || self
                        .lost_ranges
                        .iter()
                        .any(|&(first, n)| (first..first + n).contains(&ext));
                if was_lost {
                    self.stats.late += 1;
                } else {
                    self.stats.duplicates += 1;
                }
                return false;
            }
            self.restart(ext);
        }
        if self.slots.contains_key(&ext) {
            self.stats.duplicates += 1;
            return false;
        }
        self.slots.insert(ext, (now_ms, item));
        true
    }

    /// Next packet or loss to hand on, if the buffer may release one now.
    pub fn pop(&mut self, now_ms: u64) -> Option<JitterOut<T>> {
        if let Some(out) = self.ready.pop_front() {
            return Some(out);
        }
        let next = self.next?;
        let (&first, _) = self.slots.first_key_value()?;
        if first == next {
            let (_, item) = self.slots.remove(&first)?;
            self.next = Some(next + 1);
            return Some(JitterOut::Packet {
                seq: next as u16,
                item,
            });
        }
        let oldest = self.slots.values().map(|(at, _)| *at).min()?;
        let full = self.slots.len() >= self.capacity;
        if full || now_ms >= oldest.saturating_add(self.max_wait_ms) {
            return Some(self.declare_lost_until(first));
        }
        None
    }

    /// Releases everything held, declaring the remaining gaps lost (end of
    /// recording).
    pub fn drain(&mut self) -> Vec<JitterOut<T>> {
        let mut out: Vec<_> = self.ready.drain(..).collect();
        while let Some((&first, _)) = self.slots.first_key_value() {
            let next = self.next.unwrap_or(first);
            if first != next {
                out.push(self.declare_lost_until(first));
            }
            if let Some((_, item)) = self.slots.remove(&first) {
                out.push(JitterOut::Packet {
                    seq: first as u16,
                    item,
                });
            }
            self.next = Some(first + 1);
        }
        out
    }

    fn declare_lost_until(&mut self, first: u64) -> JitterOut<T> {
        let next = self.next.unwrap_or(first);
        let count = first - next;
        self.stats.lost += count;
        if count > 0 {
            if self.lost_ranges.len() == LOST_HISTORY {
                self.lost_ranges.pop_front();
            }
            self.lost_ranges.push_back((next, count));
        }
        self.next = Some(first);
        JitterOut::Lost {
            first: next as u16,
            count: count.min(u32::MAX as u64) as u32,
        }
    }

    /// The sender started over behind us: flush what is held, then follow
    /// the new numbering from `ext`.
    fn restart(&mut self, ext: u64) {
        self.stats.restarts += 1;
        let flushed = self.drain();
        self.ready.extend(flushed);
        self.next = Some(ext);
        self.origin = ext;
        self.lost_ranges.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain_now(j: &mut JitterBuffer<u16>, now: u64) -> Vec<JitterOut<u16>> {
        std::iter::from_fn(|| j.pop(now)).collect()
    }

    #[test]
    fn reorders_across_u16_wraparound() {
        let mut j = JitterBuffer::new(16, 100);
        for seq in [65534u16, 0, 65535, 1] {
            assert!(j.push(seq, 0, seq));
        }
        let out = drain_now(&mut j, 0);
        let seqs: Vec<u16> = out
            .iter()
            .map(|o| match o {
                JitterOut::Packet { seq, .. } => *seq,
                JitterOut::Lost { .. } => panic!("nothing is lost: {o:?}"),
            })
            .collect();
        assert_eq!(seqs, [65534, 65535, 0, 1]);
    }

    #[test]
    fn duplicate_and_late_packets_are_dropped() {
        let mut j = JitterBuffer::new(16, 100);
        assert!(j.push(10, 0, 10));
        assert!(!j.push(10, 0, 10), "duplicate of a held packet");
        assert_eq!(drain_now(&mut j, 0).len(), 1);
        assert!(!j.push(10, 1, 10), "duplicate of a released packet");
        assert!(!j.push(9, 1, 9), "before the first packet");
        j.push(12, 1, 12);
        assert_eq!(drain_now(&mut j, 200).len(), 2, "11 lost, then 12");
        assert!(!j.push(11, 201, 11), "after it was declared lost");
        let s = j.stats();
        assert_eq!((s.duplicates, s.late, s.lost), (2, 2, 1));
    }

    #[test]
    fn gap_is_declared_lost_after_the_wait() {
        let mut j = JitterBuffer::new(16, 100);
        j.push(65535, 0, 65535);
        j.push(2, 10, 2);
        assert_eq!(drain_now(&mut j, 50).len(), 1, "waits for 0 and 1");
        assert_eq!(j.pop(110), Some(JitterOut::Lost { first: 0, count: 2 }));
        assert_eq!(j.pop(110), Some(JitterOut::Packet { seq: 2, item: 2 }));
        assert_eq!(j.stats().lost, 2);
    }

    #[test]
    fn gap_is_declared_lost_when_full() {
        let mut j = JitterBuffer::new(3, 10_000);
        j.push(1, 0, 1);
        assert!(matches!(j.pop(0), Some(JitterOut::Packet { seq: 1, .. })));
        for s in 3..6 {
            j.push(s, 0, s);
        }
        let out = drain_now(&mut j, 0);
        assert_eq!(out[0], JitterOut::Lost { first: 2, count: 1 });
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn sender_restart_far_behind_is_followed() {
        let mut j = JitterBuffer::new(16, 100);
        j.push(40_000, 0, 1);
        drain_now(&mut j, 0);
        j.push(36_000, 1, 2);
        let out = drain_now(&mut j, 1);
        assert_eq!(
            out,
            [JitterOut::Packet {
                seq: 36_000,
                item: 2
            }]
        );
        assert_eq!(j.stats().restarts, 1);
    }
}
