//! The recorder service: the I/O side of recording. One thread takes the
//! engine's tapped packets (`media::tap`) and control messages, runs the
//! pure pipelines of `record/` and writes each recording's files as it
//! goes, so a crash loses at most the cluster being built:
//!
//! ```text
//! <root>/<meeting>/<recording>/
//!     program.webm | program.mkv   stage video + one mono mix: the stage
//!                                  holder and the loudest rooms (record::mix)
//!     track-<n>.webm | .mkv        one file per published track
//!     index.json                   streams, chapters (agenda, floor, speaker, stage)
//! ```
//!
//! The media workers never wait for it: packets come over a bounded queue
//! that drops (and counts) when this thread falls behind. A write error
//! (disk full) stops that recording cleanly — files closed, the index says
//! why — and the meeting goes on.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};
use serde::{Deserialize, Serialize};

use crate::media::ParticipantId;
use crate::media::tap::{TapCodec, TapStream, Tapped};
use crate::record::{
    Codec, MixOptions, MixedFrame, Mixer, ProgramRecorder, RtpPacket, TrackOptions, TrackRecorder,
};

/// One entry of a recording's index: what happened, when (ms from the
/// recording's start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Chapter {
    pub at_ms: u64,
    /// `agenda`, `floor`, `floor_end`, `speaker`, `stage`, `gap`, `stopped`.
    pub kind: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
}

/// One file of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StreamInfo {
    pub file: String,
    /// `program`, `video` or `audio`.
    pub kind: String,
    pub codec: String,
    /// Whose track (endpoint and name), when known; none for the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When its first packet came, ms from the recording's start.
    pub starts_at_ms: u64,
}

/// The sidecar `index.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Index {
    pub recording_id: String,
    pub meeting_id: String,
    /// Unix ms of the recording's time zero.
    pub started_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at_ms: Option<i64>,
    /// Why it stopped when not asked to (`disk_full`, `write_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub streams: Vec<StreamInfo>,
    pub chapters: Vec<Chapter>,
    /// Packets the recorder did not get in time or could not use.
    pub packets_dropped: u64,
}

enum Ctl {
    Start {
        meeting: String,
        id: String,
        dir: PathBuf,
        wall_ms: i64,
    },
    Stop {
        meeting: String,
        wall_ms: i64,
        reply: std::sync::mpsc::Sender<Option<Index>>,
    },
    Chapter {
        meeting: String,
        kind: String,
        title: String,
        endpoint_id: Option<String>,
    },
    /// A file another thread wrote into the recording (the composite).
    Stream { meeting: String, info: StreamInfo },
    Participant {
        meeting: String,
        participant: ParticipantId,
        endpoint_id: Option<String>,
        name: String,
    },
}

/// What the API sees of a running recording.
#[derive(Debug, Clone)]
pub struct Running {
    pub id: String,
    pub dir: PathBuf,
}

/// Handle to the recorder thread (cheap to clone).
#[derive(Clone)]
pub struct Recorder {
    ctl: Sender<Ctl>,
    running: Arc<Mutex<HashMap<String, Running>>>,
    /// Recordings that stopped by themselves (disk full): meeting → index.
    failed: Arc<Mutex<Vec<Index>>>,
}

