// @ts-check
// Helpers several console views share: permissions, local time, the org
// tree, form errors.
import { $, el } from "../lib/dom.js";
import { S } from "./state.js";
import { DICT, api } from "./core.js";
import { go } from "./main.js";

// ------------------------------------------------------------ permissions
// What the logged-in user's roles allow, mirroring the server's table
// (src/api/access.rs `role_permits`): actions a role cannot do are not
// offered. The server still checks every request.
const ROLE_ACTIONS = {
  operator: ["users_read", "org_read", "org_write", "endpoints_read", "endpoints_write", "meetings_read", "meetings_write", "meeting_lifecycle", "live_control", "cascade_read", "trust_read", "readiness_read", "reports_read"],
  sub_operator: ["users_read", "org_read", "endpoints_read", "endpoints_write", "meetings_read", "meetings_write", "meeting_lifecycle", "live_control", "readiness_read"],
  secretary: ["users_read", "org_read", "endpoints_read", "meetings_read", "meetings_write"],
  chair: ["org_read", "endpoints_read", "meetings_read"],
  delegate: ["org_read", "meetings_read"],
  auditor: ["users_read", "org_read", "endpoints_read", "meetings_read", "cascade_read", "trust_read", "readiness_read", "reports_read"],
};
// A sub-operator's subtree for `action` (unit ids), or null when a role
// without a scope already allows it — as the server's `scope_unit`.
export function scopeUnits(action, shape) {
  const scope = S.me && S.me.scope_unit_id;
  const roles = (S.me && S.me.roles) || [];
  const unscoped = roles.some((r) => r !== "sub_operator" && (r === "admin" || (ROLE_ACTIONS[r] || []).includes(action)));
  return !scope || unscoped ? null : new Set(subtreeIds(shape, scope));
}
export function may(action) {
  const roles = (S.me && S.me.roles) || [];
  return roles.includes("admin") || roles.some((r) => (ROLE_ACTIONS[r] || []).includes(action));
}

// A word from one of the dictionary's groups (kinds, links, …).
export function tk(group, key) {
  const mine = DICT[S.lang][group];
  if (mine && mine[key] !== undefined) return mine[key];
  const vi = DICT.vi[group];
  return vi && vi[key] !== undefined ? vi[key] : String(key);
}

export function markNav(view) {
  const current = view === "view-endpoints" ? "nav-endpoints" : view === "view-cascade" ? "nav-cascade" : view === "view-bodies" ? "nav-bodies" : view === "view-signatures" ? "nav-signatures" : view === "view-login" ? null : "nav-meetings";
  for (const id of ["nav-meetings", "nav-endpoints", "nav-cascade", "nav-bodies", "nav-signatures"]) {
    if (id === current) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
}
for (const id of ["nav-meetings", "nav-endpoints", "nav-cascade", "nav-bodies", "nav-signatures"])
  $(id).addEventListener("click", (ev) => {
    ev.preventDefault();
    go(ev.currentTarget.getAttribute("href"));
  });

// ------------------------------------------------------------ local time (UTC+07:00)
export const VN_MS = 7 * 3600 * 1000;
export function msToLocalInput(ms) {
  return new Date(ms + VN_MS).toISOString().slice(0, 16);
}
export function localInputToMs(v) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(v || "");
  if (!m) return null;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) - VN_MS;
}
export function vnDate(ms) {
  return new Date(ms + VN_MS).toISOString().slice(0, 10);
}

// ------------------------------------------------------------ org tree helpers
const ORG_KIND_ORDER = ["central", "province", "sector", "ward", "commune", "special_zone"];
function sortUnits(list) {
  return list.slice().sort((a, b) => {
    const k = ORG_KIND_ORDER.indexOf(a.kind) - ORG_KIND_ORDER.indexOf(b.kind);
    return k !== 0 ? k : a.name.localeCompare(b.name, "vi");
  });
}
// { roots, children: Map(unit id → units), epsByUnit: Map(unit id | "" → endpoints) }
export function shapeTree(units, endpoints) {
  const ids = new Set(units.map((u) => u.id));
  const children = new Map();
  const roots = [];
  for (const u of units) {
    if (u.parent_id && ids.has(u.parent_id)) {
      if (!children.has(u.parent_id)) children.set(u.parent_id, []);
      children.get(u.parent_id).push(u);
    } else roots.push(u);
  }
  for (const [k, v] of children) children.set(k, sortUnits(v));
  const epsByUnit = new Map();
  for (const e of endpoints) {
    const key = e.unit && ids.has(e.unit.id) ? e.unit.id : "";
    if (!epsByUnit.has(key)) epsByUnit.set(key, []);
    epsByUnit.get(key).push(e);
  }
  for (const v of epsByUnit.values()) v.sort((a, b) => a.name.localeCompare(b.name, "vi"));
  return { roots: sortUnits(roots), children, epsByUnit };
}
// Units in tree order with their depth, for indented <select> options.
export function flatUnits(shape, only) {
  const out = [];
  const walk = (u, depth) => {
    if (!only || only.has(u.id)) out.push({ unit: u, depth });
    for (const c of shape.children.get(u.id) || []) walk(c, depth + 1);
  };
  for (const r of shape.roots) walk(r, 0);
  return out;
}
export function subtreeIds(shape, id) {
  const out = [id];
  for (let i = 0; i < out.length; i++) for (const c of shape.children.get(out[i]) || []) out.push(c.id);
  return out;
}
export function unitOption(u, depth) {
  return el("option", { value: u.id, text: `${"\u2003".repeat(depth)}${u.name} (${tk("org_kinds", u.kind)})` });
}
export async function loadOrg(on) {
  const q = on ? `?on=${encodeURIComponent(on)}` : "";
  const [units, eps] = await Promise.all([api("GET", `/api/v1/org/units${q}`), api("GET", `/api/v1/endpoints${q}`)]);
  return { on: units.on, units: units.units || [], endpoints: eps.endpoints || [] };
}

// ------------------------------------------------------------ form errors
// `prefix-name` is the input, `prefix-name-error` the message beside it.
export function clearFieldErrors(form) {
  for (const box of form.querySelectorAll(".field-error, .form-error")) {
    box.hidden = true;
    box.textContent = "";
    box.removeAttribute("title");
  }
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
}
export function fieldError(prefix, name, text, detail) {
  const box = $(`${prefix}-${name}-error`);
  if (!box) return false;
  box.textContent = text;
  if (detail) box.title = detail;
  box.hidden = false;
  const input = $(`${prefix}-${name}`);
  if (input) input.setAttribute("aria-invalid", "true");
  return true;
}
export function formError(id, text) {
  const box = $(id);
  box.textContent = text;
  box.hidden = false;
}
export function focusFirstError(form) {
  const bad = form.querySelector("[aria-invalid=true]");
  if (bad && typeof bad.focus === "function") bad.focus();
}
