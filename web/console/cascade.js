// @ts-check
// Cascade links: this node's place in the tree, its relay links to the
// parent, its child nodes.
import { ApiError } from "../lib/api.js";
import { $, confirmBox, el } from "../lib/dom.js";
import { vnTime } from "../lib/time.js";
import { S } from "./state.js";
import { act, alertBar, api, clearAlert, errorText, log, t, toast } from "./core.js";
import { showLogin, showOnly } from "./main.js";
import { showToken } from "./registry.js";
import { fillSelect, showServerError } from "./scheduler.js";
import { clearFieldErrors, fieldError, flatUnits, focusFirstError, loadOrg, may, shapeTree, unitOption } from "./util.js";

// ------------------------------------------------------------ cascade links
// GET /api/v1/cascade every 2 s while the view is open: this node's place
// in the tree, its parent link, its relay links per open meeting (rates
// as bars against the link's budget), its child nodes and their relays.
// Admins register child nodes (credential shown once), rotate, revoke.
const CASCADE_POLL_MS = 2000;
export let cas = null;
const meetingTitles = new Map();

export function openCascade() {
  showOnly("view-cascade");
  $("crumbs").textContent = t("cas_title");
  $("btn-cas-new").hidden = true;
  if (!cas) cas = { view: null, timer: null, polls: 0, gen: 0 };
  refreshCascade();
}

export function closeCascade() {
  if (cas && cas.timer) clearTimeout(cas.timer);
  cas = null;
  meetingTitles.clear();
  for (const id of ["cas-crumbs", "cas-parent", "cas-relays", "cas-children-body", "cas-child-relays"]) $(id).replaceChildren();
}

async function pollCascade(gen) {
  if (!cas || cas.gen !== gen) return;
  if (cas.timer) clearTimeout(cas.timer);
  cas.timer = null;
  if ($("view-cascade").hidden) return;
  await loadCascade();
  if (cas && cas.gen === gen && !$("view-cascade").hidden) cas.timer = setTimeout(() => pollCascade(gen), CASCADE_POLL_MS);
}

async function loadCascade() {
  let view;
  try {
    view = await api("GET", "/api/v1/cascade");
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return showLogin();
    alertBar(errorText(e), "red", "cascade");
    return;
  }
  clearAlert("cascade");
  if (!cas || $("view-cascade").hidden) return;
  cas.view = view;
  cas.polls += 1;
  for (const id of new Set([...view.relay_links, ...view.child_relays].map((r) => r.meeting_id))) lookUpMeeting(id);
  drawCascade();
}

// A meeting's title, asked once; the view is drawn again when it comes.
function lookUpMeeting(id) {
  if (meetingTitles.has(id)) return;
  const known = S.meetingsCache.find((m) => m.id === id);
  if (known) return meetingTitles.set(id, known.title);
  meetingTitles.set(id, null);
  api("GET", `/api/v1/meetings/${encodeURIComponent(id)}`).then(
    (m) => {
      meetingTitles.set(id, m.title);
      drawCascade();
    },
    (e) => log("cascade meeting title", id, errorText(e))
  );
}
function meetingTitle(id) {
  return meetingTitles.get(id) || t("cas_meeting_loading", { id });
}

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 120) return t("cas_ago_s", { n: s });
  if (s < 7200) return t("cas_ago_m", { n: Math.round(s / 60) });
  return t("cas_ago_h", { n: Math.round(s / 3600) });
}
function rate(bps) {
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(bps >= 1e7 ? 0 : 1)} Mbit/s`;
  return `${Math.round(bps / 1000)} kbit/s`;
}
function bytes(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${Math.round(n / 1000)} kB`;
}
// A link's state as a coloured badge: "up", "down" or "never" (no hello yet).
function linkBadge(state, extra) {
  return el("span", { class: `badge badge-link badge-link-${state}`, dataset: { link: state }, text: t(`cas_${state}`) }, extra || null);
}

