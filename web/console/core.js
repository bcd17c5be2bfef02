// @ts-check
// The console's core: language, log, the API client with its CSRF token,
// toasts, alerts and the busy-button runner every view uses.
import { ApiError, request } from "../lib/api.js";
import { $, el } from "../lib/dom.js";
import { dictionary, translate } from "../lib/i18n.js";
import { makeLog } from "../lib/log.js";
import { S } from "./state.js";
import { showLogin } from "./main.js";

export const DICT = dictionary("console");
export const SCENES = ["khai_mac", "chu_tri_phat_bieu", "thao_luan", "bieu_quyet", "be_mac"];

/**
 * @param {string} key
 * @param {Record<string, any>} [vars]
 * @returns {string}
 */
export function t(key, vars) {
  return translate(DICT, S.lang, key, vars);
}

// ------------------------------------------------------------ helpers

const pageLog = makeLog();
export const logLines = pageLog.lines;
export function log(...args) {
  pageLog.log(...args);
}

export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

// ------------------------------------------------------------ API

// `contentType` given: `body` is sent as it is (a CSV file), not as JSON.
/**
 * @param {string} method
 * @param {string} path
 * @param {any} [body]
 * @param {string} [contentType]
 * @returns {Promise<any>}
 */
export function api(method, path, body, contentType) {
  return request(method, path, body, { csrf: S.csrf, contentType, networkMessage: t("network_error") });
}

// The server's refusal, in the chosen language: a known code gets its
// Vietnamese sentence, the server's own message follows for detail.
export function errorText(e) {
  if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
  if (e.code === "network") return e.message;
  const known = DICT[S.lang].errors[e.code] || (S.lang === "en" ? null : DICT.vi.errors[e.code]);
  const field = e.field ? ` [${e.field}]` : "";
  if (known) return `${known}${field} (${e.message})`;
  return `${t("err_prefix")} ${e.status}${field}: ${e.message}`;
}

// ------------------------------------------------------------ toasts, alerts, confirm
export function toast(text, kind) {
  const box = el("div", { class: `toast toast-${kind || "info"}`, role: kind === "error" ? "alert" : "status", text });
  $("toasts").append(box);
  setTimeout(() => box.remove(), kind === "error" ? 9000 : 3500);
  log("toast", kind || "info", text);
}

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

// Run an action: busy button, error in a toast, never an exception out.
export async function act(button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    toast(errorText(e), "error");
    if (e instanceof ApiError && e.status === 401) showLogin();
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
