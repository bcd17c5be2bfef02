//! The running side of live meeting control: one [`LiveMeeting`] per open
//! meeting, its effects carried out (media commands to the engine, events
//! to the consoles' WebSocket stream), and the ticker that drives lecture
//! scans and speaking timers.
//!
//! Every [`LINK_SAMPLE_MS`] a sampler reads the engine's link measurements
//! of each live room, names them by endpoint and lets
//! `control::live::LinkMonitor` keep five minutes of them and judge
//! degradation; the consoles get `link_stats`, `link_degraded` and
//! `link_recovered` on the same stream.
//!
//! `control::live` decides; this module only applies. Each room's state
//! sits behind an async mutex held while its effects are sent, so two
//! operator actions reach the engine in the order they were decided (a
//! stage set after a scan started must not be overtaken by it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::broadcast;

use crate::control::live::{
    Effect, LINK_SAMPLE_MS, LinkAlert, LinkMeasure, LinkMonitor, LinksView, LiveError, LiveEvent,
    LiveMeeting, MediaAction, MediaCounters, QualityLog, QualitySummary,
};
use crate::media::{Command, ParticipantId, ParticipantStats};
use crate::net::Media;
use crate::signal::event::{LinkStat, MeetingEvent, Published, ServerEvent};

/// Events buffered per console; one that falls further behind gets a
/// `resync` and the snapshot again rather than slowing anyone.
const CONSOLE_QUEUE: usize = 1024;
/// How often scans and speaking timers are checked: well inside the 1 s
/// budget for a console to see a change.
const TICK: Duration = Duration::from_millis(200);

/// One open meeting's live state and its event stream.
pub struct LiveRoom {
    pub meeting: String,
    state: tokio::sync::Mutex<LiveMeeting>,
    events: broadcast::Sender<Arc<Published>>,
    seq: AtomicU64,
    /// Link history per endpoint; only the sampler writes it, under the
    /// state lock (so its events keep their place in the sequence).
    links: Mutex<LinkMonitor>,
    /// The same samples added up over the whole meeting (stored when it
    /// ends).
    quality: Mutex<QualityLog>,
}

impl LiveRoom {
    /// Subscribe to the event stream; the snapshot is taken under the same
    /// lock, so no event falls between it and the first one received.
    pub async fn subscribe(
        &self,
        now_ms: u64,
    ) -> (serde_json::Value, broadcast::Receiver<Arc<Published>>) {
        let state = self.state.lock().await;
        let rx = self.events.subscribe();
        let snapshot = json!({
            "type": "snapshot",
            "seq": self.seq.load(Ordering::Relaxed),
            "meeting": self.meeting,
            "state": state.snapshot(now_ms),
        });
        (snapshot, rx)
    }

    /// Read the state without changing it.
    pub async fn read<T>(&self, f: impl FnOnce(&LiveMeeting) -> T) -> T {
        f(&*self.state.lock().await)
    }

    /// Each room's link over the meeting so far.
    pub async fn quality_now(&self) -> Vec<QualitySummary> {
        let state = self.state.lock().await;
        let rc = state.roll_call(0);
        let drops = rc
            .sites
            .iter()
            .chain(rc.guests.iter())
            .map(|s| (s.endpoint_id.clone(), s.drops))
            .collect();
        self.quality.lock().expect("quality lock").summary(&drops)
    }

    /// Every endpoint's link history (the last five minutes).
    pub fn links(&self, now_ms: u64) -> LinksView {
        self.links.lock().expect("links lock").view(now_ms)
    }
}

/// Every open meeting's live room.
pub struct LiveRooms {
    rooms: Mutex<HashMap<String, Arc<LiveRoom>>>,
    media: Media,
    /// The composite's thread (`None` in tests that need no stream).
    composer: Option<crate::compose::Composer>,
    /// The SIP listener's dial-out, once it runs (`[sip]`).
    dialer: std::sync::OnceLock<crate::sip::dialout::Dialer>,
    epoch: Instant,
}

impl LiveRooms {
    pub fn new(media: Media, composer: Option<crate::compose::Composer>) -> Arc<LiveRooms> {
        Arc::new(LiveRooms {
            rooms: Mutex::new(HashMap::new()),
            media,
            composer,
            dialer: std::sync::OnceLock::new(),
            epoch: Instant::now(),
        })
    }

