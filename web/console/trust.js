// @ts-check
// The console's Chữ ký số view: the trust anchors signed documents are
// checked against (from the server's configuration), the CRLs held offline
// with their next-update dates — a stale one shown in red, since it no
// longer proves a certificate unrevoked —, a CRL upload for admins, and the
// progress of the re-check every change starts.
//
// Mounted by console.js, which lends its api(), act() (errors as toasts),
// toast(), may() and the current language.
import { dictionary } from "../lib/i18n.js";
import { el } from "../lib/dom.js";
import { vnTime } from "../lib/time.js";

const DICT = dictionary("trust");

export function mount(root, ctx) {
  const t = (k, vars) => {
    let s = (DICT[ctx.lang()] || DICT.vi)[k];
    if (s === undefined) s = k;
    for (const [n, v] of Object.entries(vars || {})) s = s.replace(`{${n}}`, v);
    return s;
  };
  const write = ctx.may("trust_write");
  let state = null;
  let polling = null;

  async function load() {
    state = await ctx.act(null, () => ctx.api("GET", "/api/v1/signatures/trust"));
    draw();
    // While a re-check runs, follow it.
    if (state && state.recheck.running && !polling) polling = setTimeout(() => ((polling = null), load()), 700);
  }

  function table(head, rows) {
    return el(
      "table",
      { class: "table" },
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { text: h })))),
      el("tbody", {}, ...rows)
    );
  }

  function progress(r) {
    if (!r || !r.total) return null;
    const pct = Math.round((100 * r.done) / r.total);
    return el(
      "div",
      { class: "recheck", id: "trust-recheck", dataset: { running: String(r.running) } },
      el("progress", { max: String(r.total), value: String(r.done), "aria-label": t("recheck") }),
      el("span", { text: r.running ? `${t("progress", r)} (${pct}%)` : t("finished", r) })
    );
  }

  async function upload(file) {
    const bytes = await file.arrayBuffer();
    const r = await ctx.act(null, () => ctx.api("POST", "/api/v1/signatures/crls", bytes, "application/pkix-crl"));
    if (r) ctx.toast(r.new ? t("uploaded", { issuer: r.issuer }) : t("known"), "ok");
    load();
  }

  function draw() {
    if (!state) return;
    const now = Date.now();
    const anchors = state.anchors.map((a) =>
      el("tr", {}, el("td", { text: a.subject }), el("td", { class: a.not_after_ms < now ? "bad" : "", text: vnTime(a.not_after_ms) }))
    );
    const crls = state.crls.map((c) =>
      el(
        "tr",
        { dataset: { crl: c.sha256, stale: String(c.stale) } },
        el("td", { text: c.issuer }),
        el("td", { text: vnTime(c.this_update_ms) }),
        el("td", {}, c.next_update_ms ? vnTime(c.next_update_ms) : "—", " ", el("span", { class: `badge ${c.stale ? "badge-bad" : "badge-ok"}`, text: t(c.stale ? "stale" : "current") })),
        el("td", { text: String(c.revoked) }),
        el("td", { text: t(c.source === "uploaded" ? "src_uploaded" : "src_folder") }),
        el(
          "td",
          {},
          write && c.source === "uploaded"
            ? el("button", {
                class: "btn btn-small",
                type: "button",
                text: t("remove"),
                onclick: async () => {
                  const r = await ctx.act(null, () => ctx.api("DELETE", `/api/v1/signatures/crls/${c.sha256}`));
                  if (r) ctx.toast(t("removed", { issuer: r.issuer }), "ok");
                  load();
                },
              })
            : null
        )
      )
    );
    const file = el("input", { id: "crl-file", type: "file", accept: ".crl,.pem,.der,application/pkix-crl" });
    file.addEventListener("change", () => file.files[0] && upload(file.files[0]));
    root.replaceChildren(
      el("h2", { text: t("title") }),
      el("p", { class: "hint", text: t("intro") }),
      el("h3", { text: t("anchors") }),
      anchors.length ? table([t("subject"), t("expires")], anchors) : el("p", { class: "empty", text: t("anchors_empty") }),
      el("h3", { text: t("crls") }),
      crls.length ? table([t("issuer"), t("this_update"), t("next_update"), t("revoked"), t("source"), ""], crls) : el("p", { class: "empty", text: t("crls_empty") }),
      write
        ? el(
            "div",
            { class: "row-form" },
            el("label", { class: "btn", for: "crl-file", text: t("upload") }),
            file,
            el("button", {
              class: "btn",
              type: "button",
              id: "trust-recheck-btn",
              text: t("recheck"),
              onclick: async () => {
                await ctx.act(null, () => ctx.api("POST", "/api/v1/signatures/recheck", {}));
                load();
              },
            })
          )
        : null,
      progress(state.recheck)
    );
  }

  load();
}

export { mount as mountTrust };
