// @ts-check
// The meetings to work on, and one meeting's page with its tabs.
import { $, el } from "../lib/dom.js";
import { startOfVnToday, vnTime } from "../lib/time.js";
import { S } from "./state.js";
import { loadAgenda } from "./agenda.js";
import { act, api, t } from "./core.js";
import { loadBook, loadDocs, upload } from "./documents.js";
import { connectEvents } from "./events.js";
import { TABS, go, showOnly } from "./main.js";
import { loadMinutes } from "./minutes.js";
import { loadMotions } from "./votes.js";

// ------------------------------------------------------------ meetings
function stateBadge(state) {
  return el("span", { class: `badge badge-${state}`, text: t(`state_${state}`) });
}

export async function showMeetings() {
  showOnly("view-meetings");
  $("crumbs").textContent = t("meetings_title");
  // The secretariat prepares ahead and writes minutes after: a month back.
  const from = startOfVnToday() - 31 * 86400000;
  const list = await act(null, () => api("GET", `/api/v1/meetings?from_ms=${from}&limit=200`));
  if (!list) return;
  S.meetingsCache = list.meetings || [];
  drawMeetings();
}

export function drawMeetings() {
  const body = $("meetings-body");
  body.replaceChildren();
  $("meetings-empty").hidden = S.meetingsCache.length > 0;
  for (const m of S.meetingsCache) {
    const href = `/portal/meetings/${encodeURIComponent(m.id)}`;
    const link = el("a", {
      class: "btn btn-small btn-primary",
      href,
      "data-action": "work",
      text: t("act_work"),
      onclick: (ev) => {
        ev.preventDefault();
        go(href);
      },
    });
    body.append(
      el(
        "tr",
        { dataset: { meeting: m.id, state: m.state } },
        el("td", { class: "time", text: vnTime(m.starts_at_ms) }),
        el("td", {}, el("div", { class: "m-title", text: m.title }), el("div", { class: "m-kind", text: m.kind })),
        el("td", {}, stateBadge(m.state)),
        el("td", {}, el("div", { class: "actions" }, link))
      )
    );
  }
}
$("btn-refresh").addEventListener("click", () => showMeetings());

// ------------------------------------------------------------ one meeting
// Everything known about the open meeting; replaced when another opens.
export let cur = null;
export const base = () => `/api/v1/meetings/${encodeURIComponent(cur.id)}`;

export function closeMeeting() {
  if (!cur) return;
  cur.closed = true;
  clearTimeout(cur.retry);
  clearInterval(cur.poll);
  if (cur.ws) cur.ws.close();
  if (upload.xhr) upload.xhr.abort();
  cur = null;
}

export async function openMeeting(id, tab) {
  if (cur && cur.id === id) {
    showTab(tab);
    return;
  }
  closeMeeting();
  const mine = {
    id,
    tab,
    meeting: null,
    agenda: { items: [], current: null, timeline: [] },
    docs: [],
    book: null,
    participants: [],
    motions: [],
    minutes: null,
    versions: [],
    editing: null,
  };
  cur = mine;
  showOnly("view-meeting");
  showTab(tab);
  drawCrumbs();
  const m = await act(null, () => api("GET", base()));
  if (!m || mine.closed) return;
  mine.meeting = m;
  drawHead();
  await Promise.all([loadAgenda(), loadDocs(), loadMotions(), loadMinutes()]);
  if (mine.closed) return;
  connectEvents(mine);
  // While the event stream is down, the vote counts are polled.
  mine.poll = setInterval(() => {
    if (mine.closed) return;
    if (!mine.ws || mine.ws.readyState !== WebSocket.OPEN) loadMotions();
    if (mine.tab === "documents") loadBook();
  }, 5000);
}

function drawCrumbs() {
  const c = $("crumbs");
  c.replaceChildren(
    el("a", {
      href: "/portal",
      text: t("back"),
      onclick: (ev) => {
        ev.preventDefault();
        go("/portal");
      },
    })
  );
  if (cur && cur.meeting) c.append(" › ", cur.meeting.title);
}

export function drawHead() {
  if (!cur || !cur.meeting) return;
  const m = cur.meeting;
  $("m-title").textContent = m.title;
  const b = $("m-state");
  b.className = `badge badge-${m.state}`;
  b.textContent = t(`state_${m.state}`);
  $("m-time").textContent = `${vnTime(m.starts_at_ms)} – ${vnTime(m.ends_at_ms).slice(0, 5)}`;
  // The internal live stream's player (it says itself when the meeting
  // is not streaming).
  const watch = $("m-watch");
  watch.hidden = m.state !== "live";
  watch.href = `/live/${encodeURIComponent(m.id)}`;
  drawCrumbs();
}

function showTab(tab) {
  if (cur) cur.tab = tab;
  for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(".tab"))) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
  for (const name of TABS) $(`pane-${name}`).hidden = name !== tab;
  document.body.dataset.tab = tab;
  if (cur && tab === "documents" && cur.meeting) loadBook();
  if (cur && tab === "minutes" && cur.meeting) loadMinutes();
}
for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(".tab"))) {
  b.addEventListener("click", () => {
    if (!cur) return;
    history.pushState(null, "", `/portal/meetings/${encodeURIComponent(cur.id)}/${b.dataset.tab}`);
    showTab(b.dataset.tab);
  });
}
