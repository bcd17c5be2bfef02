// @ts-check
// The endpoint registry: the org tree with its rooms, tokens shown once,
// rotate, revoke, CSV import.
import { ApiError } from "../lib/api.js";
import { $, confirmBox, el } from "../lib/dom.js";
import { S } from "./state.js";
import { act, api, errorText, log, t, toast } from "./core.js";
import { showLogin, showOnly } from "./main.js";
import { fillSelect, showServerError } from "./scheduler.js";
import { clearFieldErrors, fieldError, flatUnits, focusFirstError, loadOrg, may, scopeUnits, shapeTree, tk, unitOption } from "./util.js";

// ------------------------------------------------------------ endpoint registry
// The org tree as of today with each unit's rooms; create (the token is
// shown once), rotate, revoke; CSV import of units (all or nothing).
const LINKS = ["fibre", "4g", "3g", "vsat"];
 // { org, shape }

export async function openRegistry() {
  showOnly("view-endpoints");
  $("crumbs").textContent = t("reg_title");
  $("btn-ep-new").hidden = !may("endpoints_write");
  $("reg-filter").placeholder = t("reg_filter");
  $("import-card").hidden = !may("org_write");
  await loadRegistry();
}

async function loadRegistry() {
  const org = await act(null, () => loadOrg(null));
  if (!org || $("view-endpoints").hidden) return;
  S.reg = { org, shape: shapeTree(org.units, org.endpoints) };
  drawRegistry();
}

export function drawRegistry() {
  if (!S.reg) return;
  const { org, shape } = S.reg;
  const write = may("endpoints_write");
  const revoked = org.endpoints.filter((e) => e.revoked_at_ms).length;
  $("reg-summary").textContent = t("reg_summary", { units: org.units.length, eps: org.endpoints.length, revoked, on: org.on });
  const table = (eps) =>
    el(
      "table",
      { class: "reg-eps" },
      el(
        "thead",
        {},
        el("tr", {}, ...["reg_col_name", "reg_col_room", "reg_col_tech", "reg_col_link", "reg_col_state"].map((k) => el("th", { text: t(k) })), write ? el("th", { text: t("reg_col_actions") }) : null)
      ),
      el("tbody", {}, ...eps.map(endpointRow))
    );
  const endpointRow = (e) => {
    const state = e.revoked_at_ms ? "revoked" : "active";
    const actions = write
      ? el(
          "td",
          {},
          el(
            "div",
            { class: "actions" },
            el("button", { class: "btn btn-small", type: "button", dataset: { action: "edit-endpoint" }, text: t("reg_edit"), onclick: () => openEndpointDialog(e.unit ? e.unit.id : "", e) }),
            el("button", { class: "btn btn-small", type: "button", dataset: { action: "rotate" }, text: t("reg_rotate"), onclick: (ev) => rotateToken(ev.currentTarget, e) }),
            el("button", { class: "btn btn-small", type: "button", dataset: { action: "sip" }, text: t("reg_sip"), onclick: (ev) => issueSip(ev.currentTarget, e) }),
            e.revoked_at_ms ? null : el("button", { class: "btn btn-small btn-danger", type: "button", dataset: { action: "revoke" }, text: t("reg_revoke"), onclick: (ev) => revokeToken(ev.currentTarget, e) })
          )
        )
      : null;
    return el(
      "tr",
      { dataset: { endpoint: e.id, state } },
      el("td", {}, el("div", { class: "ep-name", text: e.name })),
      el("td", { text: e.room || "—" }),
      el("td", {}, e.technician_name || "—", e.technician_phone ? el("br") : null, e.technician_phone ? el("a", { href: `tel:${e.technician_phone.replace(/\s+/g, "")}`, text: e.technician_phone }) : null),
      el("td", {}, el("span", { class: "link-tag", dataset: { link: e.link }, title: `≤ ${e.max_kbps} kbit/s`, text: tk("links", e.link) })),
      el("td", {}, el("span", { class: `badge badge-${state}`, text: t(`reg_${state}`) })),
      actions
    );
  };
  const unitBox = (u) => {
    const eps = shape.epsByUnit.get(u.id) || [];
    const kids = shape.children.get(u.id) || [];
    return el(
      "section",
      { class: "reg-unit", dataset: { unit: u.id, kind: u.kind } },
      el(
        "div",
        { class: "reg-unit-head" },
        el("span", { class: "unit-name", text: u.name }),
        el("span", { class: "kind-tag", text: tk("org_kinds", u.kind) }),
        el("span", { class: "unit-code", text: u.code }),
        write
          ? el("button", { class: "btn btn-small", type: "button", dataset: { action: "add-endpoint" }, text: t("reg_add_here"), onclick: () => openEndpointDialog(u.id) })
          : null
      ),
      el("div", { class: "reg-unit-body" }, eps.length ? table(eps) : el("div", { class: "muted-text", text: t("reg_no_eps") }), ...kids.map(unitBox))
    );
  };
  const boxes = shape.roots.map(unitBox);
  const loose = shape.epsByUnit.get("") || [];
  if (loose.length)
    boxes.push(
      el("section", { class: "reg-unit", dataset: { unit: "" } }, el("div", { class: "reg-unit-head" }, el("span", { class: "unit-name", text: t("reg_unbound") })), el("div", { class: "reg-unit-body" }, table(loose)))
    );
  $("reg-tree").replaceChildren(...boxes);
  applyRegFilter();
}

