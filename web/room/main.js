// @ts-check
/* diemcau – room endpoint page (điểm cầu). Plain JS, no build step, no
 * external resources: the network it runs on is isolated.
 *
 * URL: /room/{meeting}?token=...&name=...   (token required; name optional)
 * The token leaves the URL as soon as the page loads (sessionStorage of
 * this tab keeps it for reloads).
 *
 * Flow: getUserMedia (camera + mic) -> one RTCPeerConnection (no ICE
 * servers, max-bundle) -> sendonly camera with simulcast q/h/f + sendonly mic
 * -> recvonly video #1 (stage), video #2 (active speaker), audio x3 (audio
 * slots) -> the offer at once (ICE-lite server: lib/rtc.js) -> WebSocket /ws `join` ->
 * apply the `joined` answer. Received tracks are mapped to slots by
 * transceiver mid, using the server's `slots` list (SlotInfo {mid, kind,
 * role, participant, name}). WebSocket or ICE loss -> tear everything down
 * and join again with back-off 1 s -> 10 s.
 *
 * Test/automation API (tests/it/browser.rs relies on it; keep it stable):
 *
 *   window.diemcau.state() -> {
 *     meeting, name, participant,          // participant: id from `joined`, or null
 *     connection: 'connecting'|'connected'|'reconnecting'|'refused'|'stopped',
 *     ws: 'connecting'|'open'|'closed',
 *     pc: RTCPeerConnection.connectionState or 'none',
 *     slots: [SlotInfo],                   // as last sent by the server
 *     speaker: {participant, name} | null,
 *     participants: [ParticipantInfo],
 *     muted: {server: {audio, video}, self: {audio, video}},
 *     errors: [{kind, text}],              // what #error shows, Vietnamese
 *     attempts,                            // joins tried since page load
 *     audioBlocked,                        // true while autoplay is refused
 *   }
 *
 *   await window.diemcau.stats() -> {
 *     connection: 'new'|'connecting'|'connected'|'disconnected'|'failed'|'closed',
 *     stage:   {mid, participant, name, framesDecoded, bytesReceived, packetsReceived,
 *               frameWidth, frameHeight, codec},   // codec: 'video/VP8', 'video/H264'…
 *     speaker: {same fields as stage},
 *     audio:   [{mid, participant, name, bytesReceived, packetsReceived, audioLevel}],
 *     sent:    {video: [{rid, bytesSent, framesEncoded, frameWidth, frameHeight}],
 *               audio: {bytesSent, packetsSent} | null},
 *     ice:     {local, remote, currentRoundTripTime} | null,
 *   }
 *   Counters come from pc.getStats() inbound-rtp/outbound-rtp, matched to a
 *   slot by `mid` (fallback: trackIdentifier). Missing stats read as 0.
 *
 *   window.diemcau.log() -> [string]   last page events, for test failures.
 *
 *   state() also has: lang ('vi'|'en'), paperless (true: the control API
 *   takes this token; false: it refuses it, e.g. the demo token; null: not
 *   known yet), endpoint (our endpoint id, from the roll call), floor
 *   ('none'|'queued'|'speaking'), presentation, motion ({id, state} shown).
 *   window.diemcau.presentation() -> {document_id, page} | null: what the
 *     document viewer was last told to show (page-sync).
 *   window.diemcau.dropConnection(): close the signalling socket as a
 *     network loss would; the page reconnects by itself.
 *
 * Paperless parts (room endpoint token only): the page follows the
 * meeting's event stream (token as a WebSocket subprotocol) and reads
 * /api/v1/meetings/{id}/live, /presentation and /motions at start and every
 * 30 s as a safety net (every 2 s while the stream is down): floor
 * request/withdraw, the page-sync document
 * (downloaded once with the token, shown by the browser's own PDF viewer
 * from a blob URL with #page=N), the vote panel (the room votes with the
 * headcount confirmed for it at roll call; it sends none of its own).
 */
// diemcau – the conference room page (điểm cầu), as native ES modules.
// See room/config.js and the original header below for the protocol and
// the test API (window.diemcau) tests/it/browser.rs relies on.
// This module: the clock, local media and start.
import { $ } from "../lib/dom.js";
import { S } from "./state.js";
import { RECONNECT_MIN_MS, UI_TICK_MS, meeting, myName, token } from "./config.js";
import { connect, send, setConn } from "./connection.js";
import { applyLang, lang, log, setError, setLang, st, t } from "./core.js";
import { pl, schedulePoll } from "./documents.js";
import { floorState, onFloorClick, renderFloor } from "./floor.js";
import { renderLabels, renderMute, renderTiles, tickMeter, toggleSelfMute, unlockAudio } from "./render.js";
import { renderVote } from "./vote.js";
// Nothing imports the test and technician API; it installs window.diemcau.
import "./stats.js";