impl Recorder {
    /// Start the thread on the engine's tap queue (teed to `composer` for
    /// the rooms that stream).
    pub fn start(taps: Receiver<Tapped>, composer: Option<crate::compose::Composer>) -> Recorder {
        let (ctl, ctl_rx) = crossbeam_channel::bounded(1024);
        let running = Arc::new(Mutex::new(HashMap::new()));
        let failed = Arc::new(Mutex::new(Vec::new()));
        let (r, f) = (running.clone(), failed.clone());
        std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || Worker::new(r, f, composer).run(taps, ctl_rx))
            .expect("spawn recorder thread");
        Recorder {
            ctl,
            running,
            failed,
        }
    }

    pub fn running(&self, meeting: &str) -> Option<Running> {
        self.running
            .lock()
            .expect("recorder lock")
            .get(meeting)
            .cloned()
    }

    /// Recordings that stopped on their own since the last call.
    pub fn take_failed(&self) -> Vec<Index> {
        std::mem::take(&mut *self.failed.lock().expect("recorder lock"))
    }

    /// Begin writing `meeting`'s recording `id` under `dir` (created).
    pub fn begin(&self, meeting: &str, id: &str, dir: &Path, wall_ms: i64) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        self.running.lock().expect("recorder lock").insert(
            meeting.to_string(),
            Running {
                id: id.to_string(),
                dir: dir.to_path_buf(),
            },
        );
        self.send(Ctl::Start {
            meeting: meeting.to_string(),
            id: id.to_string(),
            dir: dir.to_path_buf(),
            wall_ms,
        });
        Ok(())
    }

    /// Stop and close every file; returns the final index.
    pub async fn end(&self, meeting: &str, wall_ms: i64) -> Option<Index> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.send(Ctl::Stop {
            meeting: meeting.to_string(),
            wall_ms,
            reply: tx,
        });
        tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(10)).ok().flatten())
            .await
            .ok()
            .flatten()
    }

    /// List a file another thread wrote into `meeting`'s recording folder
    /// (the composite picture) in its index.
    pub fn add_stream(&self, meeting: &str, info: StreamInfo) {
        self.send(Ctl::Stream {
            meeting: meeting.to_string(),
            info,
        });
    }

    pub fn chapter(&self, meeting: &str, kind: &str, title: &str, endpoint_id: Option<&str>) {
        self.send(Ctl::Chapter {
            meeting: meeting.to_string(),
            kind: kind.to_string(),
            title: title.to_string(),
            endpoint_id: endpoint_id.map(str::to_string),
        });
    }

    pub fn participant(
        &self,
        meeting: &str,
        participant: ParticipantId,
        endpoint_id: Option<&str>,
        name: &str,
    ) {
        self.send(Ctl::Participant {
            meeting: meeting.to_string(),
            participant,
            endpoint_id: endpoint_id.map(str::to_string),
            name: name.to_string(),
        });
    }

    fn send(&self, c: Ctl) {
        if self.ctl.try_send(c).is_err() {
            tracing::warn!("recorder control queue full; message dropped");
        }
    }
}

type Sink = BufWriter<File>;

struct TrackOut {
    rec: TrackRecorder<Sink>,
    info_at: usize,
}

struct Active {
    id: String,
    dir: PathBuf,
    t0: Instant,
    index: Index,
    tracks: HashMap<u32, TrackOut>,
    program: Option<ProgramRecorder<Sink>>,
    /// Who the program video shows; their audio is always in the mix.
    program_owner: Option<ParticipantId>,
    /// The program's audio, made from every audio track of the room.
    mixer: Option<Mixer>,
    mixed: Vec<MixedFrame>,
    /// Each audio track's publisher (for the mix's forced source).
    audio_owner: HashMap<u32, ParticipantId>,
    names: HashMap<ParticipantId, (Option<String>, String)>,
    next_file: u32,
}

struct Worker {
    active: HashMap<String, Active>,
    running: Arc<Mutex<HashMap<String, Running>>>,
    failed: Arc<Mutex<Vec<Index>>>,
    /// The composite's thread: this thread owns the one tap queue and
    /// tees a streaming room's packets to it.
    composer: Option<crate::compose::Composer>,
}

fn ms_since(t0: Instant, at: Instant) -> u64 {
    at.saturating_duration_since(t0).as_millis() as u64
}

fn codec_of(c: TapCodec) -> Codec {
    match c {
        TapCodec::Vp8 => Codec::Vp8,
        TapCodec::H264 => Codec::H264,
        TapCodec::Opus => Codec::Opus,
    }
}