// A rate as a horizontal bar against the budget (the picture), and the figures.
function rateBar(dir, bps, budgetKbps) {
  const budget = Math.max(1, budgetKbps) * 1000;
  const pct = Math.min(100, (bps / budget) * 100);
  const level = pct >= 90 ? "bad" : pct >= 70 ? "warn" : "good";
  return el(
    "div",
    { class: "cas-bar", dataset: { dir, level, bps: String(bps) } },
    el("span", { class: "cas-bar-label", text: t(dir === "up" ? "cas_relay_up" : "cas_relay_down") }),
    el(
      "div",
      { class: "cas-bar-track", role: "meter", "aria-valuemin": "0", "aria-valuemax": String(budget), "aria-valuenow": String(bps), "aria-label": t(dir === "up" ? "cas_relay_up" : "cas_relay_down") },
      el("div", { class: "cas-bar-fill", style: `width: ${pct.toFixed(1)}%` })
    ),
    el("span", { class: "cas-bar-value", text: `${rate(bps)} / ${rate(budget)}` })
  );
}

export function drawCascade() {
  if (!cas || !cas.view || $("view-cascade").hidden) return;
  const v = cas.view;
  const standalone = !v.node_id;
  $("cas-standalone").hidden = !standalone;
  $("cas-body").hidden = standalone;
  const write = may("cascade_write");
  $("btn-cas-new").hidden = standalone || !write;
  if (standalone) return;

  // 1. This node: the path from the top down to it, and its parent link.
  const p = v.parent;
  const names = [...v.ancestors].reverse().map((id) => (p && p.parent_id === id && p.parent_name ? p.parent_name : id));
  const crumbs = [...names.map((n) => el("span", { class: "cas-crumb", text: n })), el("span", { class: "cas-crumb cas-self", "aria-current": "location", text: v.name || v.node_id })];
  $("cas-crumbs").replaceChildren(...crumbs.flatMap((c, i) => (i ? [el("span", { class: "cas-sep", "aria-hidden": "true", text: " › " }), c] : [c])));
  $("cas-crumbs").append(el("span", { class: "cas-node-id", text: ` (${v.node_id})` }));
  if (!p) {
    $("cas-parent").replaceChildren(el("p", { class: "muted-text", dataset: { parent: "none" }, text: t("cas_top") }));
  } else {
    const facts = [
      t("cas_parent", { name: p.parent_name || p.parent_id || "—" }),
      t("cas_parent_url", { url: p.url }),
      p.rtt_ms !== null && p.rtt_ms !== undefined ? t("cas_rtt", { ms: p.rtt_ms }) : null,
      p.last_hello_ms ? t("cas_last_hello", { when: ago(p.last_hello_ms) }) : null,
      p.since_ms ? t("cas_since", { when: vnTime(p.since_ms) }) : null,
    ].filter(Boolean);
    $("cas-parent").replaceChildren(
      el(
        "div",
        { class: "cas-parent-line", dataset: { parent: p.state } },
        linkBadge(p.state),
        ...facts.map((f) => el("span", { class: "cas-fact", text: f }))
      ),
      ...(p.state !== "up" && p.last_error ? [el("div", { class: "cas-error", role: "status", text: t("cas_last_error", { error: p.last_error }) })] : [])
    );
  }

  // 2. Relay links to the parent, one per open meeting.
  if (!v.relay_links.length) {
    $("cas-relays").replaceChildren(el("p", { class: "muted-text", text: t(p ? "cas_no_relays" : "cas_no_parent_relays") }));
  } else {
    $("cas-relays").replaceChildren(
      ...v.relay_links.map((l) =>
        el(
          "div",
          { class: "cas-relay", dataset: { meeting: l.meeting_id, up: String(l.up) } },
          el(
            "div",
            { class: "cas-relay-head" },
            el("span", { class: "cas-relay-title", text: meetingTitle(l.meeting_id) }),
            el("span", { class: `badge badge-link badge-link-${l.up ? "up" : "down"}`, text: t(l.up ? "cas_relay_link_up" : "cas_relay_link_down") }),
            el("span", { class: "muted-text cas-relinks", text: t("cas_relinks", { n: l.relinks }) }),
            el("span", { class: "muted-text", text: t("cas_budget", { kbps: l.budget_kbps }) })
          ),
          rateBar("up", l.bitrate_up_bps, l.budget_kbps),
          rateBar("down", l.bitrate_down_bps, l.budget_kbps),
          el("div", { class: "muted-text cas-bytes", text: t("cas_bytes", { up: bytes(l.bytes_up), down: bytes(l.bytes_down) }) })
        )
      )
    );
  }

  // 3. Child nodes and their links; admins may rotate and revoke. The
  // registry is in the shared store: this node and its ancestors, which
  // cannot be its children, are left out.
  const above = new Set([v.node_id, ...v.ancestors]);
  const children = v.children.filter((n) => !above.has(n.id));
  $("cas-col-actions").hidden = !write;
  $("cas-children-empty").hidden = children.length > 0;
  $("cas-children-body").closest("table").hidden = children.length === 0;
  $("cas-children-body").replaceChildren(
    ...children.map((n) => {
      const state = n.link ? n.link.state : "down";
      const shown = n.revoked_at_ms ? "revoked" : n.link ? n.link.state : "never";
      return el(
        "tr",
        { dataset: { node: n.id, link: state, revoked: String(!!n.revoked_at_ms) } },
        el("td", {}, el("div", { class: "cas-node-name", text: n.name }), el("div", { class: "muted-text cas-node-id", text: n.id })),
        el("td", {}, el("span", { class: `badge badge-link badge-link-${shown === "up" ? "up" : "down"}`, text: t(`cas_${shown}`) }), n.link ? el("div", { class: "muted-text", text: t("cas_since", { when: vnTime(n.link.since_ms) }) }) : null),
        el("td", { title: n.last_seen_at_ms ? vnTime(n.last_seen_at_ms) : "" }, n.last_seen_at_ms ? ago(n.last_seen_at_ms) : "—", n.last_address ? el("div", { class: "muted-text", text: n.last_address }) : null),
        el("td", { text: n.link && n.link.rtt_ms !== null && n.link.rtt_ms !== undefined ? `${n.link.rtt_ms} ms` : "—" }),
        el("td", { text: `${n.uplink_kbps} kbit/s` }),
        write
          ? el(
              "td",
              {},
              el(
                "div",
                { class: "actions" },
                el("button", { class: "btn btn-small", type: "button", dataset: { action: "rotate-node" }, text: t("cas_rotate"), onclick: (ev) => rotateNode(ev.currentTarget, n) }),
                n.revoked_at_ms ? null : el("button", { class: "btn btn-small btn-danger", type: "button", dataset: { action: "revoke-node" }, text: t("cas_revoke"), onclick: (ev) => revokeNode(ev.currentTarget, n) })
              )
            )
          : null
      );
    })
  );
  // Which child node relays into which of this node's meetings.
  const byMeeting = new Map();
  for (const r of v.child_relays) {
    if (!byMeeting.has(r.meeting_id)) byMeeting.set(r.meeting_id, []);
    byMeeting.get(r.meeting_id).push(r);
  }
  const nodeName = (id) => (v.children.find((n) => n.id === id) || { name: id }).name;
  $("cas-child-relays").replaceChildren(
    byMeeting.size
      ? el(
          "ul",
          { class: "cas-child-relay-list" },
          ...[...byMeeting].map(([m, rs]) =>
            el(
              "li",
              { dataset: { meeting: m } },
              el("span", { class: "cas-relay-title", text: meetingTitle(m) }),
              ": ",
              rs.map((r) => t("cas_child_relay_item", { node: nodeName(r.node_id), participant: r.participant })).join(", ")
            )
          )
        )
      : el("p", { class: "muted-text", text: t("cas_child_relays_empty") })
  );
}