// ------------------------------------------------------------- start
export function tickClock() {
  const now = new Date();
  const hh = String(now.getHours()).padStart(2, '0');
  const mm = String(now.getMinutes()).padStart(2, '0');
  const days = lang === 'en'
    ? ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
    : ['Chủ nhật', 'Thứ Hai', 'Thứ Ba', 'Thứ Tư', 'Thứ Năm', 'Thứ Sáu', 'Thứ Bảy'];
  const date = days[now.getDay()] + ', ' + String(now.getDate()).padStart(2, '0') + '/' +
    String(now.getMonth() + 1).padStart(2, '0') + '/' + now.getFullYear();
  $('clock').innerHTML = '';
  const t = document.createElement('div');
  t.className = 'clock-time';
  t.textContent = hh + ':' + mm;
  const d = document.createElement('div');
  d.className = 'clock-date';
  d.textContent = date;
  $('clock').append(t, d);
}

async function openLocalMedia() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setError('media', 'Trình duyệt chỉ cho dùng camera/micrô khi trang được mở qua HTTPS. ' +
      'Điểm cầu vẫn xem và nghe được hội nghị, nhưng không gửi hình/tiếng.');
    return null;
  }
  const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  const attempts = [{ video, audio }, { audio }, { video }];
  let lastErr = null;
  for (const c of attempts) {
    try {
      const s = await navigator.mediaDevices.getUserMedia(c);
      if (!c.video) setError('media', 'Không mở được camera – điểm cầu chỉ gửi âm thanh.');
      if (!c.audio) setError('media', 'Không mở được micrô – điểm cầu chỉ gửi hình ảnh.');
      return s;
    } catch (e) {
      lastErr = e;
      log('getUserMedia', Object.keys(c).join('+'), 'failed:', e);
    }
  }
  const why = lastErr && lastErr.name === 'NotAllowedError'
    ? 'trình duyệt chưa được cấp quyền'
    : 'không tìm thấy thiết bị';
  setError('media', 'Không mở được camera và micrô (' + why + '). Điểm cầu vẫn xem và nghe được hội nghị.');
  return null;
}

export let shownName = null;
export function showMyName(name) {
  shownName = name || null;
  const n = shownName || t('me.default');
  $('me-name').textContent = n;
  document.title = n + ' – ' + t('title.suffix');
}

async function start() {
  $('meeting-id').textContent = meeting || '—';
  applyLang();
  showMyName(myName);
  setConn(st.connection);
  tickClock();
  setInterval(tickClock, 5000);
  setInterval(() => {
    tickMeter();
    renderTiles();
    if (floorState().state === 'speaking') renderFloor();
  }, UI_TICK_MS);
  $('btn-lang').addEventListener('click', () => setLang(lang === 'vi' ? 'en' : 'vi'));
  $('btn-floor').addEventListener('click', onFloorClick);
  $('vote-dismiss').addEventListener('click', () => {
    if (pl.motion) pl.dismissed.add(pl.motion.id);
    renderVote();
  });
  // Back on the network: do not wait out the back-off.
  window.addEventListener('online', () => {
    log('browser online again');
    if (st.connection !== 'connected' && !st.refused && S.reconnectTimer) {
      clearTimeout(S.reconnectTimer);
      S.reconnectTimer = null;
      S.backoffMs = RECONNECT_MIN_MS;
      connect();
    }
    if (token && meeting) schedulePoll(0);
  });
  $('btn-mic').addEventListener('click', () => toggleSelfMute('audio'));
  $('btn-cam').addEventListener('click', () => toggleSelfMute('video'));
  $('unlock-btn').addEventListener('click', unlockAudio);
  document.addEventListener('pointerdown', () => {
    if (st.audioBlocked) unlockAudio();
  });
  document.addEventListener('keydown', () => {
    if (st.audioBlocked) unlockAudio();
  });
  window.addEventListener('pagehide', () => send({ type: 'leave' }));
  renderMute();
  renderLabels();

  if (!token) {
    setError('url', 'Địa chỉ trang thiếu mã truy cập (token). Vui lòng mở đúng đường dẫn do điều hành viên cung cấp.');
    setConn('stopped');
    return;
  }
  if (!meeting) {
    setError('url', 'Địa chỉ trang thiếu mã hội nghị (/room/<mã hội nghị>).');
    setConn('stopped');
    return;
  }
  if (typeof RTCPeerConnection === 'undefined') {
    setError('url', 'Trình duyệt này không hỗ trợ WebRTC – hãy dùng Chromium/Chrome/Firefox bản mới.');
    setConn('stopped');
    return;
  }

  // The control API does not need media: start asking it now.
  schedulePoll(0);
  S.localStream = await openLocalMedia();
  if (S.localStream) {
    const self = $('self-video');
    self.srcObject = S.localStream;
    self.play().catch(() => {});
  }
  connect();
}

start().catch((e) => {
  log('start failed:', e);
  setError('start', 'Trang điểm cầu gặp lỗi khi khởi động: ' + (e && e.message ? e.message : e));
});
