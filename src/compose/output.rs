//! One meeting's composite: the engine's tapped packets in (every
//! published track; the stage video's owner names the stage), each input
//! depacketized and decoded once, the program mix beside it; drawn and
//! encoded once per layout its outputs show (`render`), the pictures handed
//! to the outputs that show that layout (`sinks`: HLS, the recording, SIP
//! rooms, hall screens). Driven by the composer thread with its clock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use super::ComposeConfig;
use super::codec::{H264Decoder, Vp8Decoder, avcc_to_annex_b};
use super::frame::Frame;
use super::layout::{Layout, Layouts, OutputKind};
use super::render::Render;
use super::service::{Picture, Sound};
use super::sinks::{FeedSink, HlsSink, Recorded, RecordingFile};
use crate::media::tap::{TapCodec, TapStream, Tapped};
use crate::media::{ParticipantId, TrackId};
use crate::record::depack::{Depacketizer, H264Depacketizer, Vp8Depacketizer};
use crate::record::{MixOptions, MixedFrame, Mixer, RtpPacket};

enum Input {
    Vp8(Vp8Depacketizer, Vp8Decoder),
    H264(H264Depacketizer, H264Decoder),
}

impl Input {
    fn new(codec: TapCodec) -> Option<Result<Input, super::codec::CodecError>> {
        Some(match codec {
            TapCodec::Vp8 => Vp8Decoder::new().map(|d| Input::Vp8(Vp8Depacketizer::new(), d)),
            TapCodec::H264 => H264Decoder::new().map(|d| Input::H264(H264Depacketizer::new(), d)),
            TapCodec::Opus => return None,
        })
    }

    fn needs_keyframe(&self) -> bool {
        match self {
            Input::Vp8(d, _) => d.needs_keyframe(),
            Input::H264(d, _) => d.needs_keyframe(),
        }
    }
}

/// One input track: decoded only while its site is in a tile (a province
/// meeting has 150 rooms and a 1+7 layout shows eight); a site that comes
/// into view starts again from a keyframe it asks for.
struct Track {
    owner: ParticipantId,
    codec: TapCodec,
    /// `None` while out of view (no decoder state kept).
    input: Option<Input>,
    last_request: Option<Instant>,
}

/// A keyframe request is repeated no sooner than this (the engine paces
/// its PLIs too; this keeps the composer from flooding its queue).
const KEYFRAME_REQUEST_GAP: std::time::Duration = std::time::Duration::from_millis(500);

/// What an output counted, for /metrics and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputStats {
    pub frames_in: u64,
    pub decode_errors: u64,
    /// Pictures encoded, all layouts together.
    pub frames_out: u64,
    pub segments: u64,
    /// Encodings running now (one per layout in use).
    pub encodings: u64,
}

/// The channels live consumers read (made by the composer's handle, so a
/// consumer subscribes before the thread has the output).
#[derive(Clone)]
pub struct Feeds {
    pub rooms: tokio::sync::broadcast::Sender<Arc<Picture>>,
    pub screen: tokio::sync::broadcast::Sender<Arc<Picture>>,
    pub sound: tokio::sync::broadcast::Sender<Arc<Sound>>,
}

impl Default for Feeds {
    fn default() -> Feeds {
        Feeds::new()
    }
}

impl Feeds {
    pub fn new() -> Feeds {
        Feeds {
            rooms: tokio::sync::broadcast::channel(super::service::PICTURE_QUEUE).0,
            screen: tokio::sync::broadcast::channel(super::service::PICTURE_QUEUE).0,
            sound: tokio::sync::broadcast::channel(super::service::SOUND_QUEUE).0,
        }
    }

    pub fn unused(&self) -> bool {
        self.rooms.receiver_count() + self.screen.receiver_count() + self.sound.receiver_count()
            == 0
    }
}

