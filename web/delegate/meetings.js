// @ts-check
// The delegate's meetings, and one meeting's page with its tabs.
import { $, el } from "../lib/dom.js";
import { vnTime } from "../lib/time.js";
import { S } from "./state.js";
import { act, api, errorText, t, toast } from "./core.js";
import { docById, drawIndex, drawReader, followPresenter, readFollow } from "./documents.js";
import { connectEvents } from "./events.js";
import { TABS, go, showOnly } from "./main.js";
import { drawSpeak } from "./speak.js";
import { drawMotions } from "./votes.js";

// ------------------------------------------------------------ meetings
function stateBadge(state) {
  return el("span", { class: `badge badge-${state}`, text: t(`state_${state}`) });
}

const STATE_ORDER = { live: 0, open: 1, scheduled: 2, ended: 3, cancelled: 4 };

export async function showMeetings() {
  showOnly("view-meetings");
  $("crumbs").textContent = t("meetings_title");
  // A week back (documents and published results stay readable), onwards.
  const from = Date.now() - 7 * 86400000;
  const list = await act(null, () => api("GET", `/api/v1/meetings?from_ms=${from}&limit=200`));
  if (!list) return;
  S.meetingsCache = (list.meetings || []).filter((m) => m.state !== "cancelled");
  S.meetingsCache.sort((a, b) => (STATE_ORDER[a.state] ?? 9) - (STATE_ORDER[b.state] ?? 9) || a.starts_at_ms - b.starts_at_ms);
  drawMeetings();
}

export function drawMeetings() {
  const list = $("meetings-list");
  list.replaceChildren();
  $("meetings-empty").hidden = S.meetingsCache.length > 0;
  for (const m of S.meetingsCache) {
    const href = `/delegate/meetings/${encodeURIComponent(m.id)}`;
    list.append(
      el(
        "li",
        { class: "meeting-item", dataset: { meeting: m.id, state: m.state } },
        el("div", { class: "m-main" }, el("div", { class: "m-title", text: m.title }), el("div", { class: "time", text: vnTime(m.starts_at_ms) })),
        stateBadge(m.state),
        el("a", {
          class: "btn btn-primary btn-big",
          href,
          "data-action": "open",
          text: t("open_meeting"),
          onclick: (ev) => {
            ev.preventDefault();
            go(href);
          },
        })
      )
    );
  }
}

$("btn-refresh").addEventListener("click", () => showMeetings());

// ------------------------------------------------------------ one meeting
export let cur = null;
export const base = () => `/api/v1/meetings/${encodeURIComponent(cur.id)}`;

export function closeMeeting() {
  if (!cur) return;
  cur.closed = true;
  if (cur.ws) cur.ws.close();
  clearTimeout(cur.retry);
  for (const b of cur.blobs.values()) if (b.url) URL.revokeObjectURL(b.url);
  cur = null;
  const f = $("reader-frame").querySelector("iframe");
  if (f) f.remove();
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
    agenda: { items: [], current: null },
    docs: [],
    motions: [],
    participants: [],
    presentation: null,
    floor: null,
    follow: readFollow(),
    viewer: null, // {docId, page}
    blobs: new Map(), // doc id -> {url, type, pages} | {error}
    motionErrors: new Map(),
    ws: null,
    closed: false,
    retry: null,
  };
  cur = mine;
  showOnly("view-meeting");
  $("m-title").textContent = "";
  showTab(tab);
  const meeting = await act(null, () => api("GET", base()));
  if (!meeting || mine.closed) return;
  mine.meeting = meeting;
  drawHead();
  const [agenda, docs, motions, pres, parts] = await Promise.allSettled([
    api("GET", `${base()}/agenda`),
    api("GET", `${base()}/documents`),
    api("GET", `${base()}/motions`),
    api("GET", `${base()}/presentation`),
    api("GET", `${base()}/participants`),
  ]);
  if (mine.closed) return;
  if (agenda.status === "fulfilled") mine.agenda = agenda.value;
  if (docs.status === "fulfilled") mine.docs = docs.value.documents || [];
  if (motions.status === "fulfilled") mine.motions = motions.value.motions || [];
  if (pres.status === "fulfilled") mine.presentation = (pres.value && pres.value.presentation) || null;
  if (parts.status === "fulfilled") mine.participants = parts.value.participants || [];
  for (const r of [agenda, docs, motions]) if (r.status === "rejected") toast(errorText(r.reason), "error");
  $("follow").checked = mine.follow;
  // The page being read survives a reload (the query keeps it).
  const q = new URLSearchParams(location.search);
  if (q.get("doc") && docById(q.get("doc"))) mine.viewer = { docId: q.get("doc"), page: Math.max(1, Number(q.get("page")) || 1) };
  if (mine.follow && mine.presentation) followPresenter();
  drawAll();
  connectEvents(mine);
}

export function drawAll() {
  drawHead();
  drawIndex();
  drawReader();
  drawMotions();
  drawSpeak();
}

export function drawHead() {
  if (!cur || !cur.meeting) return;
  const m = cur.meeting;
  $("m-title").textContent = m.title;
  $("m-badge").replaceChildren(stateBadge(m.state));
  $("m-time").textContent = vnTime(m.starts_at_ms);
  $("crumbs").textContent = m.title;
}

function showTab(tab) {
  if (!cur) return;
  cur.tab = tab;
  for (const name of TABS) $(`tab-${name}`).hidden = name !== tab;
  for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(".tab"))) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
}

for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(".tab"))) {
  b.addEventListener("click", () => {
    if (!cur) return;
    history.pushState(null, "", `/delegate/meetings/${encodeURIComponent(cur.id)}/${b.dataset.tab}${location.search}`);
    showTab(b.dataset.tab);
  });
}
$("btn-back").addEventListener("click", () => go("/delegate"));
