//! Property-style test: random operations (a small seeded xorshift, no
//! dependencies) against a model of the media engine and a model of a
//! console that knows only the first snapshot and the events.
//!
//! Invariants checked after every step:
//! - no media effect names a participant that is not connected (in order:
//!   a `Remove` disconnects);
//! - the engine model (mutes per participant, the stage) matches what the
//!   state says for every connected room — reconnects included;
//! - at most one speaker; the floor queue has no duplicates and never holds
//!   the speaker;
//! - a call that errs changes nothing;
//! - the console model built from events alone equals the snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::test_support::*;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }

    fn opt_bool(&mut self) -> Option<bool> {
        match self.below(3) {
            0 => None,
            1 => Some(true),
            _ => Some(false),
        }
    }
}

/// What the media engine would hold, driven by the effects only.
#[derive(Default)]
struct EngineModel {
    connected: HashSet<ParticipantId>,
    mutes: HashMap<ParticipantId, (bool, bool)>,
    stage: Vec<ParticipantId>,
    /// Whether the stage follows the voice, as last told.
    voice: bool,
}

impl EngineModel {
    fn join(&mut self, p: ParticipantId) {
        self.connected.insert(p);
        self.mutes.insert(p, (false, false));
    }

    fn leave(&mut self, p: ParticipantId) {
        self.connected.remove(&p);
        self.mutes.remove(&p);
        self.stage.retain(|&x| x != p);
        // The engine forgets a room that empties.
        if self.connected.is_empty() {
            self.voice = false;
        }
    }

    fn apply(&mut self, fx: &[Effect], ctx: &str) {
        for e in fx {
            let Effect::Media(a) = e else { continue };
            match a {
                MediaAction::StageVoice(on) => self.voice = *on,
                MediaAction::SetStage(ps) => {
                    for p in ps {
                        assert!(self.connected.contains(p), "{ctx}: stage names {p}");
                    }
                    self.stage = ps.clone();
                }
                MediaAction::Mute {
                    participant,
                    audio,
                    video,
                } => {
                    assert!(
                        self.connected.contains(participant),
                        "{ctx}: mute names {participant}"
                    );
                    assert!(audio.is_some() || video.is_some(), "{ctx}: empty mute");
                    let m = self.mutes.get_mut(participant).unwrap();
                    if let Some(a) = audio {
                        m.0 = *a;
                    }
                    if let Some(v) = video {
                        m.1 = *v;
                    }
                }
                MediaAction::PinThumbs { relay, sources } => {
                    assert!(self.connected.contains(relay), "{ctx}: pins on {relay}");
                    assert!(sources.len() <= diemcau_media::RELAY_THUMBS, "{ctx}: pins");
                }
                MediaAction::Remove { participant } => {
                    assert!(
                        self.connected.contains(participant),
                        "{ctx}: remove names {participant}"
                    );
                    self.leave(*participant);
                }
            }
        }
    }
}

/// What a console knows from a first snapshot plus the events.
#[derive(Debug, PartialEq)]
struct ConsoleModel {
    stage: Vec<String>,
    queue: Vec<String>,
    speaker: Option<String>,
    mutes: BTreeMap<String, (bool, bool)>,
    connected: BTreeMap<String, bool>,
    headcounts: BTreeMap<String, u32>,
    removed: BTreeSet<String>,
    locked: bool,
    scene: Option<Scene>,
    scanning: bool,
    scan_current: Option<String>,
    quorum: Quorum,
    people_present: u32,
    connected_sites: u32,
}

