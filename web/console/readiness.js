// @ts-check
// The console's readiness board (Bảng sẵn sàng kỹ thuật) of one meeting:
// a tile per planned room — green ready, amber warning, red failed, grey not
// checked (blue-grey: connected, not checked yet) — with the failing check
// in Vietnamese and "Gọi kỹ thuật viên" with the technician's phone;
// filterable by unit, printable (the page prints the tiles only), and
// downloadable as XLSX and PDF (the server makes both). The operator starts
// the check for every connected room from here. Refreshed every few seconds
// while shown.
//
// Mounted by console.js, which lends its api(), act() (errors as toasts),
// toast(), may() and the current language.
import { dictionary } from "../lib/i18n.js";
import { el } from "../lib/dom.js";
import { vnTime } from "../lib/time.js";

const REFRESH_MS = 4000;
const DICT = dictionary("readiness");
const STATUS_EN = { ready: "Ready", warning: "Warning", failed: "Failed", not_checked: "Not checked", connected_unchecked: "Connected, not checked" };

let timer = null;

export function mount(root, ctx) {
  const lang = () => (ctx.lang() === "en" ? "en" : "vi");
  const t = (k, vars) => {
    const s = DICT[lang()][k] ?? DICT.vi[k] ?? k;
    return typeof s === "string" ? s.replace(/\{(\w+)\}/g, (_, x) => (vars && vars[x] != null ? String(vars[x]) : "")) : s;
  };
  const base = `/api/v1/meetings/${encodeURIComponent(ctx.meetingId)}`;
  let board = null;
  let unit = "";

  async function load(quiet) {
    const b = quiet ? await ctx.api("GET", `${base}/readiness`).catch(() => null) : await ctx.act(null, () => ctx.api("GET", `${base}/readiness`));
    if (!b || !root.isConnected || root.hidden) return;
    board = b;
    draw();
  }

  function tile(r) {
    const reasons = el("ul", { class: "rd-reasons" }, ...r.failing.map((f) => el("li", { dataset: { check: f.check, severe: String(f.severe) }, text: `${t("checks")[f.check] || f.check}: ${f.reason}` })));
    const f = r.figures;
    const phone = (r.technician_phone || "").trim();
    return el(
      "article",
      { class: `rd-tile rd-${r.status}`, dataset: { endpoint: r.endpoint_id, status: r.status, unit: r.unit_id || "" } },
      el("header", {}, el("span", { class: "rd-name", text: r.name }), r.hub ? el("span", { class: "rd-hub", text: t("hub") }) : null),
      el("div", { class: "rd-unit", text: r.unit_name || "" }),
      el("div", { class: "rd-status", text: lang() === "en" ? STATUS_EN[r.status] : r.status_label }),
      r.failing.length ? reasons : null,
      f ? el("div", { class: "rd-fig", text: t("fig", { rtt: f.rtt_ms ?? "—", loss: f.loss_percent ?? "—", up: f.up_kbps ?? "—" }) }) : null,
      el("div", { class: "rd-meta", text: [r.checked_at_ms ? t("checked_at", { at: vnTime(r.checked_at_ms) }) : "", r.connected ? t("connected") : ""].filter(Boolean).join(" · ") }),
      el(
        "div",
        { class: "rd-tech" },
        el("span", { text: r.technician_name || "" }),
        phone
          ? el("a", { class: "btn btn-small rd-call", href: `tel:${phone.replace(/\s+/g, "")}`, text: `${t("call")} ${phone}` })
          : el("span", { class: "muted-text", text: t("no_phone") })
      )
    );
  }

  // Per room: a bar for its 95th-percentile loss (full width: 10 %) and
  // one for its RTT (full width: 1 s), the worst first.
  async function loadQuality(box) {
    const q = await ctx.api("GET", `${base}/quality`).catch(() => null);
    if (!q || !box.isConnected) return;
    const bar = (cls, frac, label) =>
      el("div", { class: "rq-bar-wrap", title: label }, el("div", { class: `rq-bar ${cls}`, style: `width: ${Math.max(1, Math.min(100, frac * 100)).toFixed(1)}%` }), el("span", { class: "rq-bar-label", text: label }));
    // Audio that did not arrive (full width: 5 % missing), freezes per
    // minute (full width: 5), and the stage's layers as one stacked bar.
    const audioBar = (r) => {
      if (!r.audio_frames_expected) return el("div", { class: "rq-bar-label", text: t("q_audio_none") });
      const pct = (100 * r.audio_frames_received) / r.audio_frames_expected;
      return bar("rq-audio", (100 - pct) / 5, t("q_audio", { pct: pct.toFixed(2) }));
    };
    const freezeBar = (r) => {
      const per = r.connected_ms > 0 ? r.video_freezes / (r.connected_ms / 60000) : 0;
      return bar("rq-freeze", per / 5, t("q_freeze", { n: per.toFixed(2) }));
    };
    const layersBar = (r) => {
      const [low, mid, high] = r.stage_layer_ms;
      const all = low + mid + high;
      const pc = (v) => (all ? Math.round((100 * v) / all) : 0);
      const label = t("q_layers", { low: pc(low), mid: pc(mid), high: pc(high) });
      return el(
        "div",
        { class: "rq-bar-wrap rq-layers", title: label },
        ...[["rq-l0", low], ["rq-l1", mid], ["rq-l2", high]].map(([cls, v]) => el("div", { class: `rq-bar ${cls}`, style: `width: ${all ? ((100 * v) / all).toFixed(1) : 0}%` })),
        el("span", { class: "rq-bar-label", text: label })
      );
    };
    const rows = [...q.rows].sort((a, b) => b.loss_p95_pct - a.loss_p95_pct || b.rtt_p95_ms - a.rtt_p95_ms);
    box.replaceChildren(
      el("h3", { text: t("q_title") }),
      q.final ? null : el("p", { class: "hint", text: t("q_so_far") }),
      rows.length
        ? el(
            "div",
            { id: "rq-chart", class: "rq-chart" },
            ...rows.map((r) =>
              el(
                "div",
                { class: "rq-row", dataset: { endpoint: r.endpoint_id } },
                el("div", { class: "rq-name", text: r.name }),
                bar("rq-loss", r.loss_p95_pct / 10, `${t("q_loss")} ${r.loss_p95_pct} %`),
                bar("rq-rtt", r.rtt_p95_ms / 1000, `${t("q_rtt")} ${r.rtt_p95_ms} ms`),
                audioBar(r),
                freezeBar(r),
                layersBar(r),
                el("div", { class: "rq-meta", text: t("q_row", { min: Math.round(r.connected_ms / 60000), drops: r.drops, l50: r.loss_p50_pct, l95: r.loss_p95_pct, r50: r.rtt_p50_ms, r95: r.rtt_p95_ms }) }),
                el("div", { class: "rq-meta", text: t("q_media", { j50: r.jitter_p50_ms, j95: r.jitter_p95_ms, n: r.video_freezes, s: (r.video_freeze_ms / 1000).toFixed(1) }) })
              )
            )
          )
        : el("p", { class: "muted-text", text: t("q_none") })
    );
  }

  function draw() {
    const units = [...new Map(board.rows.filter((r) => r.unit_id).map((r) => [r.unit_id, r.unit_name || r.unit_id])).entries()].sort((a, b) => a[1].localeCompare(b[1], "vi"));
    const pick = el("select", { id: "rd-unit" }, el("option", { value: "", text: t("all_units") }), ...units.map(([id, name]) => el("option", { value: id, text: name })));
    pick.value = unit;
    pick.addEventListener("change", () => {
      unit = pick.value;
      draw();
    });
    const rows = board.rows.filter((r) => !unit || r.unit_id === unit);
    const counts = Object.fromEntries(["ready", "warning", "failed", "connected_unchecked", "not_checked"].map((k) => [k, board.counts[k] || 0]));
    const start = el("button", { id: "rd-start", class: "btn btn-primary", type: "button", text: t("start") });
    start.hidden = !ctx.may("meeting_lifecycle");
    start.addEventListener("click", async () => {
      const r = await ctx.act(start, () => ctx.api("POST", `${base}/checks/start`, {}));
      if (r) {
        ctx.toast(t("started_toast", { n: r.rooms_told }), "ok");
        load(true);
      }
    });
    const refresh = el("button", { class: "btn", type: "button", text: t("refresh"), onclick: () => load(false) });
    const print = el("button", { id: "rd-print", class: "btn", type: "button", text: t("print"), onclick: () => window.print() });
    const xlsx = el("a", { id: "rd-xlsx", class: "btn", href: `${base}/readiness?format=xlsx`, download: "", text: t("xlsx") });
    const pdf = el("a", { id: "rd-pdf", class: "btn", href: `${base}/readiness?format=pdf`, download: "", text: t("pdf") });
    const wall = el("button", { class: "btn btn-link", type: "button", text: t("wall"), onclick: () => ctx.go(`/console/meetings/${encodeURIComponent(ctx.meetingId)}`) });
    root.replaceChildren(
      el("h2", { text: `${t("title")} — ${board.title}` }),
      el("p", { class: "hint", text: t("starts", { at: vnTime(board.starts_at_ms), auto: vnTime(board.auto_check_from_ms) }) }),
      board.started ? el("p", { class: "hint", id: "rd-started", text: t("started", { by: board.started.started_by, at: vnTime(board.started.started_at_ms) }) }) : null,
      el("div", { class: "toolbar rd-toolbar" }, start, refresh, el("label", { class: "inline", for: "rd-unit", text: `${t("unit")}:` }), pick, print, xlsx, pdf, wall),
      el("p", { id: "rd-counts", class: "rd-counts", text: t("counts", counts) }),
      rows.length ? el("div", { id: "rd-grid", class: "rd-grid" }, ...rows.map(tile)) : el("p", { class: "muted-text", text: t("empty") }),
      quality
    );
  }
  const quality = el("section", { id: "rd-quality", class: "rd-quality" });

  clearInterval(timer);
  timer = setInterval(() => {
    if (!root.isConnected || root.hidden) {
      clearInterval(timer);
      return;
    }
    load(true);
  }, REFRESH_MS);
  root.replaceChildren(el("h2", { text: t("title") }));
  load(false).then(() => loadQuality(quality));
}

// The monthly report per unit: pick a month, download XLSX or PDF (the
// server builds both; an empty month is an empty report).
export function mountReport(box, ctx) {
  if (!ctx.may("reports_read")) {
    box.replaceChildren();
    return;
  }
  const lang = ctx.lang() === "en" ? "en" : "vi";
  const T = DICT[lang];
  const now = new Date(Date.now() + 7 * 3600 * 1000);
  const month = el("input", { id: "rp-month", type: "month", value: `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}` });
  const link = (id, fmt, text) => {
    const a = el("a", { id, class: "btn btn-small", download: "", text });
    const set = () => a.setAttribute("href", `/api/v1/reports/units?month=${encodeURIComponent(month.value)}&format=${fmt}`);
    month.addEventListener("change", set);
    set();
    return a;
  };
  box.replaceChildren(
    el("div", { class: "rp-report" }, el("strong", { text: T.r_title }), el("label", { class: "inline", for: "rp-month", text: `${T.r_month}:` }), month, link("rp-xlsx", "xlsx", T.xlsx), link("rp-pdf", "pdf", T.pdf))
  );
}

export { mount as mountReadiness };
