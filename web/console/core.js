// @ts-check
// The console's core: the shared page parts (web/lib/page.js: language,
// log, the API client with its CSRF token, refusals in the chosen
// language, toasts, the busy-button runner), the scenes, and the alert
// strip every view uses.
import { $, el } from "../lib/dom.js";
import { makePage } from "../lib/page.js";
import { S } from "./state.js";
import { showLogin } from "./main.js";

export const { DICT, t, log, logLines, api, errorText, toast, act } = makePage({
  name: "console",
  state: S,
  onUnauthorized: () => showLogin(),
});
export const SCENES = ["khai_mac", "chu_tri_phat_bieu", "thao_luan", "bieu_quyet", "be_mac"];

export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

// ------------------------------------------------------------ alerts
export function alertBar(text, kind, key) {
  const strip = $("alerts");
  if (key) for (const old of strip.querySelectorAll(`[data-key="${CSS.escape(key)}"]`)) old.remove();
  const box = el(
    "div",
    { class: `alert alert-${kind}`, dataset: { key: key || "" } },
    el("span", { class: "alert-text", text }),
    el("button", { class: "btn btn-small", type: "button", text: t("dismiss"), onclick: () => box.remove() })
  );
  strip.prepend(box);
  while (strip.children.length > 6) strip.lastChild.remove();
  log("alert", kind, text);
}
export function clearAlert(key) {
  for (const old of $("alerts").querySelectorAll(`[data-key="${CSS.escape(key)}"]`)) old.remove();
}
