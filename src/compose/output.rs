//! One meeting's composite output: the engine's tapped packets in
//! (every published track; the stage video's owner names the stage), the
//! inputs depacketized and decoded, the scene drawn and encoded once at
//! the output's rate, the program mix beside it, fMP4 segments out to the
//! shared HLS stream. Driven by the composer thread with its clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;

use super::codec::{H264Decoder, H264Encoder, Vp8Decoder, avcc_to_annex_b};
use super::hls::{self, Segmenter, Stream};
use super::layout::Layout;
use super::scene::Scene;
use super::{ComposeConfig, fmp4};
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

/// The composite as a recording's file (`composite.mkv`): opened at the
/// first keyframe after the recording starts (its parameter sets go in the
/// track header), written cluster by cluster — a file cut anywhere plays
/// to its last cluster, as the recorder's own.
struct RecordingFile {
    path: std::path::PathBuf,
    /// Output clock (ms) at which the recording began: the file's zero.
    from_ms: u64,
    writer: Option<crate::record::MkvWriter<std::io::BufWriter<std::fs::File>>>,
    pictures: u64,
    failed: bool,
}

/// What a composite recording wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub file: std::path::PathBuf,
    pub pictures: u64,
    pub duration_ms: u64,
}

/// What an output counted, for /metrics and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputStats {
    pub frames_in: u64,
    pub decode_errors: u64,
    pub frames_out: u64,
    pub segments: u64,
}

pub struct Output {
    cfg: ComposeConfig,
    /// `None`: automatic (the stage alone for one site with video, else 1+7).
    layout: Option<Layout>,
    scene: Scene,
    inputs: HashMap<TrackId, Track>,
    /// Sites in a tile now (their video is decoded).
    placed: std::collections::HashSet<ParticipantId>,
    /// Tracks whose keyframe the composer asks the engine for.
    pub keyframe_wanted: Vec<TrackId>,
    /// The layer of each track in view that fills its tile (`layers`),
    /// when that changed: the composer asks the engine for them.
    pub layers_wanted: Option<Vec<(TrackId, u8)>>,
    layers: super::layers::LayerWishes,
    /// Tracks the engine taps at the composite's own layer: their
    /// recording's packets are not decoded.
    own_layer: std::collections::HashSet<TrackId>,
    audio_owner: HashMap<TrackId, ParticipantId>,
    names: Vec<(ParticipantId, String)>,
    stage_owner: Option<ParticipantId>,
    encoder: H264Encoder,
    segmenter: Segmenter,
    mixer: Option<Mixer>,
    mixed: Vec<MixedFrame>,
    t0: Instant,
    pub stream: Arc<Mutex<Stream>>,
    pub stats: OutputStats,
    /// The SIP rooms' feed of encoded pictures (set by the composer).
    pub pictures: Option<tokio::sync::broadcast::Sender<Arc<super::service::Picture>>>,
    /// The hall screens' feed of the program mix (set by the composer).
    pub sound: Option<tokio::sync::broadcast::Sender<Arc<super::service::Sound>>>,
    /// Served as HLS (an output may exist for a recording alone).
    pub streaming: bool,
    recording: Option<RecordingFile>,
    last_forced_keyframe: Option<Instant>,
}

impl Output {
    pub fn new(
        cfg: ComposeConfig,
        layout: Option<Layout>,
        now: Instant,
    ) -> Result<Output, super::codec::CodecError> {
        let gop = cfg.fps * cfg.segment_s;
        Ok(Output {
            layout,
            scene: Scene::new(layout.unwrap_or(Layout::Stage), cfg.width, cfg.height),
            inputs: HashMap::new(),
            placed: Default::default(),
            keyframe_wanted: Vec::new(),
            layers_wanted: None,
            layers: Default::default(),
            own_layer: Default::default(),
            audio_owner: HashMap::new(),
            names: Vec::new(),
            stage_owner: None,
            encoder: H264Encoder::new(cfg.width, cfg.height, cfg.kbps, cfg.fps, gop)?,
            segmenter: Segmenter::new(cfg.segment_s),
            mixer: Mixer::new(MixOptions::default())
                .map_err(|e| tracing::error!(error = %e, "live stream without sound"))
                .ok(),
            mixed: Vec::new(),
            t0: now,
            stream: Arc::new(Mutex::new(Stream::new(cfg.segment_s))),
            stats: OutputStats::default(),
            pictures: None,
            sound: None,
            streaming: false,
            recording: None,
            last_forced_keyframe: None,
            cfg,
        })
    }

    pub fn recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Start writing the composite to `path` (from the next keyframe,
    /// asked for now).
    pub fn record_to(&mut self, path: std::path::PathBuf) {
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            tracing::error!(error = %e, "the composite recording has no folder");
            return;
        }
        self.recording = Some(RecordingFile {
            path,
            from_ms: self.ms(Instant::now()),
            writer: None,
            pictures: 0,
            failed: false,
        });
        self.last_forced_keyframe = None;
        self.request_keyframe(Instant::now());
    }

