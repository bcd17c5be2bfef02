// @ts-check
// The meeting's live events: what the delegate's view follows.
import { followMeeting, showConnection } from "../lib/events.js";
import { api, errorText, log, t } from "./core.js";
import { drawIndex, drawReader, followPresenter } from "./documents.js";
import { base, drawHead } from "./meetings.js";
import { drawSpeak } from "./speak.js";
import { drawMotions } from "./votes.js";

// ------------------------------------------------------------ live events
export function setConn(state) {
  showConnection(state, t);
}

// The meeting's event stream, with the session cookie (same origin).
export function connectEvents(mine) {
  followMeeting(mine, { t, log, api, onMessage: (msg) => onEvent(mine, msg), onMeeting: drawHead });
}

export async function reload(mine, what) {
  try {
    if (what === "agenda") {
      mine.agenda = await api("GET", `${base()}/agenda`);
      if (!mine.closed) drawIndex();
    } else if (what === "motions") {
      const r = await api("GET", `${base()}/motions`);
      mine.motions = r.motions || [];
      if (!mine.closed) drawMotions();
    } else if (what === "documents") {
      const r = await api("GET", `${base()}/documents`);
      mine.docs = r.documents || [];
      if (!mine.closed) drawIndex();
    } else if (what === "meeting") {
      mine.meeting = await api("GET", base());
      if (!mine.closed) drawHead();
    } else if (what === "presentation") {
      const r = await api("GET", `${base()}/presentation`);
      mine.presentation = (r && r.presentation) || null;
      if (mine.closed) return;
      if (mine.follow) followPresenter();
      drawReader();
    }
  } catch (e) {
    log("reload", what, "failed", errorText(e));
  }
}

function onEvent(mine, msg) {
  switch (msg.type) {
    case "snapshot":
      setConn("live");
      mine.floor = (msg.state && msg.state.floor) || null;
      drawSpeak();
      // What changed between the first reads and this subscription (or
      // while the link was down) came as events nobody heard: read again.
      for (const what of ["presentation", "motions", "agenda", "documents"]) reload(mine, what);
      break;
    case "presentation":
      mine.presentation = msg.document_id ? { document_id: String(msg.document_id), page: Number(msg.page) || 1 } : null;
      log("presentation", mine.presentation);
      if (mine.follow) followPresenter();
      drawReader();
      break;
    case "motion":
      reload(mine, "motions");
      break;
    case "agenda_changed":
    case "agenda_current":
      reload(mine, "agenda");
      break;
    case "meeting_state":
      reload(mine, "meeting");
      break;
    case "meeting_closed":
      setConn("closed");
      break;
    default:
      // Documents come and go without an event of their own: a cheap
      // re-read when something else happens keeps the list fresh.
      if (msg.type && msg.type.startsWith("floor")) reload(mine, "documents");
      break;
  }
}
