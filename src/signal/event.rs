//! Everything a meeting's consoles receive on its event stream
//! (`GET /api/v1/meetings/{id}/live/events`), as one type: what the live
//! meeting decided ([`LiveEvent`], pure, in `diemcau-live`) and what the
//! server around it tells ([`ServerEvent`]: plans, checks, links, calls).
//! Each is serialised once, stamped with its sequence number, and shared by
//! every console as the same text; its JSON Schema is in the OpenAPI
//! document (`MeetingEvent`) and the page scripts' JSDoc types
//! (`web/lib/types.js`) are generated from it (`tests/it/web_types.rs`).

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;

use crate::control::agenda::AgendaItem;
use crate::control::checks::{CheckStatus, Failing};
use crate::control::live::LiveEvent;
use crate::control::meetings::MeetingState;
use crate::control::voting::Motion;
use crate::sip::dialout::CallState;

/// One event of a meeting's stream: `{"type": "<snake_case>", …}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum MeetingEvent {
    Live(LiveEvent),
    Server(ServerEvent),
}

/// What the server tells a meeting's consoles that is not live state.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// The meeting ended or was cancelled: the stream ends after this.
    MeetingClosed { reason: String },
    /// The meeting opened or went live (`by`: who did it).
    MeetingState { state: MeetingState, by: String },
    /// The agenda was edited; the whole list as it is now.
    AgendaChanged { items: Vec<AgendaItem> },
    /// The item being discussed changed (all `null`: none).
    AgendaCurrent {
        item_id: Option<String>,
        title: Option<String>,
        position: Option<u32>,
        started_at_ms: Option<i64>,
        by: String,
    },
    /// The shared document turned to a page (`document_id: null`: stopped).
    Presentation {
        document_id: Option<String>,
        page: Option<u32>,
        by: String,
    },
    /// A motion changed (results only once published).
    Motion { motion: Motion },
    /// A delegate registered to speak from a room.
    FloorRegistration {
        endpoint_id: String,
        delegate: String,
    },
    /// An operator started the technical check of the connected rooms.
    CheckStarted { by: String, rooms: usize },
    /// A room's check came back.
    CheckResult {
        endpoint_id: String,
        status: CheckStatus,
        failing: Vec<Failing>,
        checked_at_ms: i64,
    },
    /// The recording stopped or did not start; the meeting goes on.
    RecordingFailed {
        recording_id: Option<String>,
        reason: String,
        /// Vietnamese, then English.
        message: String,
    },
    /// Every room's link, each sample period (consoles that asked for links).
    LinkStats { t_ms: u64, links: Vec<LinkStat> },
    /// A room's link has been bad for three samples in a row.
    LinkDegraded {
        endpoint_id: String,
        loss_pct: f32,
        rtt_ms: u32,
    },
    /// Good again for three samples, or gone (`connected: false`).
    LinkRecovered {
        endpoint_id: String,
        connected: bool,
    },
    /// A SIP room's dial-out call changed state (the wall's SIP badge).
    SipCall {
        endpoint_id: String,
        #[serde(flatten)]
        call: CallState,
    },
}

/// One room's link in a `link_stats` event.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LinkStat {
    pub endpoint_id: String,
    /// `udp`, or `tcp` when its UDP is blocked and it runs over ICE-TCP.
    pub transport: &'static str,
    pub kbps_in: u32,
    pub loss_in_pct: f32,
    pub loss_out_pct: f32,
    pub rtt_ms: u32,
    pub bwe_kbps: u32,
}

impl From<LiveEvent> for MeetingEvent {
    fn from(e: LiveEvent) -> Self {
        MeetingEvent::Live(e)
    }
}

impl From<ServerEvent> for MeetingEvent {
    fn from(e: ServerEvent) -> Self {
        MeetingEvent::Server(e)
    }
}

/// An event as it goes out: stamped, serialised once, with what a stream
/// needs to know of it without reading the text.
#[derive(Debug)]
pub struct Published {
    pub text: Arc<str>,
    /// A link event (`link_*`): only for consoles that asked for links.
    pub link: bool,
    /// The last event of the stream.
    pub closes: bool,
}

#[derive(Serialize)]
struct Stamped<'a> {
    #[serde(flatten)]
    event: &'a MeetingEvent,
    seq: u64,
    meeting: &'a str,
}

impl MeetingEvent {
    /// The event with its sequence number and meeting, as JSON text.
    pub fn publish(&self, seq: u64, meeting: &str) -> Result<Published, serde_json::Error> {
        let text = serde_json::to_string(&Stamped {
            event: self,
            seq,
            meeting,
        })?;
        let server = match self {
            MeetingEvent::Server(s) => Some(s),
            MeetingEvent::Live(_) => None,
        };
        Ok(Published {
            text: Arc::from(text),
            link: matches!(
                server,
                Some(
                    ServerEvent::LinkStats { .. }
                        | ServerEvent::LinkDegraded { .. }
                        | ServerEvent::LinkRecovered { .. }
                )
            ),
            closes: matches!(server, Some(ServerEvent::MeetingClosed { .. })),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_stamped_flat_with_its_type_seq_and_meeting() {
        let p = MeetingEvent::from(ServerEvent::LinkRecovered {
            endpoint_id: "x1".into(),
            connected: false,
        })
        .publish(7, "m1")
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&p.text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "link_recovered", "endpoint_id": "x1",
                "connected": false, "seq": 7, "meeting": "m1"})
        );
        assert!(p.link && !p.closes);
        let live = MeetingEvent::from(LiveEvent::Locked)
            .publish(8, "m1")
            .unwrap();
        assert_eq!(&*live.text, r#"{"type":"locked","seq":8,"meeting":"m1"}"#);
        assert!(!live.link && !live.closes);
    }

    #[test]
    fn a_sip_call_carries_its_state_beside_the_endpoint() {
        let p = MeetingEvent::from(ServerEvent::SipCall {
            endpoint_id: "x2".into(),
            call: CallState::Failed {
                status: 408,
                reason: "Không trả lời".into(),
                retry_in_s: Some(15),
            },
        })
        .publish(1, "m")
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&p.text).unwrap();
        assert_eq!(v["type"], "sip_call");
        assert_eq!(v["state"], "failed");
        assert_eq!(v["status"], 408);
        assert_eq!(v["endpoint_id"], "x2");
    }

    #[test]
    fn only_meeting_closed_closes_the_stream() {
        let p = MeetingEvent::from(ServerEvent::MeetingClosed {
            reason: "ended".into(),
        })
        .publish(1, "m")
        .unwrap();
        assert!(p.closes && !p.link);
    }
}