pub struct Output {
    cfg: ComposeConfig,
    layouts: Layouts,
    inputs: HashMap<TrackId, Track>,
    /// Sites in a tile of some encoding now (their video is decoded).
    placed: HashSet<ParticipantId>,
    /// Tracks whose keyframe the composer asks the engine for.
    pub keyframe_wanted: Vec<TrackId>,
    /// The layer of each track in view that fills its largest tile
    /// (`layers`), when that changed: the composer asks the engine for them.
    pub layers_wanted: Option<Vec<(TrackId, u8)>>,
    layers: super::layers::LayerWishes,
    /// Tracks the engine taps at the composite's own layer: their
    /// recording's packets are not decoded.
    own_layer: HashSet<TrackId>,
    audio_owner: HashMap<TrackId, ParticipantId>,
    names: Vec<(ParticipantId, String)>,
    stage_owner: Option<ParticipantId>,
    speaker: Option<ParticipantId>,
    page: Option<Frame>,
    /// One per layout in use by an active output.
    renders: Vec<Render>,
    /// The encoding each active output took its pictures from.
    served: HashMap<OutputKind, Option<Layout>>,
    mixer: Option<Mixer>,
    mixed: Vec<MixedFrame>,
    t0: Instant,
    ticks: u64,
    pub stats: OutputStats,
    /// Served as HLS while `Some`.
    pub hls: Option<HlsSink>,
    recording: Option<RecordingFile>,
    rooms: FeedSink,
    screen: FeedSink,
    sound: tokio::sync::broadcast::Sender<Arc<Sound>>,
}

impl Output {
    pub fn new(cfg: ComposeConfig, layouts: Layouts, feeds: Feeds, now: Instant) -> Output {
        Output {
            layouts,
            inputs: HashMap::new(),
            placed: Default::default(),
            keyframe_wanted: Vec::new(),
            layers_wanted: None,
            layers: Default::default(),
            own_layer: Default::default(),
            audio_owner: HashMap::new(),
            names: Vec::new(),
            stage_owner: None,
            speaker: None,
            page: None,
            renders: Vec::new(),
            served: HashMap::new(),
            mixer: Mixer::new(MixOptions::default())
                .map_err(|e| tracing::error!(error = %e, "composite without sound"))
                .ok(),
            mixed: Vec::new(),
            t0: now,
            ticks: 0,
            stats: OutputStats::default(),
            hls: None,
            recording: None,
            rooms: FeedSink::new(feeds.rooms),
            screen: FeedSink::new(feeds.screen),
            sound: feeds.sound,
            cfg,
        }
    }

    pub fn active(&self, kind: OutputKind) -> bool {
        match kind {
            OutputKind::Stream => self.hls.is_some(),
            OutputKind::Recording => self.recording.is_some(),
            OutputKind::Rooms => self.rooms.active(),
            OutputKind::Screen => self.screen.active(),
        }
    }

    /// Nothing takes its pictures: the composer drops it.
    pub fn idle(&self) -> bool {
        !OutputKind::ALL.into_iter().any(|k| self.active(k))
    }

    pub fn layouts(&self) -> Layouts {
        self.layouts
    }

    pub fn set_layouts(&mut self, layouts: Layouts) {
        self.layouts = layouts;
        self.sync_renders();
    }

