// @ts-check
// The live wall's connection: open and close a meeting's wall, the live
// event stream (snapshot, seq, resync, reconnect) and what each event changes.
import { ApiError } from "../lib/api.js";
import { $, el } from "../lib/dom.js";
import { vnTime } from "../lib/time.js";
import { LiveEvents, eventsPath } from "../lib/events.js";
import { S } from "./state.js";
import { mayReadAudit, pollAudit } from "./audit.js";
import { DICT, act, alertBar, api, clearAlert, errorText, log, t } from "./core.js";
import { drawFloor } from "./floor.js";
import { go, showLogin, showOnly } from "./main.js";
import { loadLinks, onLinkEvent } from "./quality.js";
import { startMedia, stopMedia } from "./thumbs.js";
import { drawHeader, drawLive, drawToolbar, setSnap, sipText } from "./wall.js";

// ------------------------------------------------------------ live wall
/** After the event stream drops: soon enough for an operator, slow enough
 *  not to hammer a restarting server. */
const RETRY_MS = 3000;

export let live = null; // { id, meeting, snap, ws, recording, agenda, timer, retry, fetchTimer, closed }

export function closeLive() {
  if (!live) return;
  live.closed = true;
  if (live.ws) live.ws.close();
  clearTimeout(live.retry);
  clearTimeout(live.fetchTimer);
  clearInterval(live.timer);
  clearInterval(live.auditTimer);
  stopMedia(live);
  if ($("link-dialog").open) $("link-dialog").close();
  live = null;
}

export async function openLive(id) {
  if (live && live.id === id) {
    showOnly("view-live");
    drawLive();
    return;
  }
  closeLive();
  showOnly("view-live");
  $("alerts").replaceChildren();
  live = { id, sip: {}, meeting: null, snap: null, ws: null, recording: null, agenda: null, closed: false, seq: 0, events: [], links: new Map(), linkNow: 0 };
  $("grid").replaceChildren();
  $("event-log").replaceChildren();
  const crumbs = $("crumbs");
  crumbs.replaceChildren(
    el("a", {
      href: "/console",
      text: t("back"),
      onclick: (ev) => {
        ev.preventDefault();
        go("/console");
      },
    })
  );
  setConn("connecting");
  const mine = live;
  const meeting = await act(null, () => api("GET", `/api/v1/meetings/${encodeURIComponent(id)}`));
  if (mine.closed) return;
  mine.meeting = meeting || null;
  $("audit-card").hidden = true;
  if (mayReadAudit()) {
    pollAudit(mine);
    mine.auditTimer = setInterval(() => pollAudit(mine), 10000);
  }
  if (meeting && (meeting.state === "ended" || meeting.state === "cancelled")) {
    drawLive();
    meetingOver(mine);
    refreshSnapshot(mine);
    return;
  }
  connectEvents(mine);
  loadRecording(mine);
  loadAgenda(mine);
  mine.timer = setInterval(() => drawFloor(), 1000);
  drawLive();
}

export function setConn(state) {
  const c = $("live-conn");
  c.dataset.state = state;
  $("live-conn-text").textContent = t({ live: "ws_live", lost: "ws_lost", closed: "ws_closed" }[state] || "ws_connecting");
}

