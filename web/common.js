// diemcau – helpers the operator console and the secretariat portal share
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

  window.DiemcauCommon = { el, confirmBox, vnTime, startOfVnToday };
})();
