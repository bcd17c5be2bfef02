// @ts-check
// The scheduler: plan a meeting or edit a scheduled one.
import { ApiError } from "../lib/api.js";
import { $, confirmBox, el } from "../lib/dom.js";
import { vnTime } from "../lib/time.js";
import { S } from "./state.js";
import { act, api, errorText, log, t, toast } from "./core.js";
import { go, showLogin, showOnly } from "./main.js";
import { drawMeetings } from "./meetings.js";
import { drawQueries, drawSchedTree, endpointsUnder, syncTreeChecks } from "./picker.js";
import { VN_MS, clearFieldErrors, fieldError, flatUnits, focusFirstError, formError, loadOrg, localInputToMs, may, msToLocalInput, scopeUnits, shapeTree, tk, unitOption, vnDate } from "./util.js";

// ------------------------------------------------------------ scheduler
// Plan a meeting (POST /api/v1/meetings) or edit a scheduled or open one
// (PATCH). Rooms are ticked one by one in the org tree (endpoint_ids)
// and/or added as unit queries; both are resolved by the server at the
// meeting's own date.
export const MEETING_KINDS = ["bch", "btv", "giao_ban", "quan_triet", "chuyen_de", "other"];
export const QUERY_KINDS = ["commune", "ward", "special_zone", "sector", "province", "central"];
export const WEEKDAYS = ["mo", "tu", "we", "th", "fr", "sa", "su"];
const MAX_MEETING_MS = 24 * 3600 * 1000;
 // { id, meeting, org, shape, users, selected: Set, queries: [], gen }

export async function openSchedule(id) {
  showOnly("view-schedule");
  $("crumbs").replaceChildren(
    el("a", {
      href: "/console",
      text: t("back"),
      onclick: (ev) => {
        ev.preventDefault();
        go("/console");
      },
    })
  );
  const mine = { id, meeting: null, org: null, shape: null, users: [], selected: new Set(), queries: [], gen: 0 };
  S.sched = mine;
  const form = $("sch-form");
  form.reset();
  clearFieldErrors(form);
  $("sch-tree").replaceChildren();
  $("sch-queries").replaceChildren();
  $("sch-tree-filter").placeholder = t("sch_tree_filter");
  $("sch-heading").textContent = t(id ? "sch_heading_edit" : "sch_heading_new");
  $("sch-submit").textContent = t(id ? "sch_submit_edit" : "sch_submit_new");
  $("sch-repeat").disabled = !!id;
  $("sch-rec").hidden = true;
  $("sch-rec-note").hidden = !id;
  if (!may("meetings_write")) {
    formError("sch-error", errorText(new ApiError(403, "forbidden", "meetings_write")));
    return;
  }
  let meeting = null;
  if (id) {
    meeting = await act(null, () => api("GET", `/api/v1/meetings/${encodeURIComponent(id)}`));
    if (S.sched !== mine) return;
    if (!meeting) return;
    if (meeting.state !== "scheduled" && meeting.state !== "open") {
      formError("sch-error", t("not_editable_here"));
      return;
    }
    mine.meeting = meeting;
    for (const e of meeting.endpoint_ids || []) mine.selected.add(e);
    mine.queries = (meeting.unit_queries || []).map((q) => ({ unit_id: q.unit_id, kinds: q.kinds || [], include_self: !!q.include_self }));
  }
  const users = may("users_read") ? api("GET", "/api/v1/users").catch(() => ({ users: [] })) : Promise.resolve({ users: [] });
  const bodies = api("GET", "/api/v1/bodies").catch(() => ({ bodies: [] }));
  const org = await act(null, () => loadOrg(meeting ? meeting.local_date : null));
  if (S.sched !== mine || !org) return;
  mine.org = scopedOrg(org);
  mine.shape = shapeTree(mine.org.units, mine.org.endpoints);
  mine.users = ((await users).users || []).filter((u) => !u.disabled);
  mine.bodies = (await bodies).bodies || [];
  if (S.sched !== mine) return;
  fillScheduleForm(meeting);
  drawSchedule();
  setTimeout(() => $("sch-title").focus(), 0);
}

// A sub-operator plans meetings inside their subtree only: the picker
// offers nothing else (the server refuses the rest as out of scope).
function scopedOrg(org) {
  const only = scopeUnits("meetings_write", shapeTree(org.units, org.endpoints));
  if (!only) return org;
  return {
    on: org.on,
    units: org.units.filter((u) => only.has(u.id)),
    endpoints: org.endpoints.filter((e) => e.unit && only.has(e.unit.id)),
  };
}

