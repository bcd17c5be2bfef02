// @ts-check
// diemcau – operator console. Plain ES modules, no framework, no build
// step, nothing loaded from outside (the network is isolated). One page
// routed in the browser:
//   /console                   login, then the meetings of today and later
//   /console/meetings/<id>     the live wall of one meeting
//   /console/schedule[/<id>]   plan a meeting (or edit a scheduled one)
//   /console/endpoints         the endpoint registry
//   /console/cascade           cascade links
//   /console/bodies, /console/signatures, /console/meetings/<id>/readiness
// Every write sends the CSRF token from login (or /auth/me) as
// X-CSRF-Token; every refusal's {"error":{"code","message"}} is shown in a
// toast, in the chosen language, and nothing reloads the page.
// This module: the shell (web/lib/shell.js: session, login, the language
// switch) with this page's routes and views, and the test hooks.
import { $, el } from "../lib/dom.js";
import { makeShell } from "../lib/shell.js";
import { mountBodies } from "./bodies.js";
import { mountReadiness } from "./readiness.js";
import { mountTrust } from "./trust.js";
import { S } from "./state.js";
import { cas, closeCascade, drawCascade, openCascade } from "./cascade.js";
import { act, api, errorText, log, logLines, t, toast } from "./core.js";
import { closeLive, live, openLive, setConn } from "./live.js";
import { drawMeetings, showMeetings } from "./meetings.js";
import { drawRegistry, openRegistry } from "./registry.js";
import { MEETING_KINDS, QUERY_KINDS, WEEKDAYS, drawSchedule, fillSelect, openSchedule } from "./scheduler.js";
import { markNav, may, tk } from "./util.js";
import { drawLive } from "./wall.js";

// ------------------------------------------------------------ routing
function route() {
  const p = location.pathname;
  let m = p.match(/^\/console\/meetings\/([^/]+)\/?$/);
  if (m) return { view: "live", id: decodeURIComponent(m[1]) };
  m = p.match(/^\/console\/meetings\/([^/]+)\/readiness\/?$/);
  if (m) return { view: "readiness", id: decodeURIComponent(m[1]) };
  if (/^\/console\/schedule\/?$/.test(p)) return { view: "schedule", id: null };
  m = p.match(/^\/console\/schedule\/([^/]+)\/?$/);
  if (m) return { view: "schedule", id: decodeURIComponent(m[1]) };
  if (/^\/console\/endpoints\/?$/.test(p)) return { view: "endpoints" };
  if (/^\/console\/cascade\/?$/.test(p)) return { view: "cascade" };
  if (/^\/console\/bodies\/?$/.test(p)) return { view: "bodies" };
  if (/^\/console\/signatures\/?$/.test(p)) return { view: "signatures" };
  return { view: "meetings" };
}

// The view the path names (signed in).
function open() {
  const r = route();
  if (r.view === "live") openLive(r.id);
  else {
    closeLive();
    if (r.view === "schedule") openSchedule(r.id);
    else if (r.view === "endpoints") openRegistry();
    else if (r.view === "cascade") openCascade();
    else if (r.view === "bodies") openBodies();
    else if (r.view === "signatures") openTrust();
    else if (r.view === "readiness") openReadiness(r.id);
    else showMeetings();
  }
}

export const { go, showOnly, showLogin, render } = makeShell({
  root: "/console",
  views: ["view-login", "view-meetings", "view-live", "view-schedule", "view-endpoints", "view-cascade", "view-bodies", "view-signatures", "view-readiness"],
  state: S,
  page: { t, log, api, errorText, toast, act },
  open,
  // Nothing of the previous user stays in the page.
  forget: () => {
    closeLive();
    $("meetings-body").replaceChildren();
    S.sched = null;
    S.reg = null;
    closeCascade();
    $("reg-tree").replaceChildren();
    $("sch-tree").replaceChildren();
    $("reg-filter").value = "";
    $("alerts").replaceChildren();
  },
  showUser: () => {
    $("nav").hidden = !S.me;
    $("nav-endpoints").hidden = !may("endpoints_read");
    $("nav-cascade").hidden = !may("cascade_read");
    $("nav-bodies").hidden = !may("org_read");
    $("nav-signatures").hidden = !may("trust_read");
  },
  onView: markNav,
  redraw,
});

