// @ts-check
// DOM helpers every page shares: element lookup, element building, the
// confirm dialog. No framework: the pages build their DOM with `el`.

/**
 * The element with this id (typed loosely: pages read `.value`, `.checked`
 * … of inputs they know the kind of).
 * @param {string} id
 * @returns {any}
 */
export function $(id) {
  return document.getElementById(id);
}

/**
 * An element with attributes and children. `class`, `text`, `dataset`,
 * `style` and `on<event>` are special; `false`/`null`/`undefined` values and
 * children are skipped.
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...(Node | string | number | null | undefined | false)} children
 * @returns {any}
 */
export function el(tag, attrs, ...children) {
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
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(typeof c === "number" ? String(c) : c);
  return e;
}

/**
 * The page's `<dialog id="confirm">` with `text`: true when the user said yes.
 * @param {string} text
 * @returns {Promise<boolean>}
 */
export function confirmBox(text) {
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
