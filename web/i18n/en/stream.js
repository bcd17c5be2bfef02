// @ts-check
// English text of the pages that show the meeting's composite (shown after
// the Vietnamese).
export default {
  need_login: "Log in to watch this meeting.",
  unreachable: "Cannot reach the server, retrying…",
  forbidden: "No such meeting, or you may not watch it.",
  not_streaming: "Not streaming yet; this page opens it when it starts.",
  starting: "The stream is starting…",
  error_retry: "Error {status}, retrying…",
  playing: "Live (a few seconds behind the hall).",
  broke_off: "The stream broke off, reopening…",
  ended: "The stream has ended.",
  live_title: "Live stream of meeting {meeting}",
  lost: "Connection lost, reconnecting…",
  not_ready: "The meeting is not ready ({status}), retrying…",
  screen_title: "Hall screen – {meeting}",
};
