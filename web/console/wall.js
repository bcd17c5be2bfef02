// @ts-check
// The live wall's drawing: header, stream and output layouts, toolbar,
// the grid of rooms.
import { $, el } from "../lib/dom.js";
import { S } from "./state.js";
import { DICT, SCENES, duration, t } from "./core.js";
import { askHeadcount, drawFloor, drawOthers, grantFloor, removeOrReadmit, toggleStage } from "./floor.js";
import { allSites, live, liveAction } from "./live.js";
import { drawLinks, openLinkChart, sparkSvg } from "./quality.js";
import { drawMeters, drawThumbs } from "./thumbs.js";

export function drawLive() {
  if (!live) return;
  drawHeader();
  drawToolbar();
  drawGrid();
  drawFloor();
  drawOthers();
}

export function drawHeader() {
  if (!live) return;
  const m = live.meeting;
  $("live-meeting-title").textContent = m ? m.title : live.id;
  const st = $("live-state");
  st.className = `badge badge-${m ? m.state : "scheduled"}`;
  st.textContent = m ? t(`state_${m.state}`) : "";
  $("live-agenda").textContent = live.agenda ? t("agenda_current", { pos: live.agenda.position, title: live.agenda.title }) : t("agenda_none");
  const snap = live.snap;
  if (snap) {
    const rc = snap.roll_call;
    $("fig-rollcall").textContent = t("rollcall", { sites: rc.connected_sites, expected: rc.expected_sites, people: rc.people_present });
    const q = rc.quorum;
    const fq = $("fig-quorum");
    fq.textContent = t(q.met ? "quorum_met" : "quorum_not_met", q);
    fq.dataset.met = String(q.met);
  }
  const rec = live.recording;
  const fr = $("fig-recording");
  const recState = rec ? rec.state : "none";
  fr.dataset.state = recState;
  fr.textContent = recState === "recording" ? `● ${t("rec_on")}` : recState === "failed" ? t("rec_failed") : t("rec_off");
  const rb = $("btn-record");
  rb.textContent = recState === "recording" ? t("rec_stop") : t("rec_start");
  rb.dataset.recording = String(recState === "recording");
}

// The live stream's controls: layout (automatic or one of six), start /
// stop, and the player's link while it runs.
function drawStream(snap) {
  const sel = $("stream-layout");
  const layouts = Object.keys(DICT[S.lang].layouts);
  if (sel.dataset.lang !== S.lang) {
    sel.replaceChildren(el("option", { value: "", text: t("stream_auto") }), ...layouts.map((l) => el("option", { value: l, text: DICT[S.lang].layouts[l] })));
    sel.dataset.lang = S.lang;
  }
  const on = !!(snap && snap.live_stream);
  if (on) sel.value = snap.live_stream_layout || "";
  const btn = $("btn-stream");
  btn.textContent = on ? t("stream_stop") : t("stream_start");
  btn.classList.toggle("btn-danger", on);
  const link = $("lnk-stream");
  link.hidden = !on;
  if (live) link.href = `/live/${encodeURIComponent(live.id)}`;
  drawOutputLayouts(snap);
}

// Each output of the composite (HLS, recording, SIP rooms, hall
// screens) may show its own layout; one encoding per layout in use.
function drawOutputLayouts(snap) {
  const list = $("output-layout-list");
  const chosen = (snap && snap.output_layouts) || {};
  const outputs = Object.keys(DICT[S.lang].outputs);
  if (list.dataset.lang !== S.lang) {
    list.replaceChildren(...outputs.map((o) => {
      const sel = el("select", { id: `output-layout-${o}` });
      sel.dataset.output = o;
      sel.append(el("option", { value: "", text: t("output_follow") }), ...Object.keys(DICT[S.lang].layouts).map((l) => el("option", { value: l, text: DICT[S.lang].layouts[l] })));
      sel.addEventListener("change", (ev) => liveAction(ev.currentTarget, "output-layout", { output: o, layout: ev.currentTarget.value || null }));
      return el("label", { class: "inline" }, el("span", { text: DICT[S.lang].outputs[o] }), sel);
    }));
    list.dataset.lang = S.lang;
  }
  for (const o of outputs) {
    const sel = $(`output-layout-${o}`);
    if (sel && document.activeElement !== sel) sel.value = chosen[o] || "";
  }
}

