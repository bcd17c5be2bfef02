// @ts-check
// The portal's core: the shared page parts (web/lib/page.js: language,
// log, the API client with its CSRF token, refusals in the chosen
// language, toasts, the busy-button runner), sizes, and form errors.
import { ApiError } from "../lib/api.js";
import { $ } from "../lib/dom.js";
import { makePage } from "../lib/page.js";
import { S } from "./state.js";
import { showLogin } from "./main.js";

export const { t, log, logLines, api, errorText, toast, act } = makePage({
  name: "portal",
  state: S,
  onUnauthorized: () => showLogin(),
  // Refusals the server already words in Vietnamese (then English).
  serverWorded: new Set(["classified", "pdf_unreadable"]),
  maxToasts: 3,
});

export const chars = (s) => [...s].length;

// Sizes in MiB, with a decimal comma in Vietnamese.
export function mib(bytes) {
  const n = bytes / 1048576;
  const s = n >= 100 ? n.toFixed(0) : n >= 0.1 ? n.toFixed(1) : n.toFixed(2);
  return `${S.lang === "vi" ? s.replace(".", ",") : s} MiB`;
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