impl ConsoleModel {
    fn from_snapshot(s: &LiveSnapshot) -> Self {
        let rows = s.roll_call.sites.iter().chain(&s.roll_call.guests);
        ConsoleModel {
            stage: s.stage.clone(),
            queue: s
                .floor
                .queue
                .iter()
                .map(|q| q.endpoint_id.clone())
                .collect(),
            speaker: s.floor.speaker.as_ref().map(|sp| sp.endpoint_id.clone()),
            mutes: rows
                .clone()
                .map(|r| (r.endpoint_id.clone(), (r.muted_audio, r.muted_video)))
                .collect(),
            connected: rows
                .clone()
                .map(|r| (r.endpoint_id.clone(), r.connected))
                .collect(),
            headcounts: rows
                .filter_map(|r| r.headcount.map(|h| (r.endpoint_id.clone(), h)))
                .collect(),
            removed: s.removed.iter().cloned().collect(),
            locked: s.locked,
            scene: s.scene,
            scanning: s.scan.is_some(),
            scan_current: s.scan.as_ref().and_then(|sc| sc.current.clone()),
            quorum: s.roll_call.quorum,
            people_present: s.roll_call.people_present,
            connected_sites: s.roll_call.connected_sites,
        }
    }

    fn apply(&mut self, fx: &[Effect]) {
        for e in fx {
            let Effect::Event(e) = e else { continue };
            match e.clone() {
                LiveEvent::SiteConnected {
                    endpoint_id,
                    muted_audio,
                    muted_video,
                    ..
                } => {
                    self.connected.insert(endpoint_id.clone(), true);
                    self.mutes.insert(endpoint_id, (muted_audio, muted_video));
                }
                LiveEvent::SiteDisconnected { endpoint_id, .. } => {
                    self.connected.insert(endpoint_id, false);
                }
                LiveEvent::OtherConnected { .. }
                | LiveEvent::OtherDisconnected { .. }
                | LiveEvent::LobbyWaiting { .. }
                | LiveEvent::LobbyAdmitted { .. }
                | LiveEvent::LobbyDenied { .. }
                | LiveEvent::LiveStream { .. }
                | LiveEvent::OutputLayout { .. } => {}
                // The random operations here open no relay links.
                LiveEvent::RelaySites { .. }
                | LiveEvent::RelayThumbs { .. }
                | LiveEvent::ParentRelay { .. } => {}
                LiveEvent::Headcount {
                    endpoint_id,
                    headcount,
                    ..
                } => {
                    self.headcounts.insert(endpoint_id, headcount);
                }
                LiveEvent::Muted {
                    endpoint_id,
                    audio,
                    video,
                } => {
                    self.mutes.insert(endpoint_id, (audio, video));
                }
                LiveEvent::StageChanged { endpoints } => self.stage = endpoints,
                LiveEvent::ScanStarted { current, .. } => {
                    self.scanning = true;
                    self.scan_current = current;
                }
                LiveEvent::ScanAdvanced { endpoint_id } => self.scan_current = endpoint_id,
                LiveEvent::ScanStopped => {
                    self.scanning = false;
                    self.scan_current = None;
                }
                LiveEvent::FloorRequested { .. }
                | LiveEvent::FloorWithdrawn { .. }
                | LiveEvent::FloorWarning { .. }
                | LiveEvent::FloorTimeUp { .. } => {}
                LiveEvent::FloorQueue { order } => self.queue = order,
                LiveEvent::FloorGranted { endpoint_id, .. } => self.speaker = Some(endpoint_id),
                LiveEvent::FloorRevoked { .. } => self.speaker = None,
                LiveEvent::Locked => self.locked = true,
                LiveEvent::Unlocked => self.locked = false,
                LiveEvent::Removed { endpoint_id } => {
                    self.connected.insert(endpoint_id.clone(), false);
                    self.removed.insert(endpoint_id);
                }
                LiveEvent::Readmitted { endpoint_id } => {
                    self.removed.remove(&endpoint_id);
                }
                LiveEvent::SceneChanged { scene, .. } => self.scene = Some(scene),
                LiveEvent::MuteOnEntry { .. } => {}
                LiveEvent::QuorumChanged {
                    quorum,
                    people_present,
                    connected_sites,
                } => {
                    self.quorum = quorum;
                    self.people_present = people_present;
                    self.connected_sites = connected_sites;
                }
            }
        }
    }
}

const ENDPOINTS: [&str; 9] = ["tu", "x1", "x2", "x3", "x4", "x5", "x6", "g1", "g2"];

