//! Scenes: one operator action per phase of a provincial meeting, setting
//! the stage and the mute policy together. The whole policy is one table,
//! [`SCENES`]:
//!
//! | scene | stage | rooms' audio | rooms' video | lecture scan | floor |
//! |---|---|---|---|---|---|
//! | Khai mạc (opening) | hub | muted | on (mutes lifted) | kept | speaker revoked, queue kept |
//! | Chủ trì phát biểu (chair speaks) | hub | muted | unchanged | kept | speaker revoked, queue kept |
//! | Thảo luận (discussion) | automatic | muted until granted the floor | unchanged | stopped | speaker kept, queue kept |
//! | Biểu quyết (vote) | hub | muted | unchanged | kept | speaker revoked, queue kept |
//! | Bế mạc (closing) | hub | muted | unchanged | stopped | speaker revoked, queue cleared |
//!
//! Why:
//! - Rooms are muted in every scene: with 100+ rooms an open microphone is
//!   noise. The only way to speak is the floor (or an operator's unmute).
//!   The hub is never muted: it chairs. A room joining later gets the
//!   current scene's mute.
//! - Khai mạc lifts video mutes: the opening shows every room present (the
//!   roll call is also visual).
//! - "Stage hub" is the operator's stage; a running lecture scan (stage
//!   `[hub, room]`) still shows everyone the hub, so the opening, the
//!   chair's speech and an open vote by show of hands (the hub looks round
//!   the rooms) keep it. Thảo luận shows the active speaker to everyone,
//!   which a scan would override, so it stops the scan.
//! - A floor holder is a room with an open microphone, which contradicts
//!   "rooms muted": every scene but Thảo luận revokes it. The queue
//!   survives (registrations made during the chair's speech are for the
//!   discussion) except at Bế mạc, when the meeting is over.

use serde::{Deserialize, Serialize};

use super::{Effect, LiveEvent, LiveMeeting, event};

/// A phase of the meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scene {
    KhaiMac,
    ChuTriPhatBieu,
    ThaoLuan,
    BieuQuyet,
    BeMac,
}

/// What a scene puts on the operator's stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SceneStage {
    /// `[hub]` (automatic when the meeting has no hub).
    Hub,
    /// Empty: the active speaker.
    Automatic,
}

/// One row of the scene table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScenePolicy {
    pub scene: Scene,
    pub label_vi: &'static str,
    pub stage: SceneStage,
    /// Mute every room's audio (not the hub's, not a kept floor holder's).
    pub mute_audio: bool,
    /// Lift every room's video mute.
    pub video_on: bool,
    pub stop_scan: bool,
    pub revoke_floor: bool,
    pub clear_queue: bool,
}

/// The scene table (see the module documentation for the reasons).
pub const SCENES: [ScenePolicy; 5] = [
    ScenePolicy {
        scene: Scene::KhaiMac,
        label_vi: "Khai mạc",
        stage: SceneStage::Hub,
        mute_audio: true,
        video_on: true,
        stop_scan: false,
        revoke_floor: true,
        clear_queue: false,
    },
    ScenePolicy {
        scene: Scene::ChuTriPhatBieu,
        label_vi: "Chủ trì phát biểu",
        stage: SceneStage::Hub,
        mute_audio: true,
        video_on: false,
        stop_scan: false,
        revoke_floor: true,
        clear_queue: false,
    },
    ScenePolicy {
        scene: Scene::ThaoLuan,
        label_vi: "Thảo luận",
        stage: SceneStage::Automatic,
        mute_audio: true,
        video_on: false,
        stop_scan: true,
        revoke_floor: false,
        clear_queue: false,
    },
    ScenePolicy {
        scene: Scene::BieuQuyet,
        label_vi: "Biểu quyết",
        stage: SceneStage::Hub,
        mute_audio: true,
        video_on: false,
        stop_scan: false,
        revoke_floor: true,
        clear_queue: false,
    },
    ScenePolicy {
        scene: Scene::BeMac,
        label_vi: "Bế mạc",
        stage: SceneStage::Hub,
        mute_audio: true,
        video_on: false,
        stop_scan: true,
        revoke_floor: true,
        clear_queue: true,
    },
];

impl Scene {
    pub const ALL: [Scene; 5] = [
        Scene::KhaiMac,
        Scene::ChuTriPhatBieu,
        Scene::ThaoLuan,
        Scene::BieuQuyet,
        Scene::BeMac,
    ];

    /// Its row of [`SCENES`].
    pub fn policy(self) -> ScenePolicy {
        SCENES[self as usize]
    }

    /// The name the console shows.
    pub fn label_vi(self) -> &'static str {
        self.policy().label_vi
    }
}

