//! RFC 4571 framing for ICE-TCP: a 2-byte length before each STUN, DTLS,
//! RTP or RTCP packet; frames parsed in place from one read buffer, and
//! written back coalesced.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::DatagramBatch;
use super::tcp::MAX_FRAME_BYTES;

/// A peer that takes no bytes for this long is gone: the connection closes.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes gathered into one write from the queue.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// Why a connection ended early.
pub(super) enum Close {
    /// EOF or a read error: the peer went.
    Gone,
    Oversize,
    Idle,
}

/// Frames read from one connection: a buffer parsed in place.
pub(super) struct Reader {
    buf: Vec<u8>,
    start: usize,
}

impl Reader {
    pub(super) fn new() -> Reader {
        Reader {
            buf: Vec::with_capacity(2 * (MAX_FRAME_BYTES + 2)),
            start: 0,
        }
    }

    /// Move every complete frame into `batch`; an oversize length is an error.
    pub(super) fn frames(
        &mut self,
        batch: &mut DatagramBatch,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Result<(), Close> {
        loop {
            let avail = &self.buf[self.start..];
            if avail.len() < 2 {
                break;
            }
            let len = usize::from(u16::from_be_bytes([avail[0], avail[1]]));
            if len > MAX_FRAME_BYTES {
                return Err(Close::Oversize);
            }
            if avail.len() < 2 + len {
                break;
            }
            // An empty frame carries nothing (RFC 4571 allows it).
            if len > 0 {
                batch.push(peer, local, &avail[2..2 + len]);
            }
            self.start += 2 + len;
        }
        self.buf.drain(..self.start);
        self.start = 0;
        Ok(())
    }

    /// Read more bytes (up to `wait`); `Ok(false)` when nothing came in time.
    pub(super) async fn fill(
        &mut self,
        rd: &mut tokio::net::tcp::OwnedReadHalf,
        wait: Duration,
    ) -> Result<bool, Close> {
        if self.buf.capacity() - self.buf.len() < MAX_FRAME_BYTES {
            self.buf.reserve(MAX_FRAME_BYTES + 2);
        }
        match tokio::time::timeout(wait, rd.read_buf(&mut self.buf)).await {
            Err(_) => Ok(false),
            Ok(Ok(0)) | Ok(Err(_)) => Err(Close::Gone),
            Ok(Ok(_)) => Ok(true),
        }
    }
}

/// Write queued frames, each behind its 2-byte length, as few writes as
/// the queue allows; a peer that stops reading ends the connection.
pub(super) async fn write_frames(
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let mut out: Vec<u8> = Vec::with_capacity(WRITE_BATCH_BYTES);
    while let Some(first) = rx.recv().await {
        out.clear();
        push_frame(&mut out, &first);
        while out.len() < WRITE_BATCH_BYTES {
            match rx.try_recv() {
                Ok(f) => push_frame(&mut out, &f),
                Err(_) => break,
            }
        }
        match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&out)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

pub(super) fn push_frame(out: &mut Vec<u8>, frame: &[u8]) {
    // Our own packets are MTU-sized; anything longer cannot be framed.
    let Ok(len) = u16::try_from(frame.len()) else {
        return;
    };
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(frame);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    #[test]
    fn frames_split_across_reads_come_out_whole_and_oversize_ones_are_refused() {
        let mut r = Reader::new();
        let mut wire = Vec::new();
        push_frame(&mut wire, b"hello");
        push_frame(&mut wire, &[7u8; 1200]);
        push_frame(&mut wire, b"");
        push_frame(&mut wire, b"x");
        let mut batch = DatagramBatch::default();
        // Byte by byte: every split point.
        for b in &wire {
            r.buf.push(*b);
            assert!(r.frames(&mut batch, addr(1), addr(2)).is_ok());
        }
        let got: Vec<&[u8]> = batch
            .items
            .iter()
            .map(|&(_, _, s, l)| &batch.bytes[s..s + l])
            .collect();
        assert_eq!(got, vec![&b"hello"[..], &[7u8; 1200][..], &b"x"[..]]);
        assert!(r.buf.is_empty());

        let mut r = Reader::new();
        r.buf
            .extend_from_slice(&((MAX_FRAME_BYTES + 1) as u16).to_be_bytes());
        assert!(matches!(
            r.frames(&mut DatagramBatch::default(), addr(1), addr(2)),
            Err(Close::Oversize)
        ));
    }
}
