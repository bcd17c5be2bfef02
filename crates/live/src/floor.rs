//! Đăng ký phát biểu: rooms register to speak, the chair orders the queue
//! and gives the floor to one room at a time.
//!
//! Granting the floor lifts the room's audio mute, puts it on stage ahead
//! of the hub (`[speaker, hub]`: the whole province — hub included — sees
//! the room that speaks, the speaking room sees the chair, and the stage's
//! audio is always forwarded) and starts its
//! speaking timer. Revoking mutes it again and takes that stage layer away,
//! so the stage below (the scan, or the operator's stage) comes back.
//!
//! The timer warns 30 s before the limit and says when it is reached, once
//! each — and never cuts anyone off. Cutting a Party committee member
//! mid-sentence is the chair's decision, taken with judgement (a speaker
//! finishing a sentence, a point of order); the machine only keeps time and
//! shows the elapsed and remaining time on the console.

use std::collections::HashSet;

use super::{
    Effect, FLOOR_WARNING_MS, FloorRequest, LiveError, LiveEvent, LiveMeeting, MIN_FLOOR_LIMIT_MS,
    Speaker, event,
};

impl LiveMeeting {
    /// A room registers to speak (asked by the room itself). Registering
    /// again, or while speaking, changes nothing.
    pub fn request_floor(
        &mut self,
        endpoint_id: &str,
        now_ms: u64,
    ) -> Result<Vec<Effect>, LiveError> {
        let i = self.site_idx(endpoint_id)?;
        if self.hub == Some(i) {
            return Err(LiveError::IsHub(endpoint_id.to_string()));
        }
        if !self.is_connected(i) {
            return Err(LiveError::NotConnected(endpoint_id.to_string()));
        }
        self.saw(now_ms);
        if self.queue.iter().any(|r| r.site == i)
            || self.speaker.as_ref().is_some_and(|s| s.site == i)
        {
            return Ok(Vec::new());
        }
        self.queue.push(FloorRequest {
            site: i,
            requested_at_ms: now_ms,
        });
        Ok(vec![
            event(LiveEvent::FloorRequested {
                endpoint_id: endpoint_id.to_string(),
                position: u32::try_from(self.queue.len()).unwrap_or(u32::MAX),
            }),
            self.queue_event(),
        ])
    }

    /// A room takes back its registration.
    pub fn withdraw_floor(&mut self, endpoint_id: &str) -> Result<Vec<Effect>, LiveError> {
        let i = self.site_idx(endpoint_id)?;
        let Some(p) = self.queue.iter().position(|r| r.site == i) else {
            return Err(LiveError::NotInQueue(endpoint_id.to_string()));
        };
        self.queue.remove(p);
        Ok(vec![
            event(LiveEvent::FloorWithdrawn {
                endpoint_id: endpoint_id.to_string(),
            }),
            self.queue_event(),
        ])
    }

    /// The chair puts the queue in a new order: exactly the rooms queued,
    /// each once.
    pub fn reorder_floor(&mut self, order: Vec<String>) -> Result<Vec<Effect>, LiveError> {
        let queued: HashSet<usize> = self.queue.iter().map(|r| r.site).collect();
        let mut seen = HashSet::new();
        let mut sites = Vec::with_capacity(order.len());
        for e in &order {
            let i = self
                .index
                .get(e)
                .copied()
                .filter(|i| queued.contains(i))
                .ok_or_else(|| LiveError::NotAPermutation(format!("{e:?} is not in the queue")))?;
            if !seen.insert(i) {
                return Err(LiveError::NotAPermutation(format!("{e:?} is listed twice")));
            }
            sites.push(i);
        }
        if let Some(missing) = self.queue.iter().find(|r| !seen.contains(&r.site)) {
            return Err(LiveError::NotAPermutation(format!(
                "{:?} is missing",
                self.sites[missing.site].id
            )));
        }
        let old = std::mem::take(&mut self.queue);
        self.queue = sites
            .into_iter()
            .map(|i| {
                old.iter()
                    .find(|r| r.site == i)
                    .cloned()
                    .expect("checked: every listed room is queued")
            })
            .collect();
        if self
            .queue
            .iter()
            .map(|r| r.site)
            .eq(old.iter().map(|r| r.site))
        {
            return Ok(Vec::new());
        }
        Ok(vec![self.queue_event()])
    }

