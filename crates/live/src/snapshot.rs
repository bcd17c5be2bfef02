//! The whole live state, for a console that just connected (it then follows
//! the events).

use serde::{Deserialize, Serialize};

use super::{LiveMeeting, RollCall, Scene};

/// Everything a console shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LiveSnapshot {
    /// The clock reading this snapshot was taken at.
    pub now_ms: u64,
    pub hub_endpoint_id: Option<String>,
    pub roll_call: RollCall,
    /// The stage everyone sees now, as endpoint ids (empty: automatic).
    pub stage: Vec<String>,
    /// The operator's stage, under the scan and the floor holder.
    pub base_stage: Vec<String>,
    pub scan: Option<ScanView>,
    pub floor: FloorView,
    pub locked: bool,
    pub scene: Option<Scene>,
    pub scene_label: Option<String>,
    /// Rooms other than the hub join muted.
    pub mute_on_entry: bool,
    /// The composite live stream runs (`/live/{meeting}/index.m3u8`).
    pub live_stream: bool,
    /// Its layout (`stage`, `one_plus5`, `one_plus7`, `grid2x2`, `grid3x3`,
    /// `grid4x4`, `presenter`); none: automatic.
    pub live_stream_layout: Option<String>,
    /// Each composite output's own layout (`stream`, `recording`, `sip`,
    /// `screen`); none: the meeting's.
    pub output_layouts: std::collections::BTreeMap<String, Option<String>>,
    /// An empty stage follows the active speaker (Thảo luận, or an
    /// operator's automatic stage); otherwise nobody is put on the stage by
    /// their voice.
    pub stage_follows_voice: bool,
    /// Endpoints removed and not re-admitted.
    pub removed: Vec<String>,
    /// Rooms waiting in an open meeting's lobby, first come first.
    pub lobby: Vec<super::LobbyEntry>,
    /// People sent away (user ids) and not re-admitted.
    pub removed_users: Vec<String>,
    /// Each SIP room's last dial-out state, by endpoint id: the fields of
    /// its last `sip_call` event (`state`: calling, ringing, connected,
    /// failed with `status`, `reason`, `retry_in_s`, ended).
    pub sip_calls: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScanView {
    pub order: Vec<String>,
    pub dwell_ms: u64,
    /// The room the hub sees now (`None`: none of the order is connected).
    pub current: Option<String>,
    /// When it moves on, unless paused.
    pub next_at_ms: Option<u64>,
    /// Waiting while a floor holder is on stage.
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FloorView {
    pub queue: Vec<QueueEntry>,
    pub speaker: Option<SpeakerView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QueueEntry {
    pub endpoint_id: String,
    pub name: String,
    /// 1-based.
    pub position: u32,
    pub requested_at_ms: u64,
    pub waiting_ms: u64,
    pub connected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SpeakerView {
    pub endpoint_id: String,
    pub name: String,
    pub granted_at_ms: u64,
    pub limit_ms: Option<u64>,
    pub elapsed_ms: u64,
    /// Negative once over time (nobody is cut off).
    pub remaining_ms: Option<i64>,
    pub warned: bool,
    pub time_up: bool,
    pub on_stage: bool,
    pub connected: bool,
}

impl LiveMeeting {
    /// The whole state at `now_ms`.
    pub fn snapshot(&self, now_ms: u64) -> LiveSnapshot {
        let paused = self.speaker.as_ref().is_some_and(|sp| sp.on_stage);
        let scan = self.scan.as_ref().map(|s| ScanView {
            order: self.ids(&s.order),
            dwell_ms: s.dwell_ms,
            current: s.current.map(|p| self.sites[s.order[p]].id.clone()),
            next_at_ms: (!paused && s.current.is_some())
                .then(|| s.since_ms.saturating_add(s.dwell_ms)),
            paused,
        });
        let queue = self
            .queue
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let s = &self.sites[r.site];
                QueueEntry {
                    endpoint_id: s.id.clone(),
                    name: s.name.clone(),
                    position: u32::try_from(k + 1).unwrap_or(u32::MAX),
                    requested_at_ms: r.requested_at_ms,
                    waiting_ms: now_ms.saturating_sub(r.requested_at_ms),
                    connected: s.participant.is_some() || s.via.is_some(),
                }
            })
            .collect();
        let speaker = self.speaker.as_ref().map(|sp| {
            let s = &self.sites[sp.site];
            let elapsed = now_ms.saturating_sub(sp.granted_at_ms);
            SpeakerView {
                endpoint_id: s.id.clone(),
                name: s.name.clone(),
                granted_at_ms: sp.granted_at_ms,
                limit_ms: sp.limit_ms,
                elapsed_ms: elapsed,
                remaining_ms: sp.limit_ms.map(|l| {
                    i64::try_from(l)
                        .unwrap_or(i64::MAX)
                        .saturating_sub(i64::try_from(elapsed).unwrap_or(i64::MAX))
                }),
                warned: sp.warned,
                time_up: sp.time_up,
                on_stage: sp.on_stage,
                connected: s.participant.is_some() || s.via.is_some(),
            }
        });
        LiveSnapshot {
            now_ms,
            hub_endpoint_id: self.hub().map(str::to_string),
            roll_call: self.roll_call(now_ms),
            stage: self.stage(),
            base_stage: self.ids(&self.base_stage),
            scan,
            floor: FloorView { queue, speaker },
            locked: self.locked,
            scene: self.scene,
            scene_label: self.scene.map(|s| s.label_vi().to_string()),
            mute_on_entry: self.mute_on_entry,
            live_stream: self.streaming,
            live_stream_layout: self.layouts.meeting.map(|l| l.as_str().to_string()),
            output_layouts: crate::layout::OutputKind::ALL
                .into_iter()
                .map(|k| {
                    let chosen = self.layouts.chosen(k).map(|l| l.as_str().to_string());
                    (k.as_str().to_string(), chosen)
                })
                .collect(),
            stage_follows_voice: self.wants_voice(),
            removed: self
                .sites
                .iter()
                .filter(|s| s.barred)
                .map(|s| s.id.clone())
                .collect(),
            lobby: self.lobby(),
            removed_users: self.barred_users(),
            sip_calls: self.sip_calls(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn snapshot_serializes_to_json_with_vietnamese_names_intact() {
        let mut m = meeting(2);
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        m.connected(Some("khach"), 50, "Đoàn kiểm tra", ConnectionKind::Room, T0)
            .unwrap();
        m.confirm_headcount("x1", 17, "thư_ký").unwrap();
        m.apply_scene(Scene::ThaoLuan, T0);
        m.request_floor("khach", T0).unwrap();
        m.grant_floor("x1", Some(300_000), T0 + 1_000).unwrap();
        m.lock();
        let snap = m.snapshot(T0 + 61_000);
        let json = serde_json::to_string(&snap).unwrap();
        // Not escaped: the console shows them as they are.
        for name in [
            "Tỉnh ủy Quảng Ngãi",
            "Đảng ủy xã Tân Phước 1",
            "Đảng bộ xã Tân Phước 2",
            "Đoàn kiểm tra",
            "Thảo luận",
            "thư_ký",
        ] {
            assert!(json.contains(name), "{name} missing from {json}");
        }
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["scene"], "thao_luan");
        assert_eq!(v["locked"], true);
        assert_eq!(v["stage"], serde_json::json!(["x1", "tu"]));
        assert_eq!(v["floor"]["speaker"]["endpoint_id"], "x1");
        assert_eq!(v["floor"]["speaker"]["elapsed_ms"], 60_000);
        assert_eq!(v["floor"]["speaker"]["remaining_ms"], 240_000);
        assert_eq!(v["floor"]["queue"][0]["endpoint_id"], "khach");
        assert_eq!(v["roll_call"]["guests"][0]["name"], "Đoàn kiểm tra");
        assert_eq!(v["roll_call"]["guests"][0]["floor"]["state"], "requested");
        assert_eq!(v["roll_call"]["guests"][0]["floor"]["position"], 1);
        let x1 = &v["roll_call"]["sites"][1];
        assert_eq!(x1["endpoint_id"], "x1");
        assert_eq!(x1["floor"]["state"], "speaking");
        assert_eq!(x1["headcount"], 17);
        assert_eq!(x1["on_stage"], true);
        assert_eq!(v["roll_call"]["quorum"]["basis"], "sites");
        // And back.
        let back: LiveSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, snap);
    }

    #[test]
    fn events_serialize_with_a_snake_case_type_tag() {
        let e = LiveEvent::FloorGranted {
            endpoint_id: "x1".into(),
            limit_ms: Some(60_000),
            granted_at_ms: 5,
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({
                "type": "floor_granted", "endpoint_id": "x1",
                "limit_ms": 60000, "granted_at_ms": 5
            })
        );
        assert_eq!(
            serde_json::to_value(LiveEvent::Locked).unwrap(),
            serde_json::json!({"type": "locked"})
        );
        let e = LiveEvent::SceneChanged {
            scene: Scene::BieuQuyet,
            label: "Biểu quyết".into(),
        };
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.contains("\"type\":\"scene_changed\""));
        assert!(s.contains("\"scene\":\"bieu_quyet\""));
        assert!(s.contains("Biểu quyết"));
        let back: LiveEvent = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn scan_view_reports_the_next_move_and_pauses_for_the_floor() {
        let mut m = meeting(2);
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        join(&mut m, "x2", 12);
        m.start_scan(vec!["x1".into(), "x2".into()], 30_000, T0)
            .unwrap();
        let s = m.snapshot(T0).scan.unwrap();
        assert_eq!(s.current.as_deref(), Some("x1"));
        assert_eq!(s.next_at_ms, Some(T0 + 30_000));
        assert!(!s.paused);
        m.grant_floor("x2", None, T0).unwrap();
        let s = m.snapshot(T0).scan.unwrap();
        assert!(s.paused && s.next_at_ms.is_none());
    }
}
