// @ts-check
// The live wall's actions on rooms: stage, floor and its queue, headcount,
// remove and readmit, the other watchers and the lobby; the toolbar's actions.
import { $, confirmBox, el } from "../lib/dom.js";
import { S } from "./state.js";
import { act, api, clearAlert, duration, t, toast } from "./core.js";
import { live, liveAction, loadRecording, noteMeeting } from "./live.js";
import { go } from "./main.js";
import { may, tk } from "./util.js";
import { drawHeader, drawToolbar, siteById } from "./wall.js";

export async function toggleStage(button, id) {
  const base = (live && live.snap && live.snap.base_stage) || [];
  const next = base.includes(id) ? base.filter((x) => x !== id) : [id];
  await liveAction(button, "stage", { endpoint_ids: next });
}

function floorLimitMs() {
  const v = $("floor-limit").value.trim();
  if (v === "") return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 120) return undefined;
  return n * 60000;
}

export async function grantFloor(button, id) {
  const limit = floorLimitMs();
  if (limit === undefined) {
    $("floor-limit").setAttribute("aria-invalid", "true");
    toast(t("limit_bad"), "error");
    return;
  }
  $("floor-limit").removeAttribute("aria-invalid");
  await liveAction(button, "floor/grant", { endpoint_id: id, limit_ms: limit });
}

export async function askHeadcount(button, id) {
  const s = siteById(id);
  const answer = window.prompt(t("headcount_prompt", { name: s ? s.name : id }), s && s.headcount != null ? String(s.headcount) : "");
  if (answer === null) return;
  const n = Number(answer.trim());
  if (answer.trim() === "" || !Number.isInteger(n) || n < 0 || n > 100000) {
    toast(t("headcount_bad"), "error");
    return;
  }
  await liveAction(button, "headcount", { endpoint_id: id, headcount: n });
}

export async function removeOrReadmit(button, id) {
  const s = siteById(id);
  if (s && s.removed) {
    await liveAction(button, "readmit", { endpoint_id: id });
    return;
  }
  if (!(await confirmBox(t("confirm_remove", { name: s ? s.name : id })))) return;
  await liveAction(button, "remove", { endpoint_id: id });
}

export function drawFloor() {
  if (!live || !live.snap) return;
  const floor = live.snap.floor;
  const sp = $("floor-speaker");
  if (floor.speaker) {
    const s = floor.speaker;
    // Count on from the snapshot's clock so the timer moves between events.
    const since = Date.now() - (live.snapAt || Date.now());
    const elapsed = s.elapsed_ms + (live.snapTaken === live.snap ? since : 0);
    const parts = [t("floor_elapsed", { elapsed: duration(elapsed) })];
    if (s.limit_ms) {
      const rem = s.limit_ms - elapsed;
      parts.push(rem > 0 ? t("floor_remaining", { remaining: duration(rem) }) : t("floor_time_up"));
    }
    sp.replaceChildren(
      el("div", { class: "speaker-name", text: t("floor_speaking", { name: s.name }) }),
      el("div", { class: `speaker-timer ${s.limit_ms && s.limit_ms - elapsed <= 0 ? "over" : ""}`, text: parts.join(" · ") }),
      el("button", { class: "btn btn-small btn-danger", type: "button", dataset: { action: "revoke" }, text: t("revoke"), onclick: (ev) => liveAction(ev.currentTarget, "floor/revoke", {}) })
    );
  } else {
    sp.replaceChildren(el("div", { class: "muted-text", text: t("floor_none") }));
  }
  if (live.snapTaken !== live.snap) {
    live.snapTaken = live.snap;
    live.snapAt = Date.now();
  }
  const q = $("floor-queue");
  q.replaceChildren(
    ...floor.queue.map((e) =>
      el(
        "li",
        { dataset: { endpoint: e.endpoint_id } },
        el("span", { class: "q-name", text: `${e.name}` }),
        el("span", { class: "q-wait", text: duration(e.waiting_ms) }),
        el("button", { class: "btn btn-small", type: "button", dataset: { action: "up" }, title: t("queue_up"), text: "↑", disabled: e.position === 1, onclick: (ev) => moveInQueue(ev.currentTarget, e.endpoint_id, -1) }),
        el("button", { class: "btn btn-small", type: "button", dataset: { action: "withdraw" }, title: t("queue_withdraw"), text: "×", onclick: (ev) => liveAction(ev.currentTarget, "floor/withdraw", { endpoint_id: e.endpoint_id }) }),
        el("button", { class: "btn btn-small btn-primary", type: "button", dataset: { action: "grant" }, text: t("grant"), disabled: !e.connected, onclick: (ev) => grantFloor(ev.currentTarget, e.endpoint_id) })
      )
    )
  );
  if (!floor.queue.length) q.append(el("li", { class: "muted-text", text: t("floor_empty") }));
}

async function moveInQueue(button, id, by) {
  const order = live.snap.floor.queue.map((e) => e.endpoint_id);
  const i = order.indexOf(id);
  const j = i + by;
  if (i < 0 || j < 0 || j >= order.length) return;
  [order[i], order[j]] = [order[j], order[i]];
  await liveAction(button, "floor/order", { order });
}