export function fillSelect(select, options, value) {
  select.replaceChildren(...options);
  if (value !== undefined && value !== null) select.value = value;
}

function fillScheduleForm(m) {
  fillSelect($("sch-kind"), MEETING_KINDS.map((k) => el("option", { value: k, text: tk("kinds", k) })), m ? m.kind : "btv");
  $("sch-policy").value = "";
  delete $("sch-policy").dataset.touched;
  $("sch-mute-entry").checked = m ? !!m.mute_on_entry : defaultMute(m ? m.kind : "btv");
  delete $("sch-mute-entry").dataset.touched;
  fillSelect($("sch-freq"), ["weekly", "monthly", "daily"].map((f) => el("option", { value: f, text: t(`freq_${f}`) })), "weekly");
  $("sch-weekdays").replaceChildren(
    ...WEEKDAYS.map((d) => el("label", { class: "check" }, el("input", { type: "checkbox", value: d, dataset: { weekday: d } }), " ", tk("weekdays", d)))
  );
  $("sch-q-kinds").replaceChildren(
    ...QUERY_KINDS.map((k) =>
      el("label", { class: "check" }, el("input", { type: "checkbox", value: k, dataset: { kind: k }, checked: k === "commune" || k === "ward" }), " ", tk("org_kinds", k))
    )
  );
  if (!m) {
    // A sensible start: tomorrow 08:00, two hours, province time.
    const tomorrow = vnDate(Date.now() + 86400000);
    $("sch-start").value = `${tomorrow}T08:00`;
    $("sch-end").value = `${tomorrow}T10:00`;
    $("sch-quorum").value = "67";
    return;
  }
  $("sch-title").value = m.title;
  $("sch-description").value = m.description || "";
  $("sch-start").value = msToLocalInput(m.starts_at_ms);
  $("sch-end").value = msToLocalInput(m.ends_at_ms);
  $("sch-people").value = m.expected_people || "";
  $("sch-quorum").value = m.quorum_percent || "";
}

// Selects, tree and query list from `sched` (also after a language switch).
export function drawSchedule() {
  const s = S.sched;
  if (!s || !s.shape) return;
  const m = s.meeting;
  const hubValue = $("sch-hub").value || (m && m.hub_endpoint_id) || "";
  const eps = s.org.endpoints.slice().sort((a, b) => a.name.localeCompare(b.name, "vi"));
  fillSelect($("sch-hub"), [el("option", { value: "", text: t("sch_hub_none") }), ...eps.map((e) => el("option", { value: e.id, text: e.unit ? `${e.name} — ${e.unit.name}` : e.name }))], hubValue);
  const people = (select, role, current) => {
    const who = s.users.filter((u) => (u.roles || []).includes(role));
    fillSelect(select, [el("option", { value: "", text: t("sch_person_none") }), ...who.map((u) => el("option", { value: u.id, text: `${u.display_name} (${u.login})` }))], current || "");
  };
  people($("sch-chair"), "chair", $("sch-chair").value || (m && m.chair_user_id));
  people($("sch-secretary"), "secretary", $("sch-secretary").value || (m && m.secretary_user_id));
  const policy = $("sch-policy").value || (m ? m.access_policy : defaultPolicy($("sch-kind").value));
  fillSelect($("sch-policy"), ["closed", "open"].map((p) => el("option", { value: p, text: tk("policies", p) })), policy);
  const bodyValue = $("sch-body").value || (m && m.body_id) || "";
  fillSelect($("sch-body"), [el("option", { value: "", text: t("sch_body_none") }), ...(s.bodies || []).map((b) => el("option", { value: b.id, text: `${b.name} — ${b.term}` }))], bodyValue);
  drawMembers();
  $("sch-chair-field").hidden = !may("users_read");
  $("sch-secretary-field").hidden = !may("users_read");
  const qUnit = $("sch-q-unit").value;
  fillSelect($("sch-q-unit"), [el("option", { value: "", text: t("sch_q_pick") }), ...flatUnits(s.shape).map(({ unit, depth }) => unitOption(unit, depth))], qUnit);
  $("sch-interval-unit").textContent = t(`unit_${$("sch-freq").value || "weekly"}`);
  $("sch-weekdays").hidden = $("sch-freq").value !== "weekly";
  drawTimeHints();
  drawSchedTree();
  drawQueries();
}

