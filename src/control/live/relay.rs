//! One logical meeting across diemcau nodes (cascading).
//!
//! Every node holds the same meeting (the same rows: nodes share the
//! PostgreSQL store) and its own live state for the rooms connected to it.
//! A node's relay link to its parent is a participant on both nodes:
//! - *upward*, the child reports which rooms are present on it or below it;
//!   the parent marks those sites present `via` that relay participant, so
//!   its roll call, floor and stage reach every room of the tree;
//! - *downward*, the parent answers with its [`UpperView`]: the stage (as
//!   endpoint ids) and every room's operator mutes. The child takes both:
//!   the top's operator controls the whole tree, and a mute reaches a room
//!   two levels down because each level passes it on.
//!
//! A stage entry becomes a participant of *this* node's room by routing:
//! the room's own session if it is here, else the child relay it is behind,
//! else the relay to the parent (it is somewhere above).

use serde::{Deserialize, Serialize};

use super::{Conn, Effect, LiveError, LiveEvent, LiveMeeting, event};
use crate::media::ParticipantId;

/// What a parent tells a child relay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpperView {
    /// The stage as endpoint ids, in order (empty: automatic).
    pub stage: Vec<String>,
    /// Every room the parent has an operator mute for.
    pub mutes: Vec<SiteMute>,
    pub locked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteMute {
    pub endpoint_id: String,
    pub audio: bool,
    pub video: bool,
}

/// A room present on a node (reported upward).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PresentSite {
    pub endpoint_id: String,
    pub name: String,
    /// The room's confirmed headcount on its node: the top's quorum by
    /// people counts the rooms below too.
    #[serde(default)]
    pub headcount: Option<u32>,
}

/// The most rooms one report may name (a province has ~150 communes; a
/// central meeting through one node, a few hundred).
pub const MAX_REPORTED_SITES: usize = 5000;

impl LiveMeeting {
    /// The participants `stage` routes to in this node's room, in order and
    /// without repeats: each room's own session, else the child relay it is
    /// behind, else the parent relay.
    pub(super) fn stage_route(&self, stage: &[usize]) -> Vec<ParticipantId> {
        let mut out: Vec<ParticipantId> = Vec::with_capacity(stage.len());
        for &i in stage {
            let s = &self.sites[i];
            if let Some(p) = s.participant.or(s.via).or(self.parent_relay)
                && !out.contains(&p)
            {
                out.push(p);
            }
        }
        out
    }

    /// A child node's relay joined this room.
    pub fn child_relay_connected(&mut self, participant: ParticipantId, node: &str) {
        self.participants.insert(
            participant,
            Conn::ChildRelay {
                node: node.to_string(),
            },
        );
    }

    /// This node's relay to its parent joined this room.
    pub fn parent_relay_connected(&mut self, participant: ParticipantId) -> Vec<Effect> {
        let before = self.before();
        let mut fx = Vec::new();
        if let Some(old) = self.parent_relay.replace(participant) {
            self.participants.remove(&old);
        }
        self.participants.insert(participant, Conn::ParentRelay);
        fx.push(event(LiveEvent::ParentRelay { up: true }));
        self.reconcile(before, &mut fx);
        fx
    }

    /// A child relay reports the rooms present on its node and below.
    /// Unknown endpoints are skipped (a room not of this meeting cannot be
    /// staged from here anyway); a room connected here keeps its own session.
    pub fn relay_sites(
        &mut self,
        participant: ParticipantId,
        sites: &[PresentSite],
    ) -> Result<Vec<Effect>, LiveError> {
        let node = match self.participants.get(&participant) {
            Some(Conn::ChildRelay { node }) => node.clone(),
            _ => return Err(LiveError::NotARelay(participant)),
        };
        let before = self.before();
        let mut fx = Vec::new();
        let mut named: Vec<usize> = Vec::with_capacity(sites.len());
        for p in sites.iter().take(MAX_REPORTED_SITES) {
            if let Some(&i) = self.index.get(&p.endpoint_id) {
                named.push(i);
                // A headcount confirmed on the node below, for a room not
                // connected here (a room here is counted here).
                let s = &mut self.sites[i];
                if s.participant.is_none()
                    && let Some(h) = p.headcount.filter(|h| *h <= super::MAX_HEADCOUNT)
                    && s.headcount != Some(h)
                {
                    s.headcount = Some(h);
                    s.headcount_by = Some(format!("nút {node}"));
                }
            }
        }
        let mut changed = false;
        for (i, s) in self.sites.iter_mut().enumerate() {
            let want = named.contains(&i);
            if want && s.via != Some(participant) && s.participant.is_none() {
                s.via = Some(participant);
                changed = true;
            } else if !want && s.via == Some(participant) {
                s.via = None;
                changed = true;
            }
        }
        if changed {
            fx.push(event(LiveEvent::RelaySites {
                node,
                participant,
                endpoints: self.via_ids(participant),
            }));
        }
        self.reconcile(before, &mut fx);
        Ok(fx)
    }

