//! The composer thread: one composite output per meeting that streams,
//! fed the engine's tapped packets (teed by the recorder thread, which owns
//! the tap queue) and the room's events (sites, speaker), ticking at the
//! output's frame rate. The HTTP side reads the HLS streams it publishes.
//!
//! Like the recorder, the media workers never wait for it: packets come
//! over a bounded queue that drops (and counts) when it falls behind, and
//! a decoder or encoder failure degrades its output, never the meeting.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};

use super::ComposeConfig;
use super::hls::Stream;
use super::layout::Layout;
use super::output::{Output, OutputStats};
use crate::media::tap::Tapped;
use crate::media::{Event, Role};

/// Packets waiting for the composer: about a second of a busy meeting.
const PACKET_QUEUE: usize = 4096;

enum Msg {
    Start {
        meeting: String,
        layout: Option<Layout>,
        sites: Vec<(u64, String)>,
    },
    Layout {
        meeting: String,
        layout: Option<Layout>,
    },
    Stop {
        meeting: String,
    },
    Keyframe {
        meeting: String,
    },
    Record {
        meeting: String,
        file: std::path::PathBuf,
        sites: Vec<(u64, String)>,
    },
    StopRecord {
        meeting: String,
        reply: std::sync::mpsc::Sender<Option<super::output::Recorded>>,
    },
    Event(Event),
    /// The presenter layout's document page (none: no presentation).
    Page {
        meeting: String,
        page: Option<super::frame::Frame>,
    },
}

/// One encoded composite picture, for the SIP rooms of its meeting.
#[derive(Debug)]
pub struct Picture {
    /// H.264 Annex B (parameter sets before a keyframe).
    pub annex_b: Vec<u8>,
    pub keyframe: bool,
    /// 90 kHz.
    pub ts: u32,
    /// The output's clock, ms, when it was composed (the program mix's
    /// clock too: a hall screen's lip sync).
    pub at_ms: u64,
}

/// A subscription to a meeting's composite pictures (a lagging receiver
/// skips pictures and should ask for a keyframe).
pub type Pictures = tokio::sync::broadcast::Receiver<Arc<Picture>>;

/// Pictures buffered per subscriber: about a second at 25 fps.
const PICTURE_QUEUE: usize = 32;

/// One 20 ms frame of the program mix (mono Opus), for hall screens.
#[derive(Debug)]
pub struct Sound {
    pub opus: Vec<u8>,
    /// The output's clock, ms (the same clock as the pictures' `at_ms`).
    pub at_ms: u64,
}

/// A subscription to a meeting's program mix as it is encoded.
pub type Sounds = tokio::sync::broadcast::Receiver<Arc<Sound>>;

/// Sound frames buffered per subscriber: about a second.
const SOUND_QUEUE: usize = 50;

/// What the API sees of a streaming meeting.
#[derive(Clone)]
pub struct Live {
    pub layout: Option<Layout>,
    pub stream: Arc<Mutex<Stream>>,
    pub stats: Arc<Mutex<OutputStats>>,
    pub pictures: tokio::sync::broadcast::Sender<Arc<Picture>>,
    pub sound: tokio::sync::broadcast::Sender<Arc<Sound>>,
}

/// What the composer asks of the engine's taps of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapRequest {
    /// A keyframe of a tapped track (`Command::TapKeyframe`).
    Keyframe(crate::media::TrackId),
    /// The layer it wants of each track in view (`Command::TapLayers`).
    Layers(Vec<(crate::media::TrackId, u8)>),
}

/// How the composer asks the engine's taps (`TapRequest`): given by the
/// server, which owns the runtime.
pub type KeyframeSink = Box<dyn Fn(&str, TapRequest) + Send>;

/// Handle to the composer thread (cheap to clone).
#[derive(Clone)]
pub struct Composer {
    ctl: Sender<Msg>,
    packets: Sender<Tapped>,
    live: Arc<RwLock<HashMap<String, Live>>>,
    /// Meetings whose recording takes the composite.
    recording: Arc<RwLock<std::collections::HashSet<String>>>,
    dropped: Arc<AtomicU64>,
    /// Hall screens watching each meeting (`screen`).
    screens: super::screen::ScreenFeeds,
    cfg: ComposeConfig,
}