    /// Give a room the floor, for at most `limit_ms` (`None`: no limit). A
    /// room already speaking is revoked first: one speaker at a time.
    /// Granting the current speaker again restarts its timer with the new
    /// limit (the chair gives more time). The room leaves the queue if it
    /// was in it; it need not have been (the chair may call on a room).
    pub fn grant_floor(
        &mut self,
        endpoint_id: &str,
        limit_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<Vec<Effect>, LiveError> {
        let i = self.site_idx(endpoint_id)?;
        if self.hub == Some(i) {
            return Err(LiveError::IsHub(endpoint_id.to_string()));
        }
        if !self.is_connected(i) {
            return Err(LiveError::NotConnected(endpoint_id.to_string()));
        }
        if let Some(l) = limit_ms
            && l < MIN_FLOOR_LIMIT_MS
        {
            return Err(LiveError::BadLimit(l));
        }
        self.saw(now_ms);
        let before = self.before();
        let mut fx = Vec::new();
        if self.speaker.as_ref().is_some_and(|sp| sp.site != i) {
            self.revoke_inner(now_ms, &mut fx);
        }
        if let Some(p) = self.queue.iter().position(|r| r.site == i) {
            self.queue.remove(p);
            fx.push(self.queue_event());
        }
        self.speaker = Some(Speaker {
            site: i,
            granted_at_ms: now_ms,
            limit_ms,
            warned: false,
            time_up: false,
            on_stage: true,
        });
        self.sites[i].muted_audio = false;
        fx.push(event(LiveEvent::FloorGranted {
            endpoint_id: endpoint_id.to_string(),
            limit_ms,
            granted_at_ms: now_ms,
        }));
        self.reconcile(before, &mut fx);
        Ok(fx)
    }

    /// Take the floor back: the room is muted again and the stage returns
    /// to what it was before the grant.
    pub fn revoke_floor(&mut self, now_ms: u64) -> Result<Vec<Effect>, LiveError> {
        if self.speaker.is_none() {
            return Err(LiveError::NoFloorHolder);
        }
        self.saw(now_ms);
        let before = self.before();
        let mut fx = Vec::new();
        self.revoke_inner(now_ms, &mut fx);
        self.reconcile(before, &mut fx);
        Ok(fx)
    }

    /// Revoke without reconciling (the caller does).
    pub(super) fn revoke_inner(&mut self, now_ms: u64, fx: &mut Vec<Effect>) {
        let Some(sp) = self.speaker.take() else {
            return;
        };
        let s = &mut self.sites[sp.site];
        s.muted_audio = true;
        fx.push(event(LiveEvent::FloorRevoked {
            endpoint_id: s.id.clone(),
            spoke_ms: now_ms.saturating_sub(sp.granted_at_ms),
        }));
        self.restart_scan_dwell(now_ms);
    }

    /// Empty the queue (Bế mạc).
    pub(super) fn clear_queue(&mut self, fx: &mut Vec<Effect>) {
        if !self.queue.is_empty() {
            self.queue.clear();
            fx.push(self.queue_event());
        }
    }

    pub(super) fn queue_event(&self) -> Effect {
        event(LiveEvent::FloorQueue {
            order: self
                .queue
                .iter()
                .map(|r| self.sites[r.site].id.clone())
                .collect(),
        })
    }

    /// The speaking timer: warning 30 s before the limit, then time-up; once
    /// each. A tick that arrives already past the limit says only time-up.
    pub(super) fn tick_floor(&mut self, now_ms: u64, fx: &mut Vec<Effect>) {
        let Some(sp) = &mut self.speaker else { return };
        let Some(limit) = sp.limit_ms else { return };
        let elapsed = now_ms.saturating_sub(sp.granted_at_ms);
        let id = &self.sites[sp.site].id;
        if !sp.time_up && elapsed >= limit {
            sp.time_up = true;
            sp.warned = true;
            fx.push(event(LiveEvent::FloorTimeUp {
                endpoint_id: id.clone(),
                limit_ms: limit,
            }));
        } else if !sp.warned && elapsed >= limit.saturating_sub(FLOOR_WARNING_MS) {
            sp.warned = true;
            fx.push(event(LiveEvent::FloorWarning {
                endpoint_id: id.clone(),
                remaining_ms: limit - elapsed,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    fn floor_meeting() -> LiveMeeting {
        let mut m = meeting(4);
        join(&mut m, "tu", 1);
        for (k, p) in [(1, 11), (2, 12), (3, 13), (4, 14)] {
            join(&mut m, &format!("x{k}"), p);
        }
        m.apply_scene(Scene::ThaoLuan, T0);
        m
    }

    fn queue(m: &LiveMeeting) -> Vec<String> {
        m.snapshot(T0)
            .floor
            .queue
            .into_iter()
            .map(|q| q.endpoint_id)
            .collect()
    }

    #[test]
    fn request_floor_queues_once_and_needs_a_connection() {
        let mut m = floor_meeting();
        let fx = m.request_floor("x2", T0).unwrap();
        assert_eq!(
            events(&fx),
            vec![
                LiveEvent::FloorRequested {
                    endpoint_id: "x2".into(),
                    position: 1
                },
                LiveEvent::FloorQueue {
                    order: vec!["x2".into()]
                },
            ]
        );
        assert!(m.request_floor("x2", T0 + 1).unwrap().is_empty());
        m.request_floor("x1", T0 + 2).unwrap();
        assert_eq!(queue(&m), vec!["x2", "x1"]);
        assert_eq!(site(&m, "x1").floor, FloorStatus::Requested { position: 2 });
        m.disconnected(13, T0 + 3);
        assert_eq!(
            m.request_floor("x3", T0 + 4),
            Err(LiveError::NotConnected("x3".into()))
        );
        assert_eq!(
            m.request_floor("tu", T0 + 4),
            Err(LiveError::IsHub("tu".into()))
        );
        let fx = m.withdraw_floor("x2").unwrap();
        assert_eq!(
            events(&fx),
            vec![
                LiveEvent::FloorWithdrawn {
                    endpoint_id: "x2".into()
                },
                LiveEvent::FloorQueue {
                    order: vec!["x1".into()]
                },
            ]
        );
        assert_eq!(
            m.withdraw_floor("x2"),
            Err(LiveError::NotInQueue("x2".into()))
        );
    }

    #[test]
    fn reorder_rejects_a_non_permutation_and_changes_nothing() {
        let mut m = floor_meeting();
        for e in ["x1", "x2", "x3"] {
            m.request_floor(e, T0).unwrap();
        }
        let before = m.snapshot(T0);
        let err = |v: &[&str]| {
            let mut m2 = m.clone();
            let r = m2.reorder_floor(v.iter().map(|s| s.to_string()).collect());
            assert_eq!(m2.snapshot(T0), before, "an error changed the state");
            r.unwrap_err()
        };
        assert_eq!(
            err(&["x3", "x1"]),
            LiveError::NotAPermutation("\"x2\" is missing".into())
        );
        assert_eq!(
            err(&["x3", "x1", "x1"]),
            LiveError::NotAPermutation("\"x1\" is listed twice".into())
        );
        assert_eq!(
            err(&["x3", "x1", "x2", "x4"]),
            LiveError::NotAPermutation("\"x4\" is not in the queue".into())
        );
        assert_eq!(
            err(&["x3", "x1", "zz"]),
            LiveError::NotAPermutation("\"zz\" is not in the queue".into())
        );
        assert!(
            err(&["x3"])
                .to_string()
                .starts_with("the new order is not a permutation of the floor queue")
        );
        let fx = m
            .reorder_floor(vec!["x3".into(), "x1".into(), "x2".into()])
            .unwrap();
        assert_eq!(
            events(&fx),
            vec![LiveEvent::FloorQueue {
                order: vec!["x3".into(), "x1".into(), "x2".into()]
            }]
        );
        assert_eq!(queue(&m), vec!["x3", "x1", "x2"]);
    }

    #[test]
    fn grant_then_revoke_restores_previous_stage_and_remutes() {
        let mut m = floor_meeting();
        m.set_stage(vec!["tu".into(), "x4".into()]).unwrap();
        m.request_floor("x2", T0).unwrap();
        let fx = m.grant_floor("x2", Some(180_000), T0 + 1_000).unwrap();
        assert_eq!(
            media(&fx),
            vec![
                MediaAction::Mute {
                    participant: 12,
                    audio: Some(false),
                    video: None
                },
                MediaAction::SetStage(vec![12, 1]),
            ]
        );
        let ev = events(&fx);
        assert!(ev.contains(&LiveEvent::FloorQueue { order: vec![] }));
        assert!(ev.contains(&LiveEvent::FloorGranted {
            endpoint_id: "x2".into(),
            limit_ms: Some(180_000),
            granted_at_ms: T0 + 1_000
        }));
        assert_eq!(site(&m, "x2").floor, FloorStatus::Speaking);
        let fx = m.revoke_floor(T0 + 61_000).unwrap();
        assert_eq!(
            media(&fx),
            vec![
                MediaAction::Mute {
                    participant: 12,
                    audio: Some(true),
                    video: None
                },
                MediaAction::SetStage(vec![1, 14]),
            ]
        );
        assert!(events(&fx).contains(&LiveEvent::FloorRevoked {
            endpoint_id: "x2".into(),
            spoke_ms: 60_000
        }));
        assert_eq!(m.stage(), vec!["tu", "x4"]);
        assert_eq!(m.revoke_floor(T0), Err(LiveError::NoFloorHolder));
    }

    #[test]
    fn granting_a_second_speaker_revokes_the_first() {
        let mut m = floor_meeting();
        m.grant_floor("x1", None, T0).unwrap();
        let fx = m.grant_floor("x2", None, T0 + 5_000).unwrap();
        assert_eq!(mutes_for(&fx, 11), vec![(Some(true), None)]);
        assert_eq!(mutes_for(&fx, 12), vec![(Some(false), None)]);
        assert!(media(&fx).contains(&MediaAction::SetStage(vec![12, 1])));
        let ev = events(&fx);
        let revoked = ev
            .iter()
            .position(|e| matches!(e, LiveEvent::FloorRevoked { .. }))
            .unwrap();
        let granted = ev
            .iter()
            .position(|e| matches!(e, LiveEvent::FloorGranted { .. }))
            .unwrap();
        assert!(revoked < granted);
        let rc = m.roll_call(T0);
        let speaking: Vec<_> = rc
            .sites
            .iter()
            .filter(|s| s.floor == FloorStatus::Speaking)
            .map(|s| s.endpoint_id.as_str())
            .collect();
        assert_eq!(speaking, vec!["x2"]);
        // Revoking the second returns to the stage before the *first* grant
        // (automatic, in Thảo luận), not to the first speaker.
        let fx = m.revoke_floor(T0 + 6_000).unwrap();
        assert_eq!(media(&fx).last(), Some(&MediaAction::SetStage(vec![])));
    }

    #[test]
    fn warning_and_time_up_each_fire_once() {
        let mut m = floor_meeting();
        m.grant_floor("x1", Some(120_000), T0).unwrap();
        assert!(m.tick(T0 + 89_999).is_empty());
        assert_eq!(
            events(&m.tick(T0 + 90_000)),
            vec![LiveEvent::FloorWarning {
                endpoint_id: "x1".into(),
                remaining_ms: 30_000
            }]
        );
        assert!(m.tick(T0 + 95_000).is_empty());
        assert!(m.tick(T0 + 119_999).is_empty());
        let snap = m.snapshot(T0 + 110_000);
        let sp = snap.floor.speaker.unwrap();
        assert_eq!(sp.elapsed_ms, 110_000);
        assert_eq!(sp.remaining_ms, Some(10_000));
        assert!(sp.warned && !sp.time_up);
        assert_eq!(
            events(&m.tick(T0 + 120_000)),
            vec![LiveEvent::FloorTimeUp {
                endpoint_id: "x1".into(),
                limit_ms: 120_000
            }]
        );
        assert!(m.tick(T0 + 200_000).is_empty());
        // No cut-off: still speaking, still unmuted, over time.
        let snap = m.snapshot(T0 + 130_000);
        let sp = snap.floor.speaker.unwrap();
        assert_eq!(sp.remaining_ms, Some(-10_000));
        assert!(!site(&m, "x1").muted_audio);
    }

    #[test]
    fn a_late_tick_says_time_up_only() {
        let mut m = floor_meeting();
        m.grant_floor("x1", Some(60_000), T0).unwrap();
        assert_eq!(
            events(&m.tick(T0 + 70_000)),
            vec![LiveEvent::FloorTimeUp {
                endpoint_id: "x1".into(),
                limit_ms: 60_000
            }]
        );
        assert!(m.tick(T0 + 80_000).is_empty());
    }

    #[test]
    fn grant_needs_a_connected_room_that_is_not_the_hub() {
        let mut m = floor_meeting();
        m.disconnected(13, T0);
        let snap = m.snapshot(T0);
        assert_eq!(
            m.grant_floor("x3", None, T0),
            Err(LiveError::NotConnected("x3".into()))
        );
        assert_eq!(
            m.grant_floor("tu", None, T0),
            Err(LiveError::IsHub("tu".into()))
        );
        assert_eq!(
            m.grant_floor("x1", Some(999), T0),
            Err(LiveError::BadLimit(999))
        );
        assert_eq!(
            m.grant_floor("zz", None, T0),
            Err(LiveError::UnknownEndpoint("zz".into()))
        );
        assert_eq!(m.snapshot(T0), snap);
    }

    #[test]
    fn an_explicit_stage_takes_the_stage_from_the_speaker_who_keeps_the_mic() {
        let mut m = floor_meeting();
        m.grant_floor("x1", None, T0).unwrap();
        m.set_stage(vec!["x3".into()]).unwrap();
        assert_eq!(m.stage(), vec!["x3"]);
        assert!(!site(&m, "x1").muted_audio);
        let fx = m.revoke_floor(T0 + 1).unwrap();
        assert_eq!(
            media(&fx),
            vec![MediaAction::Mute {
                participant: 11,
                audio: Some(true),
                video: None
            }]
        );
        assert_eq!(m.stage(), vec!["x3"]);
    }
}
