// @ts-check
// diemcau – secretariat portal (cổng thư ký). Plain ES modules, no
// framework, no build step, nothing loaded from outside (the network is
// isolated). One page routed in the browser:
//   /portal                        login, then the meetings to work on
//   /portal/meetings/<id>[/<tab>]  agenda, documents, votes, minutes
// Every write sends the CSRF token as X-CSRF-Token; every refusal's
// {"error":{"code","message"}} is shown in the chosen language and nothing
// reloads the page.
// This module: the shell (web/lib/shell.js: routing, login, the language
// switch) with this page's views, and the test hooks.
import { $ } from "../lib/dom.js";
import { makeShell, meetingRoute } from "../lib/shell.js";
import { S } from "./state.js";
import { drawAgenda } from "./agenda.js";
import { act, api, errorText, log, logLines, t, toast } from "./core.js";
import { drawBook, drawDocs, drawFileName, fillClassSelect, fillDocSelect, fillItemSelect, upload } from "./documents.js";
import { setConn } from "./events.js";
import { closeMeeting, cur, drawHead, drawMeetings, openMeeting, showMeetings } from "./meetings.js";
import { drawMinutes } from "./minutes.js";
import { drawMotions, fillMotionSelects } from "./votes.js";

export const TABS = ["agenda", "documents", "votes", "minutes"];

export const { go, showOnly, showLogin, render } = makeShell({
  root: "/portal",
  views: ["view-login", "view-meetings", "view-meeting"],
  state: S,
  page: { t, log, api, errorText, toast, act },
  open: () => {
    const m = meetingRoute("/portal", TABS);
    if (m) openMeeting(m.id, m.tab);
    else {
      closeMeeting();
      showMeetings();
    }
  },
  forget: () => {
    closeMeeting();
    $("meetings-body").replaceChildren();
  },
  // The selects and forms whose words come from the dictionaries.
  staticText: () => {
    fillClassSelect();
    fillMotionSelects();
    drawFileName();
    if (cur) {
      fillItemSelect();
      fillDocSelect();
      $("agenda-form-title").textContent = cur.editing ? t("agenda_edit", { pos: cur.agenda.items.findIndex((x) => x.id === cur.editing) + 1 }) : t("agenda_add");
      $("ag-submit").textContent = t(cur.editing ? "save" : "add");
    }
  },
  redraw: () => {
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
  },
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