    /// The node a child relay participant belongs to.
    pub(super) fn relay_node(&self, participant: ParticipantId) -> Option<String> {
        match self.participants.get(&participant) {
            Some(Conn::ChildRelay { node }) => Some(node.clone()),
            _ => None,
        }
    }

    /// A child relay's sync without a new list: nothing changes, but the
    /// participant must still be a child relay here.
    pub fn relay_sites_unchanged(&self, participant: ParticipantId) -> Result<(), LiveError> {
        match self.participants.get(&participant) {
            Some(Conn::ChildRelay { .. }) => Ok(()),
            _ => Err(LiveError::NotARelay(participant)),
        }
    }

    fn via_ids(&self, participant: ParticipantId) -> Vec<String> {
        self.sites
            .iter()
            .filter(|s| s.via == Some(participant))
            .map(|s| s.id.clone())
            .collect()
    }

    pub(super) fn child_relay_gone(
        &mut self,
        participant: ParticipantId,
        node: &str,
    ) -> Vec<Effect> {
        let before = self.before();
        let mut fx = Vec::new();
        let mut changed = false;
        for s in &mut self.sites {
            if s.via == Some(participant) {
                s.via = None;
                changed = true;
            }
        }
        if changed {
            fx.push(event(LiveEvent::RelaySites {
                node: node.to_string(),
                participant,
                endpoints: Vec::new(),
            }));
        }
        self.reconcile(before, &mut fx);
        fx
    }

    /// The link to the parent dropped: this node's meeting goes on with its
    /// own stage until the link returns.
    pub(super) fn parent_relay_gone(&mut self) -> Vec<Effect> {
        let before = self.before();
        let mut fx = Vec::new();
        self.parent_relay = None;
        self.upper_stage = None;
        self.last_upper = None;
        fx.push(event(LiveEvent::ParentRelay { up: false }));
        self.reconcile(before, &mut fx);
        fx
    }

    /// What a child relay is told: the stage and the operator mutes.
    pub fn upper_view(&self) -> UpperView {
        UpperView {
            stage: self.ids(&self.effective_stage()),
            mutes: self
                .sites
                .iter()
                .filter(|s| s.muted_audio || s.muted_video)
                .map(|s| SiteMute {
                    endpoint_id: s.id.clone(),
                    audio: s.muted_audio,
                    video: s.muted_video,
                })
                .collect(),
            locked: self.locked,
        }
    }

    /// The parent's view. What changed since its last view is taken (all
    /// of it the first time): the top's stage, mutes and lock reach every
    /// level, while this node's own operator may act for its subtree in
    /// between — until the top acts on the same thing again.
    pub fn apply_upper(&mut self, view: &UpperView) -> Vec<Effect> {
        let before = self.before();
        let mut fx = Vec::new();
        let last = self.last_upper.take();
        if last.as_ref().is_none_or(|l| l.stage != view.stage) {
            let stage: Vec<usize> = view
                .stage
                .iter()
                .filter_map(|e| self.index.get(e).copied())
                .collect();
            self.upper_stage = Some(stage);
        }
        let mute_in = |v: Option<&UpperView>, id: &str| {
            v.and_then(|v| v.mutes.iter().find(|m| m.endpoint_id == id))
                .map_or((false, false), |m| (m.audio, m.video))
        };
        for s in &mut self.sites {
            let now = mute_in(Some(view), &s.id);
            if last.is_none() || mute_in(last.as_ref(), &s.id) != now {
                (s.muted_audio, s.muted_video) = now;
            }
        }
        if last.as_ref().is_none_or(|l| l.locked != view.locked) && view.locked != self.locked {
            self.locked = view.locked;
            fx.push(event(if view.locked {
                LiveEvent::Locked
            } else {
                LiveEvent::Unlocked
            }));
        }
        self.last_upper = Some(view.clone());
        self.reconcile(before, &mut fx);
        fx
    }

