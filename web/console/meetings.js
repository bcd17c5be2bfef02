// @ts-check
// The meetings of today and later: list, open, start, end.
import { $, confirmBox, el } from "../lib/dom.js";
import { startOfVnToday, vnTime } from "../lib/time.js";
import { mountReport } from "./readiness.js";
import { S } from "./state.js";
import { act, api, t, toast } from "./core.js";
import { go, showOnly } from "./main.js";
import { cancelMeeting } from "./scheduler.js";
import { may, tk } from "./util.js";

// ------------------------------------------------------------ meetings
const STATES = ["scheduled", "open", "live", "ended", "cancelled"];
function stateBadge(state) {
  return el("span", { class: `badge badge-${state}`, text: t(`state_${state}`) });
}

export async function showMeetings() {
  showOnly("view-meetings");
  $("crumbs").textContent = t("meetings_title");
  $("btn-schedule").hidden = !may("meetings_write");
  mountReport($("unit-report"), { may, lang: () => S.lang });
  const list = await act(null, () => api("GET", `/api/v1/meetings?from_ms=${startOfVnToday()}&limit=200`));
  if (!list) return;
  S.meetingsCache = list.meetings || [];
  drawMeetings();
}

export function drawMeetings() {
  const body = $("meetings-body");
  body.replaceChildren();
  $("meetings-empty").hidden = S.meetingsCache.length > 0;
  for (const m of S.meetingsCache) {
    const actions = el("div", { class: "actions" });
    const lifecycle = (verb, label, cls) =>
      el("button", {
        class: `btn btn-small ${cls || ""}`,
        type: "button",
        dataset: { action: verb, meeting: m.id },
        text: t(label),
        onclick: (ev) => lifecycleAction(ev.currentTarget, m, verb),
      });
    const runs = may("meeting_lifecycle");
    if (runs && m.state === "scheduled") actions.append(lifecycle("open", "act_open"));
    if (runs && m.state === "open") actions.append(lifecycle("start", "act_start", "btn-primary"));
    if (runs && m.state === "live") actions.append(lifecycle("end", "act_end", "btn-danger"));
    if (may("meetings_write") && (m.state === "scheduled" || m.state === "open")) {
      actions.append(
        el("a", {
          class: "btn btn-small",
          href: `/console/schedule/${encodeURIComponent(m.id)}`,
          dataset: { action: "edit", meeting: m.id },
          text: t("act_edit"),
          onclick: (ev) => {
            ev.preventDefault();
            go(`/console/schedule/${encodeURIComponent(m.id)}`);
          },
        }),
        el("button", {
          class: "btn btn-small btn-danger",
          type: "button",
          dataset: { action: "cancel", meeting: m.id },
          text: t("act_cancel"),
          onclick: (ev) => cancelMeeting(ev.currentTarget, m),
        })
      );
    }
    if (may("readiness_read") && m.state !== "ended" && m.state !== "cancelled")
      actions.append(
        el("a", {
          class: "btn btn-small",
          href: `/console/meetings/${encodeURIComponent(m.id)}/readiness`,
          dataset: { action: "readiness", meeting: m.id },
          text: t("act_readiness"),
          onclick: (ev) => {
            ev.preventDefault();
            go(`/console/meetings/${encodeURIComponent(m.id)}/readiness`);
          },
        })
      );
    if (m.state === "open" || m.state === "live")
      actions.append(
        el("a", {
          class: "btn btn-small btn-primary",
          href: `/console/meetings/${encodeURIComponent(m.id)}`,
          dataset: { action: "wall", meeting: m.id },
          text: t("act_wall"),
          onclick: (ev) => {
            ev.preventDefault();
            go(`/console/meetings/${encodeURIComponent(m.id)}`);
          },
        })
      );
    body.append(
      el(
        "tr",
        { dataset: { meeting: m.id, state: m.state } },
        el("td", { class: "time", text: `${vnTime(m.starts_at_ms)} – ${vnTime(m.ends_at_ms).slice(0, 5)}` }),
        el("td", {}, el("div", { class: "m-title", text: m.title }), el("div", { class: "m-kind", text: m.series_id ? `${tk("kinds", m.kind)} · ${t("occurrence", { n: m.occurrence })}` : tk("kinds", m.kind) }), el("span", { class: `policy-tag policy-${m.access_policy}`, dataset: { policy: m.access_policy }, text: tk("policies", m.access_policy) }), m.sip_dial_in ? el("div", { class: "m-kind sip-dial-in", text: t("sip_dial_in", { n: m.sip_dial_in }) }) : null),
        el("td", {}, stateBadge(m.state)),
        el("td", {}, actions)
      )
    );
  }
}

async function lifecycleAction(button, m, verb) {
  if (verb === "end" && !(await confirmBox(t("confirm_end", { title: m.title })))) return;
  const done = await act(button, () => api("POST", `/api/v1/meetings/${encodeURIComponent(m.id)}/${verb}`, {}));
  if (!done) return;
  toast(`${m.title}: ${t(`state_${done.state}`)}`, "ok");
  const i = S.meetingsCache.findIndex((x) => x.id === m.id);
  if (i >= 0) S.meetingsCache[i] = done;
  drawMeetings();
}

$("btn-refresh").addEventListener("click", () => showMeetings());