    /// Milliseconds on this process's monotonic clock (live state's time).
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The composite's thread, when this server runs one.
    pub fn composer(&self) -> Option<&crate::compose::Composer> {
        self.composer.as_ref()
    }

    /// The SIP listener hands over its dial-out as it starts.
    pub fn set_dialer(&self, dialer: crate::sip::dialout::Dialer) {
        let _ = self.dialer.set(dialer);
    }

    /// Dial-out, when SIP is on.
    pub fn dialer(&self) -> Option<&crate::sip::dialout::Dialer> {
        self.dialer.get()
    }

    pub fn get(&self, meeting: &str) -> Option<Arc<LiveRoom>> {
        self.rooms.lock().expect("live rooms").get(meeting).cloned()
    }

    /// The room of `meeting`, made from `make` when it is not open yet.
    pub fn open_with(&self, meeting: &str, make: impl FnOnce() -> LiveMeeting) -> Arc<LiveRoom> {
        self.rooms
            .lock()
            .expect("live rooms")
            .entry(meeting.to_string())
            .or_insert_with(|| {
                Arc::new(LiveRoom {
                    meeting: meeting.to_string(),
                    state: tokio::sync::Mutex::new(make()),
                    events: broadcast::channel(CONSOLE_QUEUE).0,
                    seq: AtomicU64::new(0),
                    links: Mutex::new(LinkMonitor::new()),
                    quality: Mutex::new(QualityLog::new()),
                })
            })
            .clone()
    }

    /// Close a meeting's room: every participant is sent away and consoles
    /// get `meeting_closed`. Returns each room's link over the meeting (to
    /// be stored), empty when no room was open.
    pub async fn close(
        &self,
        meeting: &str,
        participants: &[ParticipantId],
        reason: &str,
    ) -> Vec<QualitySummary> {
        let room = self.rooms.lock().expect("live rooms").remove(meeting);
        for &p in participants {
            let _ = self
                .media
                .participant_command(p, Command::Leave { participant: p })
                .await;
        }
        let Some(room) = room else {
            return Vec::new();
        };
        let state = room.state.lock().await;
        if state.streaming() {
            // The stream ends with its meeting: players see the playlist end.
            self.stream(meeting, None).await;
        }
        publish(
            &room,
            ServerEvent::MeetingClosed {
                reason: reason.to_string(),
            },
        );
        let rc = state.roll_call(self.now_ms());
        let drops = rc
            .sites
            .iter()
            .chain(rc.guests.iter())
            .map(|s| (s.endpoint_id.clone(), s.drops))
            .collect();
        room.quality.lock().expect("quality lock").summary(&drops)
    }

    /// Run `f` on the meeting's live state and carry out its effects, in
    /// order, before the next action on the same room may start.
    pub async fn apply<T>(
        &self,
        room: &LiveRoom,
        f: impl FnOnce(&mut LiveMeeting, u64) -> Result<(T, Vec<Effect>), LiveError>,
    ) -> Result<T, LiveError> {
        let mut state = room.state.lock().await;
        let (out, effects) = f(&mut state, self.now_ms())?;
        self.carry_out(room, effects).await;
        drop(state);
        Ok(out)
    }

    /// Like [`LiveRooms::apply`], but the effects go out only once `audit`
    /// has recorded them: the decision is taken on a copy of the state,
    /// and an action whose audit record cannot be written changes nothing
    /// (neither the state nor the engine). The room stays locked across
    /// the write, so actions on it are still carried out in order.
    pub async fn apply_audited<T, E, Fut>(
        &self,
        room: &LiveRoom,
        f: impl FnOnce(&mut LiveMeeting, u64) -> Result<(T, Vec<Effect>), LiveError>,
        audit: impl FnOnce(&[Effect]) -> Fut,
    ) -> Result<Result<T, E>, LiveError>
    where
        Fut: std::future::Future<Output = Result<(), E>>,
    {
        let mut state = room.state.lock().await;
        let mut next = state.clone();
        let (out, effects) = f(&mut next, self.now_ms())?;
        if let Err(e) = audit(&effects).await {
            return Ok(Err(e));
        }
        *state = next;
        self.carry_out(room, effects).await;
        drop(state);
        Ok(Ok(out))
    }

