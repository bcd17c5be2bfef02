// @ts-check
// The delegate view's core: language, log, the API client with its CSRF
// token, errors in the chosen language, toasts and the busy-button runner.
import { ApiError, request } from "../lib/api.js";
import { $, el } from "../lib/dom.js";
import { dictionary, translate } from "../lib/i18n.js";
import { makeLog } from "../lib/log.js";
import { S } from "./state.js";
import { showLogin } from "./main.js";

const DICT = dictionary("delegate");


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

// A refusal in the chosen language: a known code gets its own sentence
// (the server's English detail only in English); else the status and text.
export function errorText(e) {
  if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
  if (e.code === "network") return e.message;
  const known = DICT[S.lang].errors[e.code];
  if (known) return S.lang === "en" ? `${known} (${e.message})` : known;
  return `${t("err_prefix")} ${e.status}: ${e.message}`;
}

export function toast(text, kind) {
  const box = el("div", { class: `toast toast-${kind || "info"}`, role: kind === "error" ? "alert" : "status", text });
  $("toasts").append(box);
  while ($("toasts").children.length > 3) $("toasts").firstChild.remove();
  setTimeout(() => box.remove(), kind === "error" ? 9000 : 3500);
  log("toast", kind || "info", text);
}

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