/** BCH and BTV meetings are closed unless the planner says otherwise. */
function defaultPolicy(kind) {
  return kind === "bch" || kind === "btv" ? "closed" : "open";
}
// Conferences mute rooms on entry; briefings and other meetings do not
// (as the server's MeetingKind::mutes_on_entry).
function defaultMute(kind) {
  return ["bch", "btv", "quan_triet", "chuyen_de"].includes(kind);
}

// People named in the meeting: a line per delegate, chair or secretary
// account, ticked when named, voting or invited.
function drawMembers() {
  const s = S.sched;
  const box = $("sch-members");
  const named = new Map();
  for (const c of box.querySelectorAll("input[type=checkbox]")) {
    if (c.checked) named.set(c.value, box.querySelector(`select[data-user="${c.value}"]`).value);
  }
  if (!box.childElementCount && s.meeting) for (const x of s.meeting.members || []) named.set(x.user_id, x.role);
  const who = s.users.filter((u) => (u.roles || []).some((r) => r === "delegate" || r === "chair" || r === "secretary"));
  $("sch-members-field").hidden = !may("users_read");
  box.replaceChildren(
    ...who.map((u) =>
      el(
        "div",
        { class: "member-line" },
        el("label", { class: "check" }, el("input", { type: "checkbox", value: u.id, checked: named.has(u.id) }), " ", `${u.display_name} (${u.login})`),
        el(
          "select",
          { dataset: { user: u.id }, "aria-label": t("sch_members") },
          ...["voting", "invited"].map((r) => el("option", { value: r, text: tk("member_roles", r), selected: (named.get(u.id) || "voting") === r }))
        )
      )
    )
  );
  if (!who.length) box.append(el("div", { class: "muted-text", text: t("sch_members_none") }));
}

// A field's refusal goes away as soon as it is edited.
function clearOwnError(ev) {
  const id = ev.target && ev.target.id;
  if (!id) return;
  const box = $(`${id}-error`);
  if (box) {
    box.hidden = true;
    box.textContent = "";
  }
  ev.target.removeAttribute("aria-invalid");
}
for (const form of ["sch-form", "ep-form"]) {
  $(form).addEventListener("input", clearOwnError);
  $(form).addEventListener("change", clearOwnError);
}

// The chosen times said in full, in province time, under their inputs.
function vnLong(ms) {
  const d = new Date(ms + VN_MS);
  const stamp = vnTime(ms);
  return t("sch_at", { day: tk("weekdays", WEEKDAYS[(d.getUTCDay() + 6) % 7]), date: stamp.slice(6), time: stamp.slice(0, 5) });
}
function drawTimeHints() {
  const start = localInputToMs($("sch-start").value);
  const end = localInputToMs($("sch-end").value);
  $("sch-start-hint").textContent = start === null ? "" : vnLong(start);
  let endText = end === null ? "" : vnLong(end);
  if (start !== null && end !== null && end > start) {
    const mins = Math.round((end - start) / 60000);
    endText += ` · ${t("sch_duration", { h: Math.floor(mins / 60), m: mins % 60 })}`;
  }
  $("sch-end-hint").textContent = endText;
}
for (const id of ["sch-start", "sch-end"]) {
  $(id).addEventListener("input", drawTimeHints);
  $(id).addEventListener("change", drawTimeHints);
}

