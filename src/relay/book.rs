//! The book of relay links: on the parent side, which child node owns
//! which relay participant of which meeting, and what that node may speak
//! for there (its [`Reach`], taken when the relay opened); on the child
//! side, this node's links to its parent for /metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::control::cascade::Reach;
use crate::media::ParticipantId;

/// A child relay in one of this node's rooms.
#[derive(Debug, Clone)]
pub struct ChildRelay {
    pub node: String,
    /// The rooms it may report present (its subtree's, on the meeting's date).
    pub reach: Arc<Reach>,
}

/// The parent side's book of relay participants: which child node owns
/// which relay participant of which meeting (only that node may sync or
/// close it).
#[derive(Debug, Default)]
pub struct Relays {
    owners: Mutex<HashMap<(String, ParticipantId), ChildRelay>>,
    /// The child side: this node's links to its parent, per meeting.
    links: Mutex<HashMap<String, LinkStats>>,
}

/// One relay link to the parent, as /metrics shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub up: bool,
    /// UDP payload bytes sent to / received from the parent (media,
    /// RTCP, ICE and DTLS), over the link's life and its re-links.
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Over the last second or so, bit/s.
    pub bitrate_up_bps: u64,
    pub bitrate_down_bps: u64,
    pub budget_kbps: u32,
    /// Times the link was made again after a loss.
    pub relinks: u64,
}

impl Relays {
    /// Every link to the parent, by meeting.
    pub fn links(&self) -> Vec<(String, LinkStats)> {
        let mut v: Vec<(String, LinkStats)> = self
            .links
            .lock()
            .expect("relay links")
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub(super) fn update_link(&self, meeting: &str, f: impl FnOnce(&mut LinkStats)) {
        f(self
            .links
            .lock()
            .expect("relay links")
            .entry(meeting.to_string())
            .or_default());
    }

    pub(super) fn drop_link(&self, meeting: &str) {
        self.links.lock().expect("relay links").remove(meeting);
    }

    pub fn opened(&self, meeting: &str, participant: ParticipantId, node: &str, reach: Reach) {
        self.owners.lock().expect("relays").insert(
            (meeting.to_string(), participant),
            ChildRelay {
                node: node.to_string(),
                reach: Arc::new(reach),
            },
        );
    }

    pub fn closed(&self, meeting: &str, participant: ParticipantId) {
        self.owners
            .lock()
            .expect("relays")
            .remove(&(meeting.to_string(), participant));
    }

    /// Child relays in this node's rooms: (meeting, participant, node).
    pub fn children(&self) -> Vec<(String, ParticipantId, String)> {
        let mut v: Vec<(String, ParticipantId, String)> = self
            .owners
            .lock()
            .expect("relays")
            .iter()
            .map(|((m, p), c)| (m.clone(), *p, c.node.clone()))
            .collect();
        v.sort();
        v
    }

    pub fn owner(&self, meeting: &str, participant: ParticipantId) -> Option<ChildRelay> {
        self.owners
            .lock()
            .expect("relays")
            .get(&(meeting.to_string(), participant))
            .cloned()
    }
}