    /// One encoding per layout an active output shows; an output whose
    /// layout's encoding changed waits for its keyframe (asked now).
    fn sync_renders(&mut self) {
        let active: Vec<OutputKind> = OutputKind::ALL
            .into_iter()
            .filter(|k| self.active(*k))
            .collect();
        let mut wanted: Vec<Option<Layout>> = Vec::new();
        for k in &active {
            let l = self.layouts.of(*k);
            if !wanted.contains(&l) {
                wanted.push(l);
            }
        }
        self.renders.retain(|r| wanted.contains(&r.layout));
        for l in wanted {
            if self.renders.iter().any(|r| r.layout == l) {
                continue;
            }
            match Render::new(&self.cfg, l) {
                Ok(mut r) => {
                    let scene = r.scene();
                    scene.set_sites(&self.names);
                    if let Some(o) = self.stage_owner {
                        scene.set_stage(&[o]);
                    }
                    scene.set_speaker(self.speaker);
                    scene.set_page(self.page.clone());
                    if let Some(first) = self.renders.first() {
                        r.scene().copy_pictures(first.scene_ref());
                    }
                    self.renders.push(r);
                }
                Err(e) => tracing::error!(error = %e, "a composite layout could not start"),
            }
        }
        self.stats.encodings = self.renders.len() as u64;
        self.served.retain(|k, _| active.contains(k));
        for k in active {
            let l = self.layouts.of(k);
            if self.served.get(&k) == Some(&l) {
                continue;
            }
            self.served.insert(k, l);
            match k {
                OutputKind::Stream => {
                    if let Some(h) = self.hls.as_mut() {
                        h.waiting_key = true;
                    }
                }
                OutputKind::Recording => {
                    if let Some(r) = self.recording.as_mut() {
                        r.waiting_key = true;
                    }
                }
                OutputKind::Rooms => self.rooms.waiting_key = true,
                OutputKind::Screen => self.screen.waiting_key = true,
            }
            if let Some(r) = self.renders.iter_mut().find(|r| r.layout == l) {
                r.force_keyframe();
            }
        }
        self.placed = self
            .placements_in_view()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
    }

    /// (site, tile height) of every tile of every encoding.
    fn placements_in_view(&self) -> Vec<(ParticipantId, u32)> {
        self.renders
            .iter()
            .flat_map(|r| r.placements())
            .map(|p| (p.site, p.tile.h))
            .collect()
    }

    /// Start the HLS stream (from the next keyframe of its layout).
    pub fn start_stream(&mut self) -> Arc<std::sync::Mutex<super::hls::Stream>> {
        let h = self.hls.get_or_insert_with(|| HlsSink::new(&self.cfg));
        let stream = h.stream.clone();
        self.sync_renders();
        stream
    }

    /// The HLS side ends (its last segment out, the playlist closed).
    pub fn end_stream(&mut self) {
        if let Some(mut h) = self.hls.take() {
            h.end();
        }
        self.sync_renders();
    }

    pub fn recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Start writing the composite to `path` (from the next keyframe).
    pub fn record_to(&mut self, path: std::path::PathBuf) {
        self.recording = RecordingFile::create(path, self.ms(Instant::now()));
        self.sync_renders();
    }

    /// Close the composite recording (its cues written).
    pub fn stop_recording(&mut self) -> Option<Recorded> {
        let r = self.recording.take()?.finish();
        self.sync_renders();
        Some(r)
    }

    /// A live consumer (a SIP room's call, a meeting's hall-screen feed)
    /// takes `kind`'s pictures, or stops.
    pub fn attach(&mut self, kind: OutputKind, on: bool) {
        let feed = match kind {
            OutputKind::Rooms => &mut self.rooms,
            OutputKind::Screen => &mut self.screen,
            _ => return,
        };
        if on {
            feed.users += 1;
        } else {
            feed.users = feed.users.saturating_sub(1);
        }
        self.sync_renders();
    }

    /// Live consumers attached, all kinds.
    pub fn users(&self) -> usize {
        self.rooms.users + self.screen.users
    }

    /// `kind`'s consumer lost a picture or just joined: its encoding's
    /// next picture is a keyframe (merged, at most one a second).
    pub fn request_keyframe(&mut self, kind: OutputKind, now: Instant) {
        let l = self.layouts.of(kind);
        if let Some(r) = self.renders.iter_mut().find(|r| r.layout == l) {
            r.ask_keyframe(now);
        }
    }

    pub fn set_page(&mut self, page: Option<Frame>) {
        for r in &mut self.renders {
            r.scene().set_page(page.clone());
        }
        self.page = page;
    }

    /// A site joined (or was renamed) or left the room.
    pub fn site(&mut self, participant: ParticipantId, name: Option<String>) {
        self.names.retain(|(p, _)| *p != participant);
        if let Some(n) = name {
            self.names.push((participant, n));
        } else {
            for (id, _) in self.inputs.iter().filter(|(_, t)| t.owner == participant) {
                self.layers.forget(*id);
                self.own_layer.remove(id);
            }
            self.inputs.retain(|_, t| t.owner != participant);
            self.audio_owner.retain(|_, o| *o != participant);
        }
        for r in &mut self.renders {
            r.scene().set_sites(&self.names);
        }
        self.fit();
    }

