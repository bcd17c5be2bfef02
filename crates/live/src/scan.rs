//! Lecture mode: the hub speaks to everyone (everyone sees the hub) while
//! the hub watches the rooms one after another — stage `[hub, current]` —
//! each for a dwell time, in the operator's order, skipping rooms that are
//! not connected and wrapping round.
//!
//! The scan is a layer over the operator's stage: stopping it shows that
//! stage again. A floor grant is a layer over the scan: while someone has
//! the floor the scan waits, and resumes (with a full dwell) on the revoke.

use super::{Effect, LiveError, LiveEvent, LiveMeeting, MAX_DWELL_MS, MIN_DWELL_MS, Scan, event};

impl LiveMeeting {
    /// Start (or restart) the lecture scan over these rooms, each shown to
    /// the hub for `dwell_ms` (5 s ..= 10 min). Like `set_stage`, it takes
    /// the stage from a floor holder.
    pub fn start_scan(
        &mut self,
        order: Vec<String>,
        dwell_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<Effect>, LiveError> {
        if !(MIN_DWELL_MS..=MAX_DWELL_MS).contains(&dwell_ms) {
            return Err(LiveError::BadDwell(dwell_ms));
        }
        if order.is_empty() {
            return Err(LiveError::EmptyScan);
        }
        let idx = self.distinct_sites(&order)?;
        if let Some(h) = self.hub
            && idx.contains(&h)
        {
            return Err(LiveError::IsHub(self.sites[h].id.clone()));
        }
        self.saw(now_ms);
        let before = self.before();
        let mut fx = Vec::new();
        let mut scan = Scan {
            cursor: idx.len() - 1,
            order: idx,
            dwell_ms,
            current: None,
            since_ms: now_ms,
        };
        scan.current = self.next_connected(&scan);
        if let Some(p) = scan.current {
            scan.cursor = p;
        }
        fx.push(event(LiveEvent::ScanStarted {
            order: self.ids(&scan.order),
            dwell_ms,
            current: scan.current.map(|p| self.sites[scan.order[p]].id.clone()),
        }));
        self.scan = Some(scan);
        if let Some(sp) = &mut self.speaker {
            sp.on_stage = false;
        }
        self.reconcile(before, &mut fx);
        Ok(fx)
    }

    /// Stop the scan; the stage it replaced comes back. No scan: nothing.
    pub fn stop_scan(&mut self) -> Vec<Effect> {
        if self.scan.is_none() {
            return Vec::new();
        }
        let before = self.before();
        self.scan = None;
        let mut fx = vec![event(LiveEvent::ScanStopped)];
        self.reconcile(before, &mut fx);
        fx
    }

    /// The next connected room after the cursor, wrapping round (the cursor
    /// itself last, so a lone connected room stays on).
    fn next_connected(&self, scan: &Scan) -> Option<usize> {
        let n = scan.order.len();
        (1..=n)
            .map(|k| (scan.cursor + k) % n)
            .find(|&p| self.is_connected(scan.order[p]))
    }

    /// Move on when the dwell has passed, or at once when the room shown
    /// has dropped. Waits while a floor holder is on stage.
    pub(super) fn tick_scan(&mut self, now_ms: u64, fx: &mut Vec<Effect>) {
        if self.speaker.as_ref().is_some_and(|sp| sp.on_stage) {
            return;
        }
        let Some(scan) = &self.scan else { return };
        let shown_ok = scan
            .current
            .is_some_and(|p| self.is_connected(scan.order[p]));
        let due = now_ms.saturating_sub(scan.since_ms) >= scan.dwell_ms;
        if shown_ok && !due {
            return;
        }
        if !shown_ok && scan.current.is_none() && !due {
            // Nobody was connected: look again at every tick, not per dwell.
            if self.next_connected(scan).is_none() {
                return;
            }
        }
        let next = self.next_connected(scan);
        let changed = next != scan.current;
        let id = next.map(|p| self.sites[scan.order[p]].id.clone());
        let Some(scan) = &mut self.scan else { return };
        scan.current = next;
        if let Some(p) = next {
            scan.cursor = p;
        }
        scan.since_ms = now_ms;
        if changed {
            fx.push(event(LiveEvent::ScanAdvanced { endpoint_id: id }));
        }
    }

    /// The scan waits a full dwell again (after a floor grant ends).
    pub(super) fn restart_scan_dwell(&mut self, now_ms: u64) {
        if let Some(scan) = &mut self.scan {
            scan.since_ms = now_ms;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    fn scanning() -> LiveMeeting {
        let mut m = meeting(4);
        join(&mut m, "tu", 1);
        for (k, p) in [(1, 11), (2, 12), (3, 13), (4, 14)] {
            join(&mut m, &format!("x{k}"), p);
        }
        m
    }

    fn advanced(fx: &[Effect]) -> Vec<Option<String>> {
        events(fx)
            .into_iter()
            .filter_map(|e| match e {
                LiveEvent::ScanAdvanced { endpoint_id } => Some(endpoint_id),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn scan_rotates_in_order_skipping_a_disconnected_site_and_wraps() {
        let mut m = scanning();
        let order: Vec<String> = ["x3", "x1", "x4", "x2"].map(String::from).to_vec();
        let fx = m.start_scan(order, 10_000, T0).unwrap();
        assert_eq!(media(&fx), vec![MediaAction::SetStage(vec![1, 13])]);
        assert_eq!(m.stage(), vec!["tu", "x3"]);
        // Before the dwell: nothing.
        assert!(m.tick(T0 + 9_999).is_empty());
        let fx = m.tick(T0 + 10_000);
        assert_eq!(advanced(&fx), vec![Some("x1".to_string())]);
        assert_eq!(media(&fx), vec![MediaAction::SetStage(vec![1, 11])]);
        // x4 drops: skipped.
        m.disconnected(14, T0 + 12_000);
        let fx = m.tick(T0 + 20_000);
        assert_eq!(advanced(&fx), vec![Some("x2".to_string())]);
        // Wraps round to the first.
        let fx = m.tick(T0 + 30_000);
        assert_eq!(advanced(&fx), vec![Some("x3".to_string())]);
        assert_eq!(media(&fx), vec![MediaAction::SetStage(vec![1, 13])]);
        // x4 back: it gets its turn.
        m.connected(Some("x4"), 24, "x4", ConnectionKind::Room, T0 + 31_000)
            .unwrap();
        assert_eq!(advanced(&m.tick(T0 + 40_000)), vec![Some("x1".to_string())]);
        assert_eq!(advanced(&m.tick(T0 + 50_000)), vec![Some("x4".to_string())]);
    }

    #[test]
    fn a_scanned_room_that_drops_is_replaced_at_the_next_tick() {
        let mut m = scanning();
        m.start_scan(vec!["x1".into(), "x2".into()], 60_000, T0)
            .unwrap();
        let fx = m.disconnected(11, T0 + 1_000);
        assert_eq!(media(&fx), vec![MediaAction::SetStage(vec![1])]);
        let fx = m.tick(T0 + 1_100);
        assert_eq!(advanced(&fx), vec![Some("x2".to_string())]);
        // Nobody left: the hub alone, until someone joins.
        m.disconnected(12, T0 + 2_000);
        assert_eq!(advanced(&m.tick(T0 + 2_100)), vec![None]);
        assert!(m.tick(T0 + 2_200).is_empty());
        m.connected(Some("x1"), 21, "x1", ConnectionKind::Room, T0 + 3_000)
            .unwrap();
        let fx = m.tick(T0 + 3_100);
        assert_eq!(advanced(&fx), vec![Some("x1".to_string())]);
        assert_eq!(media(&fx), vec![MediaAction::SetStage(vec![1, 21])]);
    }

    #[test]
    fn stop_scan_restores_the_stage_before() {
        let mut m = scanning();
        m.set_stage(vec!["tu".into(), "x4".into()]).unwrap();
        m.start_scan(vec!["x1".into(), "x2".into()], 5_000, T0)
            .unwrap();
        m.tick(T0 + 5_000);
        assert_eq!(m.stage(), vec!["tu", "x2"]);
        let fx = m.stop_scan();
        assert_eq!(media(&fx), vec![MediaAction::SetStage(vec![1, 14])]);
        assert_eq!(
            events(&fx),
            vec![
                LiveEvent::ScanStopped,
                LiveEvent::StageChanged {
                    endpoints: vec!["tu".into(), "x4".into()]
                }
            ]
        );
        assert!(m.stop_scan().is_empty());
        // No more rotation.
        assert!(m.tick(T0 + 60_000).is_empty());
    }

    #[test]
    fn setting_the_stage_stops_the_scan() {
        let mut m = scanning();
        m.start_scan(vec!["x1".into(), "x2".into()], 5_000, T0)
            .unwrap();
        let fx = m.set_stage(vec!["x3".into()]).unwrap();
        assert!(events(&fx).contains(&LiveEvent::ScanStopped));
        assert!(m.tick(T0 + 60_000).is_empty());
        assert_eq!(m.stage(), vec!["x3"]);
    }

    #[test]
    fn bad_scan_requests_change_nothing() {
        let mut m = scanning();
        m.start_scan(vec!["x1".into(), "x2".into()], 5_000, T0)
            .unwrap();
        let snap = m.snapshot(T0);
        assert_eq!(
            m.start_scan(vec!["x1".into()], 4_999, T0),
            Err(LiveError::BadDwell(4_999))
        );
        assert_eq!(
            m.start_scan(vec!["x1".into()], 600_001, T0),
            Err(LiveError::BadDwell(600_001))
        );
        assert_eq!(m.start_scan(vec![], 5_000, T0), Err(LiveError::EmptyScan));
        assert_eq!(
            m.start_scan(vec!["tu".into(), "x1".into()], 5_000, T0),
            Err(LiveError::IsHub("tu".into()))
        );
        assert_eq!(
            m.start_scan(vec!["x1".into(), "x1".into()], 5_000, T0),
            Err(LiveError::DuplicateEndpoint("x1".into()))
        );
        assert_eq!(m.snapshot(T0), snap);
    }

    #[test]
    fn the_scan_waits_while_someone_has_the_floor() {
        let mut m = scanning();
        m.start_scan(vec!["x1".into(), "x2".into()], 5_000, T0)
            .unwrap();
        m.grant_floor("x3", None, T0 + 1_000).unwrap();
        assert_eq!(m.stage(), vec!["x3", "tu"]);
        assert!(advanced(&m.tick(T0 + 20_000)).is_empty());
        let fx = m.revoke_floor(T0 + 21_000).unwrap();
        // Back to the scan where it was, with a full dwell.
        assert_eq!(m.stage(), vec!["tu", "x1"]);
        assert!(media(&fx).contains(&MediaAction::SetStage(vec![1, 11])));
        assert!(m.tick(T0 + 25_999).is_empty());
        assert_eq!(advanced(&m.tick(T0 + 26_000)), vec![Some("x2".to_string())]);
    }
}
