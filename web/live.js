// @ts-check
// The live stream's player: Chromium plays HLS natively and sends the
// session cookie with every request, so the page only points the video at
// the playlist, says in Vietnamese (then English) what is happening, and
// retries while the stream is starting or stopped.
import { $ } from "./lib/dom.js";


const meeting = decodeURIComponent(location.pathname.split("/")[2] || "");
const video = $("live-video");
const status = $("live-status");
const login = $("live-login");
const base = `/live/${encodeURIComponent(meeting)}`;
const say = (vi, en) => {
  status.textContent = `${vi} — ${en}`;
};
// Ask the playlist first: its status says why a stream cannot play.
async function check() {
  let r;
  try {
    r = await fetch(`${base}/index.m3u8`, { credentials: "same-origin" });
  } catch (e) {
    say("Không kết nối được máy chủ, đang thử lại…", "Cannot reach the server, retrying…");
    return setTimeout(check, 3000);
  }
  if (r.status === 401) {
    login.hidden = false;
    return say("Cần đăng nhập để xem hội nghị này.", "Log in to watch this meeting.");
  }
  if (r.status === 404 || r.status === 403) {
    const body = await r.json().catch(() => ({}));
    if (body.error && body.error.code === "not_streaming") {
      say("Hội nghị chưa phát trực tiếp; trang sẽ tự mở khi bắt đầu.", "Not streaming yet; this page opens it when it starts.");
      return setTimeout(check, 5000);
    }
    return say("Không có hội nghị này, hoặc bạn không được xem.", "No such meeting, or you may not watch it.");
  }
  if (r.status === 503) {
    say("Đang khởi động luồng phát…", "The stream is starting…");
    return setTimeout(check, 2000);
  }
  if (!r.ok) {
    say(`Lỗi ${r.status}, đang thử lại…`, `Error ${r.status}, retrying…`);
    return setTimeout(check, 5000);
  }
  video.src = `${base}/index.m3u8`;
  video.play().catch(() => {});
  say("Đang phát trực tiếp (chậm vài giây so với hội trường).", "Live (a few seconds behind the hall).");
}
video.addEventListener("error", () => {
  say("Luồng phát bị ngắt, đang mở lại…", "The stream broke off, reopening…");
  video.removeAttribute("src");
  setTimeout(check, 3000);
});
video.addEventListener("ended", () => say("Buổi phát đã kết thúc.", "The stream has ended."));
$("live-screen").href = `${base}/screen`;
$("live-title").textContent = `Truyền hình trực tiếp hội nghị ${meeting}`;
check();