impl Composer {
    pub fn start(cfg: ComposeConfig, keyframes: Option<KeyframeSink>) -> Composer {
        let (ctl, ctl_rx) = crossbeam_channel::bounded(1024);
        let (packets, packets_rx) = crossbeam_channel::bounded(PACKET_QUEUE);
        let live = Arc::new(RwLock::new(HashMap::new()));
        let recording = Arc::new(RwLock::new(std::collections::HashSet::new()));
        let (l, r) = (live.clone(), recording.clone());
        std::thread::Builder::new()
            .name("composer".into())
            .spawn(move || Worker::new(cfg, l, r, keyframes).run(ctl_rx, packets_rx))
            .expect("spawn composer thread");
        Composer {
            ctl,
            packets,
            live,
            recording,
            dropped: Arc::new(AtomicU64::new(0)),
            screens: Default::default(),
            cfg,
        }
    }

    /// The hall screens' feeds.
    pub fn screens(&self) -> &super::screen::ScreenFeeds {
        &self.screens
    }

    /// The size a document page is drawn at to fill the presenter
    /// layout's page tile (its proportions kept inside it).
    pub fn page_size(&self) -> (u32, u32) {
        Layout::Presenter
            .page_tile(self.cfg.width, self.cfg.height)
            .map_or((0, 0), |r| (r.w, r.h))
    }

    /// Show `page` in `meeting`'s presenter layout (none: the tile says
    /// there is no presentation). Ignored for a meeting without an output.
    pub fn page(&self, meeting: &str, page: Option<super::frame::Frame>) {
        let _ = self.ctl.try_send(Msg::Page {
            meeting: meeting.to_string(),
            page,
        });
    }

    /// Whether `meeting` streams or records the composite (its room's
    /// taps go to the composer).
    pub fn wants(&self, meeting: &str) -> bool {
        self.live
            .read()
            .expect("composer lock")
            .contains_key(meeting)
            || self
                .recording
                .read()
                .expect("composer lock")
                .contains(meeting)
    }

    /// Record `meeting`'s composite (with the program mix) into `file`, a
    /// Matroska file written cluster by cluster like the recorder's own.
    pub fn record(&self, meeting: &str, file: std::path::PathBuf, sites: Vec<(u64, String)>) {
        self.recording
            .write()
            .expect("composer lock")
            .insert(meeting.to_string());
        let _ = self.ctl.send(Msg::Record {
            meeting: meeting.to_string(),
            file,
            sites,
        });
    }

