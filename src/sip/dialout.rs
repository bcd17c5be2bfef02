//! Dial-out's handle and its pure parts: the orders the rest of the server
//! gives the SIP listener (call a meeting's SIP rooms as it opens, like an
//! MCU's auto-connect; call one room again, the console's "Gọi lại"), the
//! codecs' registrations it calls them at, the retry schedule, and the
//! call states consoles are told in Vietnamese first.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;

use super::transport::Transport;

/// Waits before the 2nd, 3rd and 4th attempt: a codec that was busy or
/// rebooting gets a few chances over about a minute, then the operator
/// decides ("Gọi lại").
pub const RETRY_WAITS: [Duration; 3] = [
    Duration::from_secs(5),
    Duration::from_secs(15),
    Duration::from_secs(40),
];
/// How long a codec may ring before the call is cancelled (and retried):
/// a room codec on auto-answer picks up within seconds; an unattended one
/// set to manual answer would otherwise ring forever.
pub const RING_TIMEOUT: Duration = Duration::from_secs(45);
/// Orders queued for the listener; a burst of meetings opening at once
/// fits, beyond that an order is dropped and logged.
const ORDER_QUEUE: usize = 256;

/// What the listener is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialOrder {
    /// The meeting opened: call each planned SIP room that is reachable
    /// and not in it.
    Meeting(String),
    /// Call this room now (an operator's "Gọi lại"): a fresh set of
    /// attempts.
    Room { meeting: String, endpoint: String },
}

/// Where a codec registered from (REGISTER), for calling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The source of its REGISTER: behind NAT, the only address that works.
    pub addr: SocketAddr,
    /// Its Contact URI: the Request-URI it expects to be called on.
    pub contact: String,
    pub transport: Transport,
    pub expires: Instant,
}

/// The listener's side of dial-out, shared with the live rooms (which
/// carry out "Gọi lại") and the API (which checks a room is reachable).
#[derive(Clone)]
pub struct Dialer {
    tx: mpsc::Sender<DialOrder>,
    registrations: Arc<Mutex<HashMap<String, Registration>>>,
}

impl Dialer {
    pub fn new() -> (Dialer, mpsc::Receiver<DialOrder>) {
        let (tx, rx) = mpsc::channel(ORDER_QUEUE);
        let d = Dialer {
            tx,
            registrations: Arc::new(Mutex::new(HashMap::new())),
        };
        (d, rx)
    }

    pub fn order(&self, order: DialOrder) {
        if let Err(e) = self.tx.try_send(order) {
            tracing::warn!(error = %e, "sip: dial-out order dropped");
        }
    }

    /// The live registration of `endpoint`, if it has one.
    pub fn registered(&self, endpoint: &str, now: Instant) -> Option<Registration> {
        let regs = self.registrations.lock().expect("sip registrations");
        regs.get(endpoint).filter(|r| r.expires > now).cloned()
    }

    /// Record (or with `None` forget) a registration; `cap` bounds the table.
    pub fn register(&self, endpoint: &str, reg: Option<Registration>, cap: usize) {
        let mut regs = self.registrations.lock().expect("sip registrations");
        match reg {
            None => {
                regs.remove(endpoint);
            }
            Some(r) => {
                if regs.len() >= cap {
                    let now = Instant::now();
                    regs.retain(|_, r| r.expires > now);
                }
                if regs.len() < cap || regs.contains_key(endpoint) {
                    regs.insert(endpoint.to_owned(), r);
                }
            }
        }
    }
}

/// A dial-out call's state as consoles see it on the room's wall tile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum CallState {
    Calling {
        attempt: u32,
    },
    Ringing,
    /// In the call (dialled or dialled in), with what it carries
    /// (`sdp::Negotiated::describe`).
    Connected {
        codec: String,
    },
    /// `status`: the SIP status (408 when nothing answered); `retry_in_s`
    /// when another attempt is planned.
    Failed {
        status: u16,
        reason: String,
        retry_in_s: Option<u64>,
    },
    Ended,
}

/// The event consoles get (`type: sip_call`).
pub fn event(endpoint: &str, state: &CallState) -> crate::signal::event::ServerEvent {
    crate::signal::event::ServerEvent::SipCall {
        endpoint_id: endpoint.to_string(),
        call: state.clone(),
    }
}

