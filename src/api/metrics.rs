//! `GET /metrics`: Prometheus text exposition of the media counters.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::control::cascade::{Cascade, LinkState};
use crate::media::RoomStats;

pub async fn metrics(State(state): State<AppState>) -> Response {
    let stats = state.media.stats().await;
    let c = state.media.counters();
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, v: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    };
    let sum = |f: fn(&crate::media::EngineStats) -> u64| stats.iter().map(f).sum::<u64>();
    counter(
        "diemcau_password_verifications_total",
        "Password verifications run (argon2id; a few at a time, only for logins the throttle admitted).",
        state.people.password_verifications(),
    );
    counter(
        "diemcau_logins_throttled_total",
        "Logins refused before any verification: throttled per name and address, or every verification slot busy.",
        state.people.logins_throttled(),
    );
    counter(
        "diemcau_datagrams_received_total",
        "UDP datagrams received on the media port.",
        c.datagrams_in.load(Ordering::Relaxed),
    );
    counter(
        "diemcau_datagrams_dropped_total",
        "Datagrams dropped: unknown source, malformed, refused by a session, worker queue full, or shed for an overloaded worker.",
        c.dropped_unknown.load(Ordering::Relaxed)
            + c.dropped_queue_full.load(Ordering::Relaxed)
            + c.dropped_overload.load(Ordering::Relaxed)
            + sum(|s| s.dropped_unknown_source + s.dropped_malformed),
    );
    counter(
        "diemcau_datagrams_dropped_unknown_source_total",
        "Datagrams from an address no session knows.",
        c.dropped_unknown.load(Ordering::Relaxed) + sum(|s| s.dropped_unknown_source),
    );
    counter(
        "diemcau_datagrams_dropped_malformed_total",
        "Datagrams a session refused (garbage, bad integrity, truncated).",
        sum(|s| s.dropped_malformed),
    );
    counter(
        "diemcau_datagrams_dropped_queue_full_total",
        "Datagrams dropped because a media worker was overloaded.",
        c.dropped_queue_full.load(Ordering::Relaxed),
    );
    counter(
        "diemcau_media_handoffs_dropped_total",
        "Hand-offs between the media workers of a room spread over several (packets, members, decisions) dropped because the receiving worker's queue was full: its share of the room lost them, the others went on.",
        c.handoffs_dropped.load(Ordering::Relaxed),
    );
    counter(
        "diemcau_datagrams_shed_overload_total",
        "Upper simulcast layers shed at the door while a media worker was far behind (viewers move down a layer; audio, lowest layers, feedback and handshakes kept).",
        c.dropped_overload.load(Ordering::Relaxed),
    );
    counter(
        "diemcau_demux_addresses_evicted_total",
        "Remote addresses the demultiplexer forgot by its caps (per session, in all) or for silence, in the receive threads and the engines; a steady climb with few sessions is a STUN flood.",
        c.routes_evicted.load(Ordering::Relaxed) + sum(|s| s.addrs_evicted),
    );
    // ICE-TCP: connections taken, refused at the door (by the caps, or
    // for naming no session in time), closed, and frames dropped.
    let t = &c.tcp;
    for (name, help, v) in [
        (
            "diemcau_ice_tcp_accepted_total",
            "ICE-TCP connections accepted under the caps.",
            &t.accepted,
        ),
        (
            "diemcau_ice_tcp_refused_total_cap_total",
            "ICE-TCP connections refused: the server's cap on open connections was reached.",
            &t.refused_total_cap,
        ),
        (
            "diemcau_ice_tcp_refused_per_source_cap_total",
            "ICE-TCP connections refused: their source address already had its cap of open connections.",
            &t.refused_per_source_cap,
        ),
        (
            "diemcau_ice_tcp_refused_unauthenticated_total",
            "ICE-TCP connections closed because their first frame named no session (or came too late).",
            &t.refused_unauthenticated,
        ),
        (
            "diemcau_ice_tcp_closed_oversize_frame_total",
            "ICE-TCP connections closed for a frame above the size cap.",
            &t.closed_oversize_frame,
        ),
        (
            "diemcau_ice_tcp_closed_idle_total",
            "ICE-TCP connections closed for silence, a peer that stopped reading, or their session leaving.",
            &t.closed_idle,
        ),
        (
            "diemcau_ice_tcp_frames_in_total",
            "RFC 4571 frames received on ICE-TCP connections.",
            &t.frames_in,
        ),
        (
            "diemcau_ice_tcp_frames_dropped_total",
            "ICE-TCP frames dropped because a worker's or a peer's queue was full.",
            &t.frames_dropped,
        ),
    ] {
        counter(name, help, v.load(Ordering::Relaxed));
    }
    counter(
        "diemcau_recorder_packets_dropped_total",
        "Packets of recorded rooms the recorder could not take in time (disk too slow).",
        c.tap_dropped.load(Ordering::Relaxed),
    );
    counter(
        "diemcau_composite_screen_batches_dropped_total",
        "Composite pictures or sound frames for hall screens (WHEP) dropped because the room's media worker was busy.",
        c.composite_dropped.load(Ordering::Relaxed),
    );
    // With an S3 store (`[objects]`): finished recordings still in the
    // spool, and failed upload attempts (each is retried).
    let uploads = state.objects.recordings.stats();
    counter(
        "diemcau_recording_uploads_total",
        "Finished recordings uploaded to the object store.",
        uploads.uploaded,
    );
    counter(
        "diemcau_recording_upload_failures_total",
        "Recording upload attempts that failed (retried with backoff; the spool keeps the files).",
        uploads.failures,
    );
    // Child nodes asking for what is not theirs (`control::cascade::placement`).
    let (relays_refused, presence_ignored) = state.cascade.relay_refusals.totals();
    counter(
        "diemcau_cascade_relays_refused_total",
        "Relay requests of child nodes for meetings not placed on them (answered 404).",
        relays_refused,
    );
    counter(
        "diemcau_cascade_presence_ignored_total",
        "Rooms a child node reported present outside its subtree (ignored).",
        presence_ignored,
    );
    counter(
        "diemcau_datagrams_sent_total",
        "UDP datagrams sent on the media port.",
        sum(|s| s.datagrams_out),
    );
    counter(
        "diemcau_sessions_failed_total",
        "Sessions closed by an internal error (contained).",
        sum(|s| s.sessions_failed),
    );
    let rooms: Vec<&RoomStats> = stats.iter().flat_map(|s| s.rooms.iter()).collect();
    let _ = writeln!(
        out,
        "# HELP diemcau_recording_uploads_pending Finished recordings waiting for their upload to the object store.\n# TYPE diemcau_recording_uploads_pending gauge\ndiemcau_recording_uploads_pending {}",
        uploads.pending
    );
    let _ = writeln!(
        out,
        "# HELP diemcau_rooms Live rooms.\n# TYPE diemcau_rooms gauge\ndiemcau_rooms {}",
        rooms.len()
    );
    let _ = writeln!(
        out,
        "# HELP diemcau_media_subscriber_flushes_total How subscribers were driven after media was written to them: a light flush (send queues and pacer only) or a whole session timeout.\n# TYPE diemcau_media_subscriber_flushes_total counter\n\
         diemcau_media_subscriber_flushes_total{{kind=\"light\"}} {}\n\
         diemcau_media_subscriber_flushes_total{{kind=\"timeout\"}} {}",
        sum(|s| s.light_flushes),
        sum(|s| s.flush_timeouts)
    );
    let _ = writeln!(
        out,
        "# HELP diemcau_media_forwarded_writes_total Packets written to subscribers: sent in the same call (nothing queued before them, the pacer within its burst) or queued and sent after the batch's flush.\n# TYPE diemcau_media_forwarded_writes_total counter\n\
         diemcau_media_forwarded_writes_total{{path=\"direct\"}} {}\n\
         diemcau_media_forwarded_writes_total{{path=\"queued\"}} {}",
        sum(|s| s.direct_sends),
        sum(|s| s.queued_writes)
    );
    let _ = writeln!(
        out,
        "# HELP diemcau_media_direct_send_buffers_total Buffers the packets sent directly were sealed into: one given back by an earlier send, or a new allocation.\n# TYPE diemcau_media_direct_send_buffers_total counter\n\
         diemcau_media_direct_send_buffers_total{{buffer=\"reused\"}} {}\n\
         diemcau_media_direct_send_buffers_total{{buffer=\"new\"}} {}",
        sum(|s| s.direct_sends_reused),
        sum(|s| s.direct_sends - s.direct_sends_reused)
    );
    let _ = writeln!(
        out,
        "# HELP diemcau_media_fanout_runs_total Runs of the fan-out: one track's packets of one batch of input, each subscriber written all of them before the next (its session read once for them).\n# TYPE diemcau_media_fanout_runs_total counter\ndiemcau_media_fanout_runs_total {}\n\
         # HELP diemcau_media_fanout_run_packets_total Packets the fan-out's runs held: divided by the runs, how many packets a subscriber's session is read once for.\n# TYPE diemcau_media_fanout_run_packets_total counter\ndiemcau_media_fanout_run_packets_total {}",
        sum(|s| s.fanout_runs),
        sum(|s| s.fanout_run_packets)
    );
    let _ = writeln!(
        out,
        "# HELP diemcau_media_session_timeouts_deferred_total Session timeouts found no longer due when their turn came (direct sends had moved the session's deadline later) and re-armed instead of run.\n# TYPE diemcau_media_session_timeouts_deferred_total counter\ndiemcau_media_session_timeouts_deferred_total {}",
        sum(|s| s.timeouts_deferred)
    );
    let _ = writeln!(
        out,
        "# HELP diemcau_media_session_timeouts_total Whole session timeouts run from the engines' timer heaps (str0m's reports, feedback, estimator and pacer timers).\n# TYPE diemcau_media_session_timeouts_total counter\ndiemcau_media_session_timeouts_total {}",
        sum(|s| s.session_timeouts)
    );
    let _ = writeln!(
        out,
        "# HELP diemcau_media_worker_wakeups_total Times a media worker woke: for input (datagrams, commands, hand-offs) or for its sessions' timers alone (deadlines within 2 ms share one).\n# TYPE diemcau_media_worker_wakeups_total counter\n\
         diemcau_media_worker_wakeups_total{{cause=\"input\"}} {}\n\
         diemcau_media_worker_wakeups_total{{cause=\"timer\"}} {}",
        c.worker_wakeups[0].load(Ordering::Relaxed),
        c.worker_wakeups[1].load(Ordering::Relaxed)
    );
    out.push_str(&c.join_answer.exposition(
        "diemcau_join_answer_seconds",
        "Time from a join reaching the media driver to its SDP answer: the worker's queue, the session's creation, the answer.",
    ));
    out.push_str(&c.transit.exposition(
        "diemcau_media_transit_seconds",
        "A media (RTP) datagram's time in the server: from the kernel's receipt to the end of the sends of the worker's wake-up that handled it (its copies out, unless a pacer held one); once per worker of a shared room that sent copies.",
    ));
    out.push_str(&c.transit_wait.exposition(
        "diemcau_media_transit_wait_seconds",
        "The first part of a media datagram's transit: from the kernel's receipt to its worker taking it (socket queue, receive thread, worker queue, wake-up).",
    ));
    if let Some(h) = heap() {
        let _ = writeln!(
            out,
            "# HELP diemcau_heap_trim_last_seconds How long the last minute's heap trim (free pages back to the system) took.\n# TYPE diemcau_heap_trim_last_seconds gauge\ndiemcau_heap_trim_last_seconds {}",
            LAST_TRIM_US.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "# HELP diemcau_heap_in_use_bytes Heap bytes allocated and not freed (the C allocator's count, which Rust's allocations go through).\n# TYPE diemcau_heap_in_use_bytes gauge\ndiemcau_heap_in_use_bytes {}\n\
             # HELP diemcau_heap_held_bytes Heap bytes the allocator holds from the system: in use, plus freed memory it keeps for reuse. Far above the bytes in use means fragmentation.\n# TYPE diemcau_heap_held_bytes gauge\ndiemcau_heap_held_bytes {}",
            h.in_use, h.held
        );
    }
    let _ = writeln!(
        out,
        "# HELP diemcau_live_stream_segment_bytes Bytes of live-stream segments held: the windows, and segments still being sent to slow viewers.\n# TYPE diemcau_live_stream_segment_bytes gauge\ndiemcau_live_stream_segment_bytes {}\n\
         # HELP diemcau_compose_packets_dropped_total Tapped packets the composer could not take in time.\n# TYPE diemcau_compose_packets_dropped_total counter\ndiemcau_compose_packets_dropped_total {}\n\
         # HELP diemcau_composite_outputs Meetings whose composite runs (for their stream, recording, SIP rooms or hall screens).\n# TYPE diemcau_composite_outputs gauge\ndiemcau_composite_outputs {}\n\
         # HELP diemcau_composite_encodings Composite encodings running: one per layout in use per meeting.\n# TYPE diemcau_composite_encodings gauge\ndiemcau_composite_encodings {}",
        crate::compose::hls::segment_bytes_held(),
        state.composer.dropped(),
        state.composer.running().0,
        state.composer.running().1,
    );
    type Field = (
        &'static str,
        &'static str,
        &'static str,
        fn(&RoomStats) -> u64,
    );
    let fields: [Field; 19] = [
        (
            "diemcau_room_participants",
            "gauge",
            "Participants in the room.",
            |r| r.participants,
        ),
        (
            "diemcau_room_tracks",
            "gauge",
            "Published tracks in the room.",
            |r| r.tracks,
        ),
        (
            "diemcau_room_packets_in_total",
            "counter",
            "RTP packets received from publishers.",
            |r| r.packets_in,
        ),
        (
            "diemcau_room_bytes_in_total",
            "counter",
            "RTP payload bytes received from publishers.",
            |r| r.bytes_in,
        ),
        (
            "diemcau_room_packets_out_total",
            "counter",
            "RTP packets forwarded to subscribers.",
            |r| r.packets_out,
        ),
        (
            "diemcau_room_bytes_out_total",
            "counter",
            "RTP payload bytes forwarded to subscribers.",
            |r| r.bytes_out,
        ),
        (
            "diemcau_room_nacks_received_total",
            "counter",
            "NACKs received from subscribers.",
            |r| r.nacks_received,
        ),
        (
            "diemcau_room_plis_sent_total",
            "counter",
            "Keyframe requests (PLI) sent to publishers.",
            |r| r.plis_sent,
        ),
        (
            "diemcau_room_keyframe_requests_total",
            "counter",
            "Keyframe requests received from subscribers.",
            |r| r.keyframe_requests_received,
        ),
        (
            "diemcau_room_handoff_packets_total",
            "counter",
            "Packets of a room spread over several media workers, handed from the worker they arrived on to another whose subscribers need them (payload shared, not copied).",
            |r| r.handoff_packets_out,
        ),
        (
            "diemcau_room_remote_packets_in_total",
            "counter",
            "Packets a media worker took from another worker of the same room, for its subscribers.",
            |r| r.remote_packets_in,
        ),
        (
            "diemcau_room_dropped_muted_total",
            "counter",
            "Packets dropped because their sender is muted.",
            |r| r.dropped_muted,
        ),
        (
            "diemcau_room_dropped_over_budget_total",
            "counter",
            "Packets from a relay link dropped beyond its link budget.",
            |r| r.dropped_over_budget,
        ),
        (
            "diemcau_room_red_packets_in_total",
            "counter",
            "Audio packets publishers sent as RED (RFC 2198).",
            |r| r.red_packets_in,
        ),
        (
            "diemcau_room_red_recovered_total",
            "counter",
            "Audio frames lost on a publisher's uplink and rebuilt from RED redundancy.",
            |r| r.red_recovered,
        ),
        (
            "diemcau_room_red_malformed_total",
            "counter",
            "RED audio payloads dropped as malformed.",
            |r| r.red_malformed,
        ),
        (
            "diemcau_room_red_packets_out_total",
            "counter",
            "Audio packets sent as RED (forwarded or built for a lossy subscriber).",
            |r| r.red_packets_out,
        ),
        (
            "diemcau_room_red_generated_total",
            "counter",
            "RED audio packets the server built for subscribers above the loss threshold.",
            |r| r.red_generated,
        ),
        (
            "diemcau_room_red_redundancy_bytes_total",
            "counter",
            "Bytes of RED redundancy sent beyond the primary audio frames.",
            |r| r.red_bytes_out,
        ),
    ];
    for (name, kind, help, f) in fields {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for r in &rooms {
            let _ = writeln!(out, "{name}{{room=\"{}\"}} {}", escape(&r.room), f(r));
        }
    }
    let _ = writeln!(
        out,
        "# HELP diemcau_ice_tcp_connections ICE-TCP connections open now.\n# TYPE diemcau_ice_tcp_connections gauge\ndiemcau_ice_tcp_connections {}",
        c.tcp.open.load(Ordering::Relaxed)
    );
    // Per participant: the link meters an operator watches for every endpoint.
    let parts: Vec<&crate::media::ParticipantStats> =
        stats.iter().flat_map(|s| s.participants.iter()).collect();
    type PField = (
        &'static str,
        &'static str,
        fn(&crate::media::ParticipantStats) -> f64,
    );
    let pfields: [PField; 6] = [
        (
            "diemcau_participant_connected",
            "1 when ICE and DTLS are up.",
            |p| p.connected as u8 as f64,
        ),
        (
            "diemcau_participant_loss_in_ratio",
            "Share of the participant's packets lost on the way to the server.",
            |p| p.loss_in_permille as f64 / 1000.0,
        ),
        (
            "diemcau_participant_loss_out_ratio",
            "Share of the server's packets lost on the way to the participant.",
            |p| p.loss_out_permille as f64 / 1000.0,
        ),
        ("diemcau_participant_rtt_seconds", "Round-trip time.", |p| {
            p.rtt_ms as f64 / 1000.0
        }),
        (
            "diemcau_participant_ice_tcp",
            "1 when the participant's media runs over ICE-TCP (UDP blocked on its way).",
            |p| p.tcp as u8 as f64,
        ),
        (
            "diemcau_participant_bandwidth_estimate_bits",
            "Send-side bandwidth estimate towards the participant, bit/s.",
            |p| p.bwe_bps as f64,
        ),
    ];
    for (name, help, f) in pfields {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for p in &parts {
            let _ = writeln!(
                out,
                "{name}{{room=\"{}\",participant=\"{}\",name=\"{}\"}} {}",
                escape(&p.room),
                p.participant,
                escape(&p.name),
                f(p)
            );
        }
    }
    // Map sizes: the endurance scenario (`diemcau-load s6`) checks none
    // grows with the number of rejoins.
    {
        let mut maps = crate::media::MapSizes::default();
        for s in stats.iter() {
            let m = s.maps;
            maps.sessions += m.sessions;
            maps.rooms += m.rooms;
            maps.tracks += m.tracks;
            maps.ufrags += m.ufrags;
            maps.addresses += m.addresses;
            maps.slots += m.slots;
            maps.remote_members += m.remote_members;
            maps.timers += m.timers;
            maps.taps += m.taps;
        }
        let _ = writeln!(
            out,
            "# HELP diemcau_media_map_entries Entries in the media workers' maps (summed over workers), and the receive threads' demux routes.\n# TYPE diemcau_media_map_entries gauge"
        );
        for (name, n) in maps.named() {
            let _ = writeln!(out, "diemcau_media_map_entries{{map=\"{name}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "diemcau_media_map_entries{{map=\"demux_routes\"}} {}",
            c.routes_held.load(Ordering::Relaxed)
        );
    }
    // Cascade links: the one to the parent (by its id once it answered,
    // else its URL) and each child's, 1 when up.
    let _ = writeln!(
        out,
        "# HELP diemcau_cascade_link_up 1 when the link to a cascade node (the parent, or a child) is up.\n# TYPE diemcau_cascade_link_up gauge"
    );
    if let Some(p) = state.cascade.parent() {
        let up = p.state == LinkState::Up;
        let node = p.parent_id.unwrap_or(p.url);
        let _ = writeln!(
            out,
            "diemcau_cascade_link_up{{node=\"{}\"}} {}",
            escape(&node),
            u8::from(up)
        );
    }
    match Cascade::for_node(state.store.clone(), state.cascade.node_id.clone())
        .list()
        .await
    {
        Ok(children) => {
            for c in children.iter().filter(|c| c.revoked_at_ms.is_none()) {
                let up = c.link.as_ref().is_some_and(|l| l.state == LinkState::Up);
                let _ = writeln!(
                    out,
                    "diemcau_cascade_link_up{{node=\"{}\"}} {}",
                    escape(&c.id),
                    u8::from(up)
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading cascade links failed"),
    }
    // Relay links to the parent, one per open meeting: what crosses the
    // uplink and its budget.
    let links = state.relays.links();
    if !links.is_empty() {
        let _ = writeln!(
            out,
            "# HELP diemcau_relay_link_up 1 when this node's relay link to its parent for a meeting is up.\n# TYPE diemcau_relay_link_up gauge\n\
             # HELP diemcau_relay_link_bytes_total UDP bytes over a relay link to the parent (up: sent to it).\n# TYPE diemcau_relay_link_bytes_total counter\n\
             # HELP diemcau_relay_link_bitrate_bps A relay link's bitrate over the last quarter second.\n# TYPE diemcau_relay_link_bitrate_bps gauge\n\
             # HELP diemcau_relay_link_budget_kbps The link budget a relay link is held under (both ways).\n# TYPE diemcau_relay_link_budget_kbps gauge\n\
             # HELP diemcau_relay_link_relinks_total Times a relay link was made again after a loss.\n# TYPE diemcau_relay_link_relinks_total counter"
        );
        for (meeting, l) in links {
            let m = escape(&meeting);
            let _ = writeln!(
                out,
                "diemcau_relay_link_up{{meeting=\"{m}\"}} {}\n\
                 diemcau_relay_link_bytes_total{{meeting=\"{m}\",direction=\"up\"}} {}\n\
                 diemcau_relay_link_bytes_total{{meeting=\"{m}\",direction=\"down\"}} {}\n\
                 diemcau_relay_link_bitrate_bps{{meeting=\"{m}\",direction=\"up\"}} {}\n\
                 diemcau_relay_link_bitrate_bps{{meeting=\"{m}\",direction=\"down\"}} {}\n\
                 diemcau_relay_link_budget_kbps{{meeting=\"{m}\"}} {}\n\
                 diemcau_relay_link_relinks_total{{meeting=\"{m}\"}} {}",
                u8::from(l.up),
                l.bytes_up,
                l.bytes_down,
                l.bitrate_up_bps,
                l.bitrate_down_bps,
                l.budget_kbps,
                l.relinks
            );
        }
    }
    if let Some(sip) = &state.sip {
        sip.render(&mut out);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The C allocator's totals over all its arenas.
struct Heap {
    in_use: u64,
    held: u64,
}

/// glibc's `mallinfo2` (2.33 and later; the package needs Debian 12's 2.36).
/// Memory per subscriber is measured on the heap in use: RSS also counts
/// what the allocator keeps after a burst, which varied by ±100 KiB per
/// subscriber from run to run.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap() -> Option<Heap> {
    // SAFETY: mallinfo2 takes no pointer and only reads the allocator's
    // statistics under its arena locks.
    let m = unsafe { libc::mallinfo2() };
    Some(Heap {
        in_use: (m.uordblks + m.hblkhd) as u64,
        held: (m.arena + m.hblkhd) as u64,
    })
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap() -> Option<Heap> {
    None
}

/// Microseconds the last heap trim took (`trim_heap`), for /metrics.
static LAST_TRIM_US: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Every minute, hand the heap's free pages back to the system
/// (`malloc_trim`). glibc keeps what a burst freed — a join storm, a worker's
/// backlog on a starved core — in the middle of its arenas, so RSS crept up
/// over an hour of S6 while the heap in use stayed flat (82 MiB in use,
/// 137 → 140 MiB held in 20 minutes). The call holds each arena's lock
/// while it walks it, once a minute.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub async fn trim_heap() {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    every.tick().await;
    loop {
        every.tick().await;
        if let Ok(d) = tokio::task::spawn_blocking(trim_once).await {
            LAST_TRIM_US.store(d.as_micros() as u64, Ordering::Relaxed);
        }
    }
}

/// One trim of every arena; how long it took.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_once() -> std::time::Duration {
    let t = std::time::Instant::now();
    // SAFETY: malloc_trim takes no pointer; it locks the arenas itself.
    unsafe { libc::malloc_trim(0) };
    t.elapsed()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub async fn trim_heap() {}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Resident pages of this process, bytes (`/proc/self/statm`).
    fn rss() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        // SAFETY: sysconf reads a constant of the system.
        pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
    }

    /// What a burst freed in the middle of an arena stays resident until
    /// trimmed: a block allocated after it pins the arena's top, so glibc's
    /// own trimming (of the top only) cannot give it back.
    #[test]
    fn a_trim_gives_back_what_a_burst_freed_behind_a_live_block() {
        const BURST: usize = 64 << 20;
        // 32 KiB blocks: under the mmap threshold, so they come from the arena.
        let mut burst: Vec<Vec<u8>> = (0..BURST / 32768).map(|_| vec![1u8; 32768]).collect();
        let pin = vec![1u8; 32768];
        let before_free = rss();
        burst.clear();
        burst.shrink_to_fit();
        let freed = rss();
        assert!(
            freed + BURST as u64 / 2 > before_free,
            "the freed burst should still be resident before a trim: {before_free} → {freed} bytes"
        );
        trim_once();
        let trimmed = rss();
        assert!(
            trimmed + BURST as u64 / 2 < freed,
            "a trim gave back {} of the {BURST}-byte burst",
            freed.saturating_sub(trimmed)
        );
        drop(pin);
    }
}
