// @ts-check
// A document's digital signatures (chữ ký số), as the server checked
// them: one line each, "Đã ký số bởi … — hợp lệ", the certificate on
// demand (a <details>). Shared by the portal, the delegate view and the
// room's document viewer.
import { el } from "./dom.js";
import { vnTime } from "./time.js";
import { dictionary } from "./i18n.js";

const SIG = dictionary("signatures");

/**
 * @param {any[] | null | undefined} sigs the server's checked signatures
 * @param {string} lang
 * @returns {HTMLElement | null}
 */
export function signatureBadges(sigs, lang) {
  if (!sigs || !sigs.length) return null;
  const L = lang === "en" ? SIG.en : SIG.vi;
  const day = (/** @type {number} */ ms) => vnTime(ms).slice(6);
  const box = el("div", { class: "sigs" });
  for (const s of sigs) {
    const who = [s.signer || "?", s.organization].filter(Boolean).join(", ");
    const text = `${L.by} ${who} — ${L.status[s.status] || s.status}`;
    const rows = [];
    const row = (/** @type {string} */ k, /** @type {string} */ v) => v && rows.push(el("dt", { text: k }), el("dd", { text: v }));
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
