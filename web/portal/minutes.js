// @ts-check
// The minutes tab: drafting, versions, finalising, signatures.
import { ApiError } from "../lib/api.js";
import { $, confirmBox, el } from "../lib/dom.js";
import { vnTime } from "../lib/time.js";
import { S } from "./state.js";
import { act, api, chars, clearFormError, errorText, formError, formRefusal, t, toast } from "./core.js";
import { showLogin } from "./main.js";
import { base, cur } from "./meetings.js";
import { bars } from "./votes.js";

// ------------------------------------------------------------ minutes
export async function loadMinutes() {
  if (!cur) return;
  const mine = cur;
  try {
    const [v, versions, signatures] = await Promise.all([
      api("GET", `${base()}/minutes`),
      api("GET", `${base()}/minutes/versions`),
      api("GET", `${base()}/minutes/signatures`),
    ]);
    if (mine !== cur) return;
    // Text being typed is not overwritten by a refresh.
    const typing = mine.minutes && mine.minutesDirty;
    mine.minutes = v;
    mine.versions = versions.versions || [];
    mine.signatures = signatures;
    drawMinutes(!typing);
  } catch (e) {
    toast(errorText(e), "error");
    if (e instanceof ApiError && e.status === 401) showLogin();
  }
}

export function drawMinutes(fill) {
  if (!cur || !cur.minutes) return;
  const v = cur.minutes;
  const m = v.minutes;
  const status = $("mi-status");
  status.className = `badge badge-${v.status}`;
  status.dataset.status = v.status;
  status.textContent = v.status === "generated" ? t("mi_generated") : t(v.status === "final" ? "mi_final" : "mi_draft", { n: v.version });
  const h = m.header;
  const head = $("mi-header");
  head.replaceChildren(
    el("div", { text: t("mi_header", { kind: h.kind_label, date: h.local_date, start: h.local_start, end: h.local_end, chair: h.chair || t("nobody"), secretary: h.secretary || t("nobody") }) })
  );
  if (m.attendance) head.append(el("div", { text: t("mi_attendance", { text: attendanceText(m.attendance) }) }));
  if (v.status === "final") head.append(el("div", { class: "form-error", text: t("mi_final_hint") }));
  const items = $("mi-items");
  const typed = new Map([...items.querySelectorAll("textarea")].map((x) => [x.dataset.item, x.value]));
  items.replaceChildren(
    ...m.agenda.map((it) => {
      const area = el("textarea", { rows: "2", dataset: { item: it.item_id }, placeholder: t("mi_no_item_summary"), oninput: () => (cur.minutesDirty = true) });
      area.value = fill ? it.summary || "" : typed.get(it.item_id) ?? it.summary ?? "";
      const periods = it.periods.map((p) => `${p.local_start}–${p.local_end || "…"}`).join(", ");
      return el("div", { class: "mi-item" }, el("div", { class: "mi-item-title", text: `${it.position}. ${it.title}${it.presenter ? ` — ${it.presenter}` : ""}${periods ? ` (${periods})` : ""}` }), area);
    })
  );
  const motions = $("mi-motions");
  motions.replaceChildren();
  if (m.motions.length > 0) {
    motions.append(el("h3", { text: t("mi_motions") }));
    for (const mo of m.motions)
      motions.append(
        el("div", { class: "mi-item" }, el("div", { class: "mi-item-title", text: `${mo.position}. ${mo.title}` }), bars({ total_votes: mo.total_votes, options: mo.options.map((o, i) => ({ index: i, label: o.label, votes: o.votes })) }))
      );
  }
  if (fill) {
    $("mi-notes").value = m.notes || "";
    $("mi-conclusions").value = m.conclusions || "";
    cur.minutesDirty = false;
  }
  $("mi-finalise").disabled = v.status !== "draft";
  drawSignatures();
  $("mi-pdf").href = `${base()}/minutes?format=pdf`;
  $("mi-json").href = `${base()}/minutes?format=json`;
  const list = $("mi-versions");
  list.replaceChildren();
  $("mi-versions-empty").hidden = cur.versions.length > 0;
  for (const x of [...cur.versions].reverse()) {
    const vb = `${base()}/minutes/versions/${x.version}`;
    list.append(
      el(
        "li",
        { dataset: { version: String(x.version), status: x.status } },
        t("mi_version_line", { n: x.version, status: t(`status_${x.status}`), by: S.me && x.saved_by === S.me.id ? S.me.display_name || S.me.login : x.saved_by, at: vnTime(x.saved_at_ms) }),
        " ",
        el("a", { href: `${vb}?format=pdf`, target: "_blank", rel: "noopener", text: "PDF" }),
        " ",
        el("a", { href: `${vb}?format=json`, target: "_blank", rel: "noopener", text: "JSON" })
      )
    );
  }
}