    /// The rooms present on this node or below it, for the parent.
    pub fn present_sites(&self) -> Vec<PresentSite> {
        self.sites
            .iter()
            .filter(|s| s.participant.is_some() || s.via.is_some())
            .map(|s| PresentSite {
                endpoint_id: s.id.clone(),
                name: s.name.clone(),
                headcount: s.headcount,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn stage_sent(fx: &[Effect]) -> Option<Vec<ParticipantId>> {
        media(fx).into_iter().rev().find_map(|a| match a {
            MediaAction::SetStage(p) => Some(p),
            _ => None,
        })
    }

    fn present(m: &LiveMeeting) -> Vec<String> {
        m.present_sites()
            .into_iter()
            .map(|s| s.endpoint_id)
            .collect()
    }

    #[test]
    fn a_room_below_a_child_relay_is_present_and_staged_through_it() {
        let mut m = meeting(2);
        join(&mut m, "tu", 1);
        m.child_relay_connected(50, "xa");
        let fx = m
            .relay_sites(
                50,
                &[PresentSite {
                    endpoint_id: "x2".into(),
                    name: "x2".into(),
                    headcount: Some(12),
                }],
            )
            .unwrap();
        assert!(events(&fx).iter().any(
            |e| matches!(e, LiveEvent::RelaySites { endpoints, .. } if endpoints == &["x2".to_string()])
        ));
        assert_eq!(present(&m), ["tu", "x2"]);
        // Its headcount counts here, as confirmed below.
        assert_eq!(site(&m, "x2").headcount, Some(12));
        assert_eq!(
            site(&m, "x2").headcount_confirmed_by.as_deref(),
            Some("nút xa")
        );
        assert!(site(&m, "x2").connected);
        let fx = m.set_stage(vec!["x2".to_string()]).unwrap();
        assert_eq!(stage_sent(&fx), Some(vec![50]));
        // The relay drops: x2 is gone from here, the stage falls back.
        let fx = m.disconnected(50, T0 + 20);
        assert_eq!(stage_sent(&fx), Some(vec![]));
        assert_eq!(present(&m), ["tu"]);
    }

    #[test]
    fn the_parents_view_sets_the_stage_mutes_and_lock_and_routes_up() {
        let mut m = meeting(2);
        join(&mut m, "x2", 7);
        m.parent_relay_connected(90);
        let fx = m.apply_upper(&UpperView {
            stage: vec!["tu".into(), "x2".into()],
            mutes: vec![SiteMute {
                endpoint_id: "x2".into(),
                audio: true,
                video: false,
            }],
            locked: true,
        });
        // The hub is above: through the parent relay; x2 is here.
        assert_eq!(stage_sent(&fx), Some(vec![90, 7]));
        assert!(media(&fx).iter().any(|a| matches!(
            a,
            MediaAction::Mute {
                participant: 7,
                audio: Some(true),
                ..
            }
        )));
        assert!(m.is_locked());
        // Unmuted from above: lifted here too.
        let fx = m.apply_upper(&UpperView {
            stage: vec!["tu".into(), "x2".into()],
            mutes: vec![],
            locked: true,
        });
        assert!(media(&fx).iter().any(|a| matches!(
            a,
            MediaAction::Mute {
                participant: 7,
                audio: Some(false),
                ..
            }
        )));
        // The link drops: the upper stage goes with it.
        let fx = m.disconnected(90, T0 + 5);
        assert!(events(&fx).contains(&LiveEvent::ParentRelay { up: false }));
        assert!(m.upper_view().stage.is_empty());
    }

    #[test]
    fn this_nodes_operator_acts_between_the_tops_changes_and_the_top_overrides() {
        let mut m = meeting(2);
        join(&mut m, "x1", 5);
        join(&mut m, "x2", 7);
        m.parent_relay_connected(90);
        let view = UpperView {
            stage: vec!["tu".into()],
            mutes: vec![],
            locked: false,
        };
        assert_eq!(stage_sent(&m.apply_upper(&view)), Some(vec![90]));
        // The sub-operator here mutes x1 and stages x2: the same view from
        // above again changes neither.
        m.mute("x1", Some(true), None).unwrap();
        let fx = m.set_stage(vec!["x2".into()]).unwrap();
        assert_eq!(stage_sent(&fx), Some(vec![7]));
        let fx = m.apply_upper(&view);
        assert!(media(&fx).is_empty(), "{fx:?}");
        assert!(site(&m, "x1").muted_audio);
        // The top acts: its stage and its word on x1 win.
        let fx = m.apply_upper(&UpperView {
            stage: vec!["tu".into(), "x1".into()],
            mutes: vec![SiteMute {
                endpoint_id: "x1".into(),
                audio: false,
                video: true,
            }],
            locked: false,
        });
        assert_eq!(stage_sent(&fx), Some(vec![90, 5]));
        let x1 = site(&m, "x1");
        assert!(!x1.muted_audio && x1.muted_video);
    }

    #[test]
    fn a_report_from_a_participant_that_is_not_a_child_relay_is_refused() {
        let mut m = meeting(1);
        join(&mut m, "x1", 3);
        assert_eq!(m.relay_sites(3, &[]), Err(LiveError::NotARelay(3)));
        assert_eq!(m.relay_sites(99, &[]), Err(LiveError::NotARelay(99)));
    }
}
