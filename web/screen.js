// @ts-check
// The hall screen: plays the meeting's composite (picture and program mix)
// over WHEP — POST /whep/{meeting}/composite with the session cookie and
// its CSRF token (from /api/v1/auth/me) —, full screen, and reconnects
// when the connection drops. The sound starts muted (browsers refuse
// sound before a click); one click on the button or the picture turns it
// on. Vietnamese first, then English.
import { $ } from "./lib/dom.js";
import { bilingual, dictionary, translate } from "./lib/i18n.js";

const DICT = dictionary("stream");


const meeting = decodeURIComponent(location.pathname.split("/")[2] || "");
const video = $("screen-video");
const status = $("screen-status");
const sound = $("screen-sound");
const login = $("screen-login");
let pc = null;
let resource = null;
let csrf = "";
/** @param {string} key @param {Record<string, any>} [vars] */
const say = (key, vars) => {
  status.hidden = false;
  status.textContent = bilingual(DICT, key, vars);
};
const quiet = () => {
  status.hidden = true;
};
function retry(ms) {
  if (pc) {
    pc.close();
    pc = null;
  }
  setTimeout(connect, ms);
}
async function hangUp() {
  if (!resource) return;
  const url = resource;
  resource = null;
  try {
    await fetch(url, { method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
  } catch (e) { /* the server drops it when ICE times out */ }
}
async function connect() {
  try {
    const me = await fetch("/api/v1/auth/me", { credentials: "same-origin" });
    if (me.status === 401) {
      login.hidden = false;
      return say("need_login");
    }
    csrf = (await me.json()).csrf || "";
  } catch (e) {
    say("unreachable");
    return retry(3000);
  }
  pc = new RTCPeerConnection();
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const stream = new MediaStream();
  pc.ontrack = (ev) => {
    stream.addTrack(ev.track);
    video.srcObject = stream;
    video.play().catch(() => {});
  };
  pc.onconnectionstatechange = () => {
    if (!pc) return;
    if (pc.connectionState === "connected") {
      quiet();
    } else if (pc.connectionState === "failed" || pc.connectionState === "disconnected") {
      say("lost");
      hangUp();
      retry(2000);
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  let r;
  try {
    r = await fetch(`/whep/${encodeURIComponent(meeting)}/composite`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/sdp", "X-CSRF-Token": csrf },
      body: pc.localDescription.sdp,
    });
  } catch (e) {
    say("unreachable");
    return retry(3000);
  }
  if (r.status === 404 || r.status === 403) {
    pc.close();
    pc = null;
    return say("forbidden");
  }
  if (r.status !== 201) {
    say("not_ready", { status: r.status });
    return retry(5000);
  }
  resource = r.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: await r.text() });
}
function unmute() {
  video.muted = false;
  sound.hidden = true;
  video.play().catch(() => {});
}
sound.hidden = false;
sound.addEventListener("click", unmute);
video.addEventListener("click", () => {
  unmute();
  if (!document.fullscreenElement) document.documentElement.requestFullscreen().catch(() => {});
});
window.addEventListener("pagehide", hangUp);
document.title = translate(DICT, "vi", "screen_title", { meeting });
connect();