impl LiveMeeting {
    /// Switch to a scene: stage and mutes in one action (see [`SCENES`]).
    /// Applying the current scene again re-asserts it (rooms an operator
    /// unmuted by hand are muted again).
    pub fn apply_scene(&mut self, scene: Scene, now_ms: u64) -> Vec<Effect> {
        let p = scene.policy();
        self.saw(now_ms);
        let before = self.before();
        let mut fx = Vec::new();
        if p.revoke_floor {
            self.revoke_inner(now_ms, &mut fx);
        }
        if p.clear_queue {
            self.clear_queue(&mut fx);
        }
        if p.stop_scan && self.scan.take().is_some() {
            fx.push(event(LiveEvent::ScanStopped));
        }
        self.base_stage = match p.stage {
            SceneStage::Hub => self.hub.into_iter().collect(),
            SceneStage::Automatic => Vec::new(),
        };
        self.voice = p.stage == SceneStage::Automatic;
        let speaker = self.speaker.as_ref().map(|sp| sp.site);
        for (i, s) in self.sites.iter_mut().enumerate() {
            if s.hub {
                continue;
            }
            if p.mute_audio && speaker != Some(i) {
                s.muted_audio = true;
            }
            if p.video_on {
                s.muted_video = false;
            }
        }
        self.scene = Some(scene);
        fx.push(event(LiveEvent::SceneChanged {
            scene,
            label: p.label_vi.to_string(),
        }));
        self.reconcile(before, &mut fx);
        fx
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    /// Hub, three rooms connected, x1 video-muted, x2 unmuted, x3 queued;
    /// a scan over x1, x2; x2 has the floor.
    fn busy() -> LiveMeeting {
        let mut m = meeting(3);
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        join(&mut m, "x2", 12);
        join(&mut m, "x3", 13);
        m.mute("x1", Some(true), Some(true)).unwrap();
        m.start_scan(vec!["x1".into(), "x2".into()], 5_000, T0)
            .unwrap();
        m.request_floor("x3", T0).unwrap();
        m.grant_floor("x2", Some(60_000), T0).unwrap();
        m
    }

    #[test]
    fn labels_and_serde_names() {
        let labels: Vec<_> = Scene::ALL.iter().map(|s| s.label_vi()).collect();
        assert_eq!(
            labels,
            [
                "Khai mạc",
                "Chủ trì phát biểu",
                "Thảo luận",
                "Biểu quyết",
                "Bế mạc"
            ]
        );
        let names: Vec<_> = Scene::ALL
            .iter()
            .map(|s| serde_json::to_string(s).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "\"khai_mac\"",
                "\"chu_tri_phat_bieu\"",
                "\"thao_luan\"",
                "\"bieu_quyet\"",
                "\"be_mac\""
            ]
        );
        for s in Scene::ALL {
            assert_eq!(s.policy().scene, s, "table row order");
            let back: Scene = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn khai_mac_stages_the_hub_mutes_audio_and_turns_video_on() {
        let mut m = busy();
        let fx = m.apply_scene(Scene::KhaiMac, T0 + 1_000);
        // x2 loses the floor and is muted; x3 muted; x1 gets its video back.
        assert_eq!(mutes_for(&fx, 11), vec![(None, Some(false))]);
        assert_eq!(mutes_for(&fx, 12), vec![(Some(true), None)]);
        assert_eq!(mutes_for(&fx, 13), vec![(Some(true), None)]);
        assert!(mutes_for(&fx, 1).is_empty());
        // The scan is kept: everyone sees the hub, the hub sees x1.
        assert_eq!(m.stage(), vec!["tu", "x1"]);
        assert!(media(&fx).contains(&MediaAction::SetStage(vec![1, 11])));
        let ev = events(&fx);
        assert!(ev.contains(&LiveEvent::SceneChanged {
            scene: Scene::KhaiMac,
            label: "Khai mạc".into()
        }));
        assert!(
            ev.iter()
                .any(|e| matches!(e, LiveEvent::FloorRevoked { .. }))
        );
        let snap = m.snapshot(T0 + 1_000);
        assert_eq!(snap.scene, Some(Scene::KhaiMac));
        assert_eq!(snap.floor.queue.len(), 1);
        assert_eq!(snap.base_stage, vec!["tu"]);
        // Stop the scan: the scene's stage, the hub.
        m.stop_scan();
        assert_eq!(m.stage(), vec!["tu"]);
    }

    #[test]
    fn chu_tri_phat_bieu_stages_the_hub_and_mutes_everyone() {
        let mut m = busy();
        m.stop_scan();
        let fx = m.apply_scene(Scene::ChuTriPhatBieu, T0 + 1_000);
        assert_eq!(mutes_for(&fx, 12), vec![(Some(true), None)]);
        assert_eq!(mutes_for(&fx, 13), vec![(Some(true), None)]);
        assert!(mutes_for(&fx, 11).is_empty(), "x1 stays muted, video too");
        assert!(site(&m, "x1").muted_video);
        assert_eq!(m.stage(), vec!["tu"]);
        assert!(media(&fx).contains(&MediaAction::SetStage(vec![1])));
        assert!(m.snapshot(T0).floor.speaker.is_none());
    }

    #[test]
    fn thao_luan_goes_automatic_keeps_the_speaker_and_stops_the_scan() {
        let mut m = busy();
        let fx = m.apply_scene(Scene::ThaoLuan, T0 + 1_000);
        assert!(events(&fx).contains(&LiveEvent::ScanStopped));
        assert!(
            mutes_for(&fx, 12).is_empty(),
            "the floor holder keeps talking"
        );
        assert_eq!(mutes_for(&fx, 13), vec![(Some(true), None)]);
        // The speaker stays on stage; revoking it leaves the stage automatic.
        assert_eq!(m.stage(), vec!["x2", "tu"]);
        let fx = m.revoke_floor(T0 + 2_000).unwrap();
        assert_eq!(media(&fx).last(), Some(&MediaAction::SetStage(vec![])));
        assert!(m.stage().is_empty());
        // A newcomer (a guest) is muted on arrival.
        let fx = join(&mut m, "khach", 77);
        assert_eq!(mutes_for(&fx, 77), vec![(Some(true), None)]);
    }

    #[test]
    fn a_meeting_opens_on_the_hub_and_only_thao_luan_lets_the_voice_move_the_stage() {
        let mut m = meeting(2);
        let fx = join(&mut m, "x1", 11);
        assert!(voice(&fx).is_empty(), "a new engine room starts without");
        let fx = join(&mut m, "tu", 1);
        assert_eq!(media(&fx), vec![MediaAction::SetStage(vec![1])]);
        assert_eq!(m.stage(), vec!["tu"]);
        assert!(!m.snapshot(T0).stage_follows_voice);
        let fx = m.apply_scene(Scene::ThaoLuan, T0 + 1);
        assert_eq!(voice(&fx), vec![true]);
        assert!(m.stage().is_empty());
        for s in [Scene::KhaiMac, Scene::ChuTriPhatBieu, Scene::BieuQuyet] {
            let fx = m.apply_scene(s, T0 + 2);
            assert_eq!(voice(&fx), vec![false], "{s:?}");
            assert_eq!(m.stage(), vec!["tu"]);
            m.apply_scene(Scene::ThaoLuan, T0 + 3);
        }
        // A floor grant in Thảo luận puts the speaker on stage: no voice.
        let fx = m.grant_floor("x1", None, T0 + 4).unwrap();
        assert_eq!(voice(&fx), vec![false]);
        let fx = m.revoke_floor(T0 + 5).unwrap();
        assert_eq!(voice(&fx), vec![true]);
    }

    #[test]
    fn bieu_quyet_stages_the_hub_mutes_all_and_keeps_the_scan() {
        let mut m = busy();
        let fx = m.apply_scene(Scene::BieuQuyet, T0 + 1_000);
        assert_eq!(mutes_for(&fx, 12), vec![(Some(true), None)]);
        assert!(m.snapshot(T0).scan.is_some());
        assert_eq!(m.snapshot(T0).base_stage, vec!["tu"]);
        assert!(
            m.roll_call(T0)
                .sites
                .iter()
                .filter(|s| !s.hub)
                .all(|s| s.muted_audio)
        );
    }

    #[test]
    fn be_mac_stops_scan_and_floor_and_clears_the_queue() {
        let mut m = busy();
        let fx = m.apply_scene(Scene::BeMac, T0 + 1_000);
        let ev = events(&fx);
        assert!(ev.contains(&LiveEvent::ScanStopped));
        assert!(ev.contains(&LiveEvent::FloorQueue { order: vec![] }));
        assert!(
            ev.iter()
                .any(|e| matches!(e, LiveEvent::FloorRevoked { .. }))
        );
        assert!(media(&fx).contains(&MediaAction::SetStage(vec![1])));
        let snap = m.snapshot(T0);
        assert!(snap.scan.is_none() && snap.floor.speaker.is_none() && snap.floor.queue.is_empty());
        assert_eq!(snap.stage, vec!["tu"]);
        assert_eq!(snap.scene_label.as_deref(), Some("Bế mạc"));
    }

    #[test]
    fn without_a_hub_a_hub_stage_is_automatic() {
        let sites = vec![ExpectedSite {
            endpoint_id: "x1".into(),
            name: "Xã 1".into(),
            unit_name: None,
        }];
        let mut m = LiveMeeting::new(sites, None, None, 50).unwrap();
        join(&mut m, "x1", 11);
        let fx = m.apply_scene(Scene::ChuTriPhatBieu, T0);
        assert!(m.stage().is_empty());
        assert_eq!(mutes_for(&fx, 11), vec![(Some(true), None)]);
    }
}
