// @ts-check
// The meeting's live events: what the portal redraws when they come.
import { followMeeting, showConnection } from "../lib/events.js";
import { drawAgenda, loadAgenda } from "./agenda.js";
import { api, log, t } from "./core.js";
import { loadDocs } from "./documents.js";
import { base, drawHead } from "./meetings.js";
import { loadMotions, refreshMotion, upsertMotion } from "./votes.js";

// ------------------------------------------------------------ live events
export function setConn(state) {
  showConnection(state, t);
}

// The meeting's event stream, with the session cookie (same origin).
export function connectEvents(mine) {
  followMeeting(mine, { t, log, api, onMessage: (msg) => onEvent(mine, msg), onMeeting: drawHead });
}

function onEvent(mine, msg) {
  switch (msg.type) {
    case "snapshot":
      setConn("live");
      // Changes between the first reads and this subscription (or while
      // the link was down) came as events nobody heard: read again.
      loadAgenda();
      loadDocs();
      loadMotions();
      break;
    case "agenda_changed":
      mine.agenda.items = msg.items || [];
      drawAgenda();
      break;
    case "agenda_current":
      loadAgenda();
      break;
    case "meeting_state":
      api("GET", base())
        .then((m) => {
          if (mine.closed) return;
          mine.meeting = m;
          drawHead();
        })
        .catch(() => {});
      break;
    case "motion":
      if (msg.motion) {
        upsertMotion(msg.motion);
        // The event carries no counts before publication; a manager may
        // see an open vote's live counts, so ask for them.
        refreshMotion(msg.motion.id);
      }
      break;
    default:
      break;
  }
}
