// @ts-check
// Votes: the delegate's ballot on an open motion.
import { ApiError } from "../lib/api.js";
import { $, confirmBox, el } from "../lib/dom.js";
import { api, errorText, t, toast } from "./core.js";
import { reload } from "./events.js";
import { showLogin } from "./main.js";
import { base, cur } from "./meetings.js";

// ------------------------------------------------------------ votes
export function drawMotions() {
  if (!cur) return;
  const box = $("motions");
  box.replaceChildren();
  const list = cur.motions.filter((m) => m.state !== "draft");
  $("motions-empty").hidden = list.length > 0;
  for (const m of list) {
    const voted = m.you_voted === true;
    const card = el(
      "article",
      { class: `motion${voted ? " motion-voted" : ""}`, dataset: { motion: m.id, state: m.state } },
      el("div", { class: "motion-title", text: m.title }),
      el("div", { class: "motion-sub", text: `${t(`mo_state_${m.state}`)} · ${t(m.mode === "secret" ? "mode_secret" : "mode_open")}` }),
      m.description ? el("p", { text: m.description }) : null
    );
    if (voted) card.append(el("div", { class: "voted", role: "status", text: t("voted") }), el("div", { class: "hint", text: t("voted_hint") }));
    if (m.state === "open" && m.you_voted !== null && m.you_voted !== undefined) {
      card.append(
        el(
          "div",
          { class: "motion-options" },
          ...m.options.map((label, i) =>
            el("button", {
              class: `btn ${voted ? "" : "btn-primary"}`,
              type: "button",
              dataset: { option: String(i) },
              text: label,
              onclick: (ev) => castVote(m, i, ev.currentTarget),
            })
          )
        )
      );
    }
    const err = cur.motionErrors.get(m.id);
    if (err) card.append(el("div", { class: "motion-error", role: "alert", text: err }));
    if (m.results) card.append(drawResults(m.results));
    box.append(card);
  }
}

function drawResults(r) {
  const total = r.total_votes || 0;
  return el(
    "div",
    { class: "bars" },
    ...r.options.map((o) =>
      el(
        "div",
        { class: "bar-row", dataset: { option: String(o.index) } },
        el("span", { text: o.label }),
        el("div", { class: "bar" }, el("span", { style: `width: ${total ? Math.round((o.votes * 100) / total) : 0}%` })),
        el("span", { class: "bar-n", text: t("mo_votes", { n: o.votes }) })
      )
    ),
    el("div", { class: "hint", text: t("mo_total", { n: total }) })
  );
}

async function castVote(m, index, button) {
  const mine = cur;
  const ok = await confirmBox(t("vote_confirm", { option: m.options[index], title: m.title }));
  if (!ok || mine !== cur) return;
  button.disabled = true;
  try {
    await api("POST", `${base()}/motions/${encodeURIComponent(m.id)}/vote`, { option: index });
    mine.motionErrors.delete(m.id);
    m.you_voted = true;
    toast(t("vote_done", { title: m.title }), "ok");
  } catch (e) {
    mine.motionErrors.set(m.id, errorText(e));
    toast(errorText(e), "error");
    if (e instanceof ApiError && e.status === 401) showLogin();
  } finally {
    button.disabled = false;
  }
  if (mine === cur) {
    drawMotions();
    reload(mine, "motions");
  }
}