fn extension(c: Codec) -> &'static str {
    match c {
        Codec::H264 => "mkv",
        _ => "webm",
    }
}

fn is_disk_full(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOSPC) || e.kind() == std::io::ErrorKind::StorageFull
}

impl Worker {
    fn new(
        running: Arc<Mutex<HashMap<String, Running>>>,
        failed: Arc<Mutex<Vec<Index>>>,
        composer: Option<crate::compose::Composer>,
    ) -> Self {
        Worker {
            active: HashMap::new(),
            running,
            failed,
            composer,
        }
    }

    fn run(mut self, taps: Receiver<Tapped>, ctl: Receiver<Ctl>) {
        let tick = crossbeam_channel::tick(Duration::from_millis(50));
        loop {
            select! {
                recv(ctl) -> c => match c {
                    Ok(c) => self.control(c),
                    Err(_) => return,
                },
                recv(taps) -> t => match t {
                    Ok(t) => self.packet(t),
                    Err(_) => return,
                },
                recv(tick) -> _ => self.poll(),
            }
        }
    }

    fn control(&mut self, c: Ctl) {
        match c {
            Ctl::Start {
                meeting,
                id,
                dir,
                wall_ms,
            } => {
                let index = Index {
                    recording_id: id.clone(),
                    meeting_id: meeting.clone(),
                    started_at_ms: wall_ms,
                    ..Index::default()
                };
                let a = Active {
                    id,
                    dir,
                    t0: Instant::now(),
                    index,
                    tracks: HashMap::new(),
                    program: None,
                    program_owner: None,
                    mixer: None,
                    mixed: Vec::new(),
                    audio_owner: HashMap::new(),
                    names: HashMap::new(),
                    next_file: 1,
                };
                let _ = write_index(&a.dir, &a.index);
                self.active.insert(meeting, a);
            }
            Ctl::Stop {
                meeting,
                wall_ms,
                reply,
            } => {
                let index = self.active.remove(&meeting).map(|mut a| {
                    let at = ms_since(a.t0, Instant::now());
                    a.index.chapters.push(Chapter {
                        at_ms: at,
                        kind: "stopped".into(),
                        title: "Dừng ghi".into(),
                        endpoint_id: None,
                    });
                    a.index.stopped_at_ms = Some(wall_ms);
                    close(a)
                });
                self.running.lock().expect("recorder lock").remove(&meeting);
                let _ = reply.send(index);
            }
            Ctl::Stream { meeting, info } => {
                if let Some(a) = self.active.get_mut(&meeting) {
                    a.index.streams.push(info);
                    let _ = write_index(&a.dir, &a.index);
                }
            }
            Ctl::Chapter {
                meeting,
                kind,
                title,
                endpoint_id,
            } => {
                if let Some(a) = self.active.get_mut(&meeting) {
                    let at_ms = ms_since(a.t0, Instant::now());
                    a.index.chapters.push(Chapter {
                        at_ms,
                        kind,
                        title,
                        endpoint_id,
                    });
                    let _ = write_index(&a.dir, &a.index);
                }
            }
            Ctl::Participant {
                meeting,
                participant,
                endpoint_id,
                name,
            } => {
                if let Some(a) = self.active.get_mut(&meeting) {
                    a.names.insert(participant, (endpoint_id, name));
                }
            }
        }
    }

    fn packet(&mut self, t: Tapped) {
        // The composite's own layers are for it alone.
        if matches!(t.stream, TapStream::Composite(_)) {
            if let Some(c) = &self.composer {
                c.packet(t);
            }
            return;
        }
        if let Some(c) = &self.composer
            && c.wants(&t.room)
        {
            c.packet(t.clone());
        }
        let Some(a) = self.active.get_mut(&*t.room) else {
            return;
        };
        let now_ms = ms_since(a.t0, t.at);
        let pkt = RtpPacket {
            seq: t.seq as u16,
            timestamp: t.ts,
            marker: t.marker,
            payload: &t.payload,
        };
        let result = match t.stream {
            TapStream::ProgramVideo => a.program_video(&t, now_ms, &pkt),
            // The composite's own layers: not the recording's.
            TapStream::Composite(_) => Ok(()),
            TapStream::Track(track) => {
                let r = a.track(track, &t, now_ms, &pkt);
                if !t.video {
                    a.program_audio(track, &t, now_ms);
                }
                r
            }
        };
        if let Err(e) = result {
            self.fail(&t.room, &e);
        }
    }

