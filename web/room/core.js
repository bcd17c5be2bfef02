// @ts-check
// The room page's core: log, language, state, error messages.
import { $ } from "../lib/dom.js";
import { dictionary, saveLang, storedLang } from "../lib/i18n.js";
import { LOG_MAX_LINES, meeting } from "./config.js";
import { setConn } from "./connection.js";
import { renderFloor } from "./floor.js";
import { showMyName, shownName, tickClock } from "./main.js";
import { renderPresentation } from "./presentation.js";
import { renderLabels, renderMute, renderParticipants } from "./render.js";
import { renderVote } from "./vote.js";

// ---------------------------------------------------------------- log
export const logLines = [];
export function log(...args) {
  const text = args
    .map((a) => (typeof a === 'string' ? a : safeJson(a)))
    .join(' ');
  const line = new Date().toISOString().slice(11, 23) + ' ' + text;
  logLines.push(line);
  if (logLines.length > LOG_MAX_LINES) logLines.shift();
  console.log('[diemcau]', text);
}
function safeJson(v) {
  if (v instanceof Error) return v.name + ': ' + v.message;
  try {
    return JSON.stringify(v);
  } catch (_) {
    return String(v);
  }
}
window.addEventListener('error', (e) => log('js error:', e.message, e.filename + ':' + e.lineno));
window.addEventListener('unhandledrejection', (e) => log('unhandled rejection:', e.reason));

// ------------------------------------------------------------- i18n
// Vietnamese first; English on request, remembered in localStorage.
const TEXT = dictionary("room");
export let lang = storedLang();
export function t(key, vars) {
  let s = (TEXT[lang] && TEXT[lang][key]) || TEXT.vi[key] || key;
  if (vars) for (const k of Object.keys(vars)) s = s.split('{' + k + '}').join(String(vars[k]));
  return s;
}
export function applyLang() {
  document.documentElement.lang = lang;
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[data-i18n]'))) el.textContent = t(el.dataset.i18n);
  const b = $('btn-lang');
  b.textContent = t('lang.switch');
  b.lang = lang === 'vi' ? 'en' : 'vi';
}
export function setLang(next) {
  lang = next === 'en' ? 'en' : 'vi';
  saveLang(lang);
  applyLang();
  setConn(st.connection);
  showMyName(shownName);
  renderParticipants();
  renderLabels();
  renderMute();
  renderFloor();
  renderPresentation();
  renderVote();
  tickClock();
}

// -------------------------------------------------------------- state
export const st = {
  connection: 'connecting',
  ws: 'closed',
  participant: null,
  slots: [],
  speaker: null,
  participants: [],
  serverMuted: { audio: false, video: false },
  operatorMuted: null,
  selfMuted: { audio: false, video: false },
  attempts: 0,
  everConnected: false,
  joined: false,
  refused: false,
  audioBlocked: false,
  pongSeen: false,
};
export const errors = new Map(); // kind -> Vietnamese text shown in #error

 // bumped on every teardown; stale callbacks compare it

 // our recvonly transceivers
export const midTracks = new Map(); // mid -> remote MediaStreamTrack (from ontrack)
export const audioEls = new Map(); // mid -> <audio>

// ------------------------------------------------------------ errors
// Server codes are matched loosely so a new code still gets a sensible
// sentence in the chosen language; the server's own (English) message
// follows it.
export function errorText(code, message) {
  const c = String(code || '').toLowerCase();
  const m = String(message || '');
  const detail = m ? ' (' + m + ')' : '';
  const both = c + ' ' + m.toLowerCase();
  const exact = ['meeting_locked', 'endpoint_removed', 'wrong_node', 'meeting_not_open'];
  // A closed meeting answers a room that is not planned for it exactly as
  // a meeting that does not exist: `unknown_meeting` says both, reveals nothing.
  if (exact.includes(c) || c === 'unknown_meeting') return t('err.' + c) + detail;
  if (/token|auth|forbidden|denied|credential|permission|401|403/.test(both)) return t('err.token') + detail;
  if (/meeting|not_found|unknown_room|no_room/.test(both)) return t('err.not_found', { meeting }) + detail;
  if (/version/.test(c)) return t('err.version') + detail;
  if (/full|capacity|limit|too_many/.test(c)) return t('err.full') + detail;
  if (/sdp|offer|answer|negotiat|codec|ice|dtls|media/.test(c)) return t('err.media') + detail;
  if (/rate|busy|overload|unavailable/.test(c)) return t('err.busy') + detail;
  return (c ? t('err.other', { code: c }) : t('err.other_nocode')) + detail + '.';
}

export function setError(kind, text) {
  if (text) errors.set(kind, text);
  else errors.delete(kind);
  const el = $('error');
  const lines = Array.from(errors.values());
  el.textContent = '';
  for (const line of lines) {
    const div = document.createElement('div');
    div.textContent = line;
    el.appendChild(div);
  }
  el.hidden = lines.length === 0;
}