// ------------------------------------------------------------ bodies
// Bodies and their dated members live in web/bodies.js; it borrows the
// console's API client, error toasts, rights and language.
// The trust anchors and CRLs live in web/trust.js, mounted like bodies.
function openTrust() {
  showOnly("view-signatures");
  $("crumbs").textContent = t("nav_signatures");
  mountTrust($("view-signatures"), { api, act, toast, may, lang: () => S.lang });
}

function openBodies() {
  showOnly("view-bodies");
  $("crumbs").textContent = t("nav_bodies");
  mountBodies($("view-bodies"), { api, act, toast, may, lang: () => S.lang });
}

// ------------------------------------------------------------ readiness
// The technical check's board lives in web/readiness.js.
function openReadiness(id) {
  showOnly("view-readiness");
  $("crumbs").textContent = t("act_readiness");
  mountReadiness($("view-readiness"), { api, act, toast, may, go, meetingId: id, lang: () => S.lang });
}

// ------------------------------------------------------------ language switch
function redraw() {
  if (!$("view-meetings").hidden) {
    $("crumbs").textContent = t("meetings_title");
    drawMeetings();
  }
  if (!$("view-schedule").hidden && S.sched) {
    $("sch-heading").textContent = t(S.sched.id ? "sch_heading_edit" : "sch_heading_new");
    $("sch-submit").textContent = t(S.sched.id ? "sch_submit_edit" : "sch_submit_new");
    $("sch-tree-filter").placeholder = t("sch_tree_filter");
    const back = $("crumbs").querySelector("a");
    if (back) back.textContent = t("back");
    if (S.sched.shape) {
      const keep = { kind: $("sch-kind").value, freq: $("sch-freq").value };
      const days = [...$("sch-weekdays").querySelectorAll("input:checked")].map((i) => i.value);
      const kinds = [...$("sch-q-kinds").querySelectorAll("input:checked")].map((i) => i.value);
      fillSelect($("sch-kind"), MEETING_KINDS.map((k) => el("option", { value: k, text: tk("kinds", k) })), keep.kind);
      fillSelect($("sch-freq"), ["weekly", "monthly", "daily"].map((f) => el("option", { value: f, text: t(`freq_${f}`) })), keep.freq);
      $("sch-weekdays").replaceChildren(...WEEKDAYS.map((d) => el("label", { class: "check" }, el("input", { type: "checkbox", value: d, dataset: { weekday: d }, checked: days.includes(d) }), " ", tk("weekdays", d))));
      $("sch-q-kinds").replaceChildren(...QUERY_KINDS.map((k) => el("label", { class: "check" }, el("input", { type: "checkbox", value: k, dataset: { kind: k }, checked: kinds.includes(k) }), " ", tk("org_kinds", k))));
      drawSchedule();
    }
  }
  if (!$("view-endpoints").hidden) {
    $("crumbs").textContent = t("reg_title");
    $("reg-filter").placeholder = t("reg_filter");
    drawRegistry();
  }
  if (!$("view-cascade").hidden) {
    $("crumbs").textContent = t("cas_title");
    drawCascade();
  }
  if (live) {
    $("grid").replaceChildren();
    const back = $("crumbs").querySelector("a");
    if (back) back.textContent = t("back");
    setConn($("live-conn").dataset.state);
    drawLive();
  }
}

// ------------------------------------------------------------ test hooks
window.diemcau = {
  state: () => ({
    view: document.body.dataset.view,
    user: S.me ? S.me.login : null,
    lang: S.lang,
    meeting: live ? live.id : null,
    seq: live ? live.seq : null,
    ws: live && live.ws ? live.ws.readyState : null,
    snapshot: live ? live.snap : null,
    recording: live ? live.recording : null,
    links: live ? Object.fromEntries([...live.links].map(([k, v]) => [k, { degraded: v.degraded, samples: v.samples.length }])) : null,
    schedule: S.sched ? { id: S.sched.id, ready: !!S.sched.shape, selected: [...S.sched.selected], queries: S.sched.queries } : null,
    cascade: cas && cas.view ? { node_id: cas.view.node_id, parent: cas.view.parent ? cas.view.parent.state : null, relays: cas.view.relay_links.length, children: cas.view.children.map((n) => n.id), polls: cas.polls } : null,
    registry: S.reg ? { on: S.reg.org.on, units: S.reg.org.units.length, endpoints: S.reg.org.endpoints.length } : null,
    media: live && live.media ? { state: live.media.state, participant: live.media.participant || null, slots: live.media.slots, tracks: [...live.media.tracks.keys()], stats: Object.fromEntries(live.media.stats) } : null,
  }),
  log: () => logLines.slice(),
};

render();
