// @ts-check
// The types of a meeting's event stream (`…/live/events`) and of a room's
// signalling (`/ws`), generated from the server's (src/signal/event.rs,
// src/signal/wire.rs, diemcau-live's LiveEvent and LiveSnapshot) by
// src/api/jsdoc.rs. Do not edit: after changing them, run
// DIEMCAU_BLESS=1 cargo nextest run -E 'test(web_types)'

/**
 * The first message, and again after a `resync`.
 * @typedef {{type: "snapshot", seq: number, meeting: string, state: LiveSnapshot, resync?: boolean}} Snapshot
 */

/**
 * One item of an agenda.
 * @typedef {{created_at_ms: number, id: string, meeting_id: string, notes: string, planned_minutes: number, position: number, presenter: string, presenter_user_id?: string | null, title: string, updated_at_ms: number}} AgendaItem
 */

/**
 * Where a room stands before the meeting.
 * @typedef {"ready" | "warning" | "failed" | "not_checked" | "connected_unchecked"} CheckStatus
 */

/**
 * Messages from a client to the server.
 * @typedef {{type: "join", max_kbps?: number | null, meeting: string, name?: string | null, offer: string, role?: string | null, token: string, v: number} | {type: "offer", sdp: string} | {type: "mute", audio?: boolean | null, video?: boolean | null} | {type: "ping"} | {type: "leave"}} ClientMessage
 */

/**
 * What kind of client a connection is.
 * @typedef {"room" | "console" | "viewer" | "publisher" | "relay"} ConnectionKind
 */

/**
 * Who votes: each delegate (a user holding the delegate or chair role)
 * once, or each room of the meeting once, weighted by its headcount.
 * @typedef {"delegates" | "rooms"} Electorate
 */

/**
 * A check that failed (`severe`) or gave a warning, named for the board.
 * @typedef {{check: string, reason: string, severe: boolean}} Failing
 */

/**
 * A room's place in the floor procedure.
 * @typedef {{state: "none"} | {position: number, state: "requested"} | {state: "speaking"}} FloorStatus
 */

/**
 * @typedef {{queue: Array<QueueEntry>, speaker?: SpeakerView | null}} FloorView
 */

/**
 * One room's link in a `link_stats` event.
 * @typedef {{bwe_kbps: number, endpoint_id: string, kbps_in: number, loss_in_pct: number, loss_out_pct: number, rtt_ms: number, transport: string}} LinkStat
 */

/**
 * What changed in a live meeting. Serialized as `{"type": "<snake_case>", …}`.
 * @typedef {{type: "site_connected", endpoint_id: string, guest: boolean, muted_audio: boolean, muted_video: boolean, name: string, participant: number, reconnect: boolean} | {type: "site_disconnected", drops: number, endpoint_id: string} | {type: "other_connected", endpoint_id?: string | null, kind: ConnectionKind, name: string, participant: number} | {type: "other_disconnected", participant: number} | {type: "lobby_waiting", entry: LobbyEntry} | {type: "lobby_admitted", endpoint_id: string} | {type: "lobby_denied", endpoint_id: string} | {type: "headcount", confirmed_by: string, endpoint_id: string, headcount: number} | {type: "muted", audio: boolean, endpoint_id: string, video: boolean} | {type: "stage_changed", endpoints: Array<string>} | {type: "scan_started", current?: string | null, dwell_ms: number, order: Array<string>} | {type: "scan_advanced", endpoint_id?: string | null} | {type: "scan_stopped"} | {type: "floor_requested", endpoint_id: string, position: number} | {type: "floor_withdrawn", endpoint_id: string} | {type: "floor_queue", order: Array<string>} | {type: "floor_granted", endpoint_id: string, granted_at_ms: number, limit_ms?: number | null} | {type: "floor_revoked", endpoint_id: string, spoke_ms: number} | {type: "floor_warning", endpoint_id: string, remaining_ms: number} | {type: "floor_time_up", endpoint_id: string, limit_ms: number} | {type: "locked"} | {type: "unlocked"} | {type: "removed", endpoint_id: string} | {type: "readmitted", endpoint_id: string} | {type: "scene_changed", label: string, scene: Scene} | {type: "mute_on_entry", on: boolean} | {type: "live_stream", layout?: string | null, on: boolean} | {type: "output_layout", layout?: string | null, output: string} | {type: "relay_sites", endpoints: Array<string>, node: string, participant: number} | {type: "relay_thumbs", node: string, thumbs: Array<RelayThumb>} | {type: "parent_relay", up: boolean} | {type: "quorum_changed", connected_sites: number, people_present: number, quorum: Quorum}} LiveEvent
 */

/**
 * Everything a console shows.
 * @typedef {{base_stage: Array<string>, floor: FloorView, hub_endpoint_id?: string | null, live_stream: boolean, live_stream_layout?: string | null, lobby: Array<LobbyEntry>, locked: boolean, mute_on_entry: boolean, now_ms: number, output_layouts: Object<string, string | null>, removed: Array<string>, removed_users: Array<string>, roll_call: RollCall, scan?: ScanView | null, scene?: Scene | null, scene_label?: string | null, sip_calls: Object<string, *>, stage: Array<string>, stage_follows_voice: boolean}} LiveSnapshot
 */

/**
 * A room waiting in the lobby.
 * @typedef {{endpoint_id: string, last_ms: number, name: string, since_ms: number}} LobbyEntry
 */

/**
 * One event of a meeting's stream: `{"type": "<snake_case>", …}`.
 * @typedef {LiveEvent | ServerEvent} MeetingEvent
 */

/**
 * Where a meeting is in its life: scheduled → open (the lobby: rooms may
 * connect) → live → ended; scheduled or open → cancelled.
 * @typedef {"scheduled" | "open" | "live" | "ended" | "cancelled"} MeetingState
 */