    async fn carry_out(&self, room: &LiveRoom, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Event(ev) => publish_event(room, &ev),
                Effect::Stream(order) => self.stream(&room.meeting, order).await,
                Effect::Layouts(layouts) => {
                    if let Some(c) = &self.composer {
                        c.set_layouts(&room.meeting, layouts);
                    }
                }
                Effect::SipCall(endpoint) => {
                    if let Some(d) = self.dialer.get() {
                        d.order(crate::sip::dialout::DialOrder::Room {
                            meeting: room.meeting.clone(),
                            endpoint,
                        });
                    }
                }
                Effect::Media(action) => {
                    let result = match action {
                        MediaAction::SetStage(participants) => {
                            self.media
                                .room_command(
                                    &room.meeting,
                                    Command::SetStage {
                                        room: room.meeting.clone(),
                                        participants,
                                    },
                                )
                                .await
                        }
                        MediaAction::StageVoice(on) => {
                            self.media
                                .room_command(
                                    &room.meeting,
                                    Command::StageVoice {
                                        room: room.meeting.clone(),
                                        on,
                                    },
                                )
                                .await
                        }
                        MediaAction::Mute {
                            participant,
                            audio,
                            video,
                        } => {
                            self.media
                                .participant_command(
                                    participant,
                                    Command::Mute {
                                        participant,
                                        audio,
                                        video,
                                        by_operator: true,
                                    },
                                )
                                .await
                        }
                        MediaAction::PinThumbs { relay, sources } => {
                            self.media
                                .participant_command(
                                    relay,
                                    Command::PinThumbs {
                                        participant: relay,
                                        sources,
                                    },
                                )
                                .await
                        }
                        MediaAction::Remove { participant } => {
                            self.media
                                .participant_command(participant, Command::Leave { participant })
                                .await
                        }
                    };
                    // A participant that left a moment ago is not an error
                    // worth failing the operator's action for: its
                    // `disconnected` is already on its way.
                    if let Err(e) = result {
                        tracing::debug!(meeting = %room.meeting, error = %e, "live effect not applied");
                    }
                }
            }
        }
    }

    /// Start, re-lay or stop the composite stream: the composer first
    /// (it must list the room before the taps' tee asks), then the taps.
    async fn stream(&self, meeting: &str, order: Option<crate::control::live::StreamOrder>) {
        let Some(composer) = &self.composer else {
            return;
        };
        let on = order.is_some();
        match order {
            Some(o) => composer.begin(meeting, o.layouts, o.sites),
            None => composer.end(meeting),
        }
        if let Err(e) = self
            .media
            .tap(meeting, crate::net::TapUser::LiveStream, on)
            .await
        {
            tracing::warn!(%meeting, error = %e, "live stream taps not changed");
        }
    }

    /// Tell a meeting's consoles something that is not live state (the
    /// meeting started, its plan changed), in order with its events.
    pub async fn announce(&self, meeting: &str, event: ServerEvent) {
        if let Some(room) = self.get(meeting) {
            let mut state = room.state.lock().await;
            if let ServerEvent::SipCall { endpoint_id, call } = &event {
                // Kept for the snapshot of a console that opens later.
                let call = serde_json::to_value(call).unwrap_or_default();
                state.note_sip_call(endpoint_id, call);
            }
            publish(&room, event);
        }
    }

    /// A participant left the engine (hangup, timeout, removal).
    pub async fn disconnected(&self, meeting: &str, participant: ParticipantId) {
        if let Some(room) = self.get(meeting) {
            let _ = self
                .apply(&room, |live, now| {
                    Ok(((), live.disconnected(participant, now)))
                })
                .await;
        }
    }

    /// Drive scans and speaking timers until the process ends; start the
    /// link sampler beside it.
    pub async fn run_ticker(self: Arc<Self>) {
        tokio::spawn(self.clone().run_link_sampler());
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            let rooms: Vec<Arc<LiveRoom>> = self
                .rooms
                .lock()
                .expect("live rooms")
                .values()
                .cloned()
                .collect();
            for room in rooms {
                let _ = self
                    .apply(&room, |live, now| Ok(((), live.tick(now))))
                    .await;
            }
        }
    }
}