$("sch-tree").addEventListener("change", (ev) => {
  const box = ev.target;
  if (!S.sched || !(box instanceof HTMLInputElement)) return;
  $("sch-participants-error").hidden = true;
  if (box.dataset.endpoint) {
    if (box.checked) S.sched.selected.add(box.dataset.endpoint);
    else S.sched.selected.delete(box.dataset.endpoint);
  } else if (box.dataset.unit) {
    const hub = $("sch-hub").value;
    for (const e of endpointsUnder(box.dataset.unit)) {
      if (e === hub) continue;
      if (box.checked) S.sched.selected.add(e);
      else S.sched.selected.delete(e);
    }
  }
  syncTreeChecks();
});
$("sch-hub").addEventListener("change", () => {
  if (!S.sched) return;
  S.sched.selected.delete($("sch-hub").value);
  drawSchedTree();
});
// A new kind brings its default access policy, unless the planner chose one.
$("sch-policy").addEventListener("change", () => {
  $("sch-policy").dataset.touched = "1";
});
$("sch-mute-entry").addEventListener("change", () => {
  $("sch-mute-entry").dataset.touched = "1";
});
$("sch-kind").addEventListener("change", () => {
  if (!$("sch-mute-entry").dataset.touched) $("sch-mute-entry").checked = defaultMute($("sch-kind").value);
  if (!$("sch-policy").dataset.touched) $("sch-policy").value = defaultPolicy($("sch-kind").value);
});
$("sch-freq").addEventListener("change", () => {
  $("sch-interval-unit").textContent = t(`unit_${$("sch-freq").value}`);
  $("sch-weekdays").hidden = $("sch-freq").value !== "weekly";
});
$("sch-repeat").addEventListener("change", () => {
  $("sch-rec").hidden = !$("sch-repeat").checked;
});
// The tree follows the meeting's date: units merged since are shown as
// the meeting will see them.
$("sch-start").addEventListener("change", async () => {
  const s = S.sched;
  const ms = localInputToMs($("sch-start").value);
  if (!s || !s.org || ms === null || vnDate(ms) === s.org.on) return;
  const gen = ++s.gen;
  try {
    const org = await loadOrg(vnDate(ms));
    if (S.sched !== s || s.gen !== gen) return;
    s.org = scopedOrg(org);
    s.shape = shapeTree(s.org.units, s.org.endpoints);
    drawSchedule();
  } catch (e) {
    log("org reload", errorText(e));
  }
});

function intOrNull(v) {
  const text = String(v).trim();
  if (text === "") return null;
  return /^\d+$/.test(text) ? Number(text) : NaN;
}

// The draft from the form, and the refusals found before sending.
function collectSchedule() {
  const s = S.sched;
  const errs = [];
  const title = $("sch-title").value.trim();
  if (!title) errs.push(["title", t("v_title")]);
  else if ([...title].length > 300) errs.push(["title", t("v_title_long")]);
  const start = localInputToMs($("sch-start").value);
  const end = localInputToMs($("sch-end").value);
  if (start === null) errs.push(["start", t("v_start")]);
  if (end === null) errs.push(["end", t("v_end")]);
  else if (start !== null && end <= start) errs.push(["end", t("v_end_before")]);
  else if (start !== null && end - start > MAX_MEETING_MS) errs.push(["end", t("v_too_long")]);
  const hub = $("sch-hub").value || null;
  // In the order ticked (an edit keeps the meeting's order); rooms picked
  // before the tree's date moved stay, even if no longer listed.
  const endpoint_ids = [...s.selected].filter((id) => id !== hub);
  if (!hub && !endpoint_ids.length && !s.queries.length) errs.push(["participants", t("v_participants")]);
  const people = intOrNull($("sch-people").value);
  if (people !== null && !(people >= 1 && people <= 100000)) errs.push(["people", t("v_people")]);
  const quorum = intOrNull($("sch-quorum").value);
  if (quorum !== null && !(quorum >= 1 && quorum <= 100)) errs.push(["quorum", t("v_quorum")]);
  const draft = {
    title,
    kind: $("sch-kind").value,
    description: $("sch-description").value.trim(),
    starts_at_ms: start,
    ends_at_ms: end,
    hub_endpoint_id: hub,
    endpoint_ids,
    unit_queries: s.queries.map((q) => ({ unit_id: q.unit_id, kinds: q.kinds, include_self: q.include_self })),
    chair_user_id: $("sch-chair").value || null,
    secretary_user_id: $("sch-secretary").value || null,
    access_policy: $("sch-policy").value || null,
    mute_on_entry: $("sch-mute-entry").checked,
    body_id: $("sch-body").value || null,
    members: [...$("sch-members").querySelectorAll("input[type=checkbox]:checked")].map((c) => ({
      user_id: c.value,
      role: $("sch-members").querySelector(`select[data-user="${c.value}"]`).value,
    })),
    expected_people: people,
    quorum_percent: quorum,
  };
  if (!s.id && $("sch-repeat").checked) {
    const interval = intOrNull($("sch-interval").value);
    const rule = { freq: $("sch-freq").value, interval: interval === null ? 1 : interval };
    if (!(rule.interval >= 1 && rule.interval <= 12)) errs.push(["recurrence", t("v_interval"), "sch-interval"]);
    if (rule.freq === "weekly") rule.by_weekday = [...$("sch-weekdays").querySelectorAll("input:checked")].map((i) => i.value);
    if ($("sch-rec-by-until").checked) {
      const until = $("sch-until").value;
      if (!until || (start !== null && until < vnDate(start))) errs.push(["recurrence", t("v_until"), "sch-until"]);
      rule.until = until;
    } else {
      const count = intOrNull($("sch-count").value);
      if (!(count >= 1 && count <= 200)) errs.push(["recurrence", t("v_count"), "sch-count"]);
      rule.count = count;
    }
    draft.recurrence = rule;
  }
  return { draft, errs };
}