    /// Close `meeting`'s composite recording; what it wrote, once closed.
    pub async fn stop_recording(&self, meeting: &str) -> Option<super::output::Recorded> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.ctl
            .send(Msg::StopRecord {
                meeting: meeting.to_string(),
                reply: tx,
            })
            .ok()?;
        tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(10)).ok().flatten())
            .await
            .ok()
            .flatten()
    }

    pub fn live(&self, meeting: &str) -> Option<Live> {
        self.live
            .read()
            .expect("composer lock")
            .get(meeting)
            .cloned()
    }

    /// Packets the composer could not take in time.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Start (or re-lay) `meeting`'s stream; `sites` are the participants
    /// in its room now (participant, name): later ones come as events.
    pub fn begin(&self, meeting: &str, layout: Option<Layout>, sites: Vec<(u64, String)>) {
        // Listed before the thread starts it, so the taps' tee and the
        // events start at once.
        self.live
            .write()
            .expect("composer lock")
            .entry(meeting.to_string())
            .or_insert_with(|| Live {
                layout,
                stream: Arc::new(Mutex::new(Stream::new(0))),
                stats: Arc::new(Mutex::new(OutputStats::default())),
                pictures: tokio::sync::broadcast::channel(PICTURE_QUEUE).0,
                sound: tokio::sync::broadcast::channel(SOUND_QUEUE).0,
            });
        let _ = self.ctl.send(Msg::Start {
            meeting: meeting.to_string(),
            layout,
            sites,
        });
    }

    pub fn set_layout(&self, meeting: &str, layout: Option<Layout>) {
        let _ = self.ctl.send(Msg::Layout {
            meeting: meeting.to_string(),
            layout,
        });
    }

    /// Stop `meeting`'s stream: unlisted at once (its playlist and
    /// segments answer 404 from now on), the thread closes the output.
    pub fn end(&self, meeting: &str) {
        self.live.write().expect("composer lock").remove(meeting);
        let _ = self.ctl.send(Msg::Stop {
            meeting: meeting.to_string(),
        });
    }

    /// The meeting's composite pictures, while it streams.
    pub fn subscribe(&self, meeting: &str) -> Option<Pictures> {
        self.live(meeting).map(|l| l.pictures.subscribe())
    }

    /// The meeting's composite pictures and program mix, while it streams
    /// (a hall screen's feed).
    pub fn listen(&self, meeting: &str) -> Option<(Pictures, Sounds)> {
        self.live(meeting)
            .map(|l| (l.pictures.subscribe(), l.sound.subscribe()))
    }

    /// A SIP room needs a keyframe of the composite (merged and paced by
    /// the output: one keyframe serves every room).
    pub fn keyframe(&self, meeting: &str) {
        let _ = self.ctl.try_send(Msg::Keyframe {
            meeting: meeting.to_string(),
        });
    }

    /// A tapped packet of a streaming room (never blocks).
    pub fn packet(&self, t: Tapped) {
        if self.packets.try_send(t).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An engine event; only a streaming room's are kept.
    pub fn event(&self, ev: &Event) {
        let room = match ev {
            // A hall screen lost the picture or just connected.
            Event::CompositeKeyframe { room } => {
                self.keyframe(room);
                return;
            }
            Event::Joined { room, .. }
            | Event::Left { room, .. }
            | Event::SpeakerChanged { room, .. } => room,
            _ => return,
        };
        if self.wants(room) {
            let _ = self.ctl.try_send(Msg::Event(ev.clone()));
        }
    }
}

struct Worker {
    cfg: ComposeConfig,
    keyframes: Option<KeyframeSink>,
    live: Arc<RwLock<HashMap<String, Live>>>,
    recording: Arc<RwLock<std::collections::HashSet<String>>>,
    outputs: HashMap<String, Output>,
}

impl Worker {
    fn new(
        cfg: ComposeConfig,
        live: Arc<RwLock<HashMap<String, Live>>>,
        recording: Arc<RwLock<std::collections::HashSet<String>>>,
        keyframes: Option<KeyframeSink>,
    ) -> Worker {
        Worker {
            cfg,
            keyframes,
            live,
            recording,
            outputs: HashMap::new(),
        }
    }

