// @ts-check
// HAND-KEPT STAND-IN — to be replaced by the generated types (issue 20
// item 2: the server's event and snapshot types emitted into this file).
// Until then: JSDoc typedefs of what the pages read of the live event
// stream and the live snapshot (src/control/live/snapshot.rs,
// src/signal/live.rs), written by hand from the Rust types. Fields the pages
// do not read yet are left out; `[k: string]: any` keeps the rest open.
// Nothing here runs: the module only carries types.

/**
 * One message of `…/live/events`: the first is a `snapshot` (again after a
 * reconnect, and with `resync: true` when the client fell behind); every
 * other is one change with its `seq`.
 * @typedef {LiveSnapshotMessage | LiveEvent} LiveMessage
 */

/**
 * @typedef {object} LiveSnapshotMessage
 * @property {"snapshot"} type
 * @property {number} [seq] the last event folded into `state`
 * @property {boolean} [resync] sent instead of the events a slow client missed
 * @property {LiveSnapshot} state
 */

/**
 * A change. `type` names it (`site_connected`, `site_disconnected`, `muted`,
 * `stage_changed`, `floor_requested`, `floor_granted`, `floor_revoked`,
 * `floor_time_up`, `locked`, `unlocked`, `removed`, `readmitted`,
 * `scene_changed`, `check_started`, `check_result`, `live_stream`,
 * `output_layout`, `mute_on_entry`, `headcount`, `quorum_changed`,
 * `recording_failed`, `meeting_state`, `meeting_closed`, `relay_thumbs`,
 * `relay_sites`, `parent_relay`, `sip_call`, `agenda_current`,
 * `agenda_changed`, `motion`, `link_stats`, `link_degraded`,
 * `link_recovered`, …).
 * @typedef {{type: string, seq?: number, resync?: boolean, meeting?: string, endpoint_id?: string, name?: string, [field: string]: any}} LiveEvent
 */

/**
 * @typedef {object} LiveSnapshot
 * @property {number} now_ms the server clock this snapshot was taken at
 * @property {string | null} hub_endpoint_id
 * @property {RollCall} roll_call
 * @property {string[]} stage endpoint ids everyone sees now (empty: automatic)
 * @property {string[]} base_stage the operator's stage, under the scan and the floor holder
 * @property {ScanView | null} scan
 * @property {FloorView} floor
 * @property {boolean} locked
 * @property {string | null} scene
 * @property {string | null} scene_label
 * @property {boolean} mute_on_entry
 * @property {boolean} live_stream
 * @property {string | null} live_stream_layout
 * @property {Record<string, string | null>} output_layouts
 * @property {boolean} stage_follows_voice
 * @property {string[]} removed
 * @property {any[]} lobby
 * @property {string[]} removed_users
 * @property {Record<string, any>} sip_calls the last `sip_call` event's fields, by endpoint id
 */

/**
 * @typedef {object} RollCall
 * @property {any[]} sites
 * @property {any[]} guests
 * @property {any[]} others
 * @property {Quorum} quorum
 */

/**
 * @typedef {object} Quorum
 * @property {boolean} met
 * @property {number} present
 * @property {number} required
 */

/**
 * @typedef {object} ScanView
 * @property {string[]} order
 * @property {number} dwell_ms
 * @property {string | null} current
 * @property {number | null} next_at_ms
 * @property {boolean} paused
 */

/**
 * @typedef {object} FloorView
 * @property {QueueEntry[]} queue
 * @property {SpeakerView | null} speaker
 */

/**
 * @typedef {object} QueueEntry
 * @property {string} endpoint_id
 * @property {string} name
 * @property {number} position 1-based
 * @property {number} requested_at_ms
 * @property {number} waiting_ms
 * @property {boolean} connected
 */

/**
 * @typedef {object} SpeakerView
 * @property {string} endpoint_id
 * @property {string} name
 * @property {number} granted_at_ms
 * @property {number | null} limit_ms
 * @property {number} elapsed_ms
 * @property {number | null} remaining_ms negative once over time
 * @property {boolean} warned
 * @property {boolean} time_up
 * @property {boolean} on_stage
 * @property {boolean} connected
 */

export {};