// The server's field (`ends_at_ms`, `endpoint_ids[1]`, `recurrence.count`)
// → the form's field and its sentence.
function scheduleField(serverField, message) {
  const f = serverField || "";
  const head = f.split(/[.[]/)[0];
  const map = {
    title: ["title", "sv_title"],
    kind: ["kind", "sv_kind"],
    description: ["description", "sv_description"],
    starts_at_ms: ["start", "sv_start"],
    ends_at_ms: ["end", /24 hours/.test(message || "") ? "sv_end_long" : "sv_end"],
    hub_endpoint_id: ["hub", "sv_hub"],
    endpoint_ids: ["participants", "sv_participants"],
    unit_queries: ["queries", "sv_queries"],
    chair_user_id: ["chair", "sv_chair"],
    secretary_user_id: ["secretary", "sv_secretary"],
    expected_people: ["people", "sv_people"],
    quorum_percent: ["quorum", "sv_quorum"],
    recurrence: ["recurrence", "sv_recurrence"],
  };
  return map[head] || null;
}

export function showServerError(e, formId, generalId, fieldOf) {
  const mapped = e instanceof ApiError && e.field ? fieldOf(e.field, e.message) : null;
  if (mapped && e.code === "invalid") {
    const [name, key] = mapped;
    if (fieldError(formId, name, t(key), t("server_detail", { message: e.message }))) {
      focusFirstError($(`${formId}-form`));
      return;
    }
  }
  if (mapped && fieldError(formId, mapped[0], errorText(e))) {
    focusFirstError($(`${formId}-form`));
    return;
  }
  formError(generalId, errorText(e));
  if (e instanceof ApiError && e.status === 401) showLogin();
}

$("sch-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const s = S.sched;
  if (!s || !s.org) return;
  const form = $("sch-form");
  clearFieldErrors(form);
  const { draft, errs } = collectSchedule();
  if (errs.length) {
    for (const [name, text, input] of errs) {
      fieldError("sch", name, text);
      if (input) $(input).setAttribute("aria-invalid", "true");
    }
    log("schedule refused before sending", errs.map((x) => x[0]).join(","));
    focusFirstError(form);
    return;
  }
  const button = $("sch-submit");
  button.disabled = true;
  try {
    if (s.id) {
      const body = Object.assign({}, draft);
      delete body.recurrence;
      const saved = await api("PATCH", `/api/v1/meetings/${encodeURIComponent(s.id)}`, body);
      toast(t("saved", { title: saved.title }), "ok");
    } else {
      const made = await api("POST", "/api/v1/meetings", draft);
      const list = made.meetings || [];
      toast(list.length > 1 ? t("scheduled_many", { n: list.length, title: draft.title }) : t("scheduled_one", { title: draft.title }), "ok");
    }
    if (S.sched === s) go("/console");
  } catch (e) {
    log("schedule refused", e.code, e.field || "", e.message);
    showServerError(e, "sch", "sch-error", scheduleField);
  } finally {
    button.disabled = false;
  }
});
for (const id of ["sch-back", "sch-cancel"]) $(id).addEventListener("click", () => go("/console"));
$("btn-schedule").addEventListener("click", () => go("/console/schedule"));

export async function cancelMeeting(button, m) {
  if (!(await confirmBox(t("confirm_cancel", { title: m.title })))) return;
  // One occurrence of a series: the later ones too, if the operator says so.
  const whole_series = !!m.series_id && (await confirmBox(t("confirm_cancel_series")));
  const done = await act(button, () => api("POST", `/api/v1/meetings/${encodeURIComponent(m.id)}/cancel`, { whole_series }));
  if (!done) return;
  const n = (done.meetings || []).length;
  toast(n > 1 ? t("cancelled_many", { n, title: m.title }) : t("cancelled_done", { title: m.title }), "ok");
  for (const c of done.meetings || []) {
    const i = S.meetingsCache.findIndex((x) => x.id === c.id);
    if (i >= 0) S.meetingsCache[i] = c;
  }
  drawMeetings();
}