    fn poll(&mut self) {
        let mut failures = Vec::new();
        for (meeting, a) in self.active.iter_mut() {
            let now_ms = ms_since(a.t0, Instant::now());
            let mut r = Ok(());
            for t in a.tracks.values_mut() {
                r = r.and(t.rec.poll(now_ms));
            }
            r = r.and(a.mix_until(now_ms));
            if let Some(p) = a.program.as_mut() {
                r = r.and(p.poll(now_ms));
            }
            if let Err(e) = r {
                failures.push((meeting.clone(), e));
            }
        }
        for (m, e) in failures {
            self.fail(&m, &e);
        }
    }

    /// A write failed: close what can be closed, say why, and stop this
    /// recording; the meeting and other recordings go on.
    fn fail(&mut self, meeting: &str, e: &std::io::Error) {
        let Some(mut a) = self.active.remove(meeting) else {
            return;
        };
        let why = if is_disk_full(e) {
            "disk_full"
        } else {
            "write_failed"
        };
        tracing::error!(meeting, recording = %a.id, error = %e, "recording stopped: {why}");
        a.index.failure = Some(why.to_string());
        a.index.stopped_at_ms = Some(crate::store::now_ms());
        let index = close(a);
        self.running.lock().expect("recorder lock").remove(meeting);
        self.failed.lock().expect("recorder lock").push(index);
    }
}

impl Active {
    /// The stage holder's audio tracks are always heard in the mix.
    fn force_stage_audio(&mut self) {
        let Some(m) = self.mixer.as_mut() else {
            return;
        };
        let keys: Vec<u64> = self
            .audio_owner
            .iter()
            .filter(|(_, o)| Some(**o) == self.program_owner)
            .map(|(t, _)| u64::from(*t))
            .collect();
        m.set_forced(&keys);
    }

    /// Encodes the mix up to `now_ms` (minus its latency) into the program.
    fn mix_until(&mut self, now_ms: u64) -> std::io::Result<()> {
        let (Some(m), Some(p)) = (self.mixer.as_mut(), self.program.as_mut()) else {
            return Ok(());
        };
        m.poll(now_ms, &mut self.mixed);
        for f in self.mixed.drain(..) {
            p.push_audio_frame(f.at_ms, &f.opus)?;
        }
        Ok(())
    }

    fn open(&mut self, name: &str) -> std::io::Result<Sink> {
        Ok(BufWriter::with_capacity(
            256 * 1024,
            File::create(self.dir.join(name))?,
        ))
    }

    fn track(
        &mut self,
        track: u32,
        t: &Tapped,
        now_ms: u64,
        pkt: &RtpPacket<'_>,
    ) -> std::io::Result<()> {
        if !self.tracks.contains_key(&track) {
            let codec = codec_of(t.codec);
            let n = self.next_file;
            self.next_file += 1;
            let file = format!("track-{n}.{}", extension(codec));
            let sink = self.open(&file)?;
            let rec = TrackRecorder::new(codec, sink, TrackOptions::default())?;
            let (endpoint_id, name) = self
                .names
                .get(&t.owner)
                .cloned()
                .map_or((None, None), |(e, n)| (e, Some(n)));
            self.index.streams.push(StreamInfo {
                file,
                kind: if t.video { "video" } else { "audio" }.into(),
                codec: format!("{codec:?}").to_lowercase(),
                endpoint_id,
                name,
                starts_at_ms: now_ms,
            });
            let info_at = self.index.streams.len() - 1;
            let _ = write_index(&self.dir, &self.index);
            self.tracks.insert(track, TrackOut { rec, info_at });
        }
        let out = self.tracks.get_mut(&track).expect("inserted above");
        let _ = out.info_at;
        out.rec.push_rtp(now_ms, pkt)
    }

