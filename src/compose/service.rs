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
use super::layout::{Layout, Layouts, OutputKind};
use super::output::{Feeds, Output, OutputStats};
use super::sinks::Recorded;
use crate::media::tap::Tapped;
use crate::media::{Event, Role};

/// Packets waiting for the composer: about a second of a busy meeting.
const PACKET_QUEUE: usize = 4096;

enum Msg {
    /// The HLS stream starts (or its meeting's layouts change).
    Start {
        meeting: String,
        layouts: Layouts,
        sites: Vec<(u64, String)>,
    },
    Layouts {
        meeting: String,
        layouts: Layouts,
    },
    Stop {
        meeting: String,
    },
    Keyframe {
        meeting: String,
        kind: OutputKind,
    },
    Record {
        meeting: String,
        file: std::path::PathBuf,
        layouts: Layouts,
        sites: Vec<(u64, String)>,
    },
    StopRecord {
        meeting: String,
        reply: std::sync::mpsc::Sender<Option<Recorded>>,
    },
    /// A SIP room's call or a meeting's hall-screen feed takes the
    /// composite (`on`), or lets it go.
    Attach {
        meeting: String,
        kind: OutputKind,
        on: bool,
        layouts: Layouts,
        sites: Vec<(u64, String)>,
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

/// A live consumer's subscription to a meeting's composite pictures (a
/// lagging receiver skips pictures and should ask for a keyframe). The
/// meeting's composite runs for it until it (and its `Sounds`, if any)
/// is dropped.
pub struct Pictures {
    rx: tokio::sync::broadcast::Receiver<Arc<Picture>>,
    _attached: Arc<Detach>,
}

impl Pictures {
    pub async fn recv(&mut self) -> Result<Arc<Picture>, tokio::sync::broadcast::error::RecvError> {
        self.rx.recv().await
    }
}

/// Pictures buffered per subscriber: about a second at 25 fps.
pub(super) const PICTURE_QUEUE: usize = 32;

/// One 20 ms frame of the program mix (mono Opus), for hall screens.
#[derive(Debug)]
pub struct Sound {
    pub opus: Vec<u8>,
    /// The output's clock, ms (the same clock as the pictures' `at_ms`).
    pub at_ms: u64,
}

/// A subscription to a meeting's program mix as it is encoded.
pub struct Sounds {
    rx: tokio::sync::broadcast::Receiver<Arc<Sound>>,
    _attached: Arc<Detach>,
}

impl Sounds {
    pub async fn recv(&mut self) -> Result<Arc<Sound>, tokio::sync::broadcast::error::RecvError> {
        self.rx.recv().await
    }
}

/// Sound frames buffered per subscriber: about a second.
pub(super) const SOUND_QUEUE: usize = 50;

/// Lets a consumer's composite go when its last subscription is dropped.
struct Detach {
    ctl: Sender<Msg>,
    attached: Arc<Mutex<HashMap<String, usize>>>,
    meeting: String,
    kind: OutputKind,
}

impl Drop for Detach {
    fn drop(&mut self) {
        let mut a = self.attached.lock().expect("composer lock");
        if let Some(n) = a.get_mut(&self.meeting) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                a.remove(&self.meeting);
            }
        }
        drop(a);
        let _ = self.ctl.send(Msg::Attach {
            meeting: std::mem::take(&mut self.meeting),
            kind: self.kind,
            on: false,
            layouts: Layouts::default(),
            sites: Vec::new(),
        });
    }
}

/// What the API sees of a meeting whose HLS stream runs.
#[derive(Clone)]
pub struct Live {
    /// The stream's layout (`None`: automatic).
    pub layout: Option<Layout>,
    pub stream: Arc<Mutex<Stream>>,
    pub stats: Arc<Mutex<OutputStats>>,
}