// Find a unit or a room among ~200: accents and case do not matter.
export function fold(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
}
function applyRegFilter() {
  const q = fold($("reg-filter").value.trim());
  const tree = $("reg-tree");
  for (const tr of tree.querySelectorAll("tr[data-endpoint]")) tr.hidden = !!q && !fold(tr.textContent).includes(q);
  for (const table of tree.querySelectorAll("table.reg-eps")) table.hidden = !!q && !table.querySelector("tr[data-endpoint]:not([hidden])");
  // Innermost units first: a unit shows when it matches or holds a match.
  for (const sec of [...tree.querySelectorAll("section.reg-unit")].reverse()) {
    const head = sec.querySelector(":scope > .reg-unit-head");
    const own = !q || fold(head.textContent).includes(q);
    if (own) {
      for (const x of sec.querySelectorAll("tr[data-endpoint], table.reg-eps, section.reg-unit")) x.hidden = false;
      sec.hidden = false;
      continue;
    }
    const body = sec.querySelector(":scope > .reg-unit-body");
    const rows = body.querySelectorAll(":scope > table tr[data-endpoint]:not([hidden])").length;
    const kids = body.querySelectorAll(":scope > section.reg-unit:not([hidden])").length;
    sec.hidden = rows + kids === 0;
  }
}
$("reg-filter").addEventListener("input", applyRegFilter);

// Units a sub-operator may bind rooms to: their own subtree.
function writableUnits() {
  return S.reg ? scopeUnits("endpoints_write", S.reg.shape) : null;
}

// Add a room (`ep` absent) or edit one's details (its unit binding is
// dated and follows the org tree: not edited here).
let epEditing = null;
function openEndpointDialog(unitId, ep) {
  if (!S.reg) return;
  epEditing = ep || null;
  const form = $("ep-form");
  form.reset();
  clearFieldErrors(form);
  const units = ep ? flatUnits(S.reg.shape) : flatUnits(S.reg.shape, writableUnits());
  fillSelect($("ep-unit"), [el("option", { value: "", text: t("ep_unit_pick") }), ...units.map(({ unit, depth }) => unitOption(unit, depth))], unitId || "");
  fillSelect($("ep-link"), LINKS.map((l) => el("option", { value: l, text: tk("links", l) })), ep ? ep.link : "fibre");
  $("ep-unit").disabled = !!ep;
  $("ep-unit").title = ep ? t("ep_unit_fixed") : "";
  $("ep-heading").textContent = t(ep ? "ep_heading_edit" : "ep_heading");
  $("ep-submit").textContent = t(ep ? "ep_save" : "ep_submit");
  if (ep) {
    $("ep-name").value = ep.name;
    $("ep-room").value = ep.room || "";
    $("ep-tech").value = ep.technician_name || "";
    $("ep-phone").value = ep.technician_phone || "";
  }
  $("ep-dialog").showModal();
  $("ep-name").focus();
}
$("btn-ep-new").addEventListener("click", () => openEndpointDialog(""));
$("btn-ep-refresh").addEventListener("click", () => loadRegistry());
$("ep-cancel").addEventListener("click", () => $("ep-dialog").close());

function endpointField(serverField) {
  const map = {
    name: ["name", "sv_name"],
    room: ["room", "sv_room"],
    technician_name: ["tech", "sv_tech"],
    technician_phone: ["phone", "sv_phone"],
    link: ["link", "sv_link"],
    unit_id: ["unit", "sv_unit"],
    bound_from: ["unit", "sv_unit"],
  };
  return map[serverField] || null;
}

$("ep-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = $("ep-form");
  clearFieldErrors(form);
  const body = {
    name: $("ep-name").value.trim(),
    room: $("ep-room").value.trim(),
    technician_name: $("ep-tech").value.trim(),
    technician_phone: $("ep-phone").value.trim(),
    link: $("ep-link").value,
    unit_id: $("ep-unit").value,
  };
  const editing = epEditing;
  let bad = false;
  if (!body.name) bad = fieldError("ep", "name", t("ep_need_name")) || true;
  if (!editing && !body.unit_id) bad = fieldError("ep", "unit", t("ep_need_unit")) || true;
  if (bad) {
    focusFirstError(form);
    return;
  }
  const button = $("ep-submit");
  button.disabled = true;
  try {
    if (editing) {
      delete body.unit_id;
      const saved = await api("PATCH", `/api/v1/endpoints/${encodeURIComponent(editing.id)}`, body);
      $("ep-dialog").close();
      toast(t("ep_saved", { name: saved.name }), "ok");
      loadRegistry();
      return;
    }
    const made = await api("POST", "/api/v1/endpoints", body);
    $("ep-dialog").close();
    showToken(made.endpoint.name, made.token, "token_heading_new");
    loadRegistry();
  } catch (e) {
    log("endpoint refused", e.code, e.field || "", e.message);
    showServerError(e, "ep", "ep-error", endpointField);
  } finally {
    button.disabled = false;
  }
});