function connectEvents(mine) {
  if (mine.closed || mine.over) return;
  const stream = new LiveEvents(eventsPath(mine.id), {
    log,
    onMessage: (msg) => {
      if (!mine.closed) onEvent(mine, msg);
    },
    onClose: () => {
      if (mine.closed || mine.over) return;
      setConn("lost");
      // The upgrade is refused with an HTTP error we cannot read here:
      // ask the snapshot route why, and show it.
      api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}/live`)
        .then((snap) => {
          setSnap(mine, snap);
          drawLive();
        })
        .catch((e) => {
          alertBar(errorText(e), "red", "conn");
          if (e instanceof ApiError && e.status === 401) showLogin();
          // An ended meeting has no live room: stop knocking.
          if (e instanceof ApiError && e.code === "meeting_not_open") {
            stream.close();
            setConn("closed");
            clearAlert("conn");
            stopMedia(mine);
            reloadMeeting(mine);
          }
        });
      stream.reconnect(RETRY_MS);
    },
  });
  mine.ws = stream;
}

// A live site's name for messages.
export function siteName(id) {
  const s = live && live.snap ? allSites().find((x) => x.endpoint_id === id) : null;
  return s ? s.name : id;
}
export function allSites() {
  if (!live || !live.snap) return [];
  return [...live.snap.roll_call.sites, ...live.snap.roll_call.guests];
}

export function logEvent(text) {
  const list = $("event-log");
  list.prepend(el("li", {}, el("span", { class: "ev-time", text: vnTime(Date.now()).slice(0, 5) }), " ", text));
  while (list.children.length > 60) list.lastChild.remove();
}

function onEvent(mine, msg) {
  if (msg.type === "snapshot") {
    setSnap(mine, msg.state);
    mine.seq = msg.seq || 0;
    setConn("live");
    clearAlert("conn");
    drawLive();
    if (!mine.media) startMedia(mine);
    loadLinks(mine);
    return;
  }
  if (typeof msg.seq === "number") mine.seq = msg.seq;
  // Link samples come every 2 s: they touch the meters and charts only,
  // not the snapshot.
  if (msg.type === "link_stats" || msg.type === "link_degraded" || msg.type === "link_recovered") {
    onLinkEvent(mine, msg);
    return;
  }
  mine.events.push(msg);
  if (mine.events.length > 500) mine.events.shift();
  const name = msg.endpoint_id ? siteName(msg.endpoint_id) : msg.name;
  switch (msg.type) {
    case "site_connected":
      logEvent(t("ev_site_connected", { name: msg.name }));
      if (msg.reconnect) {
        clearAlert(`drop:${msg.endpoint_id}`);
        alertBar(t("alert_back", { name: msg.name }), "green", `back:${msg.endpoint_id}`);
      }
      break;
    case "site_disconnected":
      logEvent(t("ev_site_disconnected", { name }));
      alertBar(t("alert_dropped", { name, n: msg.drops }), "red", `drop:${msg.endpoint_id}`);
      break;
    case "muted":
      logEvent(t("ev_muted", { name, audio: t(msg.audio ? "ev_off" : "ev_on"), video: t(msg.video ? "ev_off" : "ev_on") }));
      patchSite(msg.endpoint_id, { muted_audio: msg.audio, muted_video: msg.video });
      break;
    case "stage_changed":
      logEvent(t("ev_stage_changed", { names: msg.endpoints.length ? msg.endpoints.map(siteName).join(", ") : t("ev_automatic") }));
      break;
    case "floor_requested":
      logEvent(t("ev_floor_requested", { name, n: msg.position }));
      break;
    case "floor_granted":
      logEvent(t("ev_floor_granted", { name }));
      break;
    case "floor_revoked":
      logEvent(t("ev_floor_revoked", { name }));
      break;
    case "floor_time_up":
      alertBar(t("alert_time_up", { name }), "amber", `timeup:${msg.endpoint_id}`);
      break;
    case "locked":
      logEvent(t("ev_locked"));
      break;
    case "unlocked":
      logEvent(t("ev_unlocked"));
      break;
    case "removed":
      logEvent(t("ev_removed", { name }));
      break;
    case "readmitted":
      logEvent(t("ev_readmitted", { name }));
      break;
    case "scene_changed":
      logEvent(t("ev_scene_changed", { label: msg.label }));
      break;
    case "check_result":
      logEvent(t("ev_check_result", { name, status: msg.status }));
      break;
    case "check_started":
      logEvent(t("ev_check_started", { n: msg.rooms }));
      break;
    case "live_stream":
      if (mine.snap) {
        mine.snap.live_stream = msg.on;
        mine.snap.live_stream_layout = msg.layout || null;
      }
      logEvent(msg.on ? t("ev_stream_on", { layout: msg.layout ? DICT[S.lang].layouts[msg.layout] : t("stream_auto") }) : t("ev_stream_off"));
      drawToolbar();
      break;
    case "output_layout":
      if (mine.snap) mine.snap.output_layouts = Object.assign({}, mine.snap.output_layouts, { [msg.output]: msg.layout || null });
      logEvent(t("ev_output_layout", { output: DICT[S.lang].outputs[msg.output] || msg.output, layout: msg.layout ? DICT[S.lang].layouts[msg.layout] : t("output_follow") }));
      drawToolbar();
      break;
    case "mute_on_entry":
      if (mine.snap) mine.snap.mute_on_entry = msg.on;
      logEvent(t(msg.on ? "ev_mute_entry_on" : "ev_mute_entry_off"));
      drawToolbar();
      break;
    case "headcount":
      logEvent(t("ev_headcount", { name, n: msg.headcount }));
      break;
    case "quorum_changed": {
      // Alert when quorum is lost, not while it is still being reached.
      const was = mine.snap ? mine.snap.roll_call.quorum.met : false;
      if (was && !msg.quorum.met) alertBar(t("alert_quorum_lost", msg.quorum), "amber", "quorum");
      if (msg.quorum.met) clearAlert("quorum");
      if (mine.snap) mine.snap.roll_call.quorum = msg.quorum;
      break;
    }
    case "recording_failed":
      alertBar(t("alert_rec_failed", { message: msg.message || msg.reason }), "red", "recording");
      loadRecording(mine);
      break;
    case "meeting_state":
      logEvent(t("ev_meeting_state", { state: t(`state_${msg.state}`) }));
      if (mine.meeting) mine.meeting.state = msg.state;
      reloadMeeting(mine);
      loadRecording(mine);
      break;
    case "relay_thumbs":
      for (const th of msg.thumbs) patchSite(th.endpoint_id, { thumb_participant: th.participant });
      refreshSnapshot(mine);
      break;
    case "relay_sites":
      if (msg.endpoints.length) logEvent(t("ev_relay_sites", { node: msg.node, n: msg.endpoints.length }));
      else alertBar(t("ev_relay_down", { node: msg.node }), "amber", `relay:${msg.node}`);
      if (msg.endpoints.length) clearAlert(`relay:${msg.node}`);
      break;
    case "parent_relay":
      if (msg.up) {
        logEvent(t("ev_parent_up"));
        clearAlert("parent");
      } else alertBar(t("ev_parent_down"), "amber", "parent");
      break;
    case "sip_call":
      // Dial-out's progress on a SIP room (calling, ringing, failed…).
      mine.sip[msg.endpoint_id] = msg;
      logEvent(t("ev_sip_call", { name, state: sipText(msg) }));
      break;
    case "agenda_current":
      mine.agenda = msg.item_id ? { title: msg.title, position: msg.position } : null;
      if (msg.title) logEvent(t("ev_agenda_current", { title: msg.title }));
      break;
    default:
      break;
  }
  // The snapshot route is the one truth: fetch it once the burst settles.
  clearTimeout(mine.fetchTimer);
  mine.fetchTimer = setTimeout(() => refreshSnapshot(mine), 150);
  drawLive();
}

// The meeting ended or was cancelled: its room is gone. Close the event
// stream and the media session, keep the last state on screen.
function meetingOver(mine) {
  if (mine.over) return;
  mine.over = true;
  clearTimeout(mine.fetchTimer);
  if (mine.ws) mine.ws.close();
  stopMedia(mine);
  setConn("closed");
  clearAlert("conn");
  alertBar(t("alert_meeting_ended"), "amber", "ended");
  loadRecording(mine);
}

export function noteMeeting(mine, m) {
  mine.meeting = m;
  if (m && (m.state === "ended" || m.state === "cancelled")) meetingOver(mine);
}

async function reloadMeeting(mine) {
  try {
    const m = await api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}`);
    if (mine.closed) return;
    noteMeeting(mine, m);
    drawHeader();
    drawToolbar();
  } catch (e) {
    log("meeting", errorText(e));
  }
}

