//! The operator's stage: an ordered list of rooms (empty: automatic, the
//! active speaker). The engine shows each subscriber the first entry that is
//! not itself, so `[hub, X]` shows everyone the hub and the hub X. A meeting
//! opens with the hub on stage; only an explicit empty stage (or Thảo luận)
//! lets the stage follow the voice.

use std::collections::HashSet;

use super::{Effect, LiveError, LiveEvent, LiveMeeting, MediaAction, event};

impl LiveMeeting {
    /// Put these rooms on stage, in order (empty: automatic). Rooms not
    /// connected keep their place and show when they join. This is the
    /// operator's latest word: it stops a lecture scan and takes the stage
    /// from a floor holder (who keeps the microphone until revoked; the
    /// revoke then leaves this stage in place).
    pub fn set_stage(&mut self, endpoints: Vec<String>) -> Result<Vec<Effect>, LiveError> {
        let order = self.distinct_sites(&endpoints)?;
        let before = self.before();
        let mut fx = Vec::new();
        if self.scan.take().is_some() {
            fx.push(event(LiveEvent::ScanStopped));
        }
        if let Some(sp) = &mut self.speaker {
            sp.on_stage = false;
        }
        self.voice = order.is_empty();
        self.base_stage = order;
        // This node's operator overrides the parent's stage until the
        // parent's changes again.
        self.upper_stage = None;
        self.reconcile(before, &mut fx);
        Ok(fx)
    }

    /// Tell the engine whether the stage follows the voice, if that changed;
    /// only while someone is connected: the engine's room exists then (a
    /// room that empties is forgotten, and starts without the voice).
    pub(super) fn sync_voice(&mut self) -> Option<Effect> {
        if self.participants.is_empty() {
            self.sent_voice = false;
            return None;
        }
        let want = self.wants_voice();
        if want == self.sent_voice {
            return None;
        }
        self.sent_voice = want;
        Some(Effect::Media(MediaAction::StageVoice(want)))
    }

    /// Whether the stage should follow the active speaker now: only when
    /// nobody is on it by choice and a scene (Thảo luận) or the operator
    /// asked for automatic — or the parent node's stage is automatic.
    pub(super) fn wants_voice(&self) -> bool {
        if !self.effective_stage().is_empty() {
            return false;
        }
        match &self.upper_stage {
            Some(_) => true,
            None => self.voice && self.scan.is_none(),
        }
    }

    /// Site indices of distinct, known endpoints, in order.
    pub(super) fn distinct_sites(&self, endpoints: &[String]) -> Result<Vec<usize>, LiveError> {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(endpoints.len());
        for e in endpoints {
            let i = self.site_idx(e)?;
            if !seen.insert(i) {
                return Err(LiveError::DuplicateEndpoint(e.clone()));
            }
            out.push(i);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn set_stage_maps_endpoints_to_connected_participants() {
        let mut m = meeting(3);
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        let fx = m
            .set_stage(vec!["tu".into(), "x2".into(), "x1".into()])
            .unwrap();
        assert_eq!(media(&fx), vec![MediaAction::SetStage(vec![1, 11])]);
        assert_eq!(
            events(&fx),
            vec![LiveEvent::StageChanged {
                endpoints: vec!["tu".into(), "x2".into(), "x1".into()]
            }]
        );
        // x2 joins: it takes its place.
        let fx = join(&mut m, "x2", 12);
        assert_eq!(media(&fx), vec![MediaAction::SetStage(vec![1, 12, 11])]);
        // x1 drops: the engine is told, the stage (by endpoint) is kept.
        let fx = m.disconnected(11, T0 + 1);
        assert_eq!(media(&fx), vec![MediaAction::SetStage(vec![1, 12])]);
        assert_eq!(m.stage(), vec!["tu", "x2", "x1"]);
        // Empty: automatic, the stage follows the voice.
        let fx = m.set_stage(vec![]).unwrap();
        assert_eq!(media(&fx), vec![MediaAction::SetStage(vec![])]);
        assert_eq!(voice(&fx), vec![true]);
        assert!(m.snapshot(T0).stage_follows_voice);
        // Anyone on stage again: it no longer does.
        let fx = m.set_stage(vec!["x1".into()]).unwrap();
        assert_eq!(voice(&fx), vec![false]);
    }

    #[test]
    fn resync_sends_everything_again() {
        let mut m = meeting(2);
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        m.mute("x1", Some(true), None).unwrap();
        m.set_stage(vec!["tu".into()]).unwrap();
        assert_eq!(
            m.resync(),
            vec![
                Effect::Media(MediaAction::Mute {
                    participant: 1,
                    audio: Some(false),
                    video: Some(false)
                }),
                Effect::Media(MediaAction::Mute {
                    participant: 11,
                    audio: Some(true),
                    video: Some(false)
                }),
                Effect::Media(MediaAction::SetStage(vec![1])),
                Effect::Media(MediaAction::StageVoice(false)),
            ]
        );
    }

    #[test]
    fn bad_stage_changes_nothing() {
        let mut m = meeting(2);
        join(&mut m, "tu", 1);
        m.set_stage(vec!["tu".into()]).unwrap();
        assert_eq!(
            m.set_stage(vec!["x1".into(), "x1".into()]),
            Err(LiveError::DuplicateEndpoint("x1".into()))
        );
        assert_eq!(
            m.set_stage(vec!["x1".into(), "zz".into()]),
            Err(LiveError::UnknownEndpoint("zz".into()))
        );
        assert_eq!(m.stage(), vec!["tu"]);
    }
}
