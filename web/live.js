// @ts-check
// The live stream's player: Chromium plays HLS natively and sends the
// session cookie with every request, so the page only points the video at
// the playlist, says in Vietnamese (then English) what is happening, and
// retries while the stream is starting or stopped.
import { $ } from "./lib/dom.js";
import { bilingual, dictionary, translate } from "./lib/i18n.js";

const DICT = dictionary("stream");


const meeting = decodeURIComponent(location.pathname.split("/")[2] || "");
const video = $("live-video");
const status = $("live-status");
const login = $("live-login");
const base = `/live/${encodeURIComponent(meeting)}`;
/** @param {string} key @param {Record<string, any>} [vars] */
const say = (key, vars) => {
  status.textContent = bilingual(DICT, key, vars);
};
// Ask the playlist first: its status says why a stream cannot play.
async function check() {
  let r;
  try {
    r = await fetch(`${base}/index.m3u8`, { credentials: "same-origin" });
  } catch (e) {
    say("unreachable");
    return setTimeout(check, 3000);
  }
  if (r.status === 401) {
    login.hidden = false;
    return say("need_login");
  }
  if (r.status === 404 || r.status === 403) {
    const body = await r.json().catch(() => ({}));
    if (body.error && body.error.code === "not_streaming") {
      say("not_streaming");
      return setTimeout(check, 5000);
    }
    return say("forbidden");
  }
  if (r.status === 503) {
    say("starting");
    return setTimeout(check, 2000);
  }
  if (!r.ok) {
    say("error_retry", { status: r.status });
    return setTimeout(check, 5000);
  }
  video.src = `${base}/index.m3u8`;
  video.play().catch(() => {});
  say("playing");
}
video.addEventListener("error", () => {
  say("broke_off");
  video.removeAttribute("src");
  setTimeout(check, 3000);
});
video.addEventListener("ended", () => say("ended"));
$("live-screen").href = `${base}/screen`;
$("live-title").textContent = translate(DICT, "vi", "live_title", { meeting });
check();
