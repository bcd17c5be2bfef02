//! A worker's input queue, and the datagram batches it carries.
//!
//! The queue is a bounded channel with a second bound, in bytes: a starved
//! worker's backlog of datagram batches stops at [`MAX_QUEUED_BYTES`], so
//! a stall costs bounded memory (S6, BENCHMARKS §23: the allocator kept
//! what a stall had piled up). Batches go back to the receive threads
//! through a [`BatchPool`] once the worker is done, so the forward path
//! allocates no buffer per batch (§24: −6 to −13 % CPU per packet in S1).
//!
//! The worker waits with crossbeam's blocking receive (it spins, yields a
//! few times, then parks). A wait that parks at once was measured twice
//! (§21, §24) and was no better: what the yields cost, the extra futex
//! wake-ups it causes cost as well.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};

use super::{DatagramBatch, ShardInput};

/// Bytes of datagrams a worker may have queued: seconds of a 150-room
/// meeting's input (S2: ~6 MB/s), so the message bound is what a meeting
/// meets first unless its datagrams are large. Past it the receive thread
/// drops (and counts), as at the message bound; shedding starts at the
/// same fraction of either ([`WorkerTx::backlog`]).
const MAX_QUEUED_BYTES: usize = 32 << 20;

/// Batches kept for reuse; the rest are freed. A worker's queue is a few
/// batches deep when it keeps up, so this covers every batch in flight.
const POOL: usize = 16;
/// A batch grown beyond this (a burst of large datagrams) is freed, not
/// kept: the pool holds at most `POOL` times this.
const MAX_POOLED_BYTES: usize = 96 << 10;

/// The sending side (receive threads, control, other workers).
#[derive(Clone)]
pub(crate) struct WorkerTx {
    tx: Sender<ShardInput>,
    /// Capacity of the datagram batches queued now (shared by both ends).
    queued: Arc<AtomicUsize>,
}

/// The worker's side.
pub(crate) struct WorkerRx {
    rx: Receiver<ShardInput>,
    queued: Arc<AtomicUsize>,
}

pub(crate) fn worker_queue(capacity: usize) -> (WorkerTx, WorkerRx) {
    let (tx, rx) = crossbeam_channel::bounded(capacity);
    let queued = Arc::new(AtomicUsize::new(0));
    (
        WorkerTx {
            tx,
            queued: queued.clone(),
        },
        WorkerRx { rx, queued },
    )
}

/// Datagram bytes in a message (0 for the rest). The bytes, not the
/// buffer's capacity: a reused batch may hold a few datagrams in a large
/// buffer, and only the pool's few are reused, so what a backlog holds
/// stays within about twice this.
fn weight(m: &ShardInput) -> usize {
    match m {
        ShardInput::Datagrams(b) | ShardInput::TcpFrames(b) => b.bytes.len(),
        _ => 0,
    }
}

impl WorkerTx {
    /// Queue without waiting; `Full` at either bound.
    pub fn try_send(&self, m: ShardInput) -> Result<(), TrySendError<ShardInput>> {
        let w = weight(&m);
        if w > 0 {
            let before = self.queued.fetch_add(w, Ordering::Relaxed);
            if before + w > MAX_QUEUED_BYTES {
                self.queued.fetch_sub(w, Ordering::Relaxed);
                return Err(TrySendError::Full(m));
            }
        }
        self.tx.try_send(m).inspect_err(|_| {
            self.queued.fetch_sub(w, Ordering::Relaxed);
        })
    }

    /// How far behind the worker is, in messages: the queued messages, or
    /// the queued bytes scaled so that the byte bound counts as a full
    /// datagram queue, whichever is further. Shedding reads it.
    pub fn backlog(&self) -> usize {
        let bytes = self.queued.load(Ordering::Relaxed).min(MAX_QUEUED_BYTES);
        let scaled = bytes / (MAX_QUEUED_BYTES / super::DATAGRAM_QUEUE);
        self.tx.len().max(scaled)
    }
}

impl WorkerRx {
    /// The next message, waiting until one comes or `deadline` passes.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<ShardInput, RecvTimeoutError> {
        self.rx.recv_deadline(deadline).map(|m| self.taken(m))
    }

    pub fn try_recv(&self) -> Result<ShardInput, TryRecvError> {
        self.rx.try_recv().map(|m| self.taken(m))
    }

    fn taken(&self, m: ShardInput) -> ShardInput {
        self.queued.fetch_sub(weight(&m), Ordering::Relaxed);
        m
    }
}

/// Datagram batches handed back by the workers for the receive threads to
/// fill again (their buffers keep the capacity they grew to).
#[derive(Clone)]
pub(crate) struct BatchPool {
    tx: Sender<DatagramBatch>,
    rx: Receiver<DatagramBatch>,
}

impl Default for BatchPool {
    fn default() -> Self {
        let (tx, rx) = crossbeam_channel::bounded(POOL);
        BatchPool { tx, rx }
    }
}

impl BatchPool {
    /// An empty batch: a used one if the pool has one.
    pub fn take(&self) -> DatagramBatch {
        self.rx.try_recv().unwrap_or_default()
    }

    /// Give a batch back (freed instead when the pool is full or the
    /// batch grew too large).
    pub fn give(&self, mut b: DatagramBatch) {
        if b.bytes.capacity() > MAX_POOLED_BYTES {
            return;
        }
        b.bytes.clear();
        b.items.clear();
        b.stamps.clear();
        let _ = self.tx.try_send(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn batch(bytes: usize) -> ShardInput {
        let mut b = DatagramBatch::default();
        let a: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        b.push(a, a, &vec![0u8; bytes]);
        b.bytes.shrink_to_fit();
        ShardInput::Datagrams(b)
    }

    fn span() -> ShardInput {
        ShardInput::Span {
            room: "r".into(),
            home: 0,
            workers: vec![0],
        }
    }

    #[test]
    fn datagrams_beyond_the_byte_bound_are_refused_until_the_worker_takes_some() {
        let (tx, rx) = worker_queue(4096);
        let each = 64 << 10;
        let fit = MAX_QUEUED_BYTES / each;
        assert!(fit < 4096, "the byte bound is met first here");
        for _ in 0..fit {
            tx.try_send(batch(each)).expect("within the bound");
        }
        assert!(matches!(
            tx.try_send(batch(each)),
            Err(TrySendError::Full(_))
        ));
        // Messages without datagrams still pass: control is never starved.
        tx.try_send(span()).expect("a command passes");
        assert!(rx.try_recv().is_ok());
        tx.try_send(batch(each)).expect("room again");
        // A full byte bound reads as a full datagram queue (for shedding).
        assert_eq!(tx.backlog(), super::super::DATAGRAM_QUEUE);
        assert_eq!(tx.tx.len(), fit + 1);
    }

    #[test]
    fn a_given_back_batch_is_handed_out_again_empty_with_its_buffer() {
        let pool = BatchPool::default();
        let ShardInput::Datagrams(b) = batch(1500) else {
            unreachable!()
        };
        let ptr = b.bytes.as_ptr();
        pool.give(b);
        let again = pool.take();
        assert!(again.is_empty() && again.bytes.is_empty());
        assert_eq!(again.bytes.as_ptr(), ptr);
        // Too large to keep: freed, and the next take is new.
        let ShardInput::Datagrams(big) = batch(MAX_POOLED_BYTES + 1) else {
            unreachable!()
        };
        pool.give(big);
        assert_eq!(pool.take().bytes.capacity(), 0);
    }
}