export function drawToolbar() {
  const snap = live && live.snap;
  const lock = $("btn-lock");
  lock.textContent = snap && snap.locked ? t("unlock") : t("lock");
  lock.dataset.locked = String(!!(snap && snap.locked));
  const m = live && live.meeting;
  const life = $("btn-lifecycle");
  const verb = m && m.state === "open" ? "start" : m && m.state === "live" ? "end" : null;
  life.hidden = !verb;
  life.dataset.action = verb || "";
  life.textContent = verb ? t(`act_${verb}`) : "";
  life.classList.toggle("btn-danger", verb === "end");
  life.classList.toggle("btn-primary", verb === "start");
  $("sep-lifecycle").hidden = !verb;
  $("view-live").dataset.meetingState = m ? m.state : "";
  $("chk-mute-entry").checked = !!(snap && snap.mute_on_entry);
  drawStream(snap);
  const scan = $("btn-scan");
  scan.textContent = snap && snap.scan ? t("scan_stop") : t("scan_start");
  const sel = $("scene-select");
  if (sel.options.length !== SCENES.length + 1 || sel.dataset.lang !== S.lang) {
    const keep = sel.value;
    sel.replaceChildren(el("option", { value: "", text: "—" }), ...SCENES.map((s) => el("option", { value: s, text: DICT[S.lang].scenes[s] })));
    sel.dataset.lang = S.lang;
    if (keep) sel.value = keep;
  }
  if (snap && snap.scene && document.activeElement !== sel) sel.value = snap.scene;
}

function tileState(s) {
  if (s.removed) return "removed";
  if (s.connected) return "connected";
  if (s.drops > 0) return "dropped";
  return "waiting";
}

const ICON_MIC_OFF =
  '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M19 11h-1.7c0 .74-.16 1.43-.43 2.05l1.23 1.23c.56-.98.9-2.09.9-3.28zm-4.02.17c0-.06.02-.11.02-.17V5a3 3 0 0 0-6 0v.18l5.98 5.99zM4.27 3 3 4.27l6.01 6.01V11a3 3 0 0 0 3 3c.22 0 .44-.03.65-.08l1.66 1.66c-.71.33-1.5.52-2.31.52a5.2 5.2 0 0 1-5.3-5.1H5c0 3.41 2.72 6.23 6 6.72V21h2v-3.28a7.1 7.1 0 0 0 2.54-.9L19.73 21 21 19.73 4.27 3z"/></svg>';
const ICON_CAM_OFF =
  '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M21 6.5l-4 4V7a1 1 0 0 0-1-1H9.82L21 17.18V6.5zM3.27 2 2 3.27 4.73 6H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12c.21 0 .39-.08.54-.18L19.73 21 21 19.73 3.27 2z"/></svg>';

function drawGrid() {
  const grid = $("grid");
  const snap = live && live.snap;
  if (!snap) return;
  const sites = allSites();
  const seen = new Set();
  for (const s of sites) {
    seen.add(s.endpoint_id);
    let tile = grid.querySelector(`[data-endpoint="${CSS.escape(s.endpoint_id)}"]`);
    if (!tile) {
      tile = buildTile(s);
      grid.append(tile);
    }
    fillTile(tile, s, snap);
  }
  for (const tile of [...grid.children]) if (!seen.has(tile.dataset.endpoint)) tile.remove();
  drawThumbs();
  drawMeters();
  drawLinks();
}

function buildTile(s) {
  const b = (action, onclick) => el("button", { class: "btn btn-tile", type: "button", dataset: { action }, onclick });
  const id = s.endpoint_id;
  const tile = el(
    "article",
    { class: "tile", dataset: { endpoint: id } },
    el(
      "div",
      { class: "thumb" },
      el("div", { class: "thumb-state" }),
      el("div", { class: "thumb-flags" }, el("span", { class: "flag flag-mic", hidden: true }), el("span", { class: "flag flag-cam", hidden: true })),
      el("div", { class: "thumb-badges" })
    ),
    el("div", { class: "meter", title: "" }, el("div", { class: "meter-fill" })),
    el(
      "div",
      { class: "link", dataset: { level: "none" } },
      el(
        "div",
        { class: "link-meters" },
        el("span", { class: "lm lm-kbps", dataset: { level: "none" } }),
        el("span", { class: "lm lm-loss", dataset: { level: "none" } }),
        el("span", { class: "lm lm-rtt", dataset: { level: "none" } })
      ),
      el("button", { class: "spark-btn", type: "button", dataset: { action: "link-chart" }, onclick: () => openLinkChart(id) }, sparkSvg())
    ),
    el("div", { class: "tile-name" }),
    el("div", { class: "tile-unit" }),
    el("div", { class: "tile-meta" }, el("span", { class: "tile-meta-text" }), el("span", { class: "meter-text" })),
    el(
      "div",
      { class: "tile-actions" },
      b("mute-audio", (ev) => {
        const cur = siteById(id);
        liveAction(ev.currentTarget, "mute", { endpoint_id: id, audio: !(cur && cur.muted_audio) });
      }),
      b("mute-video", (ev) => {
        const cur = siteById(id);
        liveAction(ev.currentTarget, "mute", { endpoint_id: id, video: !(cur && cur.muted_video) });
      }),
      b("stage", (ev) => toggleStage(ev.currentTarget, id)),
      b("grant", (ev) => grantFloor(ev.currentTarget, id)),
      b("headcount", (ev) => askHeadcount(ev.currentTarget, id)),
      b("remove", (ev) => removeOrReadmit(ev.currentTarget, id)),
      b("sip-call", (ev) => liveAction(ev.currentTarget, "sip-call", { endpoint_id: id }))
    )
  );
  tile.querySelector(".flag-mic").innerHTML = ICON_MIC_OFF;
  tile.querySelector(".flag-cam").innerHTML = ICON_CAM_OFF;
  return tile;
}

