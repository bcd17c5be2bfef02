// @ts-check
// Statistics for tests and the technician (window.diemcau).
import { S } from "./state.js";
import { meeting, myName } from "./config.js";
import { errors, lang, log, logLines, st } from "./core.js";
import { eventsOpen, pl } from "./documents.js";
import { floorState } from "./floor.js";
import { roleOf, slotOf } from "./render.js";

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
  const p = S.pc;
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
  // The pair in use: the one the transport names (what Chromium sends on),
  // else a nominated pair that succeeded (a stats report without the
  // transport's choice yet).
  let pairId = null;
  report.forEach((r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
  });
  report.forEach((r) => {
    const inUse = r.type === 'candidate-pair' && (pairId ? r.id === pairId : r.nominated && r.state === 'succeeded');
    if (inUse) {
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
    pc: S.pc ? S.pc.connectionState : 'none',
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
    if (S.ws) S.ws.close(4000, 'dropped on request');
  },
  // The camera unplugged (tests, technicians): its track ends as a
  // removed USB camera's does.
  unplugCamera: () => {
    log('camera unplugged on request');
    if (S.localStream) S.localStream.getVideoTracks().forEach((t) => t.stop());
  },
  log: () => logLines.slice(),
};
