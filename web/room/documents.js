// @ts-check
// Paperless: the meeting's documents, each the room's own watermarked copy.
import { meeting, token } from "./config.js";
import { log } from "./core.js";
import { applyLive, renderFloor } from "./floor.js";
import { applyPresentation, renderPresentation } from "./presentation.js";
import { applyMotions, renderVote } from "./vote.js";

// ---------------------------------------------------------- paperless
// The room's own token is also its bearer for the control API: the live
// state (floor queue, confirmed headcount), the page-sync presentation,
// the meeting book and the motions, kept current by the event stream
// (openEvents below) with a slow poll as a safety net.
// A token the API does not know (the demo token) turns these parts off.
const POLL_MS = 2000;
const POLL_REFUSED_MS = 30000;
const FETCH_TIMEOUT_MS = 10000;
export const DOC_RETRY_MS = 5000;
export const MAX_HEADCOUNT = 10000;
export const apiBase = '/api/v1/meetings/' + encodeURIComponent(meeting);
export const pl = {
  available: null, // null: not known yet; false: the API refuses this token
  endpoint: null, // our endpoint id, found in the roll call by participant id
  live: null, // the last LiveSnapshot
  liveAt: 0, // when it arrived (performance.now())
  floorBusy: false,
  floorError: null,
  presentation: null, // {document_id, page} as the server says
  shown: null, // {document_id, page} the viewer was last told
  book: new Map(), // document id -> BookEntry
  blobs: new Map(), // document id -> {url, type}
  docLoading: null,
  docError: null, // {id, text}
  motions: [],
  motion: null, // the motion the vote panel shows
  seenOpen: new Set(),
  voted: new Set(),
  dismissed: new Set(),
  voteBusy: null,
  voteError: null,
};
let pollTimer = null;
let polling = false;

class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + token };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
  try {
    const r = await fetch(apiBase + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal: ctl.signal,
    });
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (_) {
      /* not JSON */
    }
    if (!r.ok) {
      const e = (json && json.error) || {};
      throw new ApiFailure(r.status, e.code || 'http_' + r.status, e.message || text.slice(0, 200));
    }
    return json;
  } finally {
    clearTimeout(timer);
  }
}

// The meeting's event stream (page-sync, votes, floor, mutes) as it
// happens: a browser WebSocket cannot send an Authorization header, so the
// token goes as a subprotocol the server understands ("diemcau.bearer.…");
// it answers with plain "diemcau". 200 rooms then cost the server one
// stream each instead of three requests every 2 s.
const POLL_WITH_EVENTS_MS = 30000;
let eventsWs = null;
export let eventsOpen = false;
let liveRefresh = null;

function openEvents() {
  if (eventsWs || !token) return;
  const url =
    (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + apiBase + '/live/events';
  let ws;
  try {
    ws = new WebSocket(url, ['diemcau', 'diemcau.bearer.' + token]);
  } catch (e) {
    log('event stream not opened:', e);
    return;
  }
  eventsWs = ws;
  ws.onopen = () => {
    eventsOpen = true;
    log('event stream open');
  };
  ws.onmessage = (m) => {
    let ev;
    try {
      ev = JSON.parse(m.data);
    } catch (_) {
      return;
    }
    onEvent(ev);
  };
  ws.onclose = () => {
    const was = eventsOpen;
    eventsWs = null;
    eventsOpen = false;
    if (was) log('event stream closed; polling until it reopens');
    // Reopened by the next poll, which also catches up on what was missed.
    schedulePoll(was ? 1000 : POLL_MS);
  };
}

function onEvent(ev) {
  switch (ev.type) {
    case 'snapshot':
      applyLive(ev.state);
      break;
    case 'presentation':
      applyPresentation({ document_id: ev.document_id, page: ev.page });
      break;
    case 'motion': {
      const m = ev.motion;
      if (!m || !m.id) break;
      const list = (pl.motions || []).filter((x) => x.id !== m.id);
      list.push(m);
      applyMotions(list);
      break;
    }
    case 'meeting_closed':
      break;
    default:
      // Roll call, floor, mutes…: one fresh read of the live state soon
      // after a burst, not one per event.
      if (!liveRefresh) {
        liveRefresh = setTimeout(async () => {
          liveRefresh = null;
          try {
            applyLive(await api('GET', '/live'));
            renderPaperless();
          } catch (e) {
            log('live refresh failed:', e);
          }
        }, 250);
      }
  }
  renderPaperless();
}

export function schedulePoll(ms) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(pollOnce, ms);
}

async function pollOnce() {
  pollTimer = null;
  if (polling) return;
  polling = true;
  let next = POLL_MS;
  try {
    const results = await Promise.allSettled([
      api('GET', '/live'),
      api('GET', '/presentation'),
      api('GET', '/motions'),
    ]);
    const refused = results.every(
      (r) => r.status === 'rejected' && (r.reason.status === 401 || r.reason.status === 403),
    );
    if (refused) {
      if (pl.available !== false) log('control API refuses this token: floor, documents and votes off');
      pl.available = false;
      next = POLL_REFUSED_MS;
    } else {
      if (pl.available !== true) log('control API answers: floor, documents and votes on');
      pl.available = true;
      openEvents();
      // With the event stream open, polling is only a safety net.
      if (eventsOpen) next = POLL_WITH_EVENTS_MS;
      const [live, pres, mot] = results;
      if (live.status === 'fulfilled') applyLive(live.value);
      if (pres.status === 'fulfilled') applyPresentation(pres.value && pres.value.presentation);
      if (mot.status === 'fulfilled') applyMotions(mot.value && mot.value.motions);
    }
  } catch (e) {
    log('poll failed:', e);
  } finally {
    polling = false;
    renderPaperless();
    schedulePoll(next);
  }
}

function renderPaperless() {
  renderFloor();
  renderPresentation();
  renderVote();
}