// The token, once: nothing keeps it after the dialog closes.
export function showToken(name, token, headingKey) {
  $("token-heading").textContent = t(headingKey, { name });
  $("token-value").value = token;
  $("token-copied").hidden = true;
  $("token-dialog").showModal();
  $("token-value").focus();
  $("token-value").select();
}
$("token-copy").addEventListener("click", async () => {
  const input = $("token-value");
  const note = $("token-copied");
  let ok = false;
  try {
    await navigator.clipboard.writeText(input.value);
    ok = true;
  } catch (_) {
    input.select();
    try {
      ok = document.execCommand("copy");
    } catch (_) {
      ok = false;
    }
  }
  note.textContent = t(ok ? "token_copied" : "token_copy_failed");
  note.hidden = false;
});
$("token-close").addEventListener("click", () => $("token-dialog").close());
$("token-dialog").addEventListener("close", () => {
  $("token-value").value = "";
  $("token-copied").hidden = true;
});

async function rotateToken(button, e) {
  if (!(await confirmBox(t("reg_confirm_rotate", { name: e.name })))) return;
  const issued = await act(button, () => api("POST", `/api/v1/endpoints/${encodeURIComponent(e.id)}/token`, {}));
  if (!issued) return;
  showToken(e.name, issued.token, "token_heading_rotated");
  loadRegistry();
}

// A room codec's SIP account (user, password, realm), shown once in the
// token dialog as one line to copy.
async function issueSip(button, e) {
  if (!(await confirmBox(t("reg_confirm_sip", { name: e.name })))) return;
  const issued = await act(button, () => api("POST", `/api/v1/endpoints/${encodeURIComponent(e.id)}/sip-password`, {}));
  if (!issued) return;
  showToken(e.name, `user=${issued.sip_user} password=${issued.password} realm=${issued.realm}`, "sip_heading");
}

async function revokeToken(button, e) {
  if (!(await confirmBox(t("reg_confirm_revoke", { name: e.name })))) return;
  const done = await act(button, async () => {
    await api("DELETE", `/api/v1/endpoints/${encodeURIComponent(e.id)}/token`);
    return true;
  });
  if (!done) return;
  toast(t("reg_revoked_done", { name: e.name }), "ok");
  loadRegistry();
}

// An import refusal names `row N.column` (CSV; the header is row 1) or
// `item N.column` (JSON): said in the chosen language, the server's own
// words below it.
function importErrorText(e) {
  const m = e instanceof ApiError && e.field ? /^(row|item) (\d+)\.(\w+)$/.exec(e.field) : null;
  if (m) {
    const [, place, n, column] = m;
    return t(place === "row" ? "imp_row" : "imp_item", { n, column, label: tk("imp_columns", column), reason: tk("imp_reasons", column) });
  }
  return errorText(e);
}

$("import-submit").addEventListener("click", async () => {
  const errBox = $("import-error");
  const okBox = $("import-ok");
  errBox.hidden = okBox.hidden = true;
  errBox.replaceChildren();
  const file = $("import-file").files && $("import-file").files[0];
  let text = "";
  try {
    text = file ? await file.text() : $("import-text").value;
  } catch (e) {
    text = "";
  }
  if (!text.trim()) {
    errBox.textContent = t("imp_empty");
    errBox.hidden = false;
    return;
  }
  const button = $("import-submit");
  button.disabled = true;
  try {
    const done = await api("POST", "/api/v1/org/import", text, "text/csv; charset=utf-8");
    okBox.textContent = t("imp_done", { n: (done.units || []).length });
    okBox.hidden = false;
    okBox.scrollIntoView({ block: "center" });
    $("import-file").value = "";
    $("import-text").value = "";
    loadRegistry();
  } catch (e) {
    log("import refused", e.code, e.field || "", e.message);
    errBox.replaceChildren(
      el("div", { class: "import-reason", text: importErrorText(e) }),
      e instanceof ApiError && e.code !== "network" ? el("div", { class: "import-detail", text: t("server_detail", { message: e.message }) }) : null,
      el("div", { class: "import-nothing", text: t("imp_nothing") })
    );
    errBox.hidden = false;
    errBox.scrollIntoView({ block: "center" });
    if (e instanceof ApiError && e.status === 401) showLogin();
  } finally {
    button.disabled = false;
  }
});
