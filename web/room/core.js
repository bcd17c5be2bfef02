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
// Vietnamese sentence; the server's own (English) message follows it.
export function errorText(code, message) {
  const c = String(code || '').toLowerCase();
  const m = String(message || '');
  const detail = m ? ' (' + m + ')' : '';
  const both = c + ' ' + m.toLowerCase();
  if (c === 'meeting_locked') {
    return 'Hội nghị đã khóa, không nhận thêm điểm cầu. Vui lòng liên hệ điều hành viên.' + detail;
  }
  if (c === 'endpoint_removed') {
    return 'Điểm cầu đã được điều hành viên mời ra khỏi hội nghị; chỉ vào lại được khi điều hành viên cho phép.' + detail;
  }
  if (c === 'wrong_node') {
    return 'Điểm cầu này thuộc một nút khác của hệ thống: hãy vào hội nghị qua máy chủ của đơn vị mình.' + detail;
  }
  if (c === 'unknown_meeting') {
    // A closed meeting answers a room that is not planned for it exactly
    // as a meeting that does not exist: say both, reveal nothing.
    return 'Không tìm thấy hội nghị, hoặc điểm cầu không có tên trong hội nghị này. Vui lòng liên hệ điều hành viên.' + detail;
  }
  if (c === 'meeting_not_open') {
    return 'Hội nghị chưa mở phòng chờ (hoặc đã kết thúc). Điểm cầu vào được khi điều hành viên mở hội nghị.' + detail;
  }
  if (/token|auth|forbidden|denied|credential|permission|401|403/.test(both)) {
    return 'Mã truy cập không hợp lệ hoặc đã hết hạn – điểm cầu chưa được vào hội nghị. ' +
      'Vui lòng liên hệ điều hành viên để nhận đường dẫn mới.' + detail;
  }
  if (/meeting|not_found|unknown_room|no_room/.test(both)) {
    return 'Không tìm thấy hội nghị “' + meeting + '” hoặc hội nghị chưa bắt đầu.' + detail;
  }
  if (/version/.test(c)) {
    return 'Trang điểm cầu không cùng phiên bản với máy chủ – hãy tải lại trang (F5).' + detail;
  }
  if (/full|capacity|limit|too_many/.test(c)) {
    return 'Hội nghị đã đủ số điểm cầu, máy chủ không nhận thêm.' + detail;
  }
  if (/sdp|offer|answer|negotiat|codec|ice|dtls|media/.test(c)) {
    return 'Không thiết lập được kết nối hình ảnh/âm thanh với máy chủ.' + detail;
  }
  if (/rate|busy|overload|unavailable/.test(c)) {
    return 'Máy chủ đang bận, điểm cầu sẽ tự thử lại.' + detail;
  }
  return 'Máy chủ báo lỗi' + (c ? ' “' + c + '”' : '') + detail + '.';
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
