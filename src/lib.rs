//! diemcau: videoconference bridge and conference-room controller.
//!
//! `Server::start` wires the parts (media driver, signalling hub, HTTP and
//! HTTPS listeners) and nothing else; see ARCHITECTURE.md for the map.

pub mod api;
pub mod compose;
pub mod conference;
pub mod config;
pub mod control;
pub mod demo;
pub mod demo_content;
pub mod demo_signing;
// The sans-IO crates, under the names the rest of the server uses.
pub use diemcau_media as media;
pub mod net;
pub mod objects;
pub mod ops;
pub mod pdf;
pub use diemcau_record as record;
pub mod recorder;
pub mod relay;
pub mod sign;
pub mod signal;
pub mod sip;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use config::Config;

/// The meeting `diemcau demo` seeds.
pub const DEMO_MEETING: &str = "demo";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Media(#[from] net::MediaError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot open the database: {0}")]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    AuditKey(#[from] store::audit::KeyError),
    #[error("cannot seal the audit log: {0}")]
    AuditSeal(#[from] store::audit::SealError),
    #[error("cannot open the document store: {0}")]
    Documents(String),
    /// `[objects]`: the store cannot be built or (S3) does not answer.
    #[error("cannot open the object store: {0}")]
    Objects(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The parent refused this node as a loop in the tree of nodes.
    #[error("refusing to start: {0}")]
    CascadeLoop(String),
    /// `[cascade] parent_ca` cannot be read, or the client cannot be built.
    #[error(transparent)]
    Parent(#[from] api::uplink::ParentError),
    /// `[signatures]`: a trust anchor file cannot be read or parsed.
    #[error("cannot load the signature trust anchors: {0}")]
    Trust(#[from] control::trust::TrustStoreError),
}

fn system_actor(name: &str) -> store::Actor {
    store::Actor {
        id: "system".into(),
        name: name.into(),
        address: None,
    }
}

/// Signed documents were checked against the trust set of their time: when
/// this start's anchors or CRL files differ from the last start's, check
/// every one again (in the background; audited as the system's re-check).
async fn recheck_if_trust_changed(state: api::AppState) {
    let mark = state.data_dir.join("signatures-trust.sha256");
    let now = state.trust.fingerprint();
    let before = tokio::fs::read_to_string(&mark).await.unwrap_or_default();
    if before.trim() == now {
        return;
    }
    if !before.is_empty() && state.recheck.start() {
        let actor = system_actor("trust anchors or CRL files changed");
        state
            .documents
            .recheck_until_settled(&actor, state.recheck.clone())
            .await;
    }
    if let Err(e) = tokio::fs::write(&mark, now).await {
        tracing::warn!(file = %mark.display(), error = %e, "trust fingerprint not kept");
    }
}

/// Recordings a previous run left running (it stopped, or was killed):
/// marked interrupted, and their index says where the gap begins — the
/// files play up to their last written cluster. A meeting still live gets
/// a new recording at once, whose index starts with the gap.
async fn interrupted_recordings(state: &api::AppState) {
    let recs = control::recordings::Recordings::new(state.store.clone());
    let actor = system_actor("khởi động lại (restart)");
    let rows = match recs.interrupt_leftovers(&actor).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "reading interrupted recordings failed");
            return;
        }
    };
    for r in rows {
        let dir = state.objects.recordings.local_dir(&r.dir);
        // The last write is when the files were last touched.
        let last_write_ms = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok()?.modified().ok())
            .filter_map(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .max()
            .unwrap_or(r.started_at_ms);
        let path = dir.join("index.json");
        if let Ok(text) = std::fs::read(&path)
            && let Ok(mut index) = serde_json::from_slice::<recorder::Index>(&text)
        {
            index.failure = Some("interrupted".into());
            index.stopped_at_ms = Some(last_write_ms);
            index.chapters.push(recorder::Chapter {
                at_ms: u64::try_from(last_write_ms - index.started_at_ms).unwrap_or(0),
                kind: "gap".into(),
                title: "Máy chủ dừng khi đang ghi: bản ghi kết thúc ở cụm cuối cùng đã ghi. \
                        The server stopped while recording."
                    .into(),
                endpoint_id: None,
            });
            if let Ok(bytes) = serde_json::to_vec_pretty(&index) {
                let _ = std::fs::write(&path, bytes);
            }
        }
        tracing::warn!(recording = %r.id, meeting = %r.meeting_id, "recording interrupted by a server stop");
        let live = control::meetings::Meetings::new(state.store.clone())
            .get(&r.meeting_id)
            .await
            .is_ok_and(|m| m.state == control::meetings::MeetingState::Live);
        if !live {
            continue;
        }
        match api::v1::recordings::start_recording(state, &actor, &r.meeting_id).await {
            Ok(new) => {
                let gap_s = (new.started_at_ms - last_write_ms).max(0) / 1000;
                state.recorder.chapter(
                    &r.meeting_id,
                    "gap",
                    &format!(
                        "Tiếp nối bản ghi {} sau khi máy chủ khởi động lại; khoảng trống khoảng {gap_s} giây. \
                         Continues recording {} after a server restart; gap of about {gap_s} s.",
                        r.id, r.id
                    ),
                    None,
                );
            }
            Err(e) => {
                tracing::error!(meeting = %r.meeting_id, error = ?e, "recording not resumed after restart")
            }
        }
    }
}

/// The retention policy: hourly, delete the files of recordings that ended
/// more than `keep_days` ago (the rows stay, marked expired, audited).
async fn expire_recordings(state: api::AppState, keep_days: u32) {
    let recs = control::recordings::Recordings::new(state.store.clone());
    let actor = system_actor("lưu trữ (retention)");
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let before = store::now_ms() - i64::from(keep_days) * 86_400_000;
        let due = match recs.due_for_expiry(before).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "retention: reading old recordings failed");
                continue;
            }
        };
        for r in due {
            // The spool and, with S3, every object under the recording.
            if let Err(e) = state.objects.recordings.delete(&r.dir).await {
                tracing::warn!(recording = %r.id, error = %e, "retention: files not deleted");
                continue;
            }
            if let Err(e) = recs.expire(&actor, &r.id).await {
                tracing::warn!(recording = %r.id, error = %e, "retention: not marked expired");
            } else {
                tracing::info!(recording = %r.id, "retention: recording files deleted");
            }
        }
    }
}

