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
// This module: the shell (web/lib/shell.js: routing, login, the language
// switch) with this page's views, and the test hooks.
import { $ } from "../lib/dom.js";
import { makeShell, meetingRoute } from "../lib/shell.js";
import { S } from "./state.js";
import { act, api, errorText, log, logLines, t, toast } from "./core.js";
import { readableDocs } from "./documents.js";
import { setConn } from "./events.js";
import { closeMeeting, cur, drawAll, drawMeetings, openMeeting, showMeetings } from "./meetings.js";
import { notesText } from "./notes.js";

export const TABS = ["documents", "votes", "speak"];

export const { go, showOnly, showLogin, render } = makeShell({
  root: "/delegate",
  views: ["view-login", "view-meetings", "view-meeting"],
  state: S,
  page: { t, log, api, errorText, toast, act },
  open: () => {
    const m = meetingRoute("/delegate", TABS);
    if (m) openMeeting(m.id, m.tab);
    else {
      closeMeeting();
      showMeetings();
    }
  },
  forget: () => {
    closeMeeting();
    $("meetings-list").replaceChildren();
  },
  redraw: () => {
    if (!$("view-meetings").hidden) {
      $("crumbs").textContent = t("meetings_title");
      drawMeetings();
    }
    if (cur) {
      setConn($("m-conn").dataset.state);
      drawAll();
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