export function siteById(id) {
  return allSites().find((x) => x.endpoint_id === id);
}

function fillTile(tile, s, snap) {
  const state = tileState(s);
  tile.dataset.state = state;
  tile.dataset.mutedAudio = String(!!s.muted_audio);
  tile.dataset.mutedVideo = String(!!s.muted_video);
  tile.dataset.onStage = String(!!s.on_stage);
  tile.dataset.floor = s.floor ? s.floor.state : "none";
  tile.dataset.hub = String(!!s.hub);
  const stateText = {
    connected: t("tile_connected"),
    dropped: t("tile_dropped"),
    waiting: t("tile_waiting"),
    removed: t("tile_removed"),
  }[state];
  const conn = tile.querySelector(".thumb-state");
  conn.replaceChildren(el("span", { class: "dot" }), " ", stateText, s.drops > 0 ? el("span", { class: "drops", text: ` · ${t("tile_drops", { n: s.drops })}` }) : "");
  const mic = tile.querySelector(".flag-mic");
  mic.hidden = !s.muted_audio;
  mic.title = t("tile_mic_muted");
  const cam = tile.querySelector(".flag-cam");
  cam.hidden = !s.muted_video;
  cam.title = t("tile_cam_muted");
  const badges = [];
  if (s.hub) badges.push(el("span", { class: "tb tb-hub", text: t("tile_hub") }));
  if (snap.roll_call.guests.includes(s)) badges.push(el("span", { class: "tb tb-guest", text: t("tile_guest") }));
  // A room on a node below this one, reached through its relay link.
  if (s.connected && s.via_node) badges.push(el("span", { class: "tb tb-via", text: t("tile_via", { node: s.via_node }) }));
  if (s.on_stage) badges.push(el("span", { class: "tb tb-stage", text: t("tile_stage") }));
  if (s.floor && s.floor.state === "requested") badges.push(el("span", { class: "tb tb-floor", text: t("tile_floor_pos", { n: s.floor.position }) }));
  if (s.floor && s.floor.state === "speaking") badges.push(el("span", { class: "tb tb-speaking", text: t("tile_speaking") }));
  // A SIP room: its codecs while in the call; else how a dial-out goes.
  const sip = live && live.sip[s.endpoint_id];
  const inCall = sip && sip.state === "connected";
  if (sip && (s.connected || !inCall)) badges.push(el("span", { class: "tb tb-sip", dataset: { sip: sip.state }, text: inCall ? t("sip_in_call", { codec: sip.codec || "" }) : sipText(sip) }));
  tile.querySelector(".thumb-badges").replaceChildren(...badges);
  tile.querySelector(".tile-name").textContent = s.name;
  tile.querySelector(".tile-unit").textContent = s.unit_name || "";
  const meta = [];
  meta.push(s.headcount === null || s.headcount === undefined ? t("tile_no_headcount") : t("tile_headcount", { n: s.headcount }));
  if (s.connected && s.connected_for_ms !== null && s.connected_for_ms !== undefined) meta.push(duration(s.connected_for_ms));
  tile.querySelector(".tile-meta-text").textContent = meta.join(" · ");
  const btn = (a) => tile.querySelector(`[data-action="${a}"]`);
  btn("mute-audio").textContent = s.muted_audio ? t("btn_unmute") : t("btn_mute");
  btn("mute-audio").setAttribute("aria-pressed", String(!!s.muted_audio));
  btn("mute-video").textContent = s.muted_video ? t("btn_cam_on") : t("btn_cam_off");
  btn("mute-video").setAttribute("aria-pressed", String(!!s.muted_video));
  const staged = snap.base_stage.includes(s.endpoint_id);
  btn("stage").textContent = staged ? t("btn_unstage") : t("btn_stage");
  btn("grant").textContent = t("grant");
  btn("grant").hidden = !(s.floor && s.floor.state === "requested");
  btn("headcount").textContent = t("btn_headcount");
  btn("remove").textContent = s.removed ? t("btn_readmit") : t("btn_remove");
  btn("remove").classList.toggle("btn-danger", !s.removed);
  btn("remove").hidden = !!s.hub;
  btn("sip-call").textContent = t("btn_sip_call");
  btn("sip-call").hidden = !sip || s.connected || s.removed || sip.state === "calling" || sip.state === "ringing";
}

// A snapshot carries each SIP room's last call state (`sip_calls`): a
// console opened mid-call shows it on the wall at once, then follows
// the `sip_call` events.
export function setSnap(mine, snap) {
  mine.snap = snap;
  if (snap && snap.sip_calls) mine.sip = { ...snap.sip_calls };
}

export function sipText(m) {
  if (m.state === "failed") return m.retry_in_s ? t("sip_retry", { reason: m.reason, n: m.retry_in_s }) : m.reason;
  return t(`sip_${m.state}`);
}