fn some_endpoints(rng: &mut XorShift) -> Vec<String> {
    let n = rng.below(4);
    let mut v: Vec<String> = (0..n).map(|_| rng.pick(&ENDPOINTS).to_string()).collect();
    if rng.chance(80) {
        let mut seen = HashSet::new();
        v.retain(|e| seen.insert(e.clone()));
    }
    v
}

fn check_state(m: &LiveMeeting, engine: &EngineModel, now: u64, ctx: &str) {
    let snap = m.snapshot(now);
    let rows: Vec<&RollCallSite> = snap
        .roll_call
        .sites
        .iter()
        .chain(&snap.roll_call.guests)
        .collect();
    let speaking = rows
        .iter()
        .filter(|r| r.floor == FloorStatus::Speaking)
        .count();
    assert!(speaking <= 1, "{ctx}: {speaking} speakers");
    assert_eq!(speaking, usize::from(snap.floor.speaker.is_some()), "{ctx}");
    let q: Vec<&str> = snap
        .floor
        .queue
        .iter()
        .map(|e| e.endpoint_id.as_str())
        .collect();
    let distinct: HashSet<&str> = q.iter().copied().collect();
    assert_eq!(distinct.len(), q.len(), "{ctx}: duplicate in queue {q:?}");
    if let Some(sp) = &snap.floor.speaker {
        assert!(
            !distinct.contains(sp.endpoint_id.as_str()),
            "{ctx}: speaker queued"
        );
    }
    // The engine holds exactly what the state asks for.
    let by_id: HashMap<&str, &RollCallSite> =
        rows.iter().map(|r| (r.endpoint_id.as_str(), *r)).collect();
    for r in &rows {
        if let Some(p) = r.participant {
            assert!(engine.connected.contains(&p), "{ctx}: {p} not in engine");
            assert_eq!(
                engine.mutes[&p],
                (r.muted_audio, r.muted_video),
                "{ctx}: engine mutes of {} ({p})",
                r.endpoint_id
            );
        }
        assert!(!(r.removed && r.connected), "{ctx}: removed yet connected");
    }
    let want: Vec<ParticipantId> = snap
        .stage
        .iter()
        .filter_map(|e| by_id[e.as_str()].participant)
        .collect();
    assert_eq!(engine.stage, want, "{ctx}: engine stage");
    // The voice moves the stage only when the state says so (a room that
    // emptied is told again when someone joins).
    if !engine.connected.is_empty() {
        assert_eq!(engine.voice, snap.stage_follows_voice, "{ctx}: voice");
        assert!(
            !engine.voice || snap.stage.is_empty(),
            "{ctx}: voice over a stage"
        );
    }
}

