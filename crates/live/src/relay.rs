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

use super::event::RelayThumb;
use super::{Conn, Effect, LiveError, LiveEvent, LiveMeeting, MediaAction, event};
use diemcau_media::{ParticipantId, RELAY_THUMBS, SourceId};

/// What a parent tells a child relay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpperView {
    /// The stage as endpoint ids, in order (empty: automatic).
    pub stage: Vec<String>,
    /// Every room the parent has an operator mute for.
    pub mutes: Vec<SiteMute>,
    pub locked: bool,
    /// The rooms whose thumbnails operators up here watch, most wanted
    /// first: a child sends those present on its side, up to
    /// [`RELAY_THUMBS`]; nothing while the list is empty.
    #[serde(default)]
    pub watch: Vec<String>,
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
    /// The relay's thumbnail track carrying this room, if any.
    #[serde(default)]
    pub thumb: Option<u8>,
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
        let mut thumbs: Vec<(usize, SourceId)> = Vec::new();
        for p in sites.iter().take(MAX_REPORTED_SITES) {
            if let Some(&i) = self.index.get(&p.endpoint_id) {
                named.push(i);
                if let Some(index) = p.thumb.filter(|t| usize::from(*t) < RELAY_THUMBS) {
                    thumbs.push((
                        i,
                        SourceId::RelayThumb {
                            relay: participant,
                            index,
                        },
                    ));
                }
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
        let mut thumbs_changed = false;
        for (i, s) in self.sites.iter_mut().enumerate() {
            let want = named.contains(&i);
            if want && s.via != Some(participant) && s.participant.is_none() {
                s.via = Some(participant);
                changed = true;
            } else if !want && s.via == Some(participant) {
                s.via = None;
                changed = true;
            }
            if s.via == Some(participant) || want {
                let thumb = thumbs
                    .iter()
                    .find(|(t, _)| *t == i)
                    .map(|(_, id)| *id)
                    .filter(|_| s.via == Some(participant));
                if s.thumb != thumb {
                    s.thumb = thumb;
                    thumbs_changed = true;
                }
            }
        }
        if changed {
            fx.push(event(LiveEvent::RelaySites {
                node: node.clone(),
                participant,
                endpoints: self.via_ids(participant),
            }));
        }
        if thumbs_changed {
            fx.push(event(LiveEvent::RelayThumbs {
                thumbs: self.thumbs_via(participant),
                node,
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

    fn thumbs_via(&self, participant: ParticipantId) -> Vec<RelayThumb> {
        self.sites
            .iter()
            .filter(|s| s.via == Some(participant))
            .filter_map(|s| {
                Some(RelayThumb {
                    endpoint_id: s.id.clone(),
                    participant: s.thumb?.wire(),
                })
            })
            .collect()
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
                s.thumb = None;
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
        self.upper_watch.clear();
        self.pins.clear();
        self.sent_pins.clear();
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
            watch: self.watch(),
        }
    }

    /// The rooms below this node whose thumbnails operators want here:
    /// what the parent asks for first, then — while a console watches this
    /// meeting here — every room present through a child relay.
    fn watch(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .upper_watch
            .iter()
            .filter(|e| {
                self.index
                    .get(*e)
                    .is_some_and(|&i| self.sites[i].via.is_some())
            })
            .cloned()
            .collect();
        if self.participants.values().any(|c| {
            matches!(
                c,
                Conn::Other {
                    kind: super::ConnectionKind::Console,
                    ..
                }
            )
        }) {
            for s in &self.sites {
                if s.via.is_some() && !out.contains(&s.id) {
                    out.push(s.id.clone());
                }
            }
        }
        out
    }

    /// The parent relay's thumbnail slots: the watched rooms present on
    /// this node or below (a room below only once its own node sends its
    /// thumbnail here), sticky per slot. `Some` when the engine must be told.
    pub(super) fn repin(&mut self) -> Option<MediaAction> {
        let relay = self.parent_relay?;
        let source =
            |s: &super::Site| (s.participant.map(SourceId::Participant)).or(s.via.and(s.thumb));
        let wanted: Vec<usize> = self
            .upper_watch
            .iter()
            .filter_map(|e| self.index.get(e).copied())
            .filter(|&i| source(&self.sites[i]).is_some())
            .take(RELAY_THUMBS)
            .collect();
        let mut pins: Vec<Option<usize>> = self
            .pins
            .iter()
            .map(|p| p.filter(|i| wanted.contains(i)))
            .collect();
        pins.resize(RELAY_THUMBS, None);
        for &i in &wanted {
            if !pins.contains(&Some(i))
                && let Some(free) = pins.iter_mut().find(|p| p.is_none())
            {
                *free = Some(i);
            }
        }
        let sources: Vec<Option<SourceId>> = pins
            .iter()
            .map(|p| p.and_then(|i| source(&self.sites[i])))
            .collect();
        self.pins = pins;
        if sources == self.sent_pins {
            return None;
        }
        self.sent_pins = sources.clone();
        Some(MediaAction::PinThumbs { relay, sources })
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
        self.upper_watch = view.watch.clone();
        self.reconcile(before, &mut fx);
        fx
    }

    /// The rooms present on this node or below it, for the parent.
    pub fn present_sites(&self) -> Vec<PresentSite> {
        self.sites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.participant.is_some() || s.via.is_some())
            .map(|(i, s)| PresentSite {
                endpoint_id: s.id.clone(),
                name: s.name.clone(),
                headcount: s.headcount,
                thumb: self
                    .sent_pins
                    .iter()
                    .zip(&self.pins)
                    .position(|(src, p)| src.is_some() && *p == Some(i))
                    .and_then(|t| u8::try_from(t).ok()),
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
                    thumb: None,
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
            watch: vec![],
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
            watch: vec![],
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
        // Back to this node's own stage: the hub it opened with.
        assert_eq!(m.upper_view().stage, vec!["tu".to_string()]);
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
            watch: vec![],
        };
        // The hub (above) was on stage from the start: through the relay.
        m.apply_upper(&view);
        assert_eq!(m.sent_stage, vec![90]);
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
            watch: vec![],
        });
        assert_eq!(stage_sent(&fx), Some(vec![90, 5]));
        let x1 = site(&m, "x1");
        assert!(!x1.muted_audio && x1.muted_video);
    }

    fn pins_sent(fx: &[Effect]) -> Option<Vec<Option<SourceId>>> {
        media(fx).into_iter().rev().find_map(|a| match a {
            MediaAction::PinThumbs { sources, .. } => Some(sources),
            _ => None,
        })
    }

    #[test]
    fn thumbnails_of_rooms_below_go_up_only_while_a_console_above_watches() {
        // The parent: x2 is behind child relay 50.
        let mut top = meeting(2);
        m_child(&mut top, 50, "x2", None);
        assert!(top.upper_view().watch.is_empty(), "nobody watches yet");
        top.connected(None, 41, "Điều hành", ConnectionKind::Console, T0)
            .unwrap();
        assert_eq!(top.upper_view().watch, ["x2"]);

        // The child: x2 here, its relay to the parent is 90.
        let mut child = meeting(2);
        join(&mut child, "x2", 7);
        child.parent_relay_connected(90);
        let view = top.upper_view();
        let fx = child.apply_upper(&view);
        let mut want = vec![None; RELAY_THUMBS];
        want[0] = Some(SourceId::Participant(7));
        assert_eq!(pins_sent(&fx), Some(want));
        let reported = child.present_sites();
        assert_eq!(reported[0].thumb, Some(0));

        // The parent learns which source carries it; consoles are told.
        let fx = top.relay_sites(50, &reported).unwrap();
        let source = SourceId::RelayThumb {
            relay: 50,
            index: 0,
        }
        .wire();
        assert!(events(&fx).contains(&LiveEvent::RelayThumbs {
            node: "xa".into(),
            thumbs: vec![RelayThumb {
                endpoint_id: "x2".into(),
                participant: source,
            }],
        }));
        assert_eq!(site(&top, "x2").thumb_participant, Some(source));

        // The console leaves: the child unpins, the parent forgets it.
        top.disconnected(41, T0 + 10);
        assert!(top.upper_view().watch.is_empty());
        let fx = child.apply_upper(&top.upper_view());
        assert_eq!(pins_sent(&fx), Some(vec![None; RELAY_THUMBS]));
        assert_eq!(child.present_sites()[0].thumb, None);
        top.relay_sites(50, &child.present_sites()).unwrap();
        assert_eq!(site(&top, "x2").thumb_participant, None);
    }

    /// A child relay `p` (node "xa") reporting `endpoint` present.
    fn m_child(m: &mut LiveMeeting, p: ParticipantId, endpoint: &str, thumb: Option<u8>) {
        m.child_relay_connected(p, "xa");
        m.relay_sites(
            p,
            &[PresentSite {
                endpoint_id: endpoint.into(),
                name: endpoint.into(),
                headcount: None,
                thumb,
            }],
        )
        .unwrap();
    }

    #[test]
    fn a_report_from_a_participant_that_is_not_a_child_relay_is_refused() {
        let mut m = meeting(1);
        join(&mut m, "x1", 3);
        assert_eq!(m.relay_sites(3, &[]), Err(LiveError::NotARelay(3)));
        assert_eq!(m.relay_sites(99, &[]), Err(LiveError::NotARelay(99)));
    }
}