/// A recording that stopped by itself (disk full, a write error): record
/// it and tell the meeting's consoles; the meeting goes on.
async fn watch_recordings(state: api::AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        every.tick().await;
        for index in state.recorder.take_failed() {
            let why = index.failure.clone().unwrap_or_default();
            // Closed by the recorder: with S3 its files go to the bucket now.
            state
                .objects
                .recordings
                .finished(&format!("{}/{}", index.meeting_id, index.recording_id));
            let recs = control::recordings::Recordings::new(state.store.clone());
            if let Err(e) = recs
                .finish(
                    &system_actor("bộ ghi hình (recorder)"),
                    &index.meeting_id,
                    control::recordings::RecordingState::Failed,
                    Some(&why),
                )
                .await
            {
                tracing::error!(error = %e, "recording failure not stored");
            }
            let _ = state.media.record(&index.meeting_id, false).await;
            state
                .live
                .announce(
                    &index.meeting_id,
                    signal::event::ServerEvent::RecordingFailed {
                        recording_id: Some(index.recording_id.clone()),
                        message: if why == "disk_full" {
                            "Ổ đĩa ghi hình đã đầy: bản ghi đã dừng, hội nghị vẫn tiếp tục. Recording disk full: the recording stopped, the meeting goes on."
                        } else {
                            "Lỗi ghi tệp: bản ghi đã dừng, hội nghị vẫn tiếp tục. A write error stopped the recording; the meeting goes on."
                        }
                        .to_string(),
                        reason: why,
                    },
                )
                .await;
        }
    }
}