function patchSite(id, fields) {
  const s = allSites().find((x) => x.endpoint_id === id);
  if (s) Object.assign(s, fields);
}

async function refreshSnapshot(mine) {
  try {
    const snap = await api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}/live`);
    if (mine.closed) return;
    setSnap(mine, snap);
    drawLive();
  } catch (e) {
    if (e instanceof ApiError && e.code === "meeting_not_open") return;
    log("snapshot refresh failed", errorText(e));
  }
}

export async function loadRecording(mine) {
  try {
    const list = await api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}/recordings`);
    if (mine.closed) return;
    const recs = list.recordings || [];
    mine.recording = recs.find((r) => r.state === "recording") || recs[recs.length - 1] || { state: "none" };
    drawHeader();
  } catch (e) {
    log("recordings", errorText(e));
  }
}

async function loadAgenda(mine) {
  try {
    const a = await api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}/agenda`);
    if (mine.closed) return;
    mine.agenda = a.current ? { title: a.current.title, position: a.current.position } : null;
    drawHeader();
  } catch (e) {
    log("agenda", errorText(e));
  }
}

// A live action: POST, then draw the snapshot the server answers.
export async function liveAction(button, what, body) {
  const mine = live;
  if (!mine) return;
  const snap = await act(button, () => api("POST", `/api/v1/meetings/${encodeURIComponent(mine.id)}/live/${what}`, body || {}));
  if (snap && !mine.closed) {
    setSnap(mine, snap);
    drawLive();
  }
  return snap;
}