/// Why a call failed, in Vietnamese first (what the operator reads on the
/// wall), then English.
pub fn reason(status: u16) -> String {
    let vi = match status {
        404 | 484 => "Không tìm thấy thiết bị",
        403 | 401 | 407 => "Thiết bị từ chối",
        408 => "Không trả lời",
        480 => "Thiết bị không sẵn sàng",
        486 | 600 => "Máy bận",
        487 => "Đã huỷ cuộc gọi",
        488 | 606 => "Không có codec chung",
        603 => "Thiết bị từ chối cuộc gọi",
        500..=599 => "Lỗi thiết bị",
        _ => "Gọi không thành công",
    };
    format!("{vi} ({status})")
}

/// Whether another attempt may change the outcome: a busy, absent or
/// silent codec may answer later; one that knows no such user, refuses us
/// or shares no codec will not.
pub fn retry_helps(status: u16) -> bool {
    !matches!(status, 401 | 403 | 404 | 407 | 484 | 488 | 603 | 606)
}

/// The wait before attempt `next` (2, 3, …), or `None` after the last.
pub fn retry_wait(next: u32) -> Option<Duration> {
    RETRY_WAITS.get(next.checked_sub(2)? as usize).copied()
}

/// The address and Request-URI of a room's fixed address, as an operator
/// typed it: `sip:user@host:port`, `user@host:port`, `host:port` or
/// `host` (an IP literal: the listener resolves no names), port 5060 when
/// none is given.
pub fn fixed_target(fixed: &str, sip_user: &str) -> Option<(SocketAddr, String)> {
    let s = fixed.trim();
    let with_scheme = if s.starts_with("sip:") {
        s.to_owned()
    } else {
        format!("sip:{s}")
    };
    let uri = super::message::SipUri::parse(&with_scheme)?;
    let ip: std::net::IpAddr = uri.host.parse().ok()?;
    let addr = SocketAddr::new(ip, uri.port.unwrap_or(5060));
    let user = uri.user.unwrap_or_else(|| sip_user.to_owned());
    let host = match ip {
        std::net::IpAddr::V6(_) => format!("[{ip}]:{}", addr.port()),
        std::net::IpAddr::V4(_) => addr.to_string(),
    };
    Some((addr, format!("sip:{user}@{host}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_and_stop_after_the_fourth_attempt() {
        let waits: Vec<_> = (2..6).map(retry_wait).collect();
        assert_eq!(
            waits,
            vec![
                Some(Duration::from_secs(5)),
                Some(Duration::from_secs(15)),
                Some(Duration::from_secs(40)),
                None
            ]
        );
    }

    #[test]
    fn a_busy_codec_is_retried_a_refusing_one_is_not() {
        assert!(retry_helps(486) && retry_helps(408) && retry_helps(503));
        assert!(!retry_helps(403) && !retry_helps(488));
        assert_eq!(reason(486), "Máy bận (486)");
    }

    #[test]
    fn fixed_addresses_take_the_forms_operators_type() {
        let t = |s| fixed_target(s, "room-a");
        assert_eq!(
            t("sip:codec@10.0.0.5:5070"),
            Some((
                "10.0.0.5:5070".parse().unwrap(),
                "sip:codec@10.0.0.5:5070".into()
            ))
        );
        assert_eq!(
            t("10.0.0.5"),
            Some((
                "10.0.0.5:5060".parse().unwrap(),
                "sip:room-a@10.0.0.5:5060".into()
            ))
        );
        assert_eq!(t("codec.example.vn"), None, "names are not resolved");
        assert_eq!(t(""), None);
    }

    #[test]
    fn the_console_event_names_the_room_and_its_state() {
        let ev = event(
            "room-a",
            &CallState::Failed {
                status: 486,
                reason: reason(486),
                retry_in_s: Some(5),
            },
        );
        let ev = serde_json::to_value(&ev).unwrap();
        assert_eq!(ev["type"], "sip_call");
        assert_eq!(ev["state"], "failed");
        assert_eq!(ev["status"], 486);
        assert_eq!(ev["endpoint_id"], "room-a");
    }
}
