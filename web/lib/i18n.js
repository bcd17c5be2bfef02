// @ts-check
// Text in the user's language: Vietnamese first, English on request,
// remembered on this device. The dictionaries are web/i18n/{vi,en}/<page>.js.
import vi from "../i18n/vi.js";
import en from "../i18n/en.js";

/** Where the chosen language is remembered (shared by every page). */
const LANG_KEY = "diemcau.lang";

/** @typedef {"vi" | "en"} Lang */
/** @typedef {{vi: Record<string, any>, en: Record<string, any>}} Dict */

/**
 * One page's dictionaries, by language.
 * @param {keyof typeof vi} page
 * @returns {Dict}
 */
export function dictionary(page) {
  return { vi: vi[page], en: en[page] };
}

/**
 * The language the user chose last on this device (Vietnamese first).
 * @returns {Lang}
 */
export function storedLang() {
  try {
    return localStorage.getItem(LANG_KEY) === "en" ? "en" : "vi";
  } catch (_) {
    return "vi";
  }
}

/**
 * Remember the language for every page of this device.
 * @param {Lang} lang
 */
export function saveLang(lang) {
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch (_) {
    // Storage refused (private mode): the choice lasts for this page only.
  }
}

/**
 * DICT[lang][key] (else the Vietnamese text, else the key), `{name}`
 * filled from vars.
 * @param {Dict} dict
 * @param {Lang} lang
 * @param {string} key
 * @param {Record<string, any>} [vars]
 * @returns {string}
 */
export function translate(dict, lang, key, vars) {
  let s = dict[lang][key];
  if (s === undefined) s = dict.vi[key];
  if (s === undefined) s = key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (/** @type {string} */ m, /** @type {string} */ k) => (vars[k] === undefined ? m : String(vars[k])));
  return s;
}

/**
 * Both languages at once, Vietnamese first ("… — …"): for the pages nobody
 * sits at to switch (the hall screen, a shared player).
 * @param {Dict} dict
 * @param {string} key
 * @param {Record<string, any>} [vars]
 * @returns {string}
 */
export function bilingual(dict, key, vars) {
  return `${translate(dict, "vi", key, vars)} — ${translate(dict, "en", key, vars)}`;
}
