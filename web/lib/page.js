// @ts-check
// What the signed-in pages (console, portal, delegate) share: text in the
// chosen language, the log, the API client with the session's CSRF token,
// refusals worded for the user, toasts, and the busy-button runner that
// never lets an exception out. Each page's core.js makes one and exports
// its parts, so a view imports `t`, `api`, `act` … from its own page.
import { ApiError, request } from "./api.js";
import { $, el } from "./dom.js";
import { dictionary, translate } from "./i18n.js";
import { makeLog } from "./log.js";

/** How long a toast stays: an error long enough to be read twice. */
const TOAST_ERROR_MS = 9000;
const TOAST_INFO_MS = 3500;

/**
 * @typedef {object} PageOptions
 * @property {Parameters<typeof dictionary>[0]} name the page's dictionaries (web/i18n/<lang>/<name>.js)
 * @property {{lang: "vi" | "en", csrf: string | null}} state the page's state, read at each call (language and token change)
 * @property {() => void} onUnauthorized a 401: the session is gone, show the login
 * @property {Set<string>} [serverWorded] refusals the server words in both languages itself: shown as sent, in the chosen language's sentences
 * @property {boolean} [detailInVietnamese] follow a known refusal's Vietnamese sentence with the server's (English) message; default true (operators and secretaries), false for delegates
 * @property {number} [maxToasts] toasts kept on screen at once (the oldest go first)
 */

/** @param {PageOptions} opts */
export function makePage(opts) {
  const DICT = dictionary(opts.name);
  const S = opts.state;
  const serverWorded = opts.serverWorded || new Set();
  const detailInVietnamese = opts.detailInVietnamese !== false;
  const maxToasts = opts.maxToasts || Infinity;
  const pageLog = makeLog();

  /**
   * @param {string} key
   * @param {Record<string, any>} [vars]
   * @returns {string}
   */
  function t(key, vars) {
    return translate(DICT, S.lang, key, vars);
  }

  /** @param {...any} args */
  function log(...args) {
    pageLog.log(...args);
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {any} [body]
   * @param {string} [contentType]
   * @returns {Promise<any>}
   */
  function api(method, path, body, contentType) {
    return request(method, path, body, { csrf: S.csrf, contentType, networkMessage: t("network_error") });
  }

  /**
   * A refusal in the chosen language: a known code gets the page's own
   * sentence (with the field it is about); an unknown one its status and
   * the server's message.
   * @param {any} e
   * @returns {string}
   */
  function errorText(e) {
    if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
    if (e.code === "network") return e.message;
    if (serverWorded.has(e.code)) return inLanguage(e.message, S.lang);
    const known = DICT[S.lang].errors[e.code] || (S.lang === "en" ? null : DICT.vi.errors[e.code]);
    const field = e.field ? ` [${e.field}]` : "";
    if (known) return S.lang === "en" || detailInVietnamese ? `${known}${field} (${e.message})` : `${known}${field}`;
    return `${t("err_prefix")} ${e.status}${field}: ${e.message}`;
  }

  /**
   * @param {string} text
   * @param {"info" | "ok" | "error" | "warn"} [kind]
   */
  function toast(text, kind) {
    const strip = $("toasts");
    const box = el("div", { class: `toast toast-${kind || "info"}`, role: kind === "error" ? "alert" : "status", text });
    strip.append(box);
    while (strip.children.length > maxToasts && strip.firstChild) strip.firstChild.remove();
    setTimeout(() => box.remove(), kind === "error" ? TOAST_ERROR_MS : TOAST_INFO_MS);
    log("toast", kind || "info", text);
  }

  /**
   * Run an action: the button busy meanwhile, a refusal in a toast (a 401
   * back to the login), never an exception out.
   * @template T
   * @param {HTMLButtonElement | null | undefined} button
   * @param {() => Promise<T>} fn
   * @returns {Promise<T | undefined>}
   */
  async function act(button, fn) {
    if (button) button.disabled = true;
    try {
      return await fn();
    } catch (e) {
      toast(errorText(e), "error");
      if (e instanceof ApiError && e.status === 401) opts.onUnauthorized();
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  return { DICT, t, log, logLines: pageLog.lines, api, errorText, toast, act };
}

/** Letters only Vietnamese writes (with its diacritics). */
const VI_LETTERS = /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹàáèéìíòóùúýĩõũ]/i;

/**
 * A message the server words in both languages ("Vietnamese. English."):
 * the sentences of the chosen language, or all of it when unsure.
 * @param {string} text
 * @param {"vi" | "en"} lang
 */
export function inLanguage(text, lang) {
  const sentences = text.split(/(?<=\.)\s+/);
  /** @param {string} s */
  const isVi = (s) => {
    const words = s.split(/\s+/).filter(Boolean);
    return words.filter((w) => VI_LETTERS.test(w)).length >= words.length * 0.25;
  };
  const picked = sentences.filter((s) => isVi(s) === (lang === "vi"));
  return picked.length > 0 ? picked.join(" ") : text;
}
