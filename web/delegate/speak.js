// @ts-check
// Registering to speak, from the room the delegate sits in.
import { $, el } from "../lib/dom.js";
import { S } from "./state.js";
import { act, api, t, toast } from "./core.js";
import { base, cur } from "./meetings.js";

// ------------------------------------------------------------ speak
function roomKey() {
  return `diemcau.delegate.room|${S.me ? S.me.id : ""}`;
}
export function drawSpeak() {
  if (!cur) return;
  const sel = $("speak-room");
  const chosen = sel.value || (() => {
    try {
      return localStorage.getItem(roomKey()) || "";
    } catch (_) {
      return "";
    }
  })();
  // The chairing room (hub) runs the floor; it does not ask for it.
  const hub = cur.meeting ? cur.meeting.hub_endpoint_id : null;
  const rooms = cur.participants.filter((p) => p.endpoint_id !== hub);
  sel.replaceChildren(
    ...rooms.map((p) =>
      el("option", { value: p.endpoint_id, text: p.unit_name ? `${p.endpoint_name} – ${p.unit_name}` : p.endpoint_name })
    )
  );
  if (chosen && rooms.some((p) => p.endpoint_id === chosen)) sel.value = chosen;
  const st = cur.meeting && cur.meeting.state;
  const live = st === "open" || st === "live";
  $("speak-request").disabled = !live || !sel.value;
  $("speak-withdraw").disabled = !live || !sel.value;
  const room = cur.participants.find((p) => p.endpoint_id === sel.value);
  const name = room ? room.endpoint_name : "";
  const floor = cur.floor;
  let status = live ? t("speak_none") : t("speak_closed");
  if (floor && floor.speaker && floor.speaker.endpoint_id === sel.value) status = t("speak_speaking", { room: name });
  else if (floor) {
    const q = (floor.queue || []).find((e) => e.endpoint_id === sel.value);
    if (q) status = t("speak_queued", { room: name, pos: q.position });
  }
  $("speak-status").textContent = status;
}
$("speak-room").addEventListener("change", () => {
  try {
    localStorage.setItem(roomKey(), $("speak-room").value);
  } catch (_) {
    /* private mode */
  }
  drawSpeak();
});
for (const [id, path, done] of [
  ["speak-request", "request", "speak_done"],
  ["speak-withdraw", "withdraw", "speak_withdrawn"],
]) {
  $(id).addEventListener("click", () =>
    act($(id), async () => {
      const mine = cur;
      const snap = await api("POST", `${base()}/live/floor/${path}`, { endpoint_id: $("speak-room").value });
      if (mine !== cur) return;
      mine.floor = (snap && snap.floor) || mine.floor;
      toast(t(done), "ok");
      drawSpeak();
    })
  );
}
