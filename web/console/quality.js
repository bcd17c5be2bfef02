// @ts-check
// The live wall's link quality: samples per room, degrade and recover.
import { $, el } from "../lib/dom.js";
import { S } from "./state.js";
import { alertBar, api, clearAlert, errorText, log, t } from "./core.js";
import { live, logEvent, siteName } from "./live.js";

// ------------------------------------------------------------ link quality
// The server samples every room's link each 2 s (received rate, loss both
// ways, round-trip time, bandwidth estimate) and keeps 5 minutes of it:
// `GET …/live/links` once when the wall opens, then `link_stats` events.
// The meters, sparklines and the larger chart are drawn from those —
// the server's measurements, not this console's own receiver.
const LINK_WINDOW_MS = 300000;
const SVG_NS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
function fmtNum(x, digits) {
  return Number(x).toLocaleString(S.lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: digits === undefined ? 1 : digits });
}
const lossOf = (s) => Math.max(s.loss_in_pct, s.loss_out_pct);
const lossLevel = (p) => (p > 5 ? "bad" : p > 2 ? "warn" : "good");
const rttLevel = (ms) => (ms > 400 ? "bad" : ms > 200 ? "warn" : "good");
const kbpsLevel = (k) => (k >= 150 ? "good" : k >= 40 ? "warn" : "bad");
const LEVELS = ["none", "good", "warn", "bad"];
const worst = (...ls) => ls.reduce((a, b) => (LEVELS.indexOf(b) > LEVELS.indexOf(a) ? b : a), "none");

function linkOf(mine, id) {
  let l = mine.links.get(id);
  if (!l) {
    l = { samples: [], degraded: false };
    mine.links.set(id, l);
  }
  return l;
}