    fn program_video(
        &mut self,
        t: &Tapped,
        now_ms: u64,
        pkt: &RtpPacket<'_>,
    ) -> std::io::Result<()> {
        if self.program_owner != Some(t.owner) {
            self.program_owner = Some(t.owner);
            self.force_stage_audio();
            let name = self
                .names
                .get(&t.owner)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            let endpoint_id = self.names.get(&t.owner).and_then(|(e, _)| e.clone());
            self.index.chapters.push(Chapter {
                at_ms: now_ms,
                kind: "program".into(),
                title: name,
                endpoint_id,
            });
            let _ = write_index(&self.dir, &self.index);
        }
        if self.program.is_none() {
            let codec = codec_of(t.codec);
            let file = format!("program.{}", extension(codec));
            let sink = self.open(&file)?;
            // The mix is mono: a meeting is speech, and one channel halves
            // the bits for the same quality.
            let opts = TrackOptions {
                opus_channels: 1,
                ..TrackOptions::default()
            };
            self.program = Some(ProgramRecorder::new(codec, sink, opts)?);
            match Mixer::new(MixOptions::default()) {
                Ok(m) => self.mixer = Some(m),
                Err(e) => {
                    tracing::error!(error = %e, "program mix unavailable; the program has no sound")
                }
            }
            self.force_stage_audio();
            self.index.streams.insert(
                0,
                StreamInfo {
                    file,
                    kind: "program".into(),
                    codec: format!("{codec:?}+opus").to_lowercase(),
                    endpoint_id: None,
                    name: None,
                    starts_at_ms: now_ms,
                },
            );
            let _ = write_index(&self.dir, &self.index);
        }
        match self.program.as_mut() {
            Some(p) => p.push_video_rtp(now_ms, pkt),
            None => Ok(()),
        }
    }

    /// Every audio packet goes to the mix, which decides whom to hear.
    fn program_audio(&mut self, track: u32, t: &Tapped, now_ms: u64) {
        if self.audio_owner.insert(track, t.owner) != Some(t.owner) {
            self.force_stage_audio();
        }
        if let Some(m) = self.mixer.as_mut() {
            m.push(u64::from(track), now_ms, t.ts, t.audio_level, &t.payload);
        }
    }
}

/// Close every file (writing what is buffered) and the index.
fn close(mut a: Active) -> Index {
    // Closed files get their Duration and Cues written in place (players
    // seek at once); a file cut short by a crash plays without them.
    for (_, t) in a.tracks.drain() {
        if let Ok(mut w) = t.rec.finish_seekable() {
            let _ = w.flush();
        }
    }
    // What the mix still holds goes in before the program closes.
    let end_ms = ms_since(a.t0, Instant::now()) + MixOptions::default().latency_ms;
    let _ = a.mix_until(end_ms);
    if let Some(m) = a.mixer.as_ref() {
        tracing::info!(recording = %a.id, stats = ?m.stats(), "program mix closed");
    }
    if let Some(p) = a.program.take()
        && let Ok(mut w) = p.finish_seekable()
    {
        let _ = w.flush();
    }
    let _ = write_index(&a.dir, &a.index);
    a.index
}

/// Replace `index.json` whole (write a temporary file, then rename), so a
/// crash leaves the old index or the new one, never half of one.
fn write_index(dir: &Path, index: &Index) -> std::io::Result<()> {
    let tmp = dir.join("index.json.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(index).unwrap_or_default())?;
    f.sync_data()?;
    std::fs::rename(tmp, dir.join("index.json"))
}