fn run(seed: u64, steps: usize) {
    let mut rng = XorShift(seed);
    let mut m = meeting(6);
    if rng.chance(50) {
        m = LiveMeeting::new(
            ["tu", "x1", "x2", "x3", "x4", "x5", "x6"]
                .iter()
                .map(|e| ExpectedSite {
                    endpoint_id: e.to_string(),
                    name: format!("Điểm cầu {e}"),
                    unit_name: None,
                })
                .collect(),
            Some("tu".into()),
            Some(40),
            67,
        )
        .unwrap();
    }
    let mut engine = EngineModel::default();
    let mut now = T0;
    let mut console = ConsoleModel::from_snapshot(&m.snapshot(now));
    let mut next_p: ParticipantId = 100;
    for step in 0..steps {
        now += rng.below(20_000) as u64;
        let snap_before = m.snapshot(now);
        // Weighted so that rooms are mostly connected and the floor busy.
        let op = *rng.pick(&[
            0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 6, 7, 8, 8, 8, 8, 9, 10, 10, 11, 11, 11, 12, 13, 14, 15,
            15, 15, 16, 17, 18, 18, 18, 19,
        ]);
        let ctx = format!("seed {seed} step {step} op {op}");
        let e = rng.pick(&ENDPOINTS).to_string();
        let result: Result<Vec<Effect>, String> = match op {
            0 | 1 => {
                let p = next_p;
                next_p += 1;
                let kind = *rng.pick(&[
                    ConnectionKind::Room,
                    ConnectionKind::Room,
                    ConnectionKind::Room,
                    ConnectionKind::Publisher,
                    ConnectionKind::Viewer,
                    ConnectionKind::Console,
                ]);
                let endpoint = if rng.chance(10) {
                    None
                } else {
                    Some(e.as_str())
                };
                // The engine has the session before control hears of it.
                engine.join(p);
                let r = m.connected(endpoint, p, "Điểm cầu mới", kind, now);
                if r.is_err() {
                    engine.leave(p);
                }
                r.map_err(|e| e.to_string())
            }
            2 => {
                let ps: Vec<ParticipantId> = engine.connected.iter().copied().collect();
                let p = if ps.is_empty() || rng.chance(5) {
                    9_999
                } else {
                    let mut ps = ps;
                    ps.sort_unstable();
                    *rng.pick(&ps)
                };
                engine.leave(p);
                Ok(m.disconnected(p, now))
            }
            3 => m
                .mute(&e, rng.opt_bool(), rng.opt_bool())
                .map_err(|e| e.to_string()),
            4 => Ok(if rng.chance(50) {
                m.mute_all_except_stage(rng.chance(80))
            } else {
                m.unmute_all()
            }),
            5 => m
                .set_stage(some_endpoints(&mut rng))
                .map_err(|e| e.to_string()),
            6 => {
                let dwell = *rng.pick(&[1_000, 5_000, 15_000, 60_000, 700_000]);
                m.start_scan(some_endpoints(&mut rng), dwell, now)
                    .map_err(|e| e.to_string())
            }
            7 => Ok(m.stop_scan()),
            8 => m.request_floor(&e, now).map_err(|e| e.to_string()),
            9 => m.withdraw_floor(&e).map_err(|e| e.to_string()),
            10 => {
                let mut order: Vec<String> = snap_before
                    .floor
                    .queue
                    .iter()
                    .map(|q| q.endpoint_id.clone())
                    .collect();
                for k in (1..order.len()).rev() {
                    order.swap(k, rng.below(k + 1));
                }
                match rng.below(4) {
                    0 => order.push(e.clone()),
                    1 => {
                        order.pop();
                    }
                    _ => {}
                }
                m.reorder_floor(order).map_err(|e| e.to_string())
            }
            11 => {
                let limit = *rng.pick(&[None, Some(500), Some(40_000), Some(120_000)]);
                m.grant_floor(&e, limit, now).map_err(|e| e.to_string())
            }
            12 => m.revoke_floor(now).map_err(|e| e.to_string()),
            13 => Ok(if rng.chance(30) { m.lock() } else { m.unlock() }),
            14 => m.remove(&e).map_err(|e| e.to_string()),
            15 => m.readmit(&e).map_err(|e| e.to_string()),
            16 => {
                let s = *rng.pick(&Scene::ALL);
                Ok(m.apply_scene(s, now))
            }
            17 => {
                let n = *rng.pick(&[0, 5, 12, 10_000, 10_001]);
                m.confirm_headcount(&e, n, "thư ký")
                    .map_err(|e| e.to_string())
            }
            18 if rng.chance(3) => Ok(m.resync()),
            19 => Ok(m.set_mute_on_entry(rng.chance(50))),
            _ => Ok(m.tick(now)),
        };
        match result {
            Ok(fx) => {
                engine.apply(&fx, &ctx);
                console.apply(&fx);
            }
            Err(why) => {
                assert_eq!(
                    m.snapshot(now),
                    snap_before,
                    "{ctx}: error {why} changed state"
                );
                assert!(!why.is_empty());
            }
        }
        check_state(&m, &engine, now, &ctx);
        assert_eq!(
            console,
            ConsoleModel::from_snapshot(&m.snapshot(now)),
            "{ctx}: the console drifted from the state"
        );
    }
}

#[test]
fn random_operations_keep_the_invariants() {
    for seed in 1..=200u64 {
        run(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, 300);
    }
}
