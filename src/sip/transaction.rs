//! UAS server transactions (RFC 3261 §17.2), sans-IO on virtual time: a
//! retransmitted request gets the last response again, a non-2xx final
//! response to an INVITE is retransmitted over UDP (Timer G, doubling from
//! T1 to T2) until its ACK or Timer H, and finished transactions linger to
//! absorb late retransmissions (Timers I and J). A 2xx to an INVITE ends
//! the transaction; its retransmission belongs to the dialog (§13.3.1.4).
//! Over TCP nothing is retransmitted and nothing lingers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::message::{Message, Method, StartLine};

/// RTT estimate (RFC 3261 §17.1.1.1 default).
pub const T1: Duration = Duration::from_millis(500);
/// Longest retransmit interval for non-INVITE and INVITE responses.
pub const T2: Duration = Duration::from_secs(4);
/// How long the network may hold a message (Timer I on UDP).
pub const T4: Duration = Duration::from_secs(5);
/// Live transactions per listener. A codec has one or two at a time; an
/// INVITE flood beyond this is answered 503 statelessly, not stored.
pub const MAX_TRANSACTIONS: usize = 1024;

const BRANCH_COOKIE: &str = "z9hG4bK";

/// Matches a request to its transaction (§17.2.3); ACK and CANCEL find
/// the INVITE's by the same branch and method INVITE / CANCEL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxKey {
    branch: String,
    method: String,
}

impl TxKey {
    /// The key of a request; an RFC 2543 client without the magic cookie
    /// is matched by Call-ID, CSeq number and From tag instead.
    pub fn of(req: &Message, as_method: Option<&Method>) -> Option<TxKey> {
        let method = as_method.or(req.method())?;
        let branch = match req.branch() {
            Some(b) if b.starts_with(BRANCH_COOKIE) => b.to_owned(),
            _ => format!(
                "legacy:{}:{}:{}",
                req.call_id(),
                req.cseq()?.0,
                req.from_tag().unwrap_or_default()
            ),
        };
        Some(TxKey {
            branch,
            method: method.as_str().to_owned(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Proceeding,
    Completed,
    Confirmed,
}

struct Txn {
    invite: bool,
    reliable: bool,
    state: State,
    peer: SocketAddr,
    last: Option<Vec<u8>>,
    retransmit_at: Option<Instant>,
    interval: Duration,
    end_at: Option<Instant>,
}

/// What the transaction layer made of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A new request for the transaction user (an ACK here is for a 2xx:
    /// the dialog's).
    New(TxKey),
    /// A retransmission: send this again (nothing if no response yet).
    Retransmission(Option<Vec<u8>>),
    /// The ACK of a non-2xx final response: absorbed.
    Absorbed,
    /// The table is full: answer 503 without state.
    Full,
    /// No usable Via/CSeq: answer 400.
    Unmatchable,
}

#[derive(Default)]
pub struct ServerTransactions {
    txns: HashMap<TxKey, Txn>,
}

impl ServerTransactions {
    pub fn receive(
        &mut self,
        now: Instant,
        req: &Message,
        peer: SocketAddr,
        reliable: bool,
    ) -> Received {
        let Some(method) = req.method() else {
            return Received::Unmatchable;
        };
        if *method == Method::Ack {
            let Some(key) = TxKey::of(req, Some(&Method::Invite)) else {
                return Received::Unmatchable;
            };
            return match self.txns.get_mut(&key) {
                Some(t) if t.state == State::Completed => {
                    t.state = State::Confirmed;
                    t.retransmit_at = None;
                    t.end_at = Some(now + if t.reliable { Duration::ZERO } else { T4 });
                    Received::Absorbed
                }
                Some(_) => Received::Absorbed,
                None => TxKey::of(req, None).map_or(Received::Unmatchable, Received::New),
            };
        }
        let Some(key) = TxKey::of(req, None) else {
            return Received::Unmatchable;
        };
        if let Some(t) = self.txns.get(&key) {
            return Received::Retransmission(t.last.clone());
        }
        if self.txns.len() >= MAX_TRANSACTIONS {
            return Received::Full;
        }
        self.txns.insert(
            key.clone(),
            Txn {
                invite: *method == Method::Invite,
                reliable,
                state: State::Proceeding,
                peer,
                last: None,
                retransmit_at: None,
                interval: T1,
                end_at: None,
            },
        );
        Received::New(key)
    }

    /// Send `resp` on the transaction `key`: returns the bytes to send
    /// now, and arms the timers its state needs.
    pub fn respond(&mut self, now: Instant, key: &TxKey, resp: &Message) -> Vec<u8> {
        let bytes = resp.to_bytes();
        let StartLine::Response { code, .. } = resp.start else {
            return bytes;
        };
        let Some(t) = self.txns.get_mut(key) else {
            return bytes;
        };
        if code < 200 {
            t.last = Some(bytes.clone());
        } else if t.invite && code < 300 {
            self.txns.remove(key);
        } else {
            t.state = State::Completed;
            t.last = Some(bytes.clone());
            if t.invite {
                // Timer G (retransmit until ACK) and Timer H (give up).
                t.retransmit_at = (!t.reliable).then(|| now + T1);
                t.end_at = Some(now + 64 * T1);
            } else {
                // Timer J: absorb retransmissions over UDP.
                t.end_at = Some(now + if t.reliable { Duration::ZERO } else { 64 * T1 });
            }
        }
        bytes
    }

    /// The peer a transaction answers (for a CANCEL's INVITE, say).
    pub fn peer(&self, key: &TxKey) -> Option<SocketAddr> {
        self.txns.get(key).map(|t| t.peer)
    }

    /// Whether the INVITE `key` still awaits its final response.
    pub fn is_proceeding(&self, key: &TxKey) -> bool {
        self.txns
            .get(key)
            .is_some_and(|t| t.state == State::Proceeding)
    }

    /// Retransmissions due at `now`; ended transactions are dropped.
    pub fn poll(&mut self, now: Instant) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        self.txns.retain(|_, t| {
            if t.end_at.is_some_and(|e| now >= e) {
                return false;
            }
            if let (Some(at), Some(last)) = (t.retransmit_at, &t.last)
                && now >= at
            {
                out.push((t.peer, last.clone()));
                t.interval = (t.interval * 2).min(T2);
                t.retransmit_at = Some(now + t.interval);
            }
            true
        });
        out
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.txns
            .values()
            .flat_map(|t| [t.retransmit_at, t.end_at])
            .flatten()
            .min()
    }

    pub fn len(&self) -> usize {
        self.txns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }
}

#[cfg(test)]
#[path = "transaction_tests.rs"]
mod tests;