    pub fn speaker(&mut self, participant: Option<ParticipantId>) {
        self.speaker = participant;
        for r in &mut self.renders {
            r.scene().set_speaker(participant);
        }
    }

    /// Each encoding's automatic layout follows the sites with video.
    fn fit(&mut self) {
        let with_video: HashSet<ParticipantId> = self.inputs.values().map(|t| t.owner).collect();
        for r in &mut self.renders {
            r.fit(with_video.len());
        }
        self.placed = self
            .placements_in_view()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
    }

    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.t0).as_millis() as u64
    }

    pub fn packet(&mut self, t: &Tapped) {
        let pkt = RtpPacket {
            seq: t.seq as u16,
            timestamp: t.ts,
            marker: t.marker,
            payload: &t.payload,
        };
        match t.stream {
            TapStream::ProgramVideo => {
                // Whose picture the engine's stage shows: the stage tile's.
                if self.stage_owner != Some(t.owner) {
                    self.stage_owner = Some(t.owner);
                    for r in &mut self.renders {
                        r.scene().set_stage(&[t.owner]);
                    }
                    self.force_stage_audio();
                }
            }
            TapStream::Track(track) if !t.video => {
                if self.audio_owner.insert(track, t.owner).is_none() {
                    self.force_stage_audio();
                }
                let at = self.ms(t.at);
                if let Some(m) = self.mixer.as_mut() {
                    m.push(u64::from(track), at, t.ts, t.audio_level, &t.payload);
                }
            }
            TapStream::Composite(track) => {
                self.own_layer.insert(track);
                self.video(track, t, &pkt);
            }
            // Tapped at the composite's own layer: the best one is the
            // recording's, not decoded here.
            TapStream::Track(track) if self.own_layer.contains(&track) => {}
            TapStream::Track(track) => self.video(track, t, &pkt),
        }
    }

    fn video(&mut self, track: TrackId, t: &Tapped, pkt: &RtpPacket<'_>) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.inputs.entry(track) {
            if matches!(t.codec, TapCodec::Opus) {
                return;
            }
            slot.insert(Track {
                owner: t.owner,
                codec: t.codec,
                input: None,
                last_request: None,
            });
            self.fit();
        }
        let placed = self.placed.contains(&t.owner);
        let Some(tr) = self.inputs.get_mut(&track) else {
            return;
        };
        if !placed {
            // Out of view: not decoded; its state is dropped.
            tr.input = None;
            return;
        }
        if tr.input.is_none() {
            match Input::new(tr.codec) {
                Some(Ok(i)) => tr.input = Some(i),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "a composite input has no decoder");
                    return;
                }
                None => return,
            }
        }
        let Some(input) = tr.input.as_mut() else {
            return;
        };
        let decoded = match input {
            Input::Vp8(depack, dec) => depack.push(pkt).map(|f| dec.decode(&f.data)),
            Input::H264(depack, dec) => match depack.push(pkt) {
                Some(f) => {
                    let params = if f.keyframe {
                        depack.param_sets()
                    } else {
                        None
                    };
                    avcc_to_annex_b(&f.data, params).map(|a| dec.decode(&a))
                }
                None => None,
            },
        };
        // A new view or a lost packet: the depacketizer waits for a
        // keyframe; ask the publisher for one (paced).
        if input.needs_keyframe()
            && tr
                .last_request
                .is_none_or(|r| t.at.saturating_duration_since(r) >= KEYFRAME_REQUEST_GAP)
        {
            tr.last_request = Some(t.at);
            self.keyframe_wanted.push(track);
        }
        let owner = tr.owner;
        match decoded {
            Some(Ok(Some(frame))) => {
                self.stats.frames_in += 1;
                self.layers.decoded(track, t.layer, frame.height);
                // Decoded once, drawn by every encoding that shows it.
                if let Some((last, rest)) = self.renders.split_last_mut() {
                    for r in rest {
                        r.scene().on_frame(owner, frame.clone(), t.at);
                    }
                    last.scene().on_frame(owner, frame, t.at);
                }
            }
            Some(Err(e)) => {
                // Garbage or a lost reference: that tile holds its last
                // picture (and goes "mất tín hiệu" if it lasts).
                self.stats.decode_errors += 1;
                tracing::debug!(error = %e, "a composite input did not decode");
            }
            _ => {}
        }
    }

    fn force_stage_audio(&mut self) {
        let Some(m) = self.mixer.as_mut() else { return };
        let keys: Vec<u64> = self
            .audio_owner
            .iter()
            .filter(|(_, o)| Some(**o) == self.stage_owner)
            .map(|(t, _)| u64::from(*t))
            .collect();
        m.set_forced(&keys);
    }

    /// One picture per encoding at `now`, and the sound up to it.
    pub fn tick(&mut self, now: Instant) {
        self.ticks += 1;
        let at = self.ms(now);
        if let Some(m) = self.mixer.as_mut() {
            m.poll(at, &mut self.mixed);
        }
        for f in std::mem::take(&mut self.mixed) {
            if let Some(r) = self.recording.as_mut() {
                r.audio(f.at_ms, &f.opus);
            }
            if self.sound.receiver_count() > 0 {
                let _ = self.sound.send(Arc::new(Sound {
                    opus: f.opus.clone(),
                    at_ms: f.at_ms,
                }));
            }
            if let Some(h) = self.hls.as_mut() {
                h.audio(f.opus);
            }
        }
        self.fit();
        // Each site in view at the smallest layer that fills its largest
        // tile in any encoding.
        let mut tallest: HashMap<ParticipantId, u32> = HashMap::new();
        for (site, h) in self.placements_in_view() {
            let e = tallest.entry(site).or_default();
            *e = (*e).max(h);
        }
        let in_view: Vec<(TrackId, u32)> = self
            .inputs
            .iter()
            .filter_map(|(id, t)| tallest.get(&t.owner).map(|h| (*id, *h)))
            .collect();
        // Every five seconds whatever changed (see `LayerWishes::resend`).
        if self.ticks.is_multiple_of(u64::from(self.cfg.fps * 5)) {
            self.layers.resend();
        }
        if let Some(w) = self.layers.update(&in_view) {
            self.layers_wanted = Some(w);
        }
        let (w, h) = (self.cfg.width, self.cfg.height);
        for r in &mut self.renders {
            let Some(e) = r.picture(now) else { continue };
            self.stats.frames_out += 1;
            let shows = |k: OutputKind| self.layouts.of(k) == r.layout;
            if shows(OutputKind::Stream)
                && let Some(hls) = self.hls.as_mut()
                && hls.picture(&e).is_some()
            {
                self.stats.segments += 1;
            }
            if shows(OutputKind::Recording)
                && let Some(rec) = self.recording.as_mut()
            {
                rec.picture(at, &e, w, h);
            }
            // One shared picture for the SIP rooms and the screens.
            let mut shared: Option<Arc<Picture>> = None;
            let mut make = || {
                shared
                    .get_or_insert_with(|| {
                        Arc::new(Picture {
                            annex_b: e.annex_b.clone(),
                            keyframe: e.key,
                            // The output's clock at 90 kHz: continuous
                            // across a change of layout.
                            ts: (at * 90) as u32,
                            at_ms: at,
                        })
                    })
                    .clone()
            };
            if shows(OutputKind::Rooms) && self.rooms.active() {
                self.rooms.send(e.key, &mut make);
            }
            if shows(OutputKind::Screen) && self.screen.active() {
                self.screen.send(e.key, &mut make);
            }
        }
    }

    /// The output stops: a recording closed, the stream ended.
    pub fn finish(&mut self) {
        self.stop_recording();
        self.end_stream();
    }
}