export async function loadLinks(mine) {
  try {
    const v = await api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}/live/links`);
    if (mine.closed) return;
    for (const e of v.endpoints) {
      const l = linkOf(mine, e.endpoint_id);
      // Keep what the stream brought while the request was on its way.
      const last = e.samples.length ? e.samples[e.samples.length - 1].t_ms : -1;
      l.samples = [...e.samples, ...l.samples.filter((x) => x.t_ms > last)];
      l.degraded = e.degraded;
      const cur = l.samples[l.samples.length - 1];
      if (e.degraded && cur) alertLink(e.endpoint_id, lossOf(cur), cur.rtt_ms);
      else clearAlert(`link:${e.endpoint_id}`);
    }
    mine.linkNow = Math.max(mine.linkNow, v.now_ms);
    mine.linkInterval = v.interval_ms;
    drawLinks();
  } catch (e) {
    log("links", errorText(e));
  }
}

function alertLink(id, loss, rtt) {
  const name = siteName(id);
  const text = loss > 5 || rtt <= 400 ? t("alert_link_loss", { name, loss: fmtNum(loss) }) : t("alert_link_rtt", { name, rtt: fmtNum(rtt, 0) });
  alertBar(text, "amber", `link:${id}`);
}

export function onLinkEvent(mine, msg) {
  if (msg.type === "link_stats") {
    for (const x of msg.links) {
      linkOf(mine, x.endpoint_id).samples.push({
        t_ms: msg.t_ms,
        kbps_in: x.kbps_in,
        loss_in_pct: x.loss_in_pct,
        loss_out_pct: x.loss_out_pct,
        rtt_ms: x.rtt_ms,
        bwe_kbps: x.bwe_kbps,
        transport: x.transport,
      });
    }
    const oldest = msg.t_ms - LINK_WINDOW_MS;
    for (const l of mine.links.values()) while (l.samples.length && l.samples[0].t_ms < oldest) l.samples.shift();
    mine.linkNow = msg.t_ms;
  } else if (msg.type === "link_degraded") {
    linkOf(mine, msg.endpoint_id).degraded = true;
    logEvent(t("ev_link_degraded", { name: siteName(msg.endpoint_id) }));
    alertLink(msg.endpoint_id, msg.loss_pct, msg.rtt_ms);
  } else {
    linkOf(mine, msg.endpoint_id).degraded = false;
    clearAlert(`link:${msg.endpoint_id}`);
    if (msg.connected) logEvent(t("ev_link_recovered", { name: siteName(msg.endpoint_id) }));
  }
  drawLinks();
}

// The sample to show now: the latest, if it is from the latest rounds.
function currentSample(l) {
  if (!l || !l.samples.length || !live) return null;
  const s = l.samples[l.samples.length - 1];
  return live.linkNow - s.t_ms <= 3 * (live.linkInterval || 2000) ? s : null;
}

export function sparkSvg() {
  return svgEl(
    "svg",
    { class: "spark", viewBox: "0 0 240 24", preserveAspectRatio: "none", "aria-hidden": "true" },
    svgEl("polyline", { class: "spark-kbps", points: "" }),
    svgEl("polyline", { class: "spark-loss", points: "" })
  );
}

// Points of a series over the last `span` ms (5 minutes unless told) in
// a w×h box, values scaled to `max`.
function seriesPoints(samples, now, w, h, value, max, span) {
  const win = span || LINK_WINDOW_MS;
  return samples
    .map((s) => {
      const x = w - ((now - s.t_ms) / win) * w;
      const y = h - Math.min(1, value(s) / max) * h;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
}

export function drawLinks() {
  if (!live) return;
  for (const tile of $("grid").children) {
    const id = tile.dataset.endpoint;
    const l = live.links.get(id);
    const cur = tile.dataset.state === "connected" ? currentSample(l) : null;
    const box = tile.querySelector(".link");
    if (!box) continue;
    const kb = box.querySelector(".lm-kbps");
    const lo = box.querySelector(".lm-loss");
    const rt = box.querySelector(".lm-rtt");
    if (cur) {
      const loss = lossOf(cur);
      // ICE-TCP: the room's UDP is blocked; the tile says so.
      kb.textContent = `↓ ${fmtNum(cur.kbps_in, 0)} kbit/s${cur.transport === "tcp" ? " · TCP" : ""}`;
      kb.dataset.level = kbpsLevel(cur.kbps_in);
      kb.dataset.value = String(cur.kbps_in);
      kb.title = `${t("link_bitrate")}: ${fmtNum(cur.kbps_in, 0)} kbit/s`;
      lo.textContent = `${t("link_short_loss")} ${fmtNum(loss)} %`;
      lo.dataset.level = lossLevel(loss);
      lo.dataset.value = String(loss);
      lo.title = `${t("link_loss")}: ${t("link_series_in")} ${fmtNum(cur.loss_in_pct)} %, ${t("link_series_out")} ${fmtNum(cur.loss_out_pct)} %`;
      rt.textContent = `${t("link_short_rtt")} ${fmtNum(cur.rtt_ms, 0)} ms`;
      rt.dataset.level = rttLevel(cur.rtt_ms);
      rt.dataset.value = String(cur.rtt_ms);
      rt.title = `${t("link_rtt")}: ${fmtNum(cur.rtt_ms, 0)} ms`;
      box.dataset.level = l.degraded ? "bad" : worst(lo.dataset.level, rt.dataset.level);
    } else {
      for (const m of [kb, lo, rt]) {
        m.textContent = "";
        m.dataset.level = "none";
        delete m.dataset.value;
        m.title = "";
      }
      box.dataset.level = "none";
    }
    box.title = cur ? "" : t("link_none");
    tile.dataset.link = box.dataset.level;
    const samples = l ? l.samples : [];
    const spark = box.querySelector(".spark");
    const maxK = Math.max(100, ...samples.map((x) => x.kbps_in));
    // The sparkline spans what there is (1 to 5 minutes), so a room that
    // just joined does not sit in a corner; the large chart is always 5.
    const span = Math.min(LINK_WINDOW_MS, Math.max(60000, samples.length ? live.linkNow - samples[0].t_ms : 0));
    spark.querySelector(".spark-kbps").setAttribute("points", seriesPoints(samples, live.linkNow, 240, 22, (x) => x.kbps_in, maxK, span));
    // The loss line only when there was loss: a red line at zero alarms.
    const lossy = samples.some((x) => lossOf(x) > 0);
    spark.querySelector(".spark-loss").setAttribute("points", lossy ? seriesPoints(samples, live.linkNow, 240, 22, lossOf, 10, span) : "");
    spark.dataset.points = String(samples.length);
    box.querySelector(".spark-btn").title = t("link_open_chart");
    box.querySelector(".spark-btn").setAttribute("aria-label", `${t("link_open_chart")}: ${siteName(id)}`);
  }
  if ($("link-dialog").open) drawLinkChart();
}

export function openLinkChart(id) {
  if (!live) return;
  live.chartFor = id;
  drawLinkChart();
  const dlg = $("link-dialog");
  if (!dlg.open) dlg.showModal();
}

// One chart: series over the last 5 minutes, y from 0 to a round maximum,
// the axis named in the page's language.
function lineChart(kind, axis, series, floorMax) {
  const W = 560;
  const H = 124;
  const L = 56;
  const R = 10;
  const T = 22;
  const B = 24;
  const w = W - L - R;
  const h = H - T - B;
  const now = live.linkNow;
  const top = Math.max(floorMax, ...series.flatMap((s) => s.samples.map(s.value)));
  const step = Math.pow(10, Math.floor(Math.log10(top)));
  const max = Math.ceil(top / step) * step;
  const g = svgEl("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": axis, "data-kind": kind });
  for (const f of [0, 0.5, 1]) {
    const y = T + h - f * h;
    g.append(svgEl("line", { class: "grid-line", x1: L, x2: L + w, y1: y, y2: y }));
    g.append(svgEl("text", { class: "tick", x: L - 6, y: y + 4, "text-anchor": "end" }, fmtNum(max * f, max < 10 ? 1 : 0)));
  }
  for (let m = 5; m >= 0; m--) {
    const x = L + w - (m / 5) * w;
    g.append(svgEl("text", { class: "tick", x, y: H - 8, "text-anchor": m === 5 ? "start" : m === 0 ? "end" : "middle" }, m === 0 ? t("link_now") : t("link_ago", { n: m })));
  }
  g.append(svgEl("line", { class: "axis", x1: L, x2: L, y1: T, y2: T + h }));
  g.append(svgEl("line", { class: "axis", x1: L, x2: L + w, y1: T + h, y2: T + h }));
  // The y axis's name sits above it, the time axis names its ticks.
  g.append(svgEl("text", { class: "axis-title", x: 6, y: 13, "text-anchor": "start" }, axis));
  for (const s of series) {
    const pts = seriesPoints(s.samples, now, w, h, s.value, max)
      .split(" ")
      .filter(Boolean)
      .map((p) => {
        const [x, y] = p.split(",").map(Number);
        return `${(x + L).toFixed(1)},${(y + T).toFixed(1)}`;
      })
      .join(" ");
    g.append(svgEl("polyline", { class: `series series-${s.cls}`, points: pts, "data-points": String(s.samples.length) }));
  }
  const legend = el("div", { class: "chart-legend" }, ...series.map((s) => el("span", { class: `legend legend-${s.cls}`, text: s.name })));
  return el("figure", { class: "chart-box", dataset: { kind } }, g, legend);
}

function drawLinkChart() {
  if (!live || !live.chartFor) return;
  const id = live.chartFor;
  const l = live.links.get(id);
  const samples = l ? l.samples : [];
  $("link-heading").textContent = t("link_chart_title", { name: siteName(id) });
  $("link-dialog").dataset.endpoint = id;
  const box = $("link-charts");
  if (!samples.length) {
    box.replaceChildren(el("p", { class: "muted-text", text: t("link_no_samples") }));
    return;
  }
  box.replaceChildren(
    lineChart("loss", t("link_axis_loss"), [
      { cls: "loss-in", name: t("link_series_in"), samples, value: (x) => x.loss_in_pct },
      { cls: "loss-out", name: t("link_series_out"), samples, value: (x) => x.loss_out_pct },
    ], 5),
    lineChart("rtt", t("link_axis_rtt"), [{ cls: "rtt", name: t("link_rtt"), samples, value: (x) => x.rtt_ms }], 100),
    lineChart("kbps", t("link_axis_kbps"), [
      { cls: "kbps", name: t("link_series_kbps"), samples, value: (x) => x.kbps_in },
      { cls: "bwe", name: t("link_series_bwe"), samples, value: (x) => x.bwe_kbps },
    ], 100)
  );
}

$("link-close").addEventListener("click", () => $("link-dialog").close());
$("link-dialog").addEventListener("close", () => {
  if (live) live.chartFor = null;
});
