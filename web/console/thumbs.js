// @ts-check
// The live wall's thumbnails: the console's own WebRTC session.
import { newPeerConnection, offerNow, signallingUrl } from "../lib/rtc.js";
import { $, el } from "../lib/dom.js";
import { S } from "./state.js";
import { log, t } from "./core.js";
import { allSites, live } from "./live.js";

// ------------------------------------------------------------ thumbnails
// The console joins the meeting's media room as `console` through its
// session cookie (sent with the /ws upgrade; the join's token is empty),
// with one recvonly video slot per site. The server says which
// participant each slot shows (`slots`); the roll call says which site a
// participant is. Link meters: what this console receives per tile.
const MAX_THUMBS = 48;

export function startMedia(mine) {
  if (mine.closed || mine.over || typeof RTCPeerConnection === "undefined") return;
  const sites = allSites().length;
  const media = { pc: null, ws: null, slots: [], tracks: new Map(), stats: new Map(), retry: null, statsTimer: null, state: "connecting", gen: (mine.media ? mine.media.gen : 0) + 1 };
  mine.media = media;
  const thumbs = Math.min(MAX_THUMBS, Math.max(4, sites + 2));
  (async () => {
    try {
      const pc = newPeerConnection();
      media.pc = pc;
      // stage, speaker, then the thumbnails
      for (let i = 0; i < thumbs + 2; i++) pc.addTransceiver("video", { direction: "recvonly" });
      pc.ontrack = (ev) => {
        if (ev.transceiver && ev.transceiver.mid !== null) media.tracks.set(ev.transceiver.mid, ev.track);
        drawThumbs();
      };
      pc.onconnectionstatechange = () => {
        log("media pc", pc.connectionState);
        if (pc.connectionState === "failed") restartMedia(mine, media, "pc failed");
      };
      const sdp = await offerNow(pc);
      if (mine.closed || mine.media !== media) return;
      const ws = new WebSocket(signallingUrl());
      media.ws = ws;
      ws.onopen = () =>
        ws.send(
          JSON.stringify({
            type: "join",
            v: 1,
            meeting: mine.id,
            token: "",
            name: S.me ? `${S.me.display_name || S.me.login} (điều hành)` : "console",
            role: "console",
            offer: sdp,
          })
        );
      ws.onmessage = async (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch (_) {
          return;
        }
        if (mine.media !== media) return;
        if (msg.type === "joined") {
          log("media joined as", msg.participant);
          media.participant = msg.participant;
          media.slots = msg.slots || [];
          try {
            await pc.setRemoteDescription({ type: "answer", sdp: msg.answer });
          } catch (e) {
            log("answer rejected", String(e));
          }
          media.state = "joined";
          drawThumbs();
        } else if (msg.type === "slots" || msg.type === "answer") {
          media.slots = msg.slots || media.slots;
          drawThumbs();
        } else if (msg.type === "error") {
          log("media refused", msg.code, msg.message);
          media.error = msg;
          if (media.state !== "joined") {
            media.state = "refused";
            ws.close();
          }
        }
      };
      ws.onclose = () => {
        if (mine.closed || mine.media !== media) return;
        restartMedia(mine, media, "ws closed");
      };
      media.statsTimer = setInterval(() => measure(media), 2000);
    } catch (e) {
      log("media failed", String(e));
      restartMedia(mine, media, "setup failed");
    }
  })();
}

export function stopMedia(mine) {
  const media = mine && mine.media;
  if (!media) return;
  clearTimeout(media.retry);
  clearInterval(media.statsTimer);
  if (media.ws) {
    media.ws.onclose = null;
    try {
      if (media.ws.readyState === WebSocket.OPEN) media.ws.send(JSON.stringify({ type: "leave" }));
    } catch (_) {
      /* closing anyway */
    }
    media.ws.close();
  }
  if (media.pc) {
    media.pc.ontrack = media.pc.onconnectionstatechange = null;
    media.pc.close();
  }
  media.stopped = true;
}

function restartMedia(mine, media, why) {
  if (media.stopped || mine.closed) return;
  log("media restart:", why);
  if (mine.over || (mine.meeting && (mine.meeting.state === "ended" || mine.meeting.state === "cancelled"))) {
    stopMedia(mine);
    return;
  }
  stopMedia(mine);
  media.retry = setTimeout(() => {
    if (!mine.closed && mine.media === media) startMedia(mine);
  }, 5000);
}

