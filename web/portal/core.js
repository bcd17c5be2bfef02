// @ts-check
// The portal's core: language, log, the API client with its CSRF token,
// errors in the chosen language, toasts and the busy-button runner.
import { ApiError, request } from "../lib/api.js";
import { $, el } from "../lib/dom.js";
import { dictionary, translate } from "../lib/i18n.js";
import { makeLog } from "../lib/log.js";
import { S } from "./state.js";
import { showLogin } from "./main.js";

const DICT = dictionary("portal");
// Refusals the server already words in Vietnamese (then English): shown as sent.
const SERVER_WORDED = new Set(["classified", "pdf_unreadable"]);


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

export const chars = (s) => [...s].length;

// Meetings are planned in Vietnam's time zone (UTC+07:00).

// Sizes in MiB, with a decimal comma in Vietnamese.
export function mib(bytes) {
  const n = bytes / 1048576;
  const s = n >= 100 ? n.toFixed(0) : n >= 0.1 ? n.toFixed(1) : n.toFixed(2);
  return `${S.lang === "vi" ? s.replace(".", ",") : s} MiB`;
}

// ------------------------------------------------------------ API

/**
 * @param {string} method
 * @param {string} path
 * @param {any} [body]
 * @returns {Promise<any>}
 */
export function api(method, path, body) {
  return request(method, path, body, { csrf: S.csrf, networkMessage: t("network_error") });
}

// The server's refusal, in the chosen language: a known code gets its
// Vietnamese sentence, the server's own message follows for detail.
export function errorText(e) {
  if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
  if (e.code === "network") return e.message;
  if (SERVER_WORDED.has(e.code)) return inLanguage(e.message);
  const known = DICT[S.lang].errors[e.code] || (S.lang === "en" ? null : DICT.vi.errors[e.code]);
  const field = e.field ? ` [${e.field}]` : "";
  if (known) return `${known}${field} (${e.message})`;
  return `${t("err_prefix")} ${e.status}${field}: ${e.message}`;
}

// A message the server words in both languages ("Vietnamese. English."):
// the sentences of the chosen language, or all of it when unsure.
const VI_LETTERS = /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹàáèéìíòóùúýĩõũ]/i;
function inLanguage(text) {
  const sentences = text.split(/(?<=\.)\s+/);
  const isVi = (s) => {
    const words = s.split(/\s+/).filter(Boolean);
    return words.filter((w) => VI_LETTERS.test(w)).length >= words.length * 0.25;
  };
  const picked = sentences.filter((s) => isVi(s) === (S.lang === "vi"));
  return picked.length > 0 ? picked.join(" ") : text;
}

// ------------------------------------------------------------ toasts, confirm
export function toast(text, kind) {
  const box = el("div", { class: `toast toast-${kind || "info"}`, role: kind === "error" ? "alert" : "status", text });
  $("toasts").append(box);
  while ($("toasts").children.length > 3) $("toasts").firstChild.remove();
  setTimeout(() => box.remove(), kind === "error" ? 9000 : 3500);
  log("toast", kind || "info", text);
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

// A form's error line and the field it is about.
export function formError(boxId, text, input) {
  const box = $(boxId);
  box.textContent = text;
  box.hidden = false;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
  return false;
}
export function clearFormError(boxId, form) {
  $(boxId).hidden = true;
  for (const i of $(form).querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
}
// A server refusal in the form's error line, marking the named field.
export function formRefusal(boxId, e, fields) {
  const input = e instanceof ApiError && e.field && fields[e.field] ? $(fields[e.field]) : null;
  formError(boxId, errorText(e), input);
  if (e instanceof ApiError && e.status === 401) showLogin();
}