/**
 * A motion, with its results when the reader may see them.
 * @typedef {{ballots_cast: number, closed_at_ms?: number | null, created_at_ms: number, description: string, electorate: Electorate, id: string, meeting_id: string, mode: MotionMode, opened_at_ms?: number | null, options: Array<string>, position: number, published_at_ms?: number | null, results?: Results | null, state: MotionState, title: string, you_voted?: boolean | null}} Motion
 */

/**
 * `open`: who chose what is recorded; `secret`: only the counts.
 * @typedef {"open" | "secret"} MotionMode
 */

/**
 * draft → open → closed → published.
 * @typedef {"draft" | "open" | "closed" | "published"} MotionState
 */

/**
 * One recorded vote of an open (not secret) motion.
 * @typedef {{at_ms: number, option_index: number, voter_id: string, weight: number}} OpenVote
 */

/**
 * One option's count.
 * @typedef {{ballots: number, index: number, label: string, votes: number}} OptionCount
 */

/**
 * A connection that is not a room's sending session: a receive-only player
 * (`endpoint_id`: the room it named), or a client that named no endpoint.
 * Consoles are not listed.
 * @typedef {{connected_since_ms: number, endpoint_id?: string | null, kind: ConnectionKind, name: string, participant: number, user_id?: string | null}} OtherConnection
 */

/**
 * @typedef {{audio_muted: boolean, id: string, name: string, role: string, video_muted: boolean}} ParticipantInfo
 */

/**
 * @typedef {{connected: boolean, endpoint_id: string, name: string, position: number, requested_at_ms: number, waiting_ms: number}} QueueEntry
 */

/**
 * @typedef {{basis: QuorumBasis, met: boolean, present: number, required: number}} Quorum
 */

/**
 * What the quorum is counted in.
 * @typedef {"people" | "sites"} QuorumBasis
 */

/**
 * A room below and the source id its thumbnail arrives under here.
 * @typedef {{endpoint_id: string, participant: number}} RelayThumb
 */

/**
 * The counts of a motion, and for an open motion who chose what.
 * @typedef {{options: Array<OptionCount>, total_votes: number, votes: Array<OpenVote>}} Results
 */

/**
 * @typedef {{connected_sites: number, expected_sites: number, guests: Array<RollCallSite>, others: Array<OtherConnection>, people_present: number, quorum: Quorum, sites: Array<RollCallSite>}} RollCall
 */

/**
 * One row of the roll call.
 * @typedef {{connected: boolean, connected_for_ms?: number | null, connected_since_ms?: number | null, drops: number, endpoint_id: string, floor: FloorStatus, headcount?: number | null, headcount_confirmed_by?: string | null, headcount_self_reported: boolean, hub: boolean, kind?: ConnectionKind | null, muted_audio: boolean, muted_video: boolean, name: string, on_stage: boolean, participant?: number | null, removed: boolean, thumb_participant?: number | null, unit_name?: string | null, via_node?: string | null}} RollCallSite
 */

/**
 * @typedef {{current?: string | null, dwell_ms: number, next_at_ms?: number | null, order: Array<string>, paused: boolean}} ScanView
 */

/**
 * A phase of the meeting.
 * @typedef {"khai_mac" | "chu_tri_phat_bieu" | "thao_luan" | "bieu_quyet" | "be_mac"} Scene
 */

/**
 * What the server tells a meeting's consoles that is not live state.
 * @typedef {{type: "meeting_closed", reason: string} | {type: "meeting_state", by: string, state: MeetingState} | {type: "agenda_changed", items: Array<AgendaItem>} | {type: "agenda_current", by: string, item_id?: string | null, position?: number | null, started_at_ms?: number | null, title?: string | null} | {type: "presentation", by: string, document_id?: string | null, page?: number | null} | {type: "motion", motion: Motion} | {type: "floor_registration", delegate: string, endpoint_id: string} | {type: "check_started", by: string, rooms: number} | {type: "check_result", checked_at_ms: number, endpoint_id: string, failing: Array<Failing>, status: CheckStatus} | {type: "recording_failed", message: string, reason: string, recording_id?: string | null} | {type: "link_stats", links: Array<LinkStat>, t_ms: number} | {type: "link_degraded", endpoint_id: string, loss_pct: number, rtt_ms: number} | {type: "link_recovered", connected: boolean, endpoint_id: string} | ({type: "sip_call", endpoint_id: string}) & ({attempt: number, state: "calling"} | {state: "ringing"} | {codec: string, state: "connected"} | {reason: string, retry_in_s?: number | null, state: "failed", status: number} | {state: "ended"})} ServerEvent
 */

/**
 * Messages from the server to a client.
 * @typedef {{type: "joined", answer: string, participant: string, slots: Array<SlotInfo>, v: number} | {type: "answer", sdp: string, slots: Array<SlotInfo>} | {type: "slots", slots: Array<SlotInfo>} | {type: "speaker", name?: string | null, participant?: string | null} | {type: "stage", participants: Array<string>} | {type: "muted", audio: boolean, operator_audio: boolean, operator_video: boolean, video: boolean} | {type: "participants", list: Array<ParticipantInfo>} | {type: "pong"} | {type: "check", seconds: number} | {type: "error", code: string, message: string}} ServerMessage
 */

/**
 * One receive slot of a subscriber.
 * @typedef {{kind: string, mid: string, name?: string | null, participant?: string | null, role: string}} SlotInfo
 */

/**
 * @typedef {{connected: boolean, elapsed_ms: number, endpoint_id: string, granted_at_ms: number, limit_ms?: number | null, name: string, on_stage: boolean, remaining_ms?: number | null, time_up: boolean, warned: boolean}} SpeakerView
 */

export {};