    /// Close the composite recording (its cues written).
    pub fn stop_recording(&mut self) -> Option<Recorded> {
        let r = self.recording.take()?;
        let duration_ms = r.writer.as_ref().map_or(0, |w| w.duration_ms());
        if let Some(w) = r.writer {
            // Seekable: the duration is patched in, as the recorder does.
            match w.finish_seekable() {
                Ok(mut f) => {
                    use std::io::Write as _;
                    let _ = f.flush();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the composite recording did not close cleanly")
                }
            }
        }
        Some(Recorded {
            file: r.path,
            pictures: r.pictures,
            duration_ms,
        })
    }

    fn record_video(&mut self, at_ms: u64, sample: &[u8], key: bool, params: Option<&ParamSets>) {
        let (w, h) = (self.cfg.width as u16, self.cfg.height as u16);
        let Some(r) = self.recording.as_mut().filter(|r| !r.failed) else {
            return;
        };
        if r.writer.is_none() {
            let Some((sps, pps)) = params.filter(|_| key) else {
                return;
            };
            let opened = std::fs::File::create(&r.path).and_then(|f| {
                crate::record::MkvWriter::new(
                    std::io::BufWriter::new(f),
                    &[
                        crate::record::TrackSpec::Video {
                            codec: crate::record::Codec::H264,
                            width: w,
                            height: h,
                            codec_private: Some(avc_config(sps, pps)),
                        },
                        crate::record::TrackSpec::Opus { channels: 1 },
                    ],
                )
            });
            match opened {
                Ok(m) => r.writer = Some(m),
                Err(e) => {
                    tracing::error!(error = %e, path = %r.path.display(), "the composite recording did not open");
                    r.failed = true;
                    return;
                }
            }
        }
        let ts = at_ms.saturating_sub(r.from_ms);
        if let Some(wr) = r.writer.as_mut() {
            if let Err(e) = wr.write_frame(1, ts, key, sample) {
                tracing::error!(error = %e, "the composite recording stopped (disk?)");
                r.failed = true;
            } else {
                r.pictures += 1;
            }
        }
    }

    fn record_audio(&mut self, at_ms: u64, opus: &[u8]) {
        if let Some(r) = self.recording.as_mut()
            && let Some(w) = r.writer.as_mut()
            && !r.failed
            && at_ms >= r.from_ms
            && let Err(e) = w.write_frame(2, at_ms - r.from_ms, true, opus)
        {
            tracing::error!(error = %e, "the composite recording stopped (disk?)");
            r.failed = true;
        }
    }

    /// A SIP room lost the picture or just joined: the next picture is a
    /// keyframe — at most one a second, whoever asks, so a dozen codecs
    /// asking at once cost one keyframe.
    pub fn request_keyframe(&mut self, now: Instant) {
        if self
            .last_forced_keyframe
            .is_some_and(|t| now.saturating_duration_since(t) < std::time::Duration::from_secs(1))
        {
            return;
        }
        self.last_forced_keyframe = Some(now);
        self.encoder.force_keyframe();
    }

    pub fn layout(&self) -> Option<Layout> {
        self.layout
    }

    pub fn set_page(&mut self, page: Option<super::frame::Frame>) {
        self.scene.set_page(page);
    }

    pub fn set_layout(&mut self, layout: Option<Layout>) {
        self.layout = layout;
        self.fit_layout();
    }

    fn fit_layout(&mut self) {
        self.fit_layout_only();
        self.placed = self.scene.placements().iter().map(|p| p.site).collect();
    }

    fn fit_layout_only(&mut self) {
        let l = self.layout.unwrap_or_else(|| {
            let with_video: std::collections::HashSet<ParticipantId> =
                self.inputs.values().map(|t| t.owner).collect();
            if with_video.len() > 1 {
                Layout::OnePlus7
            } else {
                Layout::Stage
            }
        });
        if self.scene.layout() != l {
            self.scene.set_layout(l);
        }
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
        self.scene.set_sites(&self.names);
        self.fit_layout();
    }