/** Who has signed the final minutes and who is still to sign. */
function drawSignatures() {
  const list = $("mi-signatures");
  list.replaceChildren();
  const s = cur && cur.signatures;
  const none = !s || s.version === null || s.version === undefined;
  $("mi-signatures-empty").hidden = !none;
  if (none) return;
  for (const x of s.signed || [])
    list.append(el("li", { dataset: { role: x.role, state: "signed" } }, t("mi_signed_line", { role: t(`role_sig_${x.role}`), signer: x.signer, at: x.signed_at_ms ? vnTime(x.signed_at_ms) : "" })));
  for (const x of s.pending || [])
    list.append(el("li", { class: "sig-pending", dataset: { role: x.role, state: "pending" } }, t("mi_pending_line", { role: t(`role_sig_${x.role}`), name: x.name ? ` (${x.name})` : "" })));
  if (s.sealed) list.append(el("li", { dataset: { state: "sealed" } }, t("mi_sealed")));
}

function attendanceText(a) {
  if (typeof a !== "object" || a === null) return "";
  return t("mi_attendance_line", { sites: a.connected_sites, expected: a.expected_sites, people: a.people_present, at: vnTime(a.taken_at_ms) });
}

for (const id of ["mi-notes", "mi-conclusions"]) $(id).addEventListener("input", () => cur && (cur.minutesDirty = true));

$("minutes-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!cur) return;
  clearFormError("minutes-error", "minutes-form");
  const conclusions = $("mi-conclusions").value.trim();
  const notes = $("mi-notes").value.trim();
  if (!conclusions || chars(conclusions) > 50000) return formError("minutes-error", t("mi_need_conclusions"), $("mi-conclusions"));
  if (chars(notes) > 50000) return formError("minutes-error", t("mi_too_long"), $("mi-notes"));
  const item_summaries = {};
  for (const area of $("mi-items").querySelectorAll("textarea")) {
    const text = area.value.trim();
    if (chars(text) > 50000) return formError("minutes-error", t("mi_too_long"), area);
    if (text) item_summaries[area.dataset.item] = text;
  }
  const mine = cur;
  $("mi-save").disabled = true;
  try {
    const v = await api("PUT", `${base()}/minutes`, { conclusions, notes, item_summaries });
    if (mine !== cur) return;
    mine.minutes = v;
    mine.minutesDirty = false;
    toast(t("mi_saved", { n: v.version }), "ok");
    const versions = await api("GET", `${base()}/minutes/versions`);
    if (mine !== cur) return;
    mine.versions = versions.versions || [];
    drawMinutes(true);
  } catch (e) {
    formRefusal("minutes-error", e, { conclusions: "mi-conclusions", notes: "mi-notes" });
  } finally {
    $("mi-save").disabled = false;
    if (cur && cur.minutes) $("mi-finalise").disabled = cur.minutes.status !== "draft";
  }
});

$("mi-finalise").addEventListener("click", async () => {
  if (!cur || !cur.minutes) return;
  if (!(await confirmBox(t("confirm_finalise", { n: cur.minutes.version })))) return;
  const v = await act($("mi-finalise"), () => api("POST", `${base()}/minutes/finalise`));
  if (!v || !cur) return;
  toast(t("mi_finalised", { n: v.version }), "ok");
  loadMinutes();
});