    fn run(mut self, ctl: Receiver<Msg>, packets: Receiver<Tapped>) {
        let frame = Duration::from_secs(1) / self.cfg.fps;
        let tick = crossbeam_channel::tick(frame);
        loop {
            select! {
                recv(ctl) -> m => match m {
                    Ok(m) => self.control(m),
                    Err(_) => return,
                },
                recv(packets) -> p => match p {
                    Ok(p) => {
                        if let Some(o) = self.outputs.get_mut(&*p.room) {
                            o.packet(&p);
                            for track in o.keyframe_wanted.drain(..) {
                                if let Some(k) = &self.keyframes {
                                    k(&p.room, TapRequest::Keyframe(track));
                                }
                            }
                        }
                    }
                    Err(_) => return,
                },
                recv(tick) -> _ => self.tick(),
            }
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        let live = self.live.read().expect("composer lock");
        for (meeting, o) in self.outputs.iter_mut() {
            o.tick(now);
            if let Some(layers) = o.layers_wanted.take()
                && let Some(k) = &self.keyframes
            {
                k(meeting, TapRequest::Layers(layers));
            }
            if let Some(l) = live.get(meeting) {
                *l.stats.lock().expect("stats lock") = o.stats;
            }
        }
    }

    /// The meeting's output, made (with `sites` in it) if it has none.
    fn output(
        &mut self,
        meeting: &str,
        layout: Option<Layout>,
        sites: Vec<(u64, String)>,
    ) -> Option<&mut Output> {
        if !self.outputs.contains_key(meeting) {
            match Output::new(self.cfg, layout, Instant::now()) {
                Ok(mut o) => {
                    for (p, name) in sites {
                        o.site(p, Some(name));
                    }
                    self.outputs.insert(meeting.to_string(), o);
                }
                Err(e) => {
                    tracing::error!(error = %e, %meeting, "the composite could not start");
                    return None;
                }
            }
        }
        self.outputs.get_mut(meeting)
    }

    /// Drop an output nobody uses any more (neither streamed nor recorded).
    fn release(&mut self, meeting: &str) {
        if self
            .outputs
            .get(meeting)
            .is_some_and(|o| !o.streaming && !o.recording())
            && let Some(mut o) = self.outputs.remove(meeting)
        {
            o.finish();
        }
    }

    fn control(&mut self, m: Msg) {
        match m {
            Msg::Start {
                meeting,
                layout,
                sites,
            } => {
                let (pictures, sound) = self
                    .live
                    .read()
                    .expect("composer lock")
                    .get(&meeting)
                    .map(|l| (l.pictures.clone(), l.sound.clone()))
                    .unwrap_or_else(|| {
                        (
                            tokio::sync::broadcast::channel(PICTURE_QUEUE).0,
                            tokio::sync::broadcast::channel(SOUND_QUEUE).0,
                        )
                    });
                let Some(o) = self.output(&meeting, layout, sites) else {
                    self.live.write().expect("composer lock").remove(&meeting);
                    return;
                };
                o.set_layout(layout);
                if !o.streaming {
                    o.restart_stream();
                }
                o.streaming = true;
                o.pictures = Some(pictures.clone());
                o.sound = Some(sound.clone());
                let stream = o.stream.clone();
                self.live.write().expect("composer lock").insert(
                    meeting,
                    Live {
                        layout,
                        stream,
                        stats: Arc::new(Mutex::new(OutputStats::default())),
                        pictures,
                        sound,
                    },
                );
            }
            Msg::Layout { meeting, layout } => {
                if let Some(o) = self.outputs.get_mut(&meeting) {
                    o.set_layout(layout);
                }
                if let Some(l) = self.live.write().expect("composer lock").get_mut(&meeting) {
                    l.layout = layout;
                }
            }
            Msg::Page { meeting, page } => {
                if let Some(o) = self.outputs.get_mut(&meeting) {
                    o.set_page(page);
                }
            }
            Msg::Stop { meeting } => {
                if let Some(o) = self.outputs.get_mut(&meeting) {
                    o.streaming = false;
                    o.end_stream();
                }
                self.live.write().expect("composer lock").remove(&meeting);
                self.release(&meeting);
            }
            Msg::Record {
                meeting,
                file,
                sites,
            } => {
                if let Some(o) = self.output(&meeting, None, sites) {
                    o.record_to(file);
                }
            }
            Msg::StopRecord { meeting, reply } => {
                let info = self
                    .outputs
                    .get_mut(&meeting)
                    .and_then(|o| o.stop_recording());
                self.recording
                    .write()
                    .expect("composer lock")
                    .remove(&meeting);
                self.release(&meeting);
                let _ = reply.send(info);
            }
            Msg::Keyframe { meeting } => {
                if let Some(o) = self.outputs.get_mut(&meeting) {
                    o.request_keyframe(Instant::now());
                }
            }
            Msg::Event(ev) => self.event(ev),
        }
    }

    fn event(&mut self, ev: Event) {
        match ev {
            Event::Joined {
                room,
                participant,
                name,
                role: Role::Room | Role::Publisher,
            } => {
                if let Some(o) = self.outputs.get_mut(&room) {
                    o.site(participant, Some(name));
                }
            }
            Event::Left {
                room, participant, ..
            } => {
                if let Some(o) = self.outputs.get_mut(&room) {
                    o.site(participant, None);
                }
            }
            Event::SpeakerChanged {
                room, participant, ..
            } => {
                if let Some(o) = self.outputs.get_mut(&room) {
                    o.speaker(participant);
                }
            }
            _ => {}
        }
    }
}
