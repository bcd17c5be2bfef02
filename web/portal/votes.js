// @ts-check
// The votes tab: motions, opening, closing, publishing results.
import { $, confirmBox, el } from "../lib/dom.js";
import { S } from "./state.js";
import { act, api, chars, clearFormError, errorText, formError, formRefusal, log, t, toast } from "./core.js";
import { base, cur } from "./meetings.js";
import { loadMinutes } from "./minutes.js";

// ------------------------------------------------------------ votes
export async function loadMotions() {
  const mine = cur;
  if (!mine) return;
  try {
    const l = await api("GET", `${base()}/motions`);
    if (mine !== cur) return;
    mine.motions = l.motions || [];
    drawMotions();
  } catch (e) {
    log("motions", errorText(e));
  }
}

export function upsertMotion(m) {
  if (!cur || m.meeting_id !== cur.id) return;
  const i = cur.motions.findIndex((x) => x.id === m.id);
  if (i < 0) cur.motions.push(m);
  else {
    // An event without counts keeps the counts already known until the
    // manager's own read replaces them.
    const old = cur.motions[i];
    cur.motions[i] = m.results || m.state === old.state ? { ...m, results: m.results || old.results } : m;
  }
  cur.motions.sort((a, b) => a.position - b.position);
  drawMotions();
}

export async function refreshMotion(id) {
  if (!cur) return;
  const mine = cur;
  try {
    const m = await api("GET", `${base()}/motions/${encodeURIComponent(id)}`);
    if (mine !== cur) return;
    const i = mine.motions.findIndex((x) => x.id === m.id);
    if (i < 0) mine.motions.push(m);
    else mine.motions[i] = m;
    drawMotions();
    if (m.state === "published" && mine.tab === "minutes") loadMinutes();
  } catch (e) {
    log("motion", errorText(e));
  }
}

export function bars(results) {
  const total = results.total_votes || 0;
  return el(
    "div",
    { class: "bars" },
    ...results.options.map((o) => {
      const pct = total > 0 ? Math.round((o.votes * 1000) / total) / 10 : 0;
      return el(
        "div",
        { class: "bar-row", dataset: { option: String(o.index), votes: String(o.votes) } },
        el("span", { class: "bar-label", text: o.label }),
        el("div", { class: "bar-track" }, el("div", { class: "bar-fill", style: `width:${pct}%` })),
        el("span", { class: "bar-num", text: `${o.votes} (${S.lang === "vi" ? String(pct).replace(".", ",") : pct}%)` })
      );
    }),
    el("div", { class: "mo-meta", text: t("mo_total", { n: total }) })
  );
}

/** May the logged-in person open, close and publish this meeting's votes? */
function runsVotes() {
  if (!S.me || !cur || !cur.meeting) return false;
  const roles = S.me.roles || [];
  return cur.meeting.chair_user_id === S.me.id || roles.some((r) => r === "admin" || r === "operator" || r === "sub_operator");
}

export function drawMotions() {
  if (!cur) return;
  const box = $("motions");
  box.replaceChildren();
  $("motions-empty").hidden = cur.motions.length > 0;
  for (const m of cur.motions) {
    // Opening, closing and publishing a vote is the chair's (or the
    // meeting's operators'); the secretariat prepares it and follows it.
    const step = runsVotes() ? { draft: ["open", "mo_open"], open: ["close", "mo_close"], closed: ["publish", "mo_publish"] }[m.state] : null;
    const card = el(
      "article",
      { class: "motion", dataset: { motion: m.id, state: m.state, ballots: String(m.ballots_cast) } },
      el(
        "div",
        { class: "mo-head" },
        el("span", { class: "mo-title", text: `${m.position}. ${m.title}` }),
        el("span", { class: `badge badge-${m.state}`, text: t(`mo_state_${m.state}`) }),
        step ? el("button", { class: `btn btn-small ${m.state === "closed" ? "btn-primary" : m.state === "open" ? "btn-danger" : "btn-primary"}`, type: "button", "data-action": step[0], text: t(step[1]), onclick: (e) => motionStep(e.currentTarget, m, step[0]) }) : null
      ),
      el("div", { class: "mo-meta", text: `${t(`mode_${m.mode}`)} · ${t(`el_${m.electorate}`)} · ${m.options.join(" / ")}` }),
      el("div", { class: "mo-ballots", text: t("mo_ballots", { n: m.ballots_cast }) }),
      !runsVotes() && m.state !== "published" ? el("div", { class: "mo-meta mo-chair-hint", text: t("mo_chair_runs") }) : null,
      m.results ? bars(m.results) : m.state !== "draft" ? el("div", { class: "mo-meta", text: t(m.mode === "secret" ? "mo_secret_hidden" : "mo_hidden") }) : null
    );
    box.append(card);
  }
}

async function motionStep(button, m, verb) {
  if (verb === "close" && !(await confirmBox(t("confirm_close_motion", { title: m.title })))) return;
  if (verb === "publish" && !(await confirmBox(t("confirm_publish_motion", { title: m.title })))) return;
  const r = await act(button, () => api("POST", `${base()}/motions/${encodeURIComponent(m.id)}/${verb}`));
  if (!r || !cur) return;
  const i = cur.motions.findIndex((x) => x.id === r.id);
  if (i >= 0) cur.motions[i] = r;
  drawMotions();
}

export function fillMotionSelects() {
  const mode = $("mo-mode");
  const keepMode = mode.value || "open";
  mode.replaceChildren(el("option", { value: "open", text: t("mode_open") }), el("option", { value: "secret", text: t("mode_secret") }));
  mode.value = keepMode;
  const elec = $("mo-electorate");
  const keepElec = elec.value || "delegates";
  elec.replaceChildren(el("option", { value: "delegates", text: t("el_delegates") }), el("option", { value: "rooms", text: t("el_rooms") }));
  elec.value = keepElec;
}

$("motion-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!cur) return;
  clearFormError("motion-error", "motion-form");
  const title = $("mo-title").value.trim();
  if (!title || chars(title) > 500) return formError("motion-error", t("mo_need_title"), $("mo-title"));
  const options = $("mo-options")
    .value.split("\n")
    .map((s) => s.trim())
    .filter(Boolean);
  if (options.length > 0 && (options.length < 2 || options.length > 20 || new Set(options).size !== options.length || options.some((o) => chars(o) > 200)))
    return formError("motion-error", t("mo_bad_options"), $("mo-options"));
  const body = { title, mode: $("mo-mode").value, electorate: $("mo-electorate").value };
  if (options.length > 0) body.options = options;
  $("mo-submit").disabled = true;
  try {
    const m = await api("POST", `${base()}/motions`, body);
    toast(t("mo_created", { title }), "ok");
    $("mo-title").value = "";
    $("mo-options").value = "";
    if (cur) upsertMotion(m);
  } catch (e) {
    formRefusal("motion-error", e, { title: "mo-title", options: "mo-options", mode: "mo-mode", electorate: "mo-electorate" });
  } finally {
    $("mo-submit").disabled = false;
  }
});
