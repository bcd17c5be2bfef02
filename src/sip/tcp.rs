//! SIP over TCP and TLS (RFC 3261 §18, §26.2): accept connections, cut the
//! byte stream into messages by Content-Length (`message::frame_len`), hand
//! each to the listener's loop with the connection's send queue, and write
//! what the loop answers back on the same connection. One connection code
//! for both: TLS is a handshake (with the `[tls]` certificate, the HTTPS
//! server's) in front of the same stream, and the loop is told which it
//! was. Bounded: connections in all, bytes buffered per connection (one
//! message's cap), handshake and idle time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use super::message::{MAX_MESSAGE_BYTES, frame_len};
use super::transport::Transport;

/// Open connections at once per listener: one per room codec, with room
/// to spare.
pub const MAX_CONNECTIONS: usize = 1024;
/// A connection silent this long is closed (codecs send CRLF keep-alives
/// or re-register well within it).
const IDLE: Duration = Duration::from_secs(300);
/// A TLS handshake must finish within this: a codec completes it in one
/// round trip or two; a peer that stalls holds a connection slot no longer.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Messages queued towards one connection before it is dropped as stuck.
const SEND_QUEUE: usize = 64;

/// What a connection tells the listener's loop.
pub enum TcpEvent {
    Opened(SocketAddr, mpsc::Sender<Vec<u8>>, Transport),
    Message(SocketAddr, Vec<u8>),
    /// A stream that cannot be framed (oversized, no Content-Length): the
    /// loop answers what it can from these bytes, then the connection ends.
    Refused(SocketAddr, Vec<u8>),
    Closed(SocketAddr),
}

/// Accept on `listener`: plain TCP, or TLS when `tls` is given.
pub async fn accept(
    listener: TcpListener,
    events: mpsc::Sender<TcpEvent>,
    tls: Option<TlsAcceptor>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            continue; // dropped at once: the cap protects the loop
        }
        open.fetch_add(1, Ordering::Relaxed);
        let (events, open, tls) = (events.clone(), open.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(stream, peer, Transport::Tcp, &events).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            connection(stream, peer, Transport::Tls, &events).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "sip: tls handshake failed");
                        }
                        Err(_) => tracing::debug!(%peer, "sip: tls handshake timed out"),
                    }
                }
            }
            let _ = events.send(TcpEvent::Closed(peer)).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    transport: Transport,
    events: &mpsc::Sender<TcpEvent>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(SEND_QUEUE);
    if events
        .send(TcpEvent::Opened(peer, tx, transport))
        .await
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if wr.write_all(&bytes).await.is_err() || wr.flush().await.is_err() {
                break;
            }
        }
    });
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 8192];
    loop {
        let n = match tokio::time::timeout(IDLE, rd.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => break,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            // Keep-alive CRLFs between messages (RFC 5626 §3.5.1).
            let skip = buf
                .iter()
                .take_while(|b| **b == b'\r' || **b == b'\n')
                .count();
            buf.drain(..skip);
            match frame_len(&buf) {
                Ok(Some(len)) => {
                    let msg: Vec<u8> = buf.drain(..len).collect();
                    if events.send(TcpEvent::Message(peer, msg)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    let head: Vec<u8> = buf.iter().take(4 * MAX_MESSAGE_BYTES).copied().collect();
                    let _ = events.send(TcpEvent::Refused(peer, head)).await;
                    // Let the answer go out before the connection ends.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    writer.abort();
                    return;
                }
            }
        }
    }
    writer.abort();
}
