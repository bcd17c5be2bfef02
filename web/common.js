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

  // A document's digital signatures (chữ ký số), as the server checked
  // them: one line each, "Đã ký số bởi … — hợp lệ", the certificate on
  // demand (a <details>). Shared by the portal, the delegate view and the
  // room's document viewer.
  const SIG = {
    vi: {
      by: "Đã ký số bởi", at: "Ký lúc", tsa: "(dấu thời gian tin cậy)", claimed: "(theo người ký)",
      cert: "Chứng thư số", issuer: "Cấp bởi", serial: "Số hiệu", valid: "Hiệu lực", reason: "Chi tiết",
      path: "Chuỗi chứng thư", whole: "Chữ ký bao trùm toàn bộ tệp", part: "Tệp có phần thêm vào sau chữ ký này",
      status: {
        valid: "hợp lệ", invalid: "không hợp lệ — tệp hoặc chữ ký bị sai lệch",
        untrusted: "không xác định được nguồn tin cậy", revoked: "chứng thư số đã bị thu hồi",
        expired: "chứng thư số hết hạn khi ký", revocation_unknown: "chưa kiểm tra được tình trạng thu hồi",
        modified_after_signing: "tệp đã bị sửa sau khi ký",
      },
    },
    en: {
      by: "Digitally signed by", at: "Signed at", tsa: "(trusted timestamp)", claimed: "(as the signer states)",
      cert: "Certificate", issuer: "Issued by", serial: "Serial", valid: "Valid", reason: "Details",
      path: "Certificate path", whole: "The signature covers the whole file", part: "The file has additions after this signature",
      status: {
        valid: "valid", invalid: "invalid — the file or the signature was altered",
        untrusted: "not from a trusted authority", revoked: "the certificate was revoked",
        expired: "the certificate had expired when signing", revocation_unknown: "revocation status unknown",
        modified_after_signing: "the file was changed after signing",
      },
    },
  };
  function signatureBadges(sigs, lang) {
    if (!sigs || !sigs.length) return null;
    const L = SIG[lang] || SIG.vi;
    const day = (ms) => vnTime(ms).slice(6);
    const box = el("div", { class: "sigs" });
    for (const s of sigs) {
      const who = [s.signer || "?", s.organization].filter(Boolean).join(", ");
      const text = `${L.by} ${who} — ${L.status[s.status] || s.status}`;
      const rows = [];
      const row = (k, v) => v && rows.push(el("dt", { text: k }), el("dd", { text: v }));
      if (s.signed_at_ms) row(L.at, `${vnTime(s.signed_at_ms)} ${s.timestamped ? L.tsa : L.claimed}`);
      const leaf = (s.chain || [])[0];
      if (leaf) {
        row(L.cert, leaf.subject);
        row(L.issuer, leaf.issuer);
        row(L.serial, leaf.serial);
        row(L.valid, `${day(leaf.not_before_ms)} – ${day(leaf.not_after_ms)}`);
      }
      if ((s.chain || []).length > 1) row(L.path, s.chain.map((c) => c.subject).join(" → "));
      row(L.reason, s.reason);
      rows.push(el("dd", { class: "sig-cover", text: s.covers_whole_file ? L.whole : L.part }));
      box.append(
        el(
          "details",
          { class: `sig sig-${s.status}`, dataset: { status: s.status } },
          el("summary", { text }),
          el("dl", {}, ...rows)
        )
      );
    }
    return box;
  }

  window.DiemcauCommon = { el, confirmBox, vnTime, startOfVnToday, ApiError, storedLang, translate, makeLog, signatureBadges };
})();