/// What the composer asks of the engine's taps of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapRequest {
    /// A keyframe of a tapped track (`Command::TapKeyframe`).
    Keyframe(crate::media::TrackId),
    /// Tap the room for the composite's live consumers, or stop
    /// (`net::TapUser::Composite`).
    Tap(bool),
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
    /// Live consumers (SIP calls, screen feeds) attached per meeting.
    attached: Arc<Mutex<HashMap<String, usize>>>,
    /// Their channels, per meeting with an output or a consumer.
    feeds: Arc<Mutex<HashMap<String, Feeds>>>,
    /// (outputs, encodings) running, as the composer thread last counted.
    running: Arc<(AtomicU64, AtomicU64)>,
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
        let feeds = Arc::new(Mutex::new(HashMap::new()));
        let running: Arc<(AtomicU64, AtomicU64)> = Default::default();
        let (l, r, f) = (live.clone(), recording.clone(), feeds.clone());
        let mut worker = Worker::new(cfg, l, r, f, keyframes);
        worker.running = running.clone();
        std::thread::Builder::new()
            .name("composer".into())
            .spawn(move || worker.run(ctl_rx, packets_rx))
            .expect("spawn composer thread");
        Composer {
            ctl,
            packets,
            live,
            recording,
            attached: Default::default(),
            feeds,
            running,
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

    /// Whether `meeting` streams, records or feeds the composite (its
    /// room's taps go to the composer).
    pub fn wants(&self, meeting: &str) -> bool {
        self.attached
            .lock()
            .expect("composer lock")
            .contains_key(meeting)
            || self
                .live
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
    pub fn record(
        &self,
        meeting: &str,
        file: std::path::PathBuf,
        layouts: Layouts,
        sites: Vec<(u64, String)>,
    ) {
        self.recording
            .write()
            .expect("composer lock")
            .insert(meeting.to_string());
        let _ = self.ctl.send(Msg::Record {
            meeting: meeting.to_string(),
            file,
            layouts,
            sites,
        });
    }

    /// Close `meeting`'s composite recording; what it wrote, once closed.
    pub async fn stop_recording(&self, meeting: &str) -> Option<Recorded> {
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

    /// (meetings whose composite runs, encodings running).
    pub fn running(&self) -> (u64, u64) {
        (
            self.running.0.load(Ordering::Relaxed),
            self.running.1.load(Ordering::Relaxed),
        )
    }

    /// Packets the composer could not take in time.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Start `meeting`'s HLS stream (or change its layouts); `sites` are
    /// the participants in its room now (participant, name): later ones
    /// come as events.
    pub fn begin(&self, meeting: &str, layouts: Layouts, sites: Vec<(u64, String)>) {
        // Listed before the thread starts it, so the taps' tee and the
        // events start at once.
        self.live
            .write()
            .expect("composer lock")
            .entry(meeting.to_string())
            .or_insert_with(|| Live {
                layout: layouts.of(OutputKind::Stream),
                stream: Arc::new(Mutex::new(Stream::new(0))),
                stats: Arc::new(Mutex::new(OutputStats::default())),
            });
        let _ = self.ctl.send(Msg::Start {
            meeting: meeting.to_string(),
            layouts,
            sites,
        });
    }

    /// The meeting's layouts changed (its own or an output's).
    pub fn set_layouts(&self, meeting: &str, layouts: Layouts) {
        let _ = self.ctl.send(Msg::Layouts {
            meeting: meeting.to_string(),
            layouts,
        });
    }

    /// Stop `meeting`'s HLS stream: unlisted at once (its playlist and
    /// segments answer 404 from now on), the thread ends it. The composite
    /// goes on while a recording, a SIP room or a hall screen takes it.
    pub fn end(&self, meeting: &str) {
        self.live.write().expect("composer lock").remove(meeting);
        let _ = self.ctl.send(Msg::Stop {
            meeting: meeting.to_string(),
        });
    }

    /// A live consumer of `meeting`'s composite: SIP rooms
    /// (`OutputKind::Rooms`) or hall screens (`OutputKind::Screen`). The
    /// composite starts if it is not running (with `layouts` and `sites`,
    /// the live room's now) and runs until every subscription returned
    /// here, and every other consumer's, is dropped.
    pub fn attach(
        &self,
        meeting: &str,
        kind: OutputKind,
        layouts: Layouts,
        sites: Vec<(u64, String)>,
    ) -> (Pictures, Sounds) {
        let feeds = self
            .feeds
            .lock()
            .expect("composer lock")
            .entry(meeting.to_string())
            .or_default()
            .clone();
        *self
            .attached
            .lock()
            .expect("composer lock")
            .entry(meeting.to_string())
            .or_default() += 1;
        let _ = self.ctl.send(Msg::Attach {
            meeting: meeting.to_string(),
            kind,
            on: true,
            layouts,
            sites,
        });
        let guard = Arc::new(Detach {
            ctl: self.ctl.clone(),
            attached: self.attached.clone(),
            meeting: meeting.to_string(),
            kind,
        });
        let pictures = match kind {
            OutputKind::Screen => feeds.screen.subscribe(),
            _ => feeds.rooms.subscribe(),
        };
        (
            Pictures {
                rx: pictures,
                _attached: guard.clone(),
            },
            Sounds {
                rx: feeds.sound.subscribe(),
                _attached: guard,
            },
        )
    }

    /// A SIP room needs a keyframe of the composite (merged and paced by
    /// the output: one keyframe serves every room).
    pub fn keyframe(&self, meeting: &str) {
        self.keyframe_for(meeting, OutputKind::Rooms);
    }

    /// `kind`'s consumer needs a keyframe of the encoding it shows.
    pub fn keyframe_for(&self, meeting: &str, kind: OutputKind) {
        let _ = self.ctl.try_send(Msg::Keyframe {
            meeting: meeting.to_string(),
            kind,
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
                self.keyframe_for(room, OutputKind::Screen);
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
    feeds: Arc<Mutex<HashMap<String, Feeds>>>,
    outputs: HashMap<String, Output>,
    running: Arc<(AtomicU64, AtomicU64)>,
    /// The presenter page of each meeting presenting now, for an output
    /// that starts later (a SIP call, a screen, a recording).
    pages: HashMap<String, super::frame::Frame>,
}

/// Meetings whose presenter page is kept without an output: a bound on
/// memory (a page is ~0.5 MB) if many meetings end while presenting.
const PAGES_KEPT: usize = 64;

impl Worker {
    fn new(
        cfg: ComposeConfig,
        live: Arc<RwLock<HashMap<String, Live>>>,
        recording: Arc<RwLock<std::collections::HashSet<String>>>,
        feeds: Arc<Mutex<HashMap<String, Feeds>>>,
        keyframes: Option<KeyframeSink>,
    ) -> Worker {
        Worker {
            cfg,
            keyframes,
            live,
            recording,
            feeds,
            outputs: HashMap::new(),
            running: Default::default(),
            pages: HashMap::new(),
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
        let encodings = self.outputs.values().map(|o| o.stats.encodings).sum();
        self.running
            .0
            .store(self.outputs.len() as u64, Ordering::Relaxed);
        self.running.1.store(encodings, Ordering::Relaxed);
    }

    /// The meeting's output, made (with `layouts` and `sites`) if it has
    /// none.
    fn output(
        &mut self,
        meeting: &str,
        layouts: Layouts,
        sites: Vec<(u64, String)>,
    ) -> &mut Output {
        let (cfg, feeds, pages) = (self.cfg, &self.feeds, &self.pages);
        self.outputs.entry(meeting.to_string()).or_insert_with(|| {
            let f = feeds
                .lock()
                .expect("composer lock")
                .entry(meeting.to_string())
                .or_default()
                .clone();
            let mut o = Output::new(cfg, layouts, f, Instant::now());
            for (p, name) in sites {
                o.site(p, Some(name));
            }
            o.set_page(pages.get(meeting).cloned());
            o
        })
    }

    /// Drop an output nobody takes any more (not streamed, recorded or
    /// fed to a SIP room or a screen).
    fn release(&mut self, meeting: &str) {
        if self.outputs.get(meeting).is_some_and(Output::idle)
            && let Some(mut o) = self.outputs.remove(meeting)
        {
            o.finish();
        }
        if !self.outputs.contains_key(meeting) {
            let mut feeds = self.feeds.lock().expect("composer lock");
            if feeds.get(meeting).is_some_and(Feeds::unused) {
                feeds.remove(meeting);
            }
        }
    }

    fn control(&mut self, m: Msg) {
        match m {
            Msg::Start {
                meeting,
                layouts,
                sites,
            } => {
                let o = self.output(&meeting, layouts, sites);
                o.set_layouts(layouts);
                let stream = o.start_stream();
                self.live.write().expect("composer lock").insert(
                    meeting,
                    Live {
                        layout: layouts.of(OutputKind::Stream),
                        stream,
                        stats: Arc::new(Mutex::new(OutputStats::default())),
                    },
                );
            }
            Msg::Layouts { meeting, layouts } => {
                if let Some(o) = self.outputs.get_mut(&meeting) {
                    o.set_layouts(layouts);
                }
                if let Some(l) = self.live.write().expect("composer lock").get_mut(&meeting) {
                    l.layout = layouts.of(OutputKind::Stream);
                }
            }
            Msg::Page { meeting, page } => {
                if let Some(o) = self.outputs.get_mut(&meeting) {
                    o.set_page(page.clone());
                }
                match page {
                    Some(p) => {
                        if self.pages.len() >= PAGES_KEPT
                            && !self.pages.contains_key(&meeting)
                            && let Some(k) = self
                                .pages
                                .keys()
                                .find(|k| !self.outputs.contains_key(*k))
                                .cloned()
                        {
                            self.pages.remove(&k);
                        }
                        self.pages.insert(meeting, p);
                    }
                    None => {
                        self.pages.remove(&meeting);
                    }
                }
            }
            Msg::Stop { meeting } => {
                if let Some(o) = self.outputs.get_mut(&meeting) {
                    o.end_stream();
                }
                self.live.write().expect("composer lock").remove(&meeting);
                self.release(&meeting);
            }
            Msg::Record {
                meeting,
                file,
                layouts,
                sites,
            } => self.output(&meeting, layouts, sites).record_to(file),
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
            Msg::Attach {
                meeting,
                kind,
                on,
                layouts,
                sites,
            } => {
                let tap = if on {
                    let o = self.output(&meeting, layouts, sites);
                    let first = o.users() == 0;
                    o.attach(kind, true);
                    first.then_some(true)
                } else if let Some(o) = self.outputs.get_mut(&meeting) {
                    o.attach(kind, false);
                    (o.users() == 0).then_some(false)
                } else {
                    None
                };
                // The room's taps follow its live consumers (the stream
                // and the recording ask for their own).
                if let Some(on) = tap
                    && let Some(k) = &self.keyframes
                {
                    k(&meeting, TapRequest::Tap(on));
                }
                if !on {
                    self.release(&meeting);
                }
            }
            Msg::Keyframe { meeting, kind } => {
                if let Some(o) = self.outputs.get_mut(&meeting) {
                    o.request_keyframe(kind, Instant::now());
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