// Each tile's slot (mid) by endpoint, from the slots and the roll call.
function thumbMids() {
  const out = new Map();
  const media = live && live.media;
  if (!media) return out;
  const byParticipant = new Map();
  for (const s of allSites()) {
    if (s.participant) byParticipant.set(String(s.participant), s.endpoint_id);
    // A room on a node below: its thumbnail comes up the relay link while
    // this console watches, under a source id of its own.
    if (s.thumb_participant) byParticipant.set(String(s.thumb_participant), s.endpoint_id);
  }
  for (const slot of media.slots) {
    if (slot.kind !== "video" || slot.role !== "thumbnail" || !slot.participant) continue;
    const ep = byParticipant.get(String(slot.participant));
    if (ep && !out.has(ep)) out.set(ep, slot.mid);
  }
  return out;
}

export function drawThumbs() {
  if (!live || !live.media) return;
  const mids = thumbMids();
  for (const tile of $("grid").children) {
    const ep = tile.dataset.endpoint;
    const mid = mids.get(ep);
    const track = mid !== undefined ? live.media.tracks.get(mid) : undefined;
    const thumb = tile.querySelector(".thumb");
    let video = thumb.querySelector("video");
    tile.dataset.mid = mid === undefined ? "" : mid;
    if (!track) {
      if (video) video.remove();
      continue;
    }
    if (!video) {
      video = el("video", { autoplay: true, playsinline: true, muted: true });
      video.muted = true;
      thumb.prepend(video);
    }
    if (!video.srcObject || video.srcObject.getVideoTracks()[0] !== track) {
      video.srcObject = new MediaStream([track]);
      video.play().catch(() => {});
    }
  }
}

// Receive rate per slot, every 2 s: the tile's link meter.
async function measure(media) {
  if (!media.pc || media.stopped) return;
  let report;
  try {
    report = await media.pc.getStats();
  } catch (_) {
    return;
  }
  const now = Date.now();
  report.forEach((r) => {
    if (r.type !== "inbound-rtp" || r.kind !== "video" || r.mid === undefined) return;
    const prev = media.stats.get(r.mid);
    const kbps = prev && now > prev.at ? ((r.bytesReceived - prev.bytes) * 8) / (now - prev.at) : 0;
    const lostDelta = prev ? Math.max(0, (r.packetsLost || 0) - prev.lost) : 0;
    const recvDelta = prev ? Math.max(0, (r.packetsReceived || 0) - prev.received) : 0;
    media.stats.set(r.mid, {
      at: now,
      bytes: r.bytesReceived || 0,
      lost: r.packetsLost || 0,
      received: r.packetsReceived || 0,
      kbps: Math.max(0, Math.round(kbps)),
      loss: lostDelta + recvDelta > 0 ? lostDelta / (lostDelta + recvDelta) : 0,
      fps: r.framesPerSecond || 0,
    });
  });
  drawMeters();
}

export function drawMeters() {
  if (!live || !live.media) return;
  for (const tile of $("grid").children) {
    const mid = tile.dataset.mid;
    const st = mid ? live.media.stats.get(mid) : undefined;
    const meter = tile.querySelector(".meter");
    const fill = meter.querySelector(".meter-fill");
    const label = tile.querySelector(".meter-text");
    if (!st || tile.dataset.state !== "connected") {
      fill.style.width = "0%";
      meter.dataset.level = "none";
      label.textContent = "";
      tile.dataset.kbps = "0";
      continue;
    }
    // 0 .. 1.5 Mbit/s on a square-root scale: thin links stay visible.
    const pct = Math.min(100, Math.round(Math.sqrt(st.kbps / 1500) * 100));
    fill.style.width = `${pct}%`;
    meter.dataset.level = st.loss > 0.05 ? "bad" : st.kbps < 100 ? "low" : "good";
    label.textContent = `${st.kbps} kbit/s${st.loss > 0.005 ? ` · ${t("meter_loss")} ${(st.loss * 100).toFixed(1)}%` : ""}`;
    tile.dataset.kbps = String(st.kbps);
  }
}