// Who watches the meeting (consoles, players) besides the rooms: listed,
// and sent away by an operator; the rooms waiting in an open meeting's
// lobby, let in or turned away.
export function drawOthers() {
  const list = $("others");
  const others = (live && live.snap && live.snap.roll_call.others) || [];
  const control = may("live_control");
  list.replaceChildren(
    ...others.map((o) =>
      el(
        "li",
        { dataset: { participant: String(o.participant), kind: o.kind } },
        el("span", { text: `${o.name} (${tk("others_kinds", o.kind)})` }),
        control
          ? el("button", {
              class: "btn btn-small btn-danger",
              type: "button",
              "data-action": "send-away",
              text: t("btn_send_away"),
              onclick: (e) => liveAction(e.currentTarget, "connections/remove", { participant: o.participant }),
            })
          : null
      )
    )
  );
  if (!others.length) list.append(el("li", { class: "muted-text", text: t("others_empty") }));
  const lobby = $("lobby");
  const waiting = (live && live.snap && live.snap.lobby) || [];
  lobby.replaceChildren(
    ...waiting.map((w) =>
      el(
        "li",
        { dataset: { endpoint: w.endpoint_id } },
        el("span", { text: `${w.name} — ${t("lobby_waiting", { time: clockAgo(w.since_ms) })}` }),
        control
          ? el("button", { class: "btn btn-small btn-primary", type: "button", "data-action": "admit", text: t("btn_admit"), onclick: (e) => liveAction(e.currentTarget, "lobby/admit", { endpoint_id: w.endpoint_id }) })
          : null,
        control
          ? el("button", { class: "btn btn-small", type: "button", "data-action": "deny", text: t("btn_deny"), onclick: (e) => liveAction(e.currentTarget, "lobby/deny", { endpoint_id: w.endpoint_id }) })
          : null
      )
    )
  );
  if (!waiting.length) lobby.append(el("li", { class: "muted-text", text: t("lobby_empty") }));
}

/** A live-clock time (ms on the server's monotonic clock) as minutes ago. */
function clockAgo(ms) {
  const now = (live && live.snap && live.snap.now_ms) || ms;
  const min = Math.max(0, Math.round((now - ms) / 60000));
  return min < 1 ? (S.lang === "vi" ? "vừa xong" : "just now") : S.lang === "vi" ? `${min} phút trước` : `${min} min ago`;
}

// Toolbar actions.
$("btn-lifecycle").addEventListener("click", async (ev) => {
  const mine = live;
  if (!mine || !mine.meeting) return;
  const verb = ev.currentTarget.dataset.action;
  if (!verb) return;
  if (verb === "end" && !(await confirmBox(t("confirm_end", { title: mine.meeting.title })))) return;
  const done = await act(ev.currentTarget, () => api("POST", `/api/v1/meetings/${encodeURIComponent(mine.id)}/${verb}`, {}));
  if (done && !mine.closed) {
    noteMeeting(mine, done);
    toast(`${done.title}: ${t(`state_${done.state}`)}`, "ok");
    drawHeader();
    drawToolbar();
    loadRecording(mine);
  }
});
$("btn-lock").addEventListener("click", (ev) => liveAction(ev.currentTarget, live && live.snap && live.snap.locked ? "unlock" : "lock", {}));
$("btn-mute-all").addEventListener("click", (ev) => liveAction(ev.currentTarget, "mute-all", { audio: true }));
$("btn-unmute-all").addEventListener("click", (ev) => liveAction(ev.currentTarget, "unmute-all", {}));
$("btn-scene").addEventListener("click", (ev) => {
  const scene = $("scene-select").value;
  if (!scene) {
    $("scene-select").setAttribute("aria-invalid", "true");
    toast(t("scene_pick"), "error");
    return;
  }
  $("scene-select").removeAttribute("aria-invalid");
  liveAction(ev.currentTarget, "scene", { scene });
});
$("btn-readiness").addEventListener("click", () => live && go(`/console/meetings/${encodeURIComponent(live.id)}/readiness`));
$("chk-mute-entry").addEventListener("change", (ev) => liveAction(ev.currentTarget, "mute-on-entry", { on: ev.currentTarget.checked }));
$("btn-stream").addEventListener("click", (ev) => {
  if (!live || !live.snap) return;
  const layout = $("stream-layout").value || null;
  liveAction(ev.currentTarget, "stream", live.snap.live_stream ? { on: false } : { on: true, layout });
});
$("stream-layout").addEventListener("change", (ev) => {
  // While streaming, a new layout shows in the next segments.
  if (live && live.snap && live.snap.live_stream) liveAction(ev.currentTarget, "stream", { on: true, layout: ev.currentTarget.value || null });
});
$("btn-stage-auto").addEventListener("click", (ev) => liveAction(ev.currentTarget, "stage", { endpoint_ids: [] }));
$("btn-scan").addEventListener("click", (ev) => {
  if (!live || !live.snap) return;
  if (live.snap.scan) {
    liveAction(ev.currentTarget, "scan/stop", {});
    return;
  }
  const secs = Number($("scan-dwell").value);
  if (!Number.isInteger(secs) || secs < 5 || secs > 600) {
    $("scan-dwell").setAttribute("aria-invalid", "true");
    toast(t("dwell_bad"), "error");
    return;
  }
  $("scan-dwell").removeAttribute("aria-invalid");
  const order = live.snap.roll_call.sites.filter((s) => s.connected && !s.hub).map((s) => s.endpoint_id);
  if (!order.length) {
    toast(t("scan_nobody"), "error");
    return;
  }
  liveAction(ev.currentTarget, "scan", { order, dwell_ms: secs * 1000 });
});
$("btn-record").addEventListener("click", (ev) => {
  const mine = live;
  if (!mine) return;
  const button = ev.currentTarget;
  const recording = mine.recording && mine.recording.state === "recording";
  act(button, async () => {
    if (recording) {
      if (!(await confirmBox(t("confirm_stop_recording")))) return;
      await api("POST", `/api/v1/meetings/${encodeURIComponent(mine.id)}/recordings/stop`, {});
    } else {
      await api("POST", `/api/v1/meetings/${encodeURIComponent(mine.id)}/recordings`, {});
      clearAlert("recording");
    }
    toast(t("done"), "ok");
    await loadRecording(mine);
  });
});