// Poll now, and from now on: one loop at a time (an older one stops).
function refreshCascade() {
  if (!cas) return;
  cas.gen += 1;
  pollCascade(cas.gen);
}
$("btn-cas-refresh").addEventListener("click", refreshCascade);

// Register a child node: its credential is in the answer only.
$("btn-cas-new").addEventListener("click", async () => {
  const form = $("cas-form");
  form.reset();
  clearFieldErrors(form);
  // The unit decides which meetings the node carries: the tree as of today.
  fillSelect($("cas-unit"), [el("option", { value: "", text: t("cas_unit_none") })], "");
  $("cas-dialog").showModal();
  $("cas-id").focus();
  const org = await act(null, () => loadOrg(null));
  if (!org || !$("cas-dialog").open) return;
  const shape = shapeTree(org.units, org.endpoints);
  fillSelect($("cas-unit"), [el("option", { value: "", text: t("cas_unit_none") }), ...flatUnits(shape).map(({ unit, depth }) => unitOption(unit, depth))], $("cas-unit").value);
});
$("cas-cancel").addEventListener("click", () => $("cas-dialog").close());

function cascadeField(serverField) {
  const map = { id: ["id", "cas_sv_id"], name: ["name", "cas_sv_name"], uplink_kbps: ["uplink", "cas_sv_uplink"], unit_id: ["unit", "cas_sv_unit"] };
  return map[serverField] || null;
}