    pub fn speaker(&mut self, participant: Option<ParticipantId>) {
        self.scene.set_speaker(participant);
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
                    self.scene.set_stage(&[t.owner]);
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
            self.fit_layout();
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
                self.scene.on_frame(owner, frame, t.at);
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

    /// One output picture at `now`, and the sound up to it.
    pub fn tick(&mut self, now: Instant) {
        let at = self.ms(now);
        if let Some(m) = self.mixer.as_mut() {
            m.poll(at, &mut self.mixed);
        }
        for f in std::mem::take(&mut self.mixed) {
            self.record_audio(f.at_ms, &f.opus);
            if let Some(tx) = &self.sound
                && tx.receiver_count() > 0
            {
                let _ = tx.send(Arc::new(super::service::Sound {
                    opus: f.opus.clone(),
                    at_ms: f.at_ms,
                }));
            }
            self.segmenter
                .audio(f.opus, crate::record::mix::FRAME_SAMPLES as u32);
        }
        let placements = self.scene.placements();
        self.placed = placements.iter().map(|p| p.site).collect();
        // Each site in view at the smallest layer that fills its tile.
        let in_view: Vec<(TrackId, u32)> = placements
            .iter()
            .flat_map(|p| {
                self.inputs
                    .iter()
                    .filter(move |(_, t)| t.owner == p.site)
                    .map(move |(id, _)| (*id, p.tile.h))
            })
            .collect();
        // Every five seconds whatever changed (see `LayerWishes::resend`).
        if self
            .stats
            .frames_out
            .is_multiple_of(u64::from(self.cfg.fps * 5))
        {
            self.layers.resend();
        }
        if let Some(w) = self.layers.update(&in_view) {
            self.layers_wanted = Some(w);
        }
        let picture = self.scene.compose(now);
        let (annex_b, key) = match self.encoder.encode(picture) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "the composite did not encode");
                return;
            }
        };
        self.stats.frames_out += 1;
        if let Some(tx) = &self.pictures
            && tx.receiver_count() > 0
        {
            let ts =
                (self.stats.frames_out * u64::from(fmp4::VIDEO_TIMESCALE / self.cfg.fps)) as u32;
            let _ = tx.send(Arc::new(super::service::Picture {
                annex_b: annex_b.clone(),
                keyframe: key,
                ts,
                at_ms: at,
            }));
        }
        let (sample, params) = to_sample(&annex_b);
        self.record_video(at, &sample, key, params.as_ref());
        if key && let Some((sps, pps)) = params {
            let mut s = self.stream.lock().expect("hls lock");
            if s.init.is_none() {
                let avcc = avc_config(&sps, &pps);
                s.init = Some(Bytes::from(fmp4::init_segment(
                    self.cfg.width,
                    self.cfg.height,
                    &avcc,
                )));
            }
        }
        let duration = fmp4::VIDEO_TIMESCALE / self.cfg.fps;
        if let Some(seg) =
            self.segmenter
                .video(sample, duration, key, crate::store::now_ms().max(0) as u64)
        {
            self.stats.segments += 1;
            hls::publish(&mut self.stream.lock().expect("hls lock"), seg);
        }
    }

    /// The output stops: its last segment out, the playlist ended, a
    /// recording closed.
    pub fn finish(&mut self) {
        self.stop_recording();
        self.end_stream();
    }

    /// A fresh HLS stream (the output may have run for a recording alone,
    /// or streamed before and stopped): it starts at the next keyframe.
    pub fn restart_stream(&mut self) {
        self.stream = Arc::new(Mutex::new(Stream::new(self.cfg.segment_s)));
        self.segmenter = Segmenter::new(self.cfg.segment_s);
        self.last_forced_keyframe = None;
        self.request_keyframe(Instant::now());
    }

    /// The HLS side ends (the output may go on for a recording).
    pub fn end_stream(&mut self) {
        let last = self.segmenter.finish();
        let mut s = self.stream.lock().expect("hls lock");
        if let Some(seg) = last {
            hls::publish(&mut s, seg);
        }
        s.ended = true;
    }
}

/// (SPS, PPS).
type ParamSets = (Vec<u8>, Vec<u8>);

/// Annex B from the encoder → one MP4 sample (4-byte lengths), without the
/// parameter sets (they go in the init segment), and those sets if present.
fn to_sample(annex_b: &[u8]) -> (Vec<u8>, Option<ParamSets>) {
    let mut out = Vec::with_capacity(annex_b.len());
    let (mut sps, mut pps) = (None, None);
    for nal in super::codec::nal_units(annex_b) {
        match nal.first().map(|b| b & 0x1f) {
            Some(7) => sps = Some(nal.to_vec()),
            Some(8) => pps = Some(nal.to_vec()),
            Some(_) => {
                out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                out.extend_from_slice(nal);
            }
            None => {}
        }
    }
    (out, sps.zip(pps))
}

/// AVCDecoderConfigurationRecord for a baseline SPS/PPS pair.
fn avc_config(sps: &[u8], pps: &[u8]) -> Vec<u8> {
    let mut c = vec![
        1,
        sps.get(1).copied().unwrap_or(66),
        sps.get(2).copied().unwrap_or(0),
        sps.get(3).copied().unwrap_or(30),
        0xff,
        0xe1,
    ];
    c.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    c.extend_from_slice(sps);
    c.push(1);
    c.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    c.extend_from_slice(pps);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_splits_into_nal_units_with_either_start_code() {
        let b = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 9, 9,
        ];
        let n = crate::compose::codec::nal_units(&b);
        assert_eq!(
            n,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 9, 9][..]]
        );
        let (sample, params) = to_sample(&b);
        assert_eq!(sample, [0, 0, 0, 3, 0x65, 9, 9]);
        assert_eq!(params, Some((vec![0x67, 1, 2], vec![0x68, 3])));
    }
}
