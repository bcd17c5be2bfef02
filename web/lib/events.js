// @ts-check
// The one client of a meeting's live event stream
// (`GET /api/v1/meetings/{id}/live/events`, a WebSocket): a snapshot first,
// then one JSON event per change, each with its `seq`. A client that fell
// behind is sent a fresh snapshot marked `resync` (the server drops what it
// missed rather than slow the meeting), and after a reconnect the first
// message is a snapshot again: so a page redraws from every snapshot and
// applies events on top. Where and when to reconnect is the page's choice
// (`onClose` decides, `reconnect` does it): the console retries at once,
// the portal asks first whether the meeting still runs.

/**
 * A message of the stream: the snapshot or an event (the server stamps each
 * event with its `seq` and `meeting`; web/lib/types.js is generated from
 * the server's types).
 * @typedef {(import("./types.js").Snapshot | import("./types.js").MeetingEvent) & {seq?: number, resync?: boolean, meeting?: string}} LiveMessage
 */

/**
 * @typedef {object} LiveHandlers
 * @property {(msg: LiveMessage) => void} onMessage every message, snapshots included, in order
 * @property {() => void} [onOpen]
 * @property {(ev: CloseEvent) => void} [onClose] the stream ended (not after `close()`)
 * @property {(...args: any[]) => void} [log]
 */

/** The path of a meeting's live event stream. */
export function eventsPath(/** @type {string} */ meetingId) {
  return `/api/v1/meetings/${encodeURIComponent(meetingId)}/live/events`;
}

export class LiveEvents {
  /**
   * Opens the stream at once.
   * @param {string} path from `eventsPath`
   * @param {LiveHandlers} handlers
   */
  constructor(path, handlers) {
    this.path = path;
    this.h = handlers;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** The last sequence number seen (0 before the first snapshot). */
    this.seq = 0;
    /** Snapshots seen, the first included (a resync is the second or later). */
    this.snapshots = 0;
    this.closed = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retry = undefined;
    this.open();
  }

  /** @private */
  open() {
    if (this.closed) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}${this.path}`);
    this.ws = ws;
    const log = this.h.log || (() => {});
    ws.onmessage = (ev) => {
      /** @type {LiveMessage} */
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      if (this.closed || ws !== this.ws) return;
      if (msg.type === "snapshot") {
        this.snapshots += 1;
        if (msg.resync) log("events resync");
      }
      if (typeof msg.seq === "number") this.seq = msg.seq;
      this.h.onMessage(msg);
    };
    ws.onopen = () => {
      log("events open");
      if (this.h.onOpen) this.h.onOpen();
    };
    ws.onclose = (ev) => {
      log("events closed", ev.code, ev.reason);
      if (ws !== this.ws) return;
      this.ws = null;
      if (this.closed) return;
      if (this.h.onClose) this.h.onClose(ev);
    };
  }

  /**
   * Open the stream again after `delayMs` (one pending retry at a time).
   * @param {number} delayMs
   */
  reconnect(delayMs) {
    if (this.closed) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.open(), delayMs);
  }

  /** The WebSocket's readyState, null when none is open. */
  get readyState() {
    return this.ws ? this.ws.readyState : null;
  }

  /** Stop for good: no handler is called after this. */
  close() {
    this.closed = true;
    clearTimeout(this.retry);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
  }
}

/** After the stream drops, once the meeting is known to run. */
const MEETING_RETRY_MS = 3000;

/** The connection badge's text key per state. */
const CONN_TEXT = { live: "ws_live", lost: "ws_lost", closed: "ws_closed" };

/**
 * The connection badge of a meeting page (`#m-conn`, `#m-conn-text`).
 * @param {string} state "connecting" | "live" | "lost" | "closed"
 * @param {(key: string) => string} t
 */
export function showConnection(state, t) {
  const badge = document.getElementById("m-conn");
  const text = document.getElementById("m-conn-text");
  if (badge) badge.dataset.state = state;
  if (text) text.textContent = t(CONN_TEXT[state] || "ws_connecting");
}

/**
 * @typedef {object} MeetingView an open meeting's view state
 * @property {string} id
 * @property {any} meeting the meeting as last read
 * @property {boolean} closed the view was left
 * @property {LiveEvents | null} [ws]
 */

/**
 * @typedef {object} FollowOptions
 * @property {(key: string) => string} t
 * @property {(...args: any[]) => void} log
 * @property {(method: string, path: string) => Promise<any>} api
 * @property {(msg: LiveMessage) => void} onMessage every message while the view is open
 * @property {() => void} onMeeting the meeting was read again (redraw its head)
 */

/**
 * Follow a meeting's live events while it is open or live, as the portal
 * and the delegate view do: the badge shows the link; after the stream
 * drops, the meeting is read again and the stream reopens only while it
 * still runs (a closed meeting's stream is refused, so retrying would
 * only spin).
 * @param {MeetingView} mine
 * @param {FollowOptions} o
 */
export function followMeeting(mine, o) {
  if (mine.closed) return;
  const st = mine.meeting && mine.meeting.state;
  if (st !== "open" && st !== "live") {
    showConnection("closed", o.t);
    return;
  }
  showConnection("connecting", o.t);
  const path = `/api/v1/meetings/${encodeURIComponent(mine.id)}`;
  const stream = new LiveEvents(eventsPath(mine.id), {
    log: o.log,
    onMessage: (msg) => {
      if (!mine.closed) o.onMessage(msg);
    },
    onOpen: () => showConnection("live", o.t),
    onClose: () => {
      if (mine.closed) return;
      showConnection("lost", o.t);
      o.api("GET", path)
        .then((m) => {
          if (mine.closed) return;
          mine.meeting = m;
          o.onMeeting();
          if (m.state === "open" || m.state === "live") stream.reconnect(MEETING_RETRY_MS);
          else showConnection("closed", o.t);
        })
        .catch(() => {
          if (!mine.closed) stream.reconnect(MEETING_RETRY_MS);
        });
    },
  });
  mine.ws = stream;
}