$("cas-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = $("cas-form");
  clearFieldErrors(form);
  const body = { id: $("cas-id").value.trim(), name: $("cas-name").value.trim() };
  const uplink = $("cas-uplink").value.trim();
  if ($("cas-unit").value) body.unit_id = $("cas-unit").value;
  let bad = false;
  if (!body.id) bad = fieldError("cas", "id", t("cas_need_id")) || true;
  else if (!/^[a-z0-9-]{1,64}$/.test(body.id)) bad = fieldError("cas", "id", t("cas_bad_id")) || true;
  if (!body.name) bad = fieldError("cas", "name", t("cas_need_name")) || true;
  if (uplink) {
    const n = Number(uplink);
    if (!Number.isInteger(n) || n < 100 || n > 1000000) bad = fieldError("cas", "uplink", t("cas_bad_uplink")) || true;
    else body.uplink_kbps = n;
  }
  if (bad) {
    focusFirstError(form);
    return;
  }
  const button = $("cas-submit");
  button.disabled = true;
  try {
    const made = await api("POST", "/api/v1/cascade/nodes", body);
    $("cas-dialog").close();
    showCredential(made.node.name, made.credential, "cas_cred_heading_new");
    refreshCascade();
  } catch (e) {
    log("node refused", e.code, e.field || "", e.message);
    if (e instanceof ApiError && e.code === "duplicate_node") {
      fieldError("cas", "id", errorText(e));
      focusFirstError(form);
    } else showServerError(e, "cas", "cas-error", cascadeField);
  } finally {
    button.disabled = false;
  }
});

// The token dialog, worded for a node credential while it shows one.
function showCredential(name, credential, headingKey) {
  showToken(name, credential, headingKey);
  const warning = $("token-dialog").querySelector(".token-warning");
  warning.dataset.i18n = "cas_cred_warning";
  warning.textContent = t("cas_cred_warning");
}
$("token-dialog").addEventListener("close", () => {
  const warning = $("token-dialog").querySelector(".token-warning");
  warning.dataset.i18n = "token_warning";
  warning.textContent = t("token_warning");
});

async function rotateNode(button, n) {
  if (!(await confirmBox(t("cas_confirm_rotate", { name: n.name })))) return;
  const issued = await act(button, () => api("POST", `/api/v1/cascade/nodes/${encodeURIComponent(n.id)}/credential`, {}));
  if (!issued) return;
  showCredential(n.name, issued.credential, "cas_cred_heading_rotated");
  refreshCascade();
}

async function revokeNode(button, n) {
  if (!(await confirmBox(t("cas_confirm_revoke", { name: n.name })))) return;
  const done = await act(button, async () => {
    await api("DELETE", `/api/v1/cascade/nodes/${encodeURIComponent(n.id)}`);
    return true;
  });
  if (!done) return;
  toast(t("cas_revoked_done", { name: n.name }), "ok");
  refreshCascade();
}
