// @ts-check
// diemcau – the delegate's tablet view (đại biểu). Plain ES modules, no
// framework, no build step, nothing loaded from outside (the network is
// isolated). One page routed in the browser:
//   /delegate                               login, then the meetings
//   /delegate/meetings/<id>[/<tab>]         documents (by agenda item, a
//                                           reader, private notes), votes,
//                                           registering to speak
// Same session as the console and the portal (cookie + X-CSRF-Token on
// writes). Documents are the reader's watermarked copy, shown by the
// browser's own PDF viewer from a downloaded blob (as the room page does).
// This module: routing, login, the language switch and the test hooks.
import { saveLang } from "../lib/i18n.js";
import { ApiError } from "../lib/api.js";
import { $ } from "../lib/dom.js";
import { S } from "./state.js";
import { act, api, errorText, log, logLines, t, toast } from "./core.js";
import { readableDocs } from "./documents.js";
import { setConn } from "./events.js";
import { closeMeeting, cur, drawAll, drawMeetings, openMeeting, showMeetings } from "./meetings.js";
import { notesText } from "./notes.js";

// ------------------------------------------------------------ routing
export const TABS = ["documents", "votes", "speak"];
function route() {
  const m = location.pathname.match(/^\/delegate\/meetings\/([^/]+)(?:\/([a-z]+))?\/?$/);
  if (!m) return { view: "meetings" };
  return { view: "meeting", id: decodeURIComponent(m[1]), tab: TABS.includes(m[2]) ? m[2] : "documents" };
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
  $("meetings-list").replaceChildren();
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
  $("login-error").hidden = true;
  const fail = (text, input) => {
    $("login-error").textContent = text;
    $("login-error").hidden = false;
    if (input) input.focus();
  };
  if (!name) return fail(t("login_need_name"), $("login-name"));
  if (!password) return fail(t("login_need_password"), $("login-password"));
  $("login-submit").disabled = true;
  try {
    const answer = await api("POST", "/api/v1/auth/login", { name, password });
    S.me = answer.user;
    S.csrf = answer.csrf;
    $("login-password").value = "";
    log("logged in", S.me.login);
    render();
  } catch (e) {
    fail(errorText(e));
  } finally {
    $("login-submit").disabled = false;
  }
});

$("btn-logout").addEventListener("click", () =>
  act($("btn-logout"), async () => {
    try {
      await api("POST", "/api/v1/auth/logout", {});
    } finally {
      history.pushState(null, "", "/delegate");
      showLogin();
    }
  })
);

// ------------------------------------------------------------ language
function applyStaticText() {
  document.documentElement.lang = S.lang;
  document.title = t("app_title");
  for (const e of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-i18n]"))) e.textContent = t(e.dataset.i18n);
  $("btn-lang").textContent = t("lang_switch");
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
    setConn($("m-conn").dataset.state);
    drawAll();
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
    follow: cur ? cur.follow : null,
    presentation: cur ? cur.presentation : null,
    viewer: cur && cur.viewer ? { ...cur.viewer, pages: (cur.blobs.get(cur.viewer.docId) || {}).pages || null, loaded: !!(cur.blobs.get(cur.viewer.docId) || {}).url } : null,
    documents: readableDocs().map((d) => ({ id: d.id, title: d.title, item: d.agenda_item_id })),
    motions: cur ? cur.motions.map((m) => ({ id: m.id, state: m.state, you_voted: m.you_voted })) : [],
  }),
  notesText: () => notesText(),
  log: () => logLines.slice(),
};

render();
