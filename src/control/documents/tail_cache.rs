//! Readers' watermark tails, kept so a repeated download (a Range resume, a
//! second device, a HEAD before the GET) does not lay the tail out again.
//! Keyed by the stored version and the reader's stamp, so a tail is only
//! ever reused for the same bytes. Bounded by entries and bytes; the least
//! recently used go first.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Tails kept: a province meeting's delegates × its documents (200 × 20).
pub const TAIL_CACHE_ENTRIES: usize = 4_096;
/// Bytes kept: tails are a few KiB (one object per page, a font subset),
/// up to a few MiB for a document at the page cap; 64 MiB holds a busy
/// meeting's worth without letting big documents crowd memory.
pub const TAIL_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// One tail's identity: the stored object (one per version) and who it is
/// printed for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TailKey {
    pub object: String,
    pub name: String,
    pub unit: String,
    pub first_at_ms: i64,
}

#[derive(Debug)]
pub struct TailCache {
    max_entries: usize,
    max_bytes: usize,
    entries: HashMap<TailKey, (Arc<Vec<u8>>, u64)>,
    /// Use tick -> key, oldest first.
    order: BTreeMap<u64, TailKey>,
    tick: u64,
    bytes: usize,
    /// Tails laid out (misses), for /metrics and tests.
    pub made: AtomicU64,
}

impl Default for TailCache {
    fn default() -> Self {
        TailCache::new(TAIL_CACHE_ENTRIES, TAIL_CACHE_BYTES)
    }
}

impl TailCache {
    pub fn new(max_entries: usize, max_bytes: usize) -> TailCache {
        TailCache {
            max_entries,
            max_bytes,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            bytes: 0,
            made: AtomicU64::new(0),
        }
    }

    pub fn get(&mut self, key: &TailKey) -> Option<Arc<Vec<u8>>> {
        self.tick += 1;
        let (tail, used) = self.entries.get_mut(key)?;
        self.order.remove(used);
        *used = self.tick;
        self.order.insert(self.tick, key.clone());
        Some(tail.clone())
    }

    /// Keep `tail` (one bigger than the whole budget is not kept).
    pub fn put(&mut self, key: TailKey, tail: Arc<Vec<u8>>) {
        self.made.fetch_add(1, Ordering::Relaxed);
        if tail.len() > self.max_bytes {
            return;
        }
        self.tick += 1;
        if let Some((old, used)) = self.entries.remove(&key) {
            self.order.remove(&used);
            self.bytes -= old.len();
        }
        self.bytes += tail.len();
        self.order.insert(self.tick, key.clone());
        self.entries.insert(key, (tail, self.tick));
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((t, _)) = self.entries.remove(&oldest) {
                self.bytes -= t.len();
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> TailKey {
        TailKey {
            object: format!("doc/{i}"),
            name: "Nguyễn Văn An".into(),
            unit: "Xã An Phú".into(),
            first_at_ms: 1,
        }
    }

    #[test]
    fn the_cache_keeps_to_its_entry_and_byte_budgets_dropping_the_least_recently_used() {
        let mut c = TailCache::new(3, 1000);
        for i in 0..3 {
            c.put(key(i), Arc::new(vec![0; 100]));
        }
        assert!(c.get(&key(0)).is_some(), "0 is now the most recent");
        c.put(key(3), Arc::new(vec![0; 100]));
        assert_eq!(c.len(), 3);
        assert!(c.get(&key(1)).is_none(), "1 was the least recently used");
        assert!(c.get(&key(0)).is_some() && c.get(&key(3)).is_some());
        // Bytes: one big tail pushes out the older ones.
        c.put(key(4), Arc::new(vec![0; 900]));
        assert!(c.bytes() <= 1000);
        assert!(c.get(&key(4)).is_some());
        // Bigger than the budget: not kept at all.
        c.put(key(5), Arc::new(vec![0; 1001]));
        assert!(c.get(&key(5)).is_none());
        assert!(c.bytes() <= 1000 && c.len() <= 3);
        assert_eq!(c.made.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn a_tail_is_only_reused_for_the_same_version_and_stamp() {
        let mut c = TailCache::default();
        c.put(key(0), Arc::new(vec![1]));
        let mut other_time = key(0);
        other_time.first_at_ms = 2;
        let mut other_version = key(0);
        other_version.object = "doc/0-v2".into();
        assert!(c.get(&other_time).is_none() && c.get(&other_version).is_none());
        assert_eq!(c.get(&key(0)).as_deref(), Some(&vec![1]));
    }
}