/// Open every meeting whose time has come (its start minus the lead), and
/// its live room: a meeting opens by itself even with no operator at the
/// console. Every node may run this; the store opens each meeting once.
async fn open_due_meetings(state: api::AppState, lead_minutes: u32) {
    let meetings = control::meetings::Meetings::new(state.store.clone());
    let actor = store::Actor {
        id: "system".into(),
        name: "lịch tự động (scheduler)".into(),
        address: None,
    };
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        every.tick().await;
        let lead_ms = i64::from(lead_minutes) * 60_000;
        match meetings.open_due(&actor, store::now_ms(), lead_ms).await {
            Ok(opened) => {
                for m in opened {
                    tracing::info!(meeting = %m.id, title = %m.title, "meeting opened on schedule");
                    if let Err(e) = state.conference.live_room(&m).await {
                        tracing::warn!(meeting = %m.id, error = %e, "live room not opened");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "opening due meetings failed; retrying"),
        }
    }
}

/// Child links that stopped saying hello go down: a child says hello every
/// 10 s while its link is up, so three missed heartbeats mark it down.
async fn watch_cascade_children(state: api::AppState) {
    let registry =
        control::cascade::Cascade::for_node(state.store.clone(), state.cascade.node_id.clone());
    let actor = system_actor("liên kết tầng (cascade)");
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        every.tick().await;
        let silent_ms = 3 * i64::try_from(api::uplink::HEARTBEAT.as_millis()).unwrap_or(30_000);
        match registry
            .mark_stale(&actor, store::now_ms() - silent_ms)
            .await
        {
            Ok(down) => {
                for node in down {
                    tracing::warn!(node = %node, "cascade: child node stopped saying hello; its link is down");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cascade: checking child links failed"),
        }
    }
}

/// With `[cascade] parent` and this node's id: where its relay links go.
fn relay_uplink(config: &config::Config, parent: &api::uplink::Parent) -> Option<relay::Uplink> {
    Some(relay::Uplink {
        parent: parent.clone(),
        node_id: config.cascade.node_id.clone()?,
        budget_kbps: config.cascade.uplink_kbps,
    })
}

/// With `[cascade] parent`: say hello to the parent before the server is
/// declared started. A loop refuses the start; an unreachable parent does
/// not (the node runs standalone and keeps trying every 2 s).
async fn join_cascade(
    parent: &api::uplink::Parent,
    cascade: &Arc<control::cascade::CascadeState>,
) -> Result<JoinHandle<()>, StartError> {
    match api::uplink::hello_and_record(cascade, parent).await {
        Ok(_) => {}
        Err(api::uplink::HelloError::Loop { message, url }) => {
            return Err(StartError::CascadeLoop(format!("{message} (parent {url})")));
        }
        Err(e) => tracing::warn!(
            "cascade: {e}; starting standalone, saying hello again every {} s",
            api::uplink::RETRY.as_secs()
        ),
    }
    Ok(tokio::spawn(api::uplink::run(
        cascade.clone(),
        parent.clone(),
    )))
}

/// A running server.
pub struct Server {
    http_addr: Option<SocketAddr>,
    https_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    media: net::Media,
    state: api::AppState,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    tls_handle: Option<axum_server::Handle<SocketAddr>>,
    /// The SIP listener for room codecs (`[sip]`), when configured.
    sip: Option<sip::server::SipServer>,
}

impl Server {
    pub async fn start(config: Config) -> Result<Server, StartError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        // A credential or CA file that cannot be read fails the start at once.
        let parent = api::uplink::Parent::from_config(&config.cascade)?;
        // Before media: a server that cannot reach its database should fail
        // at start, not on the first operator action.
        let store = store::Store::open(&config.database_url()).await?;
        // The audit key, outside the database: every record from now on is
        // linked with it, and the chain's head anchored outside too.
        let (audit_key, _) = store::audit::AuditKey::load_or_create(&config.audit_key_path())?;
        let sealed = store::audit::seal(&store, audit_key, config.audit_anchor_path()).await?;
        if !sealed.newly {
            store::audit::anchor_head(&store, "server.start").await;
        }
        // Also before media: an S3 store that does not answer fails the start.
        let objects = objects::Objects::open(&config.objects, &config.data_dir)
            .await
            .map_err(StartError::Objects)?;
        let trust = control::trust::TrustStore::load(&config.signatures, &config.data_dir, &[])?;
        let documents = control::documents::Documents::with_objects(
            store.clone(),
            objects.documents.clone(),
            u64::from(config.documents.max_upload_mib) * 1024 * 1024,
        )
        .with_trust(trust.clone());
        let (media, events) = net::Media::start(net::MediaSettings {
            bind: config.media.bind,
            port: config.media.udp_port,
            advertise: config
                .media
                .advertise
                .iter()
                .map(|a| (a.ip, a.port))
                .collect(),
            workers: config.media_workers(),
            audio_slots_max: config.media.audio_slots_max,
            socket_buffer_bytes: config.media.socket_buffer_bytes,
            tcp_port: config.media.ice_tcp.then_some(config.media.tcp_port),
            room_split_sessions: config.media.room_split_sessions,
        })?;
        // The composite's thread: the recorder tees it a streaming room's
        // packets (it owns the one tap queue).
        // The composer's requests of the engine, carried out one after the
        // other by one task, in the order asked (a feed's taps turned off
        // and on again must end on).
        let keyframes: compose::service::KeyframeSink = {
            let (tx, mut rx) =
                tokio::sync::mpsc::unbounded_channel::<(String, compose::service::TapRequest)>();
            let media = media.clone();
            tokio::spawn(async move {
                while let Some((room, request)) = rx.recv().await {
                    let cmd = match request {
                        compose::service::TapRequest::Keyframe(track) => {
                            media::Command::TapKeyframe {
                                room: room.clone(),
                                track,
                            }
                        }
                        compose::service::TapRequest::Layers(layers) => media::Command::TapLayers {
                            room: room.clone(),
                            layers,
                        },
                        compose::service::TapRequest::Tap(on) => {
                            if let Err(e) = media.tap(&room, net::TapUser::Composite, on).await {
                                tracing::warn!(%room, error = %e, "composite taps not changed");
                            }
                            continue;
                        }
                    };
                    let _ = media.room_command(&room, cmd).await;
                }
            });
            Box::new(move |room: &str, request| {
                let _ = tx.send((room.to_string(), request));
            })
        };
        let composer = compose::Composer::start(config.live_stream, Some(keyframes));
        let recorder = recorder::Recorder::start(
            media
                .take_tap_receiver()
                .expect("a new media driver has its tap receiver"),
            Some(composer.clone()),
        );
        let hub = Arc::new(signal::hub::Hub::default());
        let live = signal::live::LiveRooms::new(media.clone(), Some(composer.clone()));
        // Relay participants of child nodes (the hub forgets those that leave).
        let relays = Arc::new(relay::Relays::default());
        let mut tasks = vec![
            tokio::spawn(hub.clone().run(
                media.clone(),
                events,
                live.clone(),
                recorder.clone(),
                composer.clone(),
                relays.clone(),
            )),
            tokio::spawn(live.clone().run_ticker()),
        ];
        let meetings = Arc::new(control::JoinTokens::default());
        if let Some(token) = &config.demo.token {
            meetings.add(DEMO_MEETING, token);
            // The demo meeting has no planned rooms: everyone joins as a
            // guest, and the live controls still work on it.
            live.open_with(DEMO_MEETING, || {
                control::live::LiveMeeting::new(Vec::new(), None, None, 67)
                    .expect("an empty meeting is valid")
            });
        }
        // The HTTPS server's certificate, also SIP over TLS's.
        let tls = match config.http.https_listen.or(config.sip.tls_listen) {
            Some(_) => Some(tls::load_or_generate(
                config.tls.cert.as_deref(),
                config.tls.key.as_deref(),
                &config.tls.names,
                &config.data_dir,
            )?),
            None => None,
        };
        // One People per server: it holds the login throttle and the
        // password verification slots, shared by every entry point.
        let people =
            control::people::People::with_token_days(store.clone(), config.auth.api_token_days);
        let conference = conference::Conference::new(
            store.clone(),
            people.clone(),
            live.clone(),
            media.clone(),
            hub.clone(),
            meetings.clone(),
        )
        .as_child_node(
            config
                .cascade
                .parent
                .as_ref()
                .and(config.cascade.node_id.clone()),
        );
        let state = api::AppState {
            media: media.clone(),
            hub,
            meetings,
            store,
            live,
            conference,
            data_dir: config.data_dir.clone(),
            documents,
            objects,
            recorder,
            composer,
            live_stream: config.live_stream,
            recording: config.recording.clone(),
            ca_pem: tls
                .as_ref()
                .and_then(|t| t.ca_pem.as_deref().map(Arc::from)),
            cascade: Arc::new(control::cascade::CascadeState::new(&config.cascade)),
            relays: relays.clone(),
            people,
            ballots: Default::default(),
            seal: Arc::new(sign::keys::Seal::new(config.signatures.clone())),
            trust,
            recheck: Default::default(),
            sip: config.sip.enabled().then(Default::default),
            sip_realm: config.sip.realm.clone(),
        };
        // Every spool directory found now is a previous run's, ended (or
        // interrupted: marked below first, so its index goes up fixed).
        let leftovers = state.objects.recordings.leftovers();
        interrupted_recordings(&state).await;
        tasks.extend(state.objects.recordings.start_archiver());
        for rel in leftovers {
            state.objects.recordings.finished(&rel);
        }
        tasks.push(tokio::spawn(watch_recordings(state.clone())));
        tasks.push(tokio::spawn(api::metrics::trim_heap()));
        tasks.push(tokio::spawn(recheck_if_trust_changed(state.clone())));
        if config.recording.keep_days > 0 {
            tasks.push(tokio::spawn(expire_recordings(
                state.clone(),
                config.recording.keep_days,
            )));
        }
        tasks.push(tokio::spawn(open_due_meetings(
            state.clone(),
            config.meetings.open_before_minutes,
        )));
        tasks.push(tokio::spawn(watch_cascade_children(state.clone())));
        let app = api::router(state.clone());
        let (stop, stop_rx) = watch::channel(false);
        let mut http_addr = None;
        if let Some(addr) = config.http.http_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen { addr, source })?;
            http_addr = listener.local_addr().ok();
            let app = app.clone();
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
            }));
        }
        // Prometheus: /metrics on its own listener, never the public ones.
        let mut metrics_addr = None;
        if let Some(addr) = config.http.metrics_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen { addr, source })?;
            metrics_addr = listener.local_addr().ok();
            let metrics_app = api::metrics_router(state.clone());
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, metrics_app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.wait_for(|s| *s).await;
                    })
                    .await;
            }));
        }
        // SIP over TLS serves the same certificate; SIP names no ALPN.
        let sip_tls = tls.as_ref().map(|t| {
            let mut c = (*t.server_config).clone();
            c.alpn_protocols.clear();
            Arc::new(c)
        });
        let mut https_addr = None;
        let mut tls_handle = None;
        if let (Some(addr), Some(tls)) = (config.http.https_listen, tls) {
            let listener = std::net::TcpListener::bind(addr)
                .map_err(|source| StartError::Listen { addr, source })?;
            listener
                .set_nonblocking(true)
                .map_err(|source| StartError::Listen { addr, source })?;
            https_addr = listener.local_addr().ok();
            let rustls_config =
                axum_server::tls_rustls::RustlsConfig::from_config(tls.server_config.clone());
            let handle = axum_server::Handle::new();
            tls_handle = Some(handle.clone());
            let server = axum_server::from_tcp_rustls(listener, rustls_config)
                .map_err(|source| StartError::Listen { addr, source })?
                .handle(handle);
            let app = app.layer(axum::middleware::from_fn(api::harden::hsts));
            tasks.push(tokio::spawn(async move {
                let _ = server
                    .serve(app.into_make_service_with_connect_info::<SocketAddr>())
                    .await;
            }));
        }
        // SIP room codecs (`[sip]`): nothing is bound unless configured.
        let sip = match (config.sip.udp_listen, &state.sip) {
            (Some(addr), Some(metrics)) => sip::server::start(
                state.conference.clone(),
                config.sip.clone(),
                metrics.clone(),
                sip_tls,
            )
            .await
            .map_err(|source| StartError::Listen { addr, source })?,
            _ => None,
        };
        let cascade = state.cascade.clone();
        let mut server = Server {
            http_addr,
            https_addr,
            metrics_addr,
            media,
            state,
            stop,
            tasks,
            tls_handle,
            sip,
        };
        // Last: the listeners are up, so a node whose parent is itself
        // answers its own hello (and refuses it as a loop).
        if let Some(parent) = parent {
            match join_cascade(&parent, &cascade).await {
                Ok(task) => {
                    server.tasks.push(task);
                    if let Some(uplink) = relay_uplink(&config, &parent) {
                        server.tasks.push(tokio::spawn(relay::link::supervise(
                            server.state.clone(),
                            uplink,
                        )));
                    }
                }
                Err(e) => {
                    server.shutdown().await;
                    return Err(e);
                }
            }
        }
        Ok(server)
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    /// The Prometheus listener (`/metrics`), unless switched off.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Where peers send media (one address per advertised candidate).
    pub fn media_addrs(&self) -> &[SocketAddr] {
        self.media.local_addrs()
    }

    /// ICE-TCP candidate addresses (empty when `media.ice_tcp` is off).
    pub fn media_tcp_addrs(&self) -> &[SocketAddr] {
        self.media.tcp_addrs()
    }

    /// The SIP listener's UDP address, when `[sip] udp_listen` is set.
    pub fn sip_udp_addr(&self) -> Option<SocketAddr> {
        self.sip.as_ref().and_then(|s| s.udp_addr)
    }

    /// The SIP listener's TLS address, when `[sip] tls_listen` is set.
    pub fn sip_tls_addr(&self) -> Option<SocketAddr> {
        self.sip.as_ref().and_then(|s| s.tls_addr)
    }

    /// The SIP listener's TCP address, when `[sip] tcp_listen` is set.
    pub fn sip_tcp_addr(&self) -> Option<SocketAddr> {
        self.sip.as_ref().and_then(|s| s.tcp_addr)
    }

    /// The SIP listener's counters, when it runs.
    pub fn sip_metrics(&self) -> Option<&Arc<sip::metrics::SipMetrics>> {
        self.sip.as_ref().map(|s| &s.metrics)
    }

    pub fn state(&self) -> &api::AppState {
        &self.state
    }

    /// Stop listeners and media threads, waiting for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Some(s) = &self.sip {
            s.abort();
        }
        if let Some(h) = &self.tls_handle {
            h.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
        }
        let media = self.media.clone();
        let _ = tokio::task::spawn_blocking(move || media.shutdown()).await;
        for t in self.tasks {
            t.abort();
        }
    }
}
