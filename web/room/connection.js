// @ts-check
// The connection: WebSocket signalling, the WebRTC join, ICE watch,
// keep-alive, reconnect with back-off.
import { $ } from "../lib/dom.js";
import { runCheck } from "./check.js";
import { S } from "./state.js";
import { newPeerConnection, offerNow, signallingUrl } from "../lib/rtc.js";
import { CONNECT_TIMEOUT_MS, ICE_DISCONNECT_GRACE_MS, LOBBY_KNOCK_MS, PING_INTERVAL_MS, PROTOCOL_VERSION, RECONNECT_MAX_MS, RECONNECT_MIN_MS, SILENCE_TIMEOUT_MS, meeting, myName, token } from "./config.js";
import { audioEls, errorText, errors, lang, log, midTracks, setError, st, t } from "./core.js";
import { api, schedulePoll } from "./documents.js";
import { showMyName } from "./main.js";
import { onTrack, renderLabels, renderMute, renderParticipants, setSlots } from "./render.js";

// -------------------------------------------------------- connection
export function setConn(state) {
  st.connection = state;
  $('conn').dataset.state = state;
  $('conn-text').textContent = t('conn.' + state);
}

export function send(msg) {
  if (S.ws && S.ws.readyState === WebSocket.OPEN) {
    S.ws.send(JSON.stringify(msg));
    return true;
  }
  return false;
}

export async function connect() {
  teardown();
  const my = S.generation;
  st.attempts += 1;
  st.joined = false;
  setConn(st.refused ? 'refused' : st.everConnected ? 'reconnecting' : 'connecting');
  log('join attempt', st.attempts);
  try {
    S.pc = newPeerConnection();
    const thisPc = S.pc;
    addTransceivers(thisPc);
    thisPc.ontrack = (ev) => {
      if (my === S.generation) onTrack(ev);
    };
    thisPc.onconnectionstatechange = () => {
      if (my === S.generation) onPcState(thisPc);
    };
    const sdp = await offerNow(thisPc);
    if (my !== S.generation) return;
    openSocket(my, sdp);
  } catch (e) {
    log('connect failed:', e);
    if (my !== S.generation) return;
    setError('connect', 'Trình duyệt không tạo được kết nối WebRTC: ' + (e && e.message ? e.message : e));
    scheduleReconnect('connect failed');
  }
}

function addTransceivers(p) {
  const video = S.localStream && S.localStream.getVideoTracks()[0];
  const audio = S.localStream && S.localStream.getAudioTracks()[0];
  const streams = S.localStream ? [S.localStream] : [];
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
  S.recv = {
    stage: p.addTransceiver('video', { direction: 'recvonly' }),
    speaker: p.addTransceiver('video', { direction: 'recvonly' }),
    audio: [0, 1, 2].map(() => p.addTransceiver('audio', { direction: 'recvonly' })),
  };
}

function openSocket(my, sdp) {
  st.ws = 'connecting';
  const sock = new WebSocket(signallingUrl());
  S.ws = sock;
  sock.onopen = () => {
    if (my !== S.generation) return;
    st.ws = 'open';
    S.lastServerMsgAt = Date.now();
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
    S.pingTimer = setInterval(() => {
      if (my !== S.generation) return;
      // Only a server known to answer pings can be declared silent;
      // otherwise a quiet but healthy meeting would be torn down.
      if (st.pongSeen && Date.now() - S.lastServerMsgAt > SILENCE_TIMEOUT_MS) {
        log('server silent for', SILENCE_TIMEOUT_MS, 'ms');
        scheduleReconnect('server silent');
        return;
      }
      send({ type: 'ping' });
    }, PING_INTERVAL_MS);
    S.connectTimer = setTimeout(() => {
      if (my !== S.generation) return;
      if (!S.pc || S.pc.connectionState !== 'connected') {
        log('no media connection after', CONNECT_TIMEOUT_MS, 'ms');
        scheduleReconnect('connect timeout');
      }
    }, CONNECT_TIMEOUT_MS);
  };
  sock.onmessage = (ev) => {
    if (my !== S.generation) return;
    S.lastServerMsgAt = Date.now();
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
    if (my === S.generation) log('ws error');
  };
  sock.onclose = (ev) => {
    if (my !== S.generation) return;
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
        await S.pc.setRemoteDescription({ type: 'answer', sdp: msg.answer });
      } catch (e) {
        log('bad answer:', e);
        if (my !== S.generation) return;
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
      if (S.pc && S.pc.signalingState === 'have-local-offer') {
        await S.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
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
      if (runCheck) {
        runCheck({
          seconds: msg.seconds,
          meeting,
          pc: () => S.pc,
          stream: () => S.localStream,
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
        S.backoffMs = LOBBY_KNOCK_MS;
        scheduleReconnect('in lobby');
      } else if (!st.joined) {
        // The join itself was refused: nothing will work until someone
        // fixes the link or the meeting; keep retrying slowly.
        st.refused = true;
        S.backoffMs = RECONNECT_MAX_MS;
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
    clearTimeout(S.disconnectTimer);
    S.disconnectTimer = null;
    clearTimeout(S.connectTimer);
    S.connectTimer = null;
    S.backoffMs = RECONNECT_MIN_MS;
    st.everConnected = true;
    setError('connect', null);
    setError('ws', null);
    setConn('connected');
  } else if (s === 'disconnected') {
    setConn('reconnecting');
    clearTimeout(S.disconnectTimer);
    S.disconnectTimer = setTimeout(() => scheduleReconnect('ice disconnected'), ICE_DISCONNECT_GRACE_MS);
  } else if (s === 'failed' || s === 'closed') {
    scheduleReconnect('ice ' + s);
  }
}

function scheduleReconnect(reason) {
  if (S.reconnectTimer) return;
  teardown();
  setConn(st.refused ? 'refused' : st.everConnected ? 'reconnecting' : 'connecting');
  // Up to +25% jitter so a room full of kiosks does not retry in lockstep.
  const delay = Math.min(RECONNECT_MAX_MS, Math.round(S.backoffMs * (1 + Math.random() * 0.25)));
  S.backoffMs = Math.min(RECONNECT_MAX_MS, S.backoffMs * 2);
  log('reconnect in', delay, 'ms:', reason);
  S.reconnectTimer = setTimeout(() => {
    S.reconnectTimer = null;
    connect();
  }, delay);
}

function teardown() {
  S.generation += 1;
  clearTimeout(S.disconnectTimer);
  clearTimeout(S.connectTimer);
  clearInterval(S.pingTimer);
  S.disconnectTimer = S.connectTimer = S.pingTimer = null;
  if (S.ws) {
    const sock = S.ws;
    S.ws = null;
    sock.onopen = sock.onmessage = sock.onerror = sock.onclose = null;
    try {
      if (sock.readyState === WebSocket.OPEN) sock.send(JSON.stringify({ type: 'leave' }));
      sock.close();
    } catch (_) {
      /* already gone */
    }
  }
  st.ws = 'closed';
  if (S.pc) {
    const p = S.pc;
    S.pc = null;
    p.ontrack = p.onconnectionstatechange = null;
    try {
      p.close();
    } catch (_) {
      /* already closed */
    }
  }
  S.recv = { stage: null, speaker: null, audio: [] };
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
