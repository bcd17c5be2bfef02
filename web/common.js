// diemcau – helpers the operator console, the secretariat portal and the
// delegate view share
// (no build step: a plain script loaded before each page's own).
(() => {
  const VN_OFFSET_MS = 7 * 3600 * 1000;
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      // Through the CSSOM: the Content-Security-Policy refuses style
      // attributes (style-src 'self'), not styles set from our own script.
      else if (k === "style") e.style.cssText = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  }
  function confirmBox(text) {
    const dlg = $("confirm");
    $("confirm-text").textContent = text;
    return new Promise((resolve) => {
      const done = () => {
        dlg.removeEventListener("close", done);
        resolve(dlg.returnValue === "yes");
      };
      dlg.returnValue = "";
      dlg.addEventListener("close", done);
      dlg.showModal();
    });
  }
  function vnTime(ms) {
    const d = new Date(ms + VN_OFFSET_MS);
    const p = (n) => String(n).padStart(2, "0");
    return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())} ${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`;
  }
  function startOfVnToday() {
    const now = Date.now() + VN_OFFSET_MS;
    return now - (now % 86400000) - VN_OFFSET_MS;
  }

  // An API refusal: HTTP status and the error body's code, message, field.
  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field;
    }
  }

  // The language the user chose last on this device (Vietnamese first).
  function storedLang() {
    try {
      return localStorage.getItem("diemcau.lang") === "en" ? "en" : "vi";
    } catch (_) {
      return "vi";
    }
  }

  // DICT[lang][key] (else the Vietnamese text, else the key), `{name}`
  // filled from vars.
  function translate(dict, lang, key, vars) {
    let s = dict[lang][key];
    if (s === undefined) s = dict.vi[key];
    if (s === undefined) s = key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
    return s;
  }

  // A page's log: the console, plus the last 300 lines kept for tests and
  // for a technician's screenshot.
  function makeLog() {
    const lines = [];
    function log(...args) {
      const line = new Date().toISOString().slice(11, 23) + " " + args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
      lines.push(line);
      if (lines.length > 300) lines.shift();
      console.log("[diemcau]", ...args);
    }
    return { log, lines };
  }

  window.DiemcauCommon = { el, confirmBox, vnTime, startOfVnToday, ApiError, storedLang, translate, makeLog };
})();
