// @ts-check
// The room page's constants and what its address says: the meeting, the
// token (out of the address bar at once), the room's name.

// Back-off between join attempts: starts at 1 s, doubles, capped at 10 s
// (a commune kiosk should be back within seconds after a server restart,
// without 200 of them hammering it in lockstep: hence the jitter below).
export const RECONNECT_MIN_MS = 1000;
export const RECONNECT_MAX_MS = 10000;
/** A room in an open meeting's lobby knocks this often: the console's
 *  "Cho vào" takes effect within it. */
export const LOBBY_KNOCK_MS = 3000;
// 'disconnected' often heals by itself (a lost burst); 'failed' does not.
export const ICE_DISCONNECT_GRACE_MS = 4000;
// From WebSocket open to a connected peer connection.
export const CONNECT_TIMEOUT_MS = 20000;
// Keep-alive: ping every 15 s, give up after 45 s of server silence.
export const PING_INTERVAL_MS = 15000;
export const SILENCE_TIMEOUT_MS = 45000;
// UI refresh (meter, empty tiles): ~7 Hz is smooth enough and cheap.
export const UI_TICK_MS = 150;
export const LOG_MAX_LINES = 300;
export const PROTOCOL_VERSION = 1;

const params = new URLSearchParams(location.search);
export const meeting = (() => {
  const parts = location.pathname.split('/').filter(Boolean);
  try {
    return decodeURIComponent(parts[parts.length - 1] || '');
  } catch (_) {
    return parts[parts.length - 1] || '';
  }
})();
// The token arrives in the link, and leaves the address bar at once: kept
// in this tab's sessionStorage (per meeting, so a reload still joins), out
// of the history, bookmarks, screenshots of the address bar and any
// Referer. A new link's token replaces the stored one.
export const token = (() => {
  const key = 'diemcau.room-token.' + meeting;
  let t = params.get('token') || '';
  try {
    if (t) sessionStorage.setItem(key, t);
    else t = sessionStorage.getItem(key) || '';
  } catch (_) {
    // Storage refused (privacy mode): the token lives in this page only.
  }
  if (params.has('token')) {
    params.delete('token');
    const q = params.toString();
    history.replaceState(history.state, '', location.pathname + (q ? '?' + q : '') + location.hash);
  }
  return t;
})();
// No name in the link: a room that joins with its own token is shown by
// its registered name (the server fills it in).
export const myName = (params.get('name') || '').trim() || null;
