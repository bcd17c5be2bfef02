// @ts-check
// The meeting's live events: what the portal redraws when they come.
import { $ } from "../lib/dom.js";
import { LiveEvents } from "../lib/events.js";
import { drawAgenda, loadAgenda } from "./agenda.js";
import { api, log, t } from "./core.js";
import { loadDocs } from "./documents.js";
import { base, drawHead } from "./meetings.js";
import { loadMotions, refreshMotion, upsertMotion } from "./votes.js";

// ------------------------------------------------------------ live events
/** After the event stream drops, once the meeting is known to run. */
const RETRY_MS = 3000;

export function setConn(state) {
  $("m-conn").dataset.state = state;
  $("m-conn-text").textContent = t({ live: "ws_live", lost: "ws_lost", closed: "ws_closed" }[state] || "ws_connecting");
}

export function connectEvents(mine) {
  if (mine.closed) return;
  const st = mine.meeting && mine.meeting.state;
  if (st !== "open" && st !== "live") {
    setConn("closed");
    return;
  }
  setConn("connecting");
  const stream = new LiveEvents(`${base()}/live/events`, {
    log,
    onMessage: (msg) => {
      if (!mine.closed) onEvent(mine, msg);
    },
    onOpen: () => setConn("live"),
    // Reconnect only while the meeting still runs (asked first).
    onClose: () => {
      if (mine.closed) return;
      setConn("lost");
      api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}`)
        .then((m) => {
          if (mine.closed) return;
          mine.meeting = m;
          drawHead();
          if (m.state === "open" || m.state === "live") stream.reconnect(RETRY_MS);
          else setConn("closed");
        })
        .catch(() => {
          if (!mine.closed) stream.reconnect(RETRY_MS);
        });
    },
  });
  mine.ws = stream;
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