impl LiveRooms {
    /// Sample every live room's links until the process ends.
    async fn run_link_sampler(self: Arc<Self>) {
        let mut every = tokio::time::interval(Duration::from_millis(LINK_SAMPLE_MS));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            let rooms: Vec<Arc<LiveRoom>> = self
                .rooms
                .lock()
                .expect("live rooms")
                .values()
                .cloned()
                .collect();
            if rooms.is_empty() {
                continue;
            }
            let engines = self.media.stats().await;
            // A worker too busy to answer would make its rooms look gone
            // (and clear their alerts): skip the round instead.
            if engines.len() < self.media.workers() {
                tracing::debug!("link sampling skipped: a media worker did not answer");
                continue;
            }
            let stats: Vec<ParticipantStats> =
                engines.into_iter().flat_map(|s| s.participants).collect();
            for room in rooms {
                self.sample_links(&room, &stats).await;
            }
        }
    }

    async fn sample_links(&self, room: &LiveRoom, stats: &[ParticipantStats]) {
        let state = room.state.lock().await;
        let now = self.now_ms();
        let measures: Vec<LinkMeasure> = stats
            .iter()
            .filter(|p| p.connected && p.room == room.meeting)
            .filter_map(|p| {
                Some(LinkMeasure {
                    endpoint_id: state.endpoint_of(p.participant)?.to_string(),
                    bitrate_in_bps: p.bitrate_in_bps,
                    loss_in_permille: p.loss_in_permille,
                    loss_out_permille: p.loss_out_permille,
                    rtt_ms: p.rtt_ms,
                    bwe_bps: p.bwe_bps,
                    session: p.participant,
                    jitter_ms: p.jitter_ms,
                    media: MediaCounters {
                        audio_expected: p.audio_frames_expected,
                        audio_received: p.audio_frames_received,
                        video_freezes: p.video_freezes,
                        video_freeze_ms: p.video_freeze_ms,
                        stage_layer_ms: p.stage_layer_ms,
                    },
                })
            })
            .collect();
        room.quality
            .lock()
            .expect("quality lock")
            .add(crate::store::now_ms(), &measures);
        let (samples, alerts) = room
            .links
            .lock()
            .expect("links lock")
            .sample(now, &measures);
        if !samples.is_empty() {
            // Which endpoints run over ICE-TCP (the wall and the readiness
            // board mark them "TCP": their UDP is blocked).
            let tcp: std::collections::HashSet<&str> = stats
                .iter()
                .filter(|p| p.connected && p.tcp && p.room == room.meeting)
                .filter_map(|p| state.endpoint_of(p.participant))
                .collect();
            let links: Vec<LinkStat> = samples
                .iter()
                .map(|(id, s)| LinkStat {
                    endpoint_id: id.clone(),
                    transport: if tcp.contains(id.as_str()) {
                        "tcp"
                    } else {
                        "udp"
                    },
                    kbps_in: s.kbps_in,
                    loss_in_pct: s.loss_in_pct,
                    loss_out_pct: s.loss_out_pct,
                    rtt_ms: s.rtt_ms,
                    bwe_kbps: s.bwe_kbps,
                })
                .collect();
            publish(room, ServerEvent::LinkStats { t_ms: now, links });
        }
        for alert in alerts {
            publish(
                room,
                match alert {
                    LinkAlert::Degraded {
                        endpoint_id,
                        loss_pct,
                        rtt_ms,
                    } => ServerEvent::LinkDegraded {
                        endpoint_id,
                        loss_pct,
                        rtt_ms,
                    },
                    LinkAlert::Recovered {
                        endpoint_id,
                        connected,
                    } => ServerEvent::LinkRecovered {
                        endpoint_id,
                        connected,
                    },
                },
            );
        }
        drop(state);
    }
}

fn publish_event(room: &LiveRoom, ev: &LiveEvent) {
    publish(room, ev.clone());
}

/// Stamp an event with its sequence number, serialise it once and hand it
/// to every console.
fn publish(room: &LiveRoom, event: impl Into<MeetingEvent>) {
    let seq = room.seq.fetch_add(1, Ordering::Relaxed) + 1;
    match event.into().publish(seq, &room.meeting) {
        // No console listening is fine: the snapshot carries the state.
        Ok(p) => {
            let _ = room.events.send(Arc::new(p));
        }
        Err(e) => tracing::error!(error = %e, "meeting event does not serialize"),
    }
}
