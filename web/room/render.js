// @ts-check
// What the room shows: slots (received tracks by mid), tiles and labels,
// mute state, the audio meter.
import { $ } from "../lib/dom.js";
import { S } from "./state.js";
import { send } from "./connection.js";
import { audioEls, log, midTracks, st, t } from "./core.js";
import { floorState } from "./floor.js";

// ------------------------------------------------------------- slots
export function setSlots(slots) {
  if (Array.isArray(slots)) st.slots = slots;
  renderTracks();
  renderLabels();
}

export function slotOf(mid) {
  return st.slots.find((s) => s.mid === mid) || null;
}

// The server's slot list is authoritative; our own transceiver order
// (stage, speaker, audio…) is the fallback until it arrives.
export function roleOf(t) {
  const slot = t && t.mid != null ? slotOf(t.mid) : null;
  if (slot && slot.role) return slot.role;
  if (t === S.recv.stage) return 'stage';
  if (t === S.recv.speaker) return 'speaker';
  if (S.recv.audio.includes(t)) return 'audio';
  return t && t.receiver && t.receiver.track && t.receiver.track.kind === 'video' ? 'thumbnail' : 'audio';
}

function recvTransceivers() {
  if (!S.pc) return [];
  return S.pc.getTransceivers().filter((t) => t.direction === 'recvonly' || t.direction === 'sendrecv');
}

function transceiverForRole(role) {
  return recvTransceivers().find((t) => t.receiver.track.kind === 'video' && roleOf(t) === role) || null;
}

export function onTrack(ev) {
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
export function unlockAudio() {
  hideUnlock();
  for (const el of audioEls.values()) if (el.srcObject) playAudio(el);
  for (const id of ['stage-video', 'speaker-video', 'self-video']) {
    const v = $(id);
    if (v.srcObject) v.play().catch(() => {});
  }
}

// ---------------------------------------------------------- rendering
export function renderLabels() {
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
export function renderTiles() {
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
  const hasCamera = !!(S.localStream && S.localStream.getVideoTracks().length);
  const selfText = !hasCamera ? t('self.nocam') : st.selfMuted.video ? t('self.camoff') : t('self.opening');
  if ($('self-placeholder').textContent !== selfText) $('self-placeholder').textContent = selfText;
}

export function renderMute() {
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

export function renderParticipants() {
  const n = st.participants.length;
  $('participants').textContent = n ? t('participants', { n }) : '';
}

function operatorHolds(kind) {
  const op = st.operatorMuted;
  return !!(op && op[kind]);
}

export function toggleSelfMute(kind) {
  // An operator mute holds: the room cannot lift it (the server would
  // keep dropping the media anyway).
  if (operatorHolds(kind) && st.selfMuted[kind] === false) {
    log('self mute', kind, 'refused: operator mute holds');
    renderMute();
    return;
  }
  const muted = !st.selfMuted[kind];
  st.selfMuted[kind] = muted;
  if (S.localStream) {
    const tracks = kind === 'audio' ? S.localStream.getAudioTracks() : S.localStream.getVideoTracks();
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

export function tickMeter() {
  let level = 0;
  const who = speakerParticipant();
  if (S.pc && who && who === st.participant) {
    // This room is the speaker: show its own microphone.
    const sender = S.pc.getSenders().find((s) => s.track && s.track.kind === 'audio');
    const silenced = st.selfMuted.audio || st.serverMuted.audio;
    if (sender && !silenced) level = statsLevel(sender, 'media-source');
  } else if (S.pc && who) {
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
