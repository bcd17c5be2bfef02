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
 * slots) -> wait for ICE gathering (bounded) -> WebSocket /ws `join` ->
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
(function () {
  'use strict';

  // Back-off between join attempts: starts at 1 s, doubles, capped at 10 s
  // (a commune kiosk should be back within seconds after a server restart,
  // without 200 of them hammering it in lockstep: hence the jitter below).
  const RECONNECT_MIN_MS = 1000;
  const RECONNECT_MAX_MS = 10000;
  /** A room in an open meeting's lobby knocks this often: the console's
   *  "Cho vào" takes effect within it. */
  const LOBBY_KNOCK_MS = 3000;
  // Loopback/LAN candidates gather in milliseconds; never hold the join
  // hostage to an interface that does not answer.
  const ICE_GATHER_TIMEOUT_MS = 2000;
  // 'disconnected' often heals by itself (a lost burst); 'failed' does not.
  const ICE_DISCONNECT_GRACE_MS = 4000;
  // From WebSocket open to a connected peer connection.
  const CONNECT_TIMEOUT_MS = 20000;
  // Keep-alive: ping every 15 s, give up after 45 s of server silence.
  const PING_INTERVAL_MS = 15000;
  const SILENCE_TIMEOUT_MS = 45000;
  // UI refresh (meter, empty tiles): ~7 Hz is smooth enough and cheap.
  const UI_TICK_MS = 150;
  const LOG_MAX_LINES = 300;
  const PROTOCOL_VERSION = 1;

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const meeting = (() => {
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
  const token = (() => {
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
  const myName = (params.get('name') || '').trim() || null;

  // ---------------------------------------------------------------- log
  const logLines = [];
  function log(...args) {
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
  const LANG_KEY = 'diemcau.lang';
  const TEXT = {
    vi: {
      'conn.connecting': 'Đang kết nối…',
      'conn.connected': 'Đã kết nối',
      'conn.reconnecting': 'Mất kết nối – đang kết nối lại…',
      'conn.refused': 'Chưa vào được hội nghị – sẽ thử lại…',
      'conn.stopped': 'Không thể kết nối',
      'brand.title': 'Hội nghị trực tuyến',
      'brand.meeting': 'Cuộc họp',
      'me.label': 'Điểm cầu',
      'me.default': 'Điểm cầu',
      'title.suffix': 'Hội nghị trực tuyến',
      'stage.role': 'Sân khấu',
      'stage.empty': 'Chưa có hình ảnh sân khấu',
      'stage.self': 'Điểm cầu của bạn đang phát biểu trên sân khấu',
      'stage.wait': 'Đang chờ tín hiệu từ điểm cầu chủ trì…',
      'speaker.role': 'Người đang phát biểu',
      'speaker.none': 'Chưa có người phát biểu',
      'speaker.self': 'Điểm cầu của bạn đang phát biểu',
      'speaker.onstage': 'Đang phát biểu trên sân khấu',
      'speaker.nopic': 'Chưa có hình ảnh',
      'self.role': 'Hình ảnh của tôi',
      'self.nocam': 'Không có camera',
      'self.camoff': 'Camera đang tắt',
      'self.opening': 'Đang mở camera…',
      'flag.mic': 'micrô tắt',
      'flag.cam': 'camera tắt',
      'btn.micOff': 'Tắt micrô',
      'btn.micOn': 'Bật micrô',
      'btn.micLocked': 'Micrô do điều hành tắt',
      'btn.camOff': 'Tắt camera',
      'btn.camOn': 'Bật camera',
      'btn.camLocked': 'Camera do điều hành tắt',
      'muted.audio': 'Điều hành đã tắt micrô của điểm cầu',
      'muted.both': 'Điều hành đã tắt micrô của điểm cầu (camera cũng bị tắt)',
      'muted.video': 'Điều hành đã tắt camera của điểm cầu',
      'muted.hint': 'Chỉ điều hành viên bật lại được',
      participants: '{n} điểm cầu đang tham dự',
      unlock: 'Bấm để bật âm thanh',
      'unlock.sub': 'Click to enable sound',
      'floor.request': 'Đăng ký phát biểu',
      'floor.withdraw': 'Rút đăng ký',
      'floor.speakingBtn': 'Đang phát biểu',
      'floor.queued': 'Đã đăng ký phát biểu – thứ tự {pos}/{n}',
      'floor.speaking': 'Đang phát biểu',
      'floor.left': 'còn {t}',
      'floor.over': 'quá {t}',
      'floor.failed': 'Không gửi được: {e}',
      'floor.sending': 'Đang gửi…',
      'doc.caption': 'Tài liệu: {title}, trang {page}',
      'doc.loading': 'Đang tải tài liệu…',
      'doc.failed': 'Không tải được tài liệu ({e}). Đang thử lại…',
      'doc.notpdf': 'Tài liệu này không phải PDF: mở trên máy tính của điểm cầu.',
      'vote.role': 'Biểu quyết',
      'vote.open': 'Biểu quyết công khai',
      'vote.secret': 'Bỏ phiếu kín',
      'vote.headcount': 'Số người biểu quyết tại điểm cầu (đã xác nhận khi điểm danh)',
      'vote.choose': 'Chọn một phương án',
      'vote.needHeadcount': 'Chờ ban tổ chức xác nhận số người tại điểm cầu trước khi biểu quyết',
      'join.lobby': 'Đang chờ ban tổ chức cho điểm cầu vào hội nghị…',
      'vote.sending': 'Đang gửi phiếu…',
      'vote.done': 'Đã biểu quyết – chờ công bố kết quả',
      'vote.closed': 'Đã kết thúc biểu quyết – chờ công bố kết quả',
      'vote.notEligible': 'Điểm cầu không thuộc danh sách biểu quyết này',
      'vote.result': 'Kết quả biểu quyết',
      'vote.total': 'Tổng: {n} phiếu',
      'vote.close': 'Đóng',
      'vote.failed': 'Không gửi được phiếu: {e}',
      'lang.switch': 'English',
    },
    en: {
      'conn.connecting': 'Connecting…',
      'conn.connected': 'Connected',
      'conn.reconnecting': 'Connection lost – reconnecting…',
      'conn.refused': 'Not admitted yet – will retry…',
      'conn.stopped': 'Cannot connect',
      'brand.title': 'Online conference',
      'brand.meeting': 'Meeting',
      'me.label': 'Room',
      'me.default': 'Room',
      'title.suffix': 'Online conference',
      'stage.role': 'Stage',
      'stage.empty': 'No stage picture yet',
      'stage.self': 'Your room is speaking on the stage',
      'stage.wait': 'Waiting for the host room…',
      'speaker.role': 'Speaking now',
      'speaker.none': 'Nobody is speaking',
      'speaker.self': 'Your room is speaking',
      'speaker.onstage': 'Speaking on the stage',
      'speaker.nopic': 'No picture yet',
      'self.role': 'My camera',
      'self.nocam': 'No camera',
      'self.camoff': 'Camera is off',
      'self.opening': 'Opening the camera…',
      'flag.mic': 'mic off',
      'flag.cam': 'camera off',
      'btn.micOff': 'Mute mic',
      'btn.micOn': 'Unmute mic',
      'btn.micLocked': 'Mic muted by the operator',
      'btn.camOff': 'Camera off',
      'btn.camOn': 'Camera on',
      'btn.camLocked': 'Camera off by the operator',
      'muted.audio': 'The operator has muted this room’s microphone',
      'muted.both': 'The operator has muted this room’s microphone (and camera)',
      'muted.video': 'The operator has turned this room’s camera off',
      'muted.hint': 'Only the operator can turn it back on',
      participants: 'Rooms connected: {n}',
      unlock: 'Click to enable sound',
      'unlock.sub': 'Bấm để bật âm thanh',
      'floor.request': 'Request to speak',
      'floor.withdraw': 'Withdraw request',
      'floor.speakingBtn': 'Speaking',
      'floor.queued': 'Registered to speak – position {pos} of {n}',
      'floor.speaking': 'You have the floor',
      'floor.left': '{t} left',
      'floor.over': '{t} over',
      'floor.failed': 'Not sent: {e}',
      'floor.sending': 'Sending…',
      'doc.caption': 'Document: {title}, page {page}',
      'doc.loading': 'Loading the document…',
      'doc.failed': 'Could not load the document ({e}). Retrying…',
      'doc.notpdf': 'This document is not a PDF: open it on the room’s computer.',
      'vote.role': 'Vote',
      'vote.open': 'Open vote',
      'vote.secret': 'Secret ballot',
      'vote.headcount': 'People voting in this room (confirmed at roll call)',
      'vote.choose': 'Choose an option',
      'vote.needHeadcount': 'Waiting for the organisers to confirm how many people are in this room',
      'join.lobby': 'Waiting for the organisers to let this room into the meeting…',
      'vote.sending': 'Sending the vote…',
      'vote.done': 'Vote cast – waiting for the result',
      'vote.closed': 'Voting closed – waiting for the result',
      'vote.notEligible': 'This room does not vote on this motion',
      'vote.result': 'Result',
      'vote.total': 'Total: {n} votes',
      'vote.close': 'Close',
      'vote.failed': 'Vote not sent: {e}',
      'lang.switch': 'Tiếng Việt',
    },
  };
  function storedLang() {
    try {
      return localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'vi';
    } catch (_) {
      return 'vi';
    }
  }
  let lang = storedLang();
  function t(key, vars) {
    let s = (TEXT[lang] && TEXT[lang][key]) || TEXT.vi[key] || key;
    if (vars) for (const k of Object.keys(vars)) s = s.split('{' + k + '}').join(String(vars[k]));
    return s;
  }
  function applyLang() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    const b = $('btn-lang');
    b.textContent = t('lang.switch');
    b.lang = lang === 'vi' ? 'en' : 'vi';
  }
  function setLang(next) {
    lang = next === 'en' ? 'en' : 'vi';
    try {
      localStorage.setItem(LANG_KEY, lang);
    } catch (_) {
      /* kiosk without storage: this page load only */
    }
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
  const st = {
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
  const errors = new Map(); // kind -> Vietnamese text shown in #error

  let localStream = null;
  let pc = null;
  let ws = null;
  let generation = 0; // bumped on every teardown; stale callbacks compare it
  let backoffMs = RECONNECT_MIN_MS;
  let reconnectTimer = null;
  let disconnectTimer = null;
  let connectTimer = null;
  let pingTimer = null;
  let lastServerMsgAt = 0;
  let recv = { stage: null, speaker: null, audio: [] }; // our recvonly transceivers
  const midTracks = new Map(); // mid -> remote MediaStreamTrack (from ontrack)
  const audioEls = new Map(); // mid -> <audio>

  // ------------------------------------------------------------ errors
  // Server codes are matched loosely so a new code still gets a sensible
  // Vietnamese sentence; the server's own (English) message follows it.
  function errorText(code, message) {
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

  function setError(kind, text) {
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

  // -------------------------------------------------------- connection
  function setConn(state) {
    st.connection = state;
    $('conn').dataset.state = state;
    $('conn-text').textContent = t('conn.' + state);
  }

  function wsUrl() {
    return (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/ws';
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  async function connect() {
    teardown();
    const my = generation;
    st.attempts += 1;
    st.joined = false;
    setConn(st.refused ? 'refused' : st.everConnected ? 'reconnecting' : 'connecting');
    log('join attempt', st.attempts);
    try {
      pc = new RTCPeerConnection({
        iceServers: [],
        bundlePolicy: 'max-bundle',
        rtcpMuxPolicy: 'require',
      });
      const thisPc = pc;
      addTransceivers(thisPc);
      thisPc.ontrack = (ev) => {
        if (my === generation) onTrack(ev);
      };
      thisPc.onconnectionstatechange = () => {
        if (my === generation) onPcState(thisPc);
      };
      const offer = await thisPc.createOffer();
      await thisPc.setLocalDescription(offer);
      await waitForGathering(thisPc, ICE_GATHER_TIMEOUT_MS);
      if (my !== generation) return;
      openSocket(my, thisPc.localDescription.sdp);
    } catch (e) {
      log('connect failed:', e);
      if (my !== generation) return;
      setError('connect', 'Trình duyệt không tạo được kết nối WebRTC: ' + (e && e.message ? e.message : e));
      scheduleReconnect('connect failed');
    }
  }

  function addTransceivers(p) {
    const video = localStream && localStream.getVideoTracks()[0];
    const audio = localStream && localStream.getAudioTracks()[0];
    const streams = localStream ? [localStream] : [];
    if (video) {
      p.addTransceiver(video, {
        direction: 'sendonly',
        streams,
        sendEncodings: [
          { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150000 },
          { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500000 },
          { rid: 'f', maxBitrate: 1500000 },
        ],
      });
    }
    if (audio) p.addTransceiver(audio, { direction: 'sendonly', streams });
    recv = {
      stage: p.addTransceiver('video', { direction: 'recvonly' }),
      speaker: p.addTransceiver('video', { direction: 'recvonly' }),
      audio: [0, 1, 2].map(() => p.addTransceiver('audio', { direction: 'recvonly' })),
    };
  }

  function waitForGathering(p, timeoutMs) {
    if (p.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function check() {
        if (p.iceGatheringState === 'complete') done();
      }
      function done() {
        clearTimeout(timer);
        p.removeEventListener('icegatheringstatechange', check);
        resolve();
      }
      p.addEventListener('icegatheringstatechange', check);
    });
  }

  function openSocket(my, sdp) {
    st.ws = 'connecting';
    const sock = new WebSocket(wsUrl());
    ws = sock;
    sock.onopen = () => {
      if (my !== generation) return;
      st.ws = 'open';
      lastServerMsgAt = Date.now();
      log('ws open, sending join');
      send({
        type: 'join',
        v: PROTOCOL_VERSION,
        meeting,
        token,
        ...(myName ? { name: myName } : {}),
        role: 'room',
        offer: sdp,
      });
      pingTimer = setInterval(() => {
        if (my !== generation) return;
        // Only a server known to answer pings can be declared silent;
        // otherwise a quiet but healthy meeting would be torn down.
        if (st.pongSeen && Date.now() - lastServerMsgAt > SILENCE_TIMEOUT_MS) {
          log('server silent for', SILENCE_TIMEOUT_MS, 'ms');
          scheduleReconnect('server silent');
          return;
        }
        send({ type: 'ping' });
      }, PING_INTERVAL_MS);
      connectTimer = setTimeout(() => {
        if (my !== generation) return;
        if (!pc || pc.connectionState !== 'connected') {
          log('no media connection after', CONNECT_TIMEOUT_MS, 'ms');
          scheduleReconnect('connect timeout');
        }
      }, CONNECT_TIMEOUT_MS);
    };
    sock.onmessage = (ev) => {
      if (my !== generation) return;
      lastServerMsgAt = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (_) {
        log('bad json from server:', String(ev.data).slice(0, 200));
        return;
      }
      handleMessage(my, msg).catch((e) => log('handling', msg.type, 'failed:', e));
    };
    sock.onerror = () => {
      if (my === generation) log('ws error');
    };
    sock.onclose = (ev) => {
      if (my !== generation) return;
      st.ws = 'closed';
      log('ws closed', ev.code, ev.reason || '');
      if (!st.joined && !st.refused && !errors.has('join')) {
        setError('ws', 'Không liên lạc được với máy chủ hội nghị (' + location.host + '). Điểm cầu sẽ tự kết nối lại.');
      }
      scheduleReconnect('ws closed');
    };
  }

  async function handleMessage(my, msg) {
    switch (msg.type) {
      case 'joined': {
        log('joined as', msg.participant, 'slots', msg.slots);
        st.participant = msg.participant || null;
        st.joined = true;
        // Learn which endpoint we are (the roll call names our participant).
        schedulePoll(300);
        st.refused = false;
        setError('join', null);
        setError('ws', null);
        setSlots(msg.slots);
        try {
          await pc.setRemoteDescription({ type: 'answer', sdp: msg.answer });
        } catch (e) {
          log('bad answer:', e);
          if (my !== generation) return;
          setError('join', 'Máy chủ trả về mô tả phiên (SDP) không hợp lệ: ' + e.message);
          scheduleReconnect('bad answer');
          return;
        }
        // A reconnect must keep what the room chose for itself.
        if (st.selfMuted.audio || st.selfMuted.video) {
          send({ type: 'mute', audio: st.selfMuted.audio, video: st.selfMuted.video });
        }
        break;
      }
      case 'answer':
        setSlots(msg.slots);
        if (pc && pc.signalingState === 'have-local-offer') {
          await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
        }
        break;
      case 'slots':
        setSlots(msg.slots);
        break;
      case 'speaker':
        st.speaker = msg.participant ? { participant: msg.participant, name: msg.name || null } : null;
        renderLabels();
        break;
      case 'stage':
        st.stageParticipants = msg.participants || [];
        renderLabels();
        break;
      case 'muted':
        st.serverMuted = { audio: !!msg.audio, video: !!msg.video };
        st.operatorMuted = { audio: !!msg.operator_audio, video: !!msg.operator_video };
        log('server mute state', st.serverMuted);
        renderMute();
        break;
      case 'participants':
        st.participants = Array.isArray(msg.list) ? msg.list : [];
        if (!myName) {
          const me = st.participants.find((x) => x.id === st.participant);
          if (me && me.name) showMyName(me.name);
        }
        renderParticipants();
        break;
      case 'pong':
        st.pongSeen = true;
        break;
      case 'check':
        // The technical check (web/check.js): measured on this connection.
        log('technical check for', msg.seconds, 's');
        if (window.DiemcauCheck) {
          window.DiemcauCheck.run({
            seconds: msg.seconds,
            meeting,
            pc: () => pc,
            stream: () => localStream,
            api,
            lang: () => lang,
          });
        }
        break;
      case 'error': {
        log('server error', msg.code, msg.message);
        const text = errorText(msg.code, msg.message);
        if (!st.joined && msg.code === 'in_lobby') {
          // An open meeting's lobby: knock again soon; an operator lets
          // the room in from the console.
          setError('join', t('join.lobby'));
          backoffMs = LOBBY_KNOCK_MS;
          scheduleReconnect('in lobby');
        } else if (!st.joined) {
          // The join itself was refused: nothing will work until someone
          // fixes the link or the meeting; keep retrying slowly.
          st.refused = true;
          backoffMs = RECONNECT_MAX_MS;
          setError('join', text);
          scheduleReconnect('join refused: ' + msg.code);
        } else {
          setError('server', text);
          const shown = text;
          setTimeout(() => {
            if (errors.get('server') === shown) setError('server', null);
          }, 10000);
        }
        break;
      }
      default:
        log('ignoring message type', msg.type);
    }
  }

  function onPcState(p) {
    const s = p.connectionState;
    log('pc', s);
    if (s === 'connected') {
      clearTimeout(disconnectTimer);
      disconnectTimer = null;
      clearTimeout(connectTimer);
      connectTimer = null;
      backoffMs = RECONNECT_MIN_MS;
      st.everConnected = true;
      setError('connect', null);
      setError('ws', null);
      setConn('connected');
    } else if (s === 'disconnected') {
      setConn('reconnecting');
      clearTimeout(disconnectTimer);
      disconnectTimer = setTimeout(() => scheduleReconnect('ice disconnected'), ICE_DISCONNECT_GRACE_MS);
    } else if (s === 'failed' || s === 'closed') {
      scheduleReconnect('ice ' + s);
    }
  }

  function scheduleReconnect(reason) {
    if (reconnectTimer) return;
    teardown();
    setConn(st.refused ? 'refused' : st.everConnected ? 'reconnecting' : 'connecting');
    // Up to +25% jitter so a room full of kiosks does not retry in lockstep.
    const delay = Math.min(RECONNECT_MAX_MS, Math.round(backoffMs * (1 + Math.random() * 0.25)));
    backoffMs = Math.min(RECONNECT_MAX_MS, backoffMs * 2);
    log('reconnect in', delay, 'ms:', reason);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      connect();
    }, delay);
  }

  function teardown() {
    generation += 1;
    clearTimeout(disconnectTimer);
    clearTimeout(connectTimer);
    clearInterval(pingTimer);
    disconnectTimer = connectTimer = pingTimer = null;
    if (ws) {
      const sock = ws;
      ws = null;
      sock.onopen = sock.onmessage = sock.onerror = sock.onclose = null;
      try {
        if (sock.readyState === WebSocket.OPEN) sock.send(JSON.stringify({ type: 'leave' }));
        sock.close();
      } catch (_) {
        /* already gone */
      }
    }
    st.ws = 'closed';
    if (pc) {
      const p = pc;
      pc = null;
      p.ontrack = p.onconnectionstatechange = null;
      try {
        p.close();
      } catch (_) {
        /* already closed */
      }
    }
    recv = { stage: null, speaker: null, audio: [] };
    midTracks.clear();
    // What the old session showed is no longer true; the next `joined`
    // brings it back.
    st.slots = [];
    st.speaker = null;
    st.participants = [];
    st.participant = null;
    st.serverMuted = { audio: false, video: false };
    renderParticipants();
    renderLabels();
    renderMute();
    for (const el of audioEls.values()) el.srcObject = null;
    $('stage-video').srcObject = null;
    $('speaker-video').srcObject = null;
  }

  // ------------------------------------------------------------- slots
  function setSlots(slots) {
    if (Array.isArray(slots)) st.slots = slots;
    renderTracks();
    renderLabels();
  }

  function slotOf(mid) {
    return st.slots.find((s) => s.mid === mid) || null;
  }

  // The server's slot list is authoritative; our own transceiver order
  // (stage, speaker, audio…) is the fallback until it arrives.
  function roleOf(t) {
    const slot = t && t.mid != null ? slotOf(t.mid) : null;
    if (slot && slot.role) return slot.role;
    if (t === recv.stage) return 'stage';
    if (t === recv.speaker) return 'speaker';
    if (recv.audio.includes(t)) return 'audio';
    return t && t.receiver && t.receiver.track && t.receiver.track.kind === 'video' ? 'thumbnail' : 'audio';
  }

  function recvTransceivers() {
    if (!pc) return [];
    return pc.getTransceivers().filter((t) => t.direction === 'recvonly' || t.direction === 'sendrecv');
  }

  function transceiverForRole(role) {
    return recvTransceivers().find((t) => t.receiver.track.kind === 'video' && roleOf(t) === role) || null;
  }

  function onTrack(ev) {
    const t = ev.transceiver;
    const mid = t ? t.mid : null;
    log('track', ev.track.kind, 'mid', mid, 'role', roleOf(t));
    if (mid != null) midTracks.set(mid, ev.track);
    ev.track.addEventListener('unmute', renderTiles);
    ev.track.addEventListener('mute', renderTiles);
    renderTracks();
  }

  function attach(el, track) {
    const current = el.srcObject && el.srcObject.getTracks()[0];
    if (current === track) return false;
    el.srcObject = track ? new MediaStream([track]) : null;
    return !!track;
  }

  function renderTracks() {
    for (const role of ['stage', 'speaker']) {
      const t = transceiverForRole(role);
      const track = t && t.mid != null ? midTracks.get(t.mid) : null;
      const el = $(role + '-video');
      if (attach(el, track || null)) el.play().catch((e) => log(role, 'video play:', e));
    }
    const box = $('audio-slots');
    for (const t of recvTransceivers()) {
      if (t.mid == null || t.receiver.track.kind !== 'audio') continue;
      const track = midTracks.get(t.mid);
      if (!track) continue;
      let el = audioEls.get(t.mid);
      if (!el) {
        el = document.createElement('audio');
        el.autoplay = true;
        el.dataset.mid = t.mid;
        box.appendChild(el);
        audioEls.set(t.mid, el);
      }
      if (attach(el, track)) playAudio(el);
    }
  }

  function playAudio(el) {
    const p = el.play();
    if (p && p.catch) {
      p.then(() => {
        if (st.audioBlocked) hideUnlock();
      }).catch((e) => {
        log('audio play refused:', e);
        if (e && e.name === 'NotAllowedError') showUnlock();
      });
    }
  }

  function showUnlock() {
    st.audioBlocked = true;
    $('unlock').hidden = false;
  }
  function hideUnlock() {
    st.audioBlocked = false;
    $('unlock').hidden = true;
  }
  function unlockAudio() {
    hideUnlock();
    for (const el of audioEls.values()) if (el.srcObject) playAudio(el);
    for (const id of ['stage-video', 'speaker-video', 'self-video']) {
      const v = $(id);
      if (v.srcObject) v.play().catch(() => {});
    }
  }

  // ---------------------------------------------------------- rendering
  function renderLabels() {
    const stage = transceiverForRole('stage');
    const stageSlot = stage ? slotOf(stage.mid) : null;
    $('stage-name').textContent = stageSlot && stageSlot.participant ? displayName(stageSlot) : '';
    const spk = transceiverForRole('speaker');
    const spkSlot = spk ? slotOf(spk.mid) : null;
    let who = spkSlot && spkSlot.participant ? displayName(spkSlot) : '';
    if (!who && st.speaker) who = st.speaker.name || st.speaker.participant;
    $('speaker-name').textContent = who || '';
    renderTiles();
  }

  function displayName(slot) {
    if (slot.name) return slot.name;
    const p = st.participants.find((x) => x.id === slot.participant);
    return p ? p.name : slot.participant;
  }

  // A tile is "empty" (placeholder shown) when the server says nobody is in
  // the slot, or no frame has arrived yet.
  function renderTiles() {
    for (const role of ['stage', 'speaker']) {
      const t = transceiverForRole(role);
      const slot = t ? slotOf(t.mid) : null;
      const v = $(role + '-video');
      const track = v.srcObject && v.srcObject.getVideoTracks()[0];
      const live = !!track && !track.muted && v.videoWidth > 0 && !(slot && !slot.participant);
      $('tile-' + role).dataset.empty = live ? 'false' : 'true';
    }
    // Why the speaker tile is empty: the server leaves the slot empty when
    // the speaker is this room itself or already on the stage.
    const who = speakerParticipant();
    const stageT = transceiverForRole('stage');
    const stageSlot = stageT ? slotOf(stageT.mid) : null;
    const spkText = !who
      ? t('speaker.none')
      : who === st.participant
        ? t('speaker.self')
        : stageSlot && stageSlot.participant === who
          ? t('speaker.onstage')
          : t('speaker.nopic');
    if ($('speaker-placeholder').textContent !== spkText) $('speaker-placeholder').textContent = spkText;
    // The floor holder is on the stage itself: the server sends nobody its
    // own picture back, so say why the stage is empty.
    const onStageMyself = floorState().state === 'speaking';
    const stageText = onStageMyself ? t('stage.self') : t('stage.empty');
    $('stage-wait').hidden = onStageMyself;
    if ($('stage-placeholder').textContent !== stageText) $('stage-placeholder').textContent = stageText;
    const self = $('self-video');
    const selfLive = !!self.srcObject && self.videoWidth > 0 && !st.selfMuted.video;
    $('tile-self').dataset.empty = selfLive ? 'false' : 'true';
    const hasCamera = !!(localStream && localStream.getVideoTracks().length);
    const selfText = !hasCamera ? t('self.nocam') : st.selfMuted.video ? t('self.camoff') : t('self.opening');
    if ($('self-placeholder').textContent !== selfText) $('self-placeholder').textContent = selfText;
  }

  function renderMute() {
    // The server says who muted; older servers did not, so infer then.
    const op = st.operatorMuted;
    const opAudio = op ? op.audio : st.serverMuted.audio && !st.selfMuted.audio;
    const opVideo = op ? op.video : st.serverMuted.video && !st.selfMuted.video;
    const banner = $('muted-banner');
    banner.hidden = !opAudio && !opVideo;
    banner.querySelector('.banner-text').textContent = t(opAudio ? (opVideo ? 'muted.both' : 'muted.audio') : 'muted.video');
    banner.querySelector('.banner-en').textContent = t('muted.hint');
    document.body.dataset.operatorMuted = opAudio ? 'audio' : opVideo ? 'video' : 'none';
    // While the operator's mute holds, the room cannot lift it itself.
    setButton('btn-mic', st.selfMuted.audio || opAudio, t('btn.micOff'), opAudio ? t('btn.micLocked') : t('btn.micOn'));
    setButton('btn-cam', st.selfMuted.video || opVideo, t('btn.camOff'), opVideo ? t('btn.camLocked') : t('btn.camOn'));
    $('btn-mic').disabled = opAudio;
    $('btn-cam').disabled = opVideo;
    const flags = [];
    if (st.selfMuted.audio || st.serverMuted.audio) flags.push(t('flag.mic'));
    if (st.selfMuted.video || st.serverMuted.video) flags.push(t('flag.cam'));
    $('self-flags').textContent = flags.join(' · ');
    renderTiles();
  }

  function setButton(id, pressed, offText, onText) {
    const b = $(id);
    b.setAttribute('aria-pressed', pressed ? 'true' : 'false');
    b.querySelector('.btn-text').textContent = pressed ? onText : offText;
  }

  function renderParticipants() {
    const n = st.participants.length;
    $('participants').textContent = n ? t('participants', { n }) : '';
  }

  function operatorHolds(kind) {
    const op = st.operatorMuted;
    return !!(op && op[kind]);
  }

  function toggleSelfMute(kind) {
    // An operator mute holds: the room cannot lift it (the server would
    // keep dropping the media anyway).
    if (operatorHolds(kind) && st.selfMuted[kind] === false) {
      log('self mute', kind, 'refused: operator mute holds');
      renderMute();
      return;
    }
    const muted = !st.selfMuted[kind];
    st.selfMuted[kind] = muted;
    if (localStream) {
      const tracks = kind === 'audio' ? localStream.getAudioTracks() : localStream.getVideoTracks();
      for (const t of tracks) t.enabled = !muted;
    }
    send({ type: 'mute', [kind]: muted });
    log('self mute', kind, muted);
    renderMute();
  }

  // ------------------------------------------------------- audio meter
  let meterLevel = 0;
  const statsLevels = new WeakMap(); // sender|receiver -> {level, at}

  function receiverLevel(receiver) {
    try {
      const srcs = receiver.getSynchronizationSources ? receiver.getSynchronizationSources() : [];
      if (srcs.length && typeof srcs[0].audioLevel === 'number') {
        const ts = srcs[0].timestamp;
        const age = Math.min(
          Math.abs(performance.now() - ts),
          Math.abs(performance.timeOrigin + performance.now() - ts),
          Math.abs(Date.now() - ts),
        );
        return age < 1000 ? srcs[0].audioLevel : 0;
      }
    } catch (_) {
      /* fall through to getStats */
    }
    return statsLevel(receiver, 'inbound-rtp');
  }

  // audioLevel from getStats() of a receiver (inbound-rtp) or sender
  // (media-source), refreshed asynchronously at most every 300 ms.
  function statsLevel(senderOrReceiver, type) {
    const cached = statsLevels.get(senderOrReceiver);
    if (!cached || performance.now() - cached.at > 300) {
      statsLevels.set(senderOrReceiver, { level: cached ? cached.level : 0, at: performance.now() });
      senderOrReceiver.getStats().then((rep) => {
        rep.forEach((r) => {
          if (r.type === type && typeof r.audioLevel === 'number') {
            statsLevels.set(senderOrReceiver, { level: r.audioLevel, at: performance.now() });
          }
        });
      }).catch(() => {});
    }
    return cached ? cached.level : 0;
  }

  function speakerParticipant() {
    const spk = transceiverForRole('speaker');
    const slot = spk ? slotOf(spk.mid) : null;
    if (slot && slot.participant) return slot.participant;
    return st.speaker ? st.speaker.participant : null;
  }

  function tickMeter() {
    let level = 0;
    const who = speakerParticipant();
    if (pc && who && who === st.participant) {
      // This room is the speaker: show its own microphone.
      const sender = pc.getSenders().find((s) => s.track && s.track.kind === 'audio');
      const silenced = st.selfMuted.audio || st.serverMuted.audio;
      if (sender && !silenced) level = statsLevel(sender, 'media-source');
    } else if (pc && who) {
      for (const t of recvTransceivers()) {
        if (t.receiver.track.kind !== 'audio') continue;
        const slot = slotOf(t.mid);
        if (slot && slot.participant === who) level = Math.max(level, receiverLevel(t.receiver));
      }
    }
    // audioLevel is linear amplitude; show it in dB over a 50 dB range.
    const db = level > 0 ? 20 * Math.log10(level) : -100;
    const target = Math.max(0, Math.min(1, (db + 50) / 50));
    // Fast attack, slow release: reads like a VU meter, not a flicker.
    meterLevel = target > meterLevel ? target : meterLevel * 0.85 + target * 0.15;
    $('speaker-level').style.transform = 'scaleX(' + meterLevel.toFixed(3) + ')';
  }

  // ---------------------------------------------------------- paperless
  // The room's own token is also its bearer for the control API: the live
  // state (floor queue, confirmed headcount), the page-sync presentation,
  // the meeting book and the motions, kept current by the event stream
  // (openEvents below) with a slow poll as a safety net.
  // A token the API does not know (the demo token) turns these parts off.
  const POLL_MS = 2000;
  const POLL_REFUSED_MS = 30000;
  const FETCH_TIMEOUT_MS = 10000;
  const DOC_RETRY_MS = 5000;
  const MAX_HEADCOUNT = 10000;
  const apiBase = '/api/v1/meetings/' + encodeURIComponent(meeting);
  const pl = {
    available: null, // null: not known yet; false: the API refuses this token
    endpoint: null, // our endpoint id, found in the roll call by participant id
    live: null, // the last LiveSnapshot
    liveAt: 0, // when it arrived (performance.now())
    floorBusy: false,
    floorError: null,
    presentation: null, // {document_id, page} as the server says
    shown: null, // {document_id, page} the viewer was last told
    book: new Map(), // document id -> BookEntry
    blobs: new Map(), // document id -> {url, type}
    docLoading: null,
    docError: null, // {id, text}
    motions: [],
    motion: null, // the motion the vote panel shows
    seenOpen: new Set(),
    voted: new Set(),
    dismissed: new Set(),
    voteBusy: null,
    voteError: null,
  };
  let pollTimer = null;
  let polling = false;

  class ApiFailure extends Error {
    constructor(status, code, message) {
      super(message || code);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + token };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    try {
      const r = await fetch(apiBase + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        signal: ctl.signal,
      });
      const text = await r.text();
      let json = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch (_) {
        /* not JSON */
      }
      if (!r.ok) {
        const e = (json && json.error) || {};
        throw new ApiFailure(r.status, e.code || 'http_' + r.status, e.message || text.slice(0, 200));
      }
      return json;
    } finally {
      clearTimeout(timer);
    }
  }

  // The meeting's event stream (page-sync, votes, floor, mutes) as it
  // happens: a browser WebSocket cannot send an Authorization header, so the
  // token goes as a subprotocol the server understands ("diemcau.bearer.…");
  // it answers with plain "diemcau". 200 rooms then cost the server one
  // stream each instead of three requests every 2 s.
  const POLL_WITH_EVENTS_MS = 30000;
  let eventsWs = null;
  let eventsOpen = false;
  let liveRefresh = null;

  function openEvents() {
    if (eventsWs || !token) return;
    const url =
      (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + apiBase + '/live/events';
    let ws;
    try {
      ws = new WebSocket(url, ['diemcau', 'diemcau.bearer.' + token]);
    } catch (e) {
      log('event stream not opened:', e);
      return;
    }
    eventsWs = ws;
    ws.onopen = () => {
      eventsOpen = true;
      log('event stream open');
    };
    ws.onmessage = (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch (_) {
        return;
      }
      onEvent(ev);
    };
    ws.onclose = () => {
      const was = eventsOpen;
      eventsWs = null;
      eventsOpen = false;
      if (was) log('event stream closed; polling until it reopens');
      // Reopened by the next poll, which also catches up on what was missed.
      schedulePoll(was ? 1000 : POLL_MS);
    };
  }

  function onEvent(ev) {
    switch (ev.type) {
      case 'snapshot':
        applyLive(ev.state);
        break;
      case 'presentation':
        applyPresentation({ document_id: ev.document_id, page: ev.page });
        break;
      case 'motion': {
        const m = ev.motion;
        if (!m || !m.id) break;
        const list = (pl.motions || []).filter((x) => x.id !== m.id);
        list.push(m);
        applyMotions(list);
        break;
      }
      case 'meeting_closed':
        break;
      default:
        // Roll call, floor, mutes…: one fresh read of the live state soon
        // after a burst, not one per event.
        if (!liveRefresh) {
          liveRefresh = setTimeout(async () => {
            liveRefresh = null;
            try {
              applyLive(await api('GET', '/live'));
              renderPaperless();
            } catch (e) {
              log('live refresh failed:', e);
            }
          }, 250);
        }
    }
    renderPaperless();
  }

  function schedulePoll(ms) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(pollOnce, ms);
  }

  async function pollOnce() {
    pollTimer = null;
    if (polling) return;
    polling = true;
    let next = POLL_MS;
    try {
      const results = await Promise.allSettled([
        api('GET', '/live'),
        api('GET', '/presentation'),
        api('GET', '/motions'),
      ]);
      const refused = results.every(
        (r) => r.status === 'rejected' && (r.reason.status === 401 || r.reason.status === 403),
      );
      if (refused) {
        if (pl.available !== false) log('control API refuses this token: floor, documents and votes off');
        pl.available = false;
        next = POLL_REFUSED_MS;
      } else {
        if (pl.available !== true) log('control API answers: floor, documents and votes on');
        pl.available = true;
        openEvents();
        // With the event stream open, polling is only a safety net.
        if (eventsOpen) next = POLL_WITH_EVENTS_MS;
        const [live, pres, mot] = results;
        if (live.status === 'fulfilled') applyLive(live.value);
        if (pres.status === 'fulfilled') applyPresentation(pres.value && pres.value.presentation);
        if (mot.status === 'fulfilled') applyMotions(mot.value && mot.value.motions);
      }
    } catch (e) {
      log('poll failed:', e);
    } finally {
      polling = false;
      renderPaperless();
      schedulePoll(next);
    }
  }

  function renderPaperless() {
    renderFloor();
    renderPresentation();
    renderVote();
  }

  // -------------------------------------------------------------- floor
  function applyLive(snap) {
    if (!snap || !snap.roll_call) return;
    pl.live = snap;
    pl.liveAt = performance.now();
    const sites = Array.isArray(snap.roll_call.sites) ? snap.roll_call.sites : [];
    if (st.participant) {
      const me = sites.find((s) => s.participant != null && String(s.participant) === String(st.participant));
      if (me && me.endpoint_id !== pl.endpoint) {
        pl.endpoint = me.endpoint_id;
        log('this room is endpoint', pl.endpoint);
      }
    }
  }

  function mySite() {
    if (!pl.live || !pl.endpoint) return null;
    return (pl.live.roll_call.sites || []).find((s) => s.endpoint_id === pl.endpoint) || null;
  }

  function floorState() {
    const f = pl.live && pl.live.floor;
    if (!f || !pl.endpoint) return { state: 'none' };
    if (f.speaker && f.speaker.endpoint_id === pl.endpoint) return { state: 'speaking', speaker: f.speaker };
    const q = Array.isArray(f.queue) ? f.queue : [];
    const e = q.find((x) => x.endpoint_id === pl.endpoint);
    return e ? { state: 'queued', pos: e.position, n: q.length } : { state: 'none' };
  }

  function mmss(ms) {
    const s = Math.max(0, Math.round(Math.abs(ms) / 1000));
    return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
  }

  function renderFloor() {
    const btn = $('btn-floor');
    const status = $('floor-status');
    const usable = pl.available === true && !!pl.endpoint;
    btn.hidden = !usable;
    if (!usable) {
      status.textContent = '';
      return;
    }
    const f = floorState();
    btn.dataset.floor = f.state;
    const label = f.state === 'speaking' ? t('floor.speakingBtn') : f.state === 'queued' ? t('floor.withdraw') : t('floor.request');
    const txt = btn.querySelector('.btn-text');
    if (txt.textContent !== label) txt.textContent = label;
    btn.disabled = pl.floorBusy || f.state === 'speaking';
    btn.setAttribute('aria-pressed', f.state === 'none' ? 'false' : 'true');
    let text = '';
    if (pl.floorBusy) text = t('floor.sending');
    else if (pl.floorError) text = t('floor.failed', { e: pl.floorError });
    else if (f.state === 'queued') text = t('floor.queued', { pos: f.pos, n: f.n });
    else if (f.state === 'speaking') {
      text = t('floor.speaking');
      const rem = f.speaker.remaining_ms;
      if (typeof rem === 'number') {
        const left = rem - (performance.now() - pl.liveAt);
        text += ' – ' + t(left >= 0 ? 'floor.left' : 'floor.over', { t: mmss(left) });
      }
    }
    status.dataset.floor = f.state;
    if (status.textContent !== text) status.textContent = text;
  }

  async function onFloorClick() {
    const f = floorState();
    if (pl.floorBusy || f.state === 'speaking') return;
    const what = f.state === 'queued' ? 'withdraw' : 'request';
    pl.floorBusy = true;
    pl.floorError = null;
    renderFloor();
    try {
      applyLive(await api('POST', '/live/floor/' + what, {}));
      log('floor', what, 'ok');
    } catch (e) {
      log('floor', what, 'failed:', e.code, e.message);
      pl.floorError = e.message;
      setTimeout(() => {
        pl.floorError = null;
        renderFloor();
      }, 8000);
    } finally {
      pl.floorBusy = false;
      renderFloor();
    }
  }

  // ------------------------------------------------------- presentation
  function applyPresentation(p) {
    const next = p && p.document_id ? { document_id: String(p.document_id), page: Number(p.page) || 1 } : null;
    const cur = pl.presentation;
    if ((cur && next && cur.document_id === next.document_id && cur.page === next.page) || (!cur && !next)) return;
    log('presentation', next);
    pl.presentation = next;
  }

  async function loadDocument(id) {
    if (pl.blobs.has(id) || pl.docLoading) return;
    pl.docLoading = id;
    try {
      if (!pl.book.has(id)) {
        const book = await api('GET', '/book');
        for (const d of (book && book.documents) || []) pl.book.set(d.id, d);
      }
      const entry = pl.book.get(id);
      const url = entry && entry.url ? entry.url : apiBase + '/documents/' + encodeURIComponent(id) + '/content';
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), 60000);
      let blob;
      try {
        const r = await fetch(url, { headers: { Authorization: 'Bearer ' + token }, signal: ctl.signal });
        if (!r.ok) throw new Error('HTTP ' + r.status);
        blob = await r.blob();
      } finally {
        clearTimeout(timer);
      }
      const type = (entry && entry.media_type) || blob.type || 'application/pdf';
      const typed = blob.type === type ? blob : new Blob([blob], { type });
      pl.blobs.set(id, { url: URL.createObjectURL(typed), type });
      pl.docError = null;
      log('document', id, 'loaded,', typed.size, 'bytes');
    } catch (e) {
      log('document', id, 'failed:', e);
      pl.docError = { id, text: e && e.message ? e.message : String(e) };
      setTimeout(() => {
        if (pl.docError && pl.docError.id === id) pl.docError = null;
        renderPresentation();
      }, DOC_RETRY_MS);
    } finally {
      pl.docLoading = null;
      renderPresentation();
    }
  }

  function renderPresentation() {
    const p = pl.available === true ? pl.presentation : null;
    const frameBox = $('doc-frame');
    const old = frameBox.querySelector('iframe');
    $('layout').classList.toggle('presenting', !!p);
    $('doc-panel').hidden = !p;
    if (!p) {
      if (old) old.remove();
      pl.shown = null;
      return;
    }
    const entry = pl.book.get(p.document_id);
    const caption = t('doc.caption', { title: entry ? entry.title : p.document_id, page: p.page });
    if ($('doc-caption').textContent !== caption) $('doc-caption').textContent = caption;
    // Whether the shown document is the signed original, as the server
    // checked it (common.js draws the same lines for every page).
    const sigBox = $('doc-signatures');
    const sigKey = p.document_id + '|' + lang + '|' + (entry ? entry.signatures_checked_at_ms : '');
    if (sigBox.dataset.key !== sigKey) {
      const badges = entry && window.DiemcauCommon ? window.DiemcauCommon.signatureBadges(entry.signatures, lang) : null;
      sigBox.replaceChildren(...(badges ? [badges] : []));
      sigBox.dataset.key = sigKey;
    }
    const note = $('doc-note');
    const blob = pl.blobs.get(p.document_id);
    if (!blob) {
      const failed = pl.docError && pl.docError.id === p.document_id;
      note.textContent = failed ? t('doc.failed', { e: pl.docError.text }) : t('doc.loading');
      note.hidden = false;
      if (old) old.remove();
      if (!failed) loadDocument(p.document_id);
      return;
    }
    const viewable = /^(application\/pdf|image\/)/.test(blob.type);
    note.hidden = viewable;
    note.textContent = viewable ? '' : t('doc.notpdf');
    // No toolbar or thumbnails: a wall screen shows the page, not a reader.
    const src = blob.url + (blob.type === 'application/pdf' ? '#toolbar=0&navpanes=0&page=' + p.page : '');
    if (viewable && (!old || old.getAttribute('src') !== src)) {
      // A fresh frame per page: the browser's own PDF viewer reads
      // #page= when it opens the (already downloaded) blob.
      const f = document.createElement('iframe');
      f.title = caption;
      f.setAttribute('src', src);
      if (old) old.replaceWith(f);
      else frameBox.appendChild(f);
    } else if (!viewable && old) {
      old.remove();
    }
    pl.shown = { document_id: p.document_id, page: p.page };
  }

  // --------------------------------------------------------------- vote
  function applyMotions(list) {
    pl.motions = Array.isArray(list) ? list : [];
    for (const m of pl.motions) if (m.state === 'open') pl.seenOpen.add(m.id);
  }

  // An open motion; else the last one this page saw open (its result),
  // until it is dismissed or another opens.
  function currentMotion() {
    const open = pl.motions.filter((m) => m.state === 'open');
    if (open.length) return open[open.length - 1];
    let best = null;
    for (const m of pl.motions) {
      if ((m.state !== 'closed' && m.state !== 'published') || !pl.seenOpen.has(m.id) || pl.dismissed.has(m.id)) continue;
      if (!best || (m.closed_at_ms || 0) >= (best.closed_at_ms || 0)) best = m;
    }
    return best;
  }

  /** The headcount confirmed for this room at roll call: what its vote weighs. */
  function knownHeadcount() {
    const site = mySite();
    return site && !site.headcount_self_reported && site.headcount > 0 && site.headcount <= MAX_HEADCOUNT ? site.headcount : null;
  }

  function renderVote() {
    const m = pl.available === true ? currentMotion() : null;
    pl.motion = m;
    const panel = $('vote-panel');
    panel.hidden = !m;
    if (!m) return;
    panel.dataset.state = m.state;
    panel.dataset.motion = m.id;
    if ($('vote-title').textContent !== m.title) $('vote-title').textContent = m.title;
    $('vote-desc').textContent = m.description || '';
    $('vote-desc').hidden = !m.description;
    $('vote-mode').textContent = t(m.mode === 'secret' ? 'vote.secret' : 'vote.open');
    $('vote-dismiss').hidden = m.state === 'open';
    const voted = m.you_voted === true || pl.voted.has(m.id);
    const eligible = m.electorate === 'rooms';
    const canVote = m.state === 'open' && !voted && eligible;
    $('vote-ballot').hidden = !canVote;
    const box = $('vote-options');
    const hc = $('vote-headcount');
    if (box.dataset.motion !== m.id) {
      box.textContent = '';
      (m.options || []).forEach((label, i) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'btn vote-option';
        b.dataset.index = String(i);
        b.textContent = label;
        b.addEventListener('click', () => castVote(m.id, i));
        box.appendChild(b);
      });
      box.dataset.motion = m.id;
      pl.voteError = null;
    }
    const known = knownHeadcount();
    const shown = known ? String(known) : '—';
    if (hc.value !== shown) hc.value = shown;
    const hcOk = known !== null;
    for (const b of box.querySelectorAll('button')) b.disabled = !!pl.voteBusy || !hcOk;
    let status = '';
    if (m.state === 'published') status = t('vote.result');
    else if (pl.voteBusy === m.id) status = t('vote.sending');
    else if (pl.voteError) status = t('vote.failed', { e: pl.voteError });
    else if (voted) status = t('vote.done');
    else if (m.state === 'closed') status = t('vote.closed');
    else if (!eligible) status = t('vote.notEligible');
    else status = hcOk ? t('vote.choose') : t('vote.needHeadcount');
    const st_ = $('vote-status');
    st_.dataset.voted = voted ? 'true' : 'false';
    if (st_.textContent !== status) st_.textContent = status;
    renderResults(m);
  }

  function renderResults(m) {
    const box = $('vote-results');
    const r = m.state === 'published' ? m.results : null;
    box.hidden = !r;
    if (!r) {
      box.dataset.key = '';
      return;
    }
    const key = m.id + '|' + lang + '|' + JSON.stringify(r.options);
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.textContent = '';
    const total = Number(r.total_votes) || 0;
    for (const o of r.options || []) {
      const votes = Number(o.votes) || 0;
      const pct = total ? Math.round((votes * 1000) / total) / 10 : 0;
      const row = document.createElement('div');
      row.className = 'vote-bar';
      row.dataset.index = String(o.index);
      row.dataset.votes = String(votes);
      const label = document.createElement('span');
      label.className = 'vote-bar-label';
      label.textContent = o.label;
      const track = document.createElement('span');
      track.className = 'vote-bar-track';
      const fill = document.createElement('span');
      fill.className = 'vote-bar-fill';
      fill.style.width = pct + '%';
      track.appendChild(fill);
      const count = document.createElement('span');
      count.className = 'vote-bar-count';
      count.textContent = votes + ' (' + pct.toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB') + '%)';
      row.append(label, track, count);
      box.appendChild(row);
    }
    const sum = document.createElement('div');
    sum.className = 'vote-total';
    sum.textContent = t('vote.total', { n: total });
    box.appendChild(sum);
  }

  async function castVote(id, index) {
    const hc = knownHeadcount();
    if (hc === null || pl.voteBusy) {
      renderVote();
      return;
    }
    pl.voteBusy = id;
    pl.voteError = null;
    renderVote();
    try {
      await api('POST', '/motions/' + encodeURIComponent(id) + '/vote', { option: index });
      pl.voted.add(id);
      log('voted on', id, 'option', index, 'weighing the confirmed headcount', hc);
    } catch (e) {
      log('vote failed:', e.code, e.message);
      if (e.code === 'already_voted') pl.voted.add(id);
      else pl.voteError = e.message;
    } finally {
      pl.voteBusy = null;
      renderVote();
    }
  }

  // ------------------------------------------------------------- stats
  function emptyVideoStats(t) {
    const slot = t ? slotOf(t.mid) : null;
    return {
      mid: t ? t.mid : null,
      participant: slot ? slot.participant : null,
      name: slot ? slot.name : null,
      framesDecoded: 0,
      bytesReceived: 0,
      packetsReceived: 0,
      codec: null,
      frameWidth: 0,
      frameHeight: 0,
    };
  }

  async function stats() {
    const p = pc;
    const out = {
      connection: p ? p.connectionState : 'new',
      stage: emptyVideoStats(null),
      speaker: emptyVideoStats(null),
      audio: [],
      sent: { video: [], audio: null },
      ice: null,
    };
    if (!p) return out;
    const report = await p.getStats();
    const byMid = new Map();
    const byTrack = new Map();
    const all = new Map();
    report.forEach((r) => {
      all.set(r.id, r);
      if (r.type === 'inbound-rtp') {
        if (r.mid != null) byMid.set(String(r.mid), r);
        if (r.trackIdentifier) byTrack.set(r.trackIdentifier, r);
      } else if (r.type === 'outbound-rtp') {
        if (r.kind === 'video') {
          out.sent.video.push({
            rid: r.rid || null,
            bytesSent: r.bytesSent || 0,
            framesEncoded: r.framesEncoded || 0,
            frameWidth: r.frameWidth || 0,
            frameHeight: r.frameHeight || 0,
          });
        } else if (r.kind === 'audio') {
          out.sent.audio = { bytesSent: r.bytesSent || 0, packetsSent: r.packetsSent || 0 };
        }
      }
    });
    report.forEach((r) => {
      if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') {
        const l = all.get(r.localCandidateId);
        const rm = all.get(r.remoteCandidateId);
        out.ice = {
          local: l ? l.address + ':' + l.port + ' ' + l.protocol : null,
          remote: rm ? rm.address + ':' + rm.port + ' ' + rm.protocol : null,
          currentRoundTripTime: r.currentRoundTripTime ?? null,
        };
      }
    });
    const inbound = (t) => (t.mid != null && byMid.get(t.mid)) || byTrack.get(t.receiver.track.id) || null;
    const pcTs = p.getTransceivers().filter((t) => t.direction === 'recvonly' || t.direction === 'sendrecv');
    for (const t of pcTs) {
      const role = roleOf(t);
      const r = inbound(t);
      if (t.receiver.track.kind === 'video' && (role === 'stage' || role === 'speaker')) {
        if (out[role].mid !== null) continue; // first one wins
        const s = emptyVideoStats(t);
        if (r) {
          s.framesDecoded = r.framesDecoded || 0;
          s.bytesReceived = r.bytesReceived || 0;
          s.packetsReceived = r.packetsReceived || 0;
          s.frameWidth = r.frameWidth || 0;
          s.frameHeight = r.frameHeight || 0;
          const c = r.codecId && all.get(r.codecId);
          s.codec = c ? c.mimeType : null;
        }
        out[role] = s;
      } else if (t.receiver.track.kind === 'audio') {
        const slot = slotOf(t.mid);
        out.audio.push({
          mid: t.mid,
          participant: slot ? slot.participant : null,
          name: slot ? slot.name : null,
          bytesReceived: r ? r.bytesReceived || 0 : 0,
          packetsReceived: r ? r.packetsReceived || 0 : 0,
          audioLevel: r && typeof r.audioLevel === 'number' ? r.audioLevel : 0,
        });
      }
    }
    return out;
  }

  function publicState() {
    return {
      meeting,
      name: myName,
      participant: st.participant,
      connection: st.connection,
      ws: st.ws,
      pc: pc ? pc.connectionState : 'none',
      slots: st.slots,
      speaker: st.speaker,
      participants: st.participants,
      muted: { server: { ...st.serverMuted }, self: { ...st.selfMuted } },
      errors: Array.from(errors, ([kind, text]) => ({ kind, text })),
      attempts: st.attempts,
      audioBlocked: st.audioBlocked,
      lang,
      paperless: pl.available,
      events: eventsOpen,
      endpoint: pl.endpoint,
      floor: floorState().state,
      presentation: pl.shown ? { ...pl.shown } : null,
      motion: pl.motion ? { id: pl.motion.id, state: pl.motion.state } : null,
    };
  }

  window.diemcau = {
    state: publicState,
    stats,
    // The document page the viewer was last told to show (page-sync).
    presentation: () => (pl.shown ? { ...pl.shown } : null),
    // Drop the signalling connection as a network loss would (tests,
    // technicians): the page must find its way back by itself.
    dropConnection: () => {
      log('connection dropped on request');
      if (ws) ws.close(4000, 'dropped on request');
    },
    // The camera unplugged (tests, technicians): its track ends as a
    // removed USB camera's does.
    unplugCamera: () => {
      log('camera unplugged on request');
      if (localStream) localStream.getVideoTracks().forEach((t) => t.stop());
    },
    log: () => logLines.slice(),
  };

  // ------------------------------------------------------------- start
  function tickClock() {
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

  let shownName = null;
  function showMyName(name) {
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
      if (st.connection !== 'connected' && !st.refused && reconnectTimer) {
        clearTimeout(reconnectTimer);
        reconnectTimer = null;
        backoffMs = RECONNECT_MIN_MS;
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
    localStream = await openLocalMedia();
    if (localStream) {
      const self = $('self-video');
      self.srcObject = localStream;
      self.play().catch(() => {});
    }
    connect();
  }

  start().catch((e) => {
    log('start failed:', e);
    setError('start', 'Trang điểm cầu gặp lỗi khi khởi động: ' + (e && e.message ? e.message : e));
  });
})();
