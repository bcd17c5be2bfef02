// @ts-check
// diemcau – secretariat portal (cổng thư ký). Plain ES modules, no
// framework, no build step, nothing loaded from outside (the network is
// isolated). One page routed in the browser:
//   /portal                        login, then the meetings to work on
//   /portal/meetings/<id>[/<tab>]  agenda, documents, votes, minutes
// Every write sends the CSRF token as X-CSRF-Token; every refusal's
// {"error":{"code","message"}} is shown in the chosen language and nothing
// reloads the page.
// This module: routing, login, the language switch and the test hooks.
import { saveLang } from "../lib/i18n.js";
import { ApiError } from "../lib/api.js";
import { $ } from "../lib/dom.js";
import { S } from "./state.js";
import { drawAgenda } from "./agenda.js";
import { act, api, clearFormError, errorText, formError, log, logLines, t, toast } from "./core.js";
import { drawBook, drawDocs, drawFileName, fillClassSelect, fillDocSelect, fillItemSelect, upload } from "./documents.js";
import { setConn } from "./events.js";
import { closeMeeting, cur, drawHead, drawMeetings, openMeeting, showMeetings } from "./meetings.js";
import { drawMinutes } from "./minutes.js";
import { drawMotions, fillMotionSelects } from "./votes.js";

// ------------------------------------------------------------ routing
export const TABS = ["agenda", "documents", "votes", "minutes"];
function route() {
  const m = location.pathname.match(/^\/portal\/meetings\/([^/]+)(?:\/([a-z]+))?\/?$/);
  if (!m) return { view: "meetings" };
  return { view: "meeting", id: decodeURIComponent(m[1]), tab: TABS.includes(m[2]) ? m[2] : "agenda" };
}
export function go(path) {
  history.pushState(null, "", path);
  render();
}
window.addEventListener("popstate", () => render());

export function showOnly(id) {
  for (const v of ["view-login", "view-meetings", "view-meeting"]) $(v).hidden = v !== id;
  document.body.dataset.view = id;
}

async function render() {
  applyStaticText();
  if (!S.me) {
    try {
      const who = await api("GET", "/api/v1/auth/me");
      S.me = who.user;
      S.csrf = who.csrf || null;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) toast(errorText(e), "error");
      showLogin();
      return;
    }
  }
  showUser();
  const r = route();
  if (r.view === "meeting") openMeeting(r.id, r.tab);
  else {
    closeMeeting();
    showMeetings();
  }
}

// ------------------------------------------------------------ login
export function showLogin() {
  S.me = null;
  S.csrf = null;
  closeMeeting();
  S.meetingsCache = [];
  $("meetings-body").replaceChildren();
  showUser();
  showOnly("view-login");
  $("crumbs").textContent = "";
  setTimeout(() => $("login-name").focus(), 0);
}

function showUser() {
  $("who").hidden = !S.me;
  $("btn-logout").hidden = !S.me;
  $("who").textContent = S.me ? S.me.display_name || S.me.login : "";
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("login-name").value.trim();
  const password = $("login-password").value;
  clearFormError("login-error", "login-form");
  if (!name) return formError("login-error", t("login_need_name"), $("login-name"));
  if (!password) return formError("login-error", t("login_need_password"), $("login-password"));
  $("login-submit").disabled = true;
  try {
    const answer = await api("POST", "/api/v1/auth/login", { name, password });
    S.me = answer.user;
    S.csrf = answer.csrf;
    $("login-password").value = "";
    log("logged in", S.me.login);
    render();
  } catch (e) {
    formError("login-error", errorText(e));
  } finally {
    $("login-submit").disabled = false;
  }
});

$("btn-logout").addEventListener("click", () =>
  act($("btn-logout"), async () => {
    try {
      await api("POST", "/api/v1/auth/logout", {});
    } finally {
      history.pushState(null, "", "/portal");
      showLogin();
    }
  })
);

// ------------------------------------------------------------ language switch
function applyStaticText() {
  document.documentElement.lang = S.lang;
  document.title = t("app_title");
  for (const e of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-i18n]"))) e.textContent = t(e.dataset.i18n);
  $("btn-lang").textContent = t("lang_switch");
  fillClassSelect();
  fillMotionSelects();
  drawFileName();
  if (cur) {
    fillItemSelect();
    fillDocSelect();
    $("agenda-form-title").textContent = cur.editing ? t("agenda_edit", { pos: cur.agenda.items.findIndex((x) => x.id === cur.editing) + 1 }) : t("agenda_add");
    $("ag-submit").textContent = t(cur.editing ? "save" : "add");
  }
}

$("btn-lang").addEventListener("click", () => {
  S.lang = S.lang === "vi" ? "en" : "vi";
  saveLang(S.lang);
  applyStaticText();
  if (!$("view-meetings").hidden) {
    $("crumbs").textContent = t("meetings_title");
    drawMeetings();
  }
  if (cur) {
    drawHead();
    setConn($("m-conn").dataset.state);
    drawAgenda();
    drawDocs();
    drawBook();
    drawMotions();
    drawMinutes(false);
  }
});

// ------------------------------------------------------------ test hooks
window.diemcau = {
  state: () => ({
    view: document.body.dataset.view,
    user: S.me ? S.me.login : null,
    lang: S.lang,
    meeting: cur ? cur.id : null,
    tab: cur ? cur.tab : null,
    ws: cur && cur.ws ? cur.ws.readyState : null,
    agenda: cur ? cur.agenda.items.map((x) => ({ id: x.id, title: x.title })) : [],
    documents: cur ? cur.docs.map((d) => ({ id: d.id, title: d.title, state: d.state, version: d.version, size: d.size_bytes })) : [],
    upload: { state: upload.state, max: upload.max, trace: upload.trace.slice(), total: upload.total, result: upload.result },
    motions: cur ? cur.motions.map((m) => ({ id: m.id, state: m.state, ballots: m.ballots_cast, results: m.results })) : [],
    minutes: cur && cur.minutes ? { status: cur.minutes.status, version: cur.minutes.version } : null,
  }),
  log: () => logLines.slice(),
};

render();
