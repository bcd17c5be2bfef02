// @ts-check
// The agenda tab: items, their order, presenters, times.
import { ApiError } from "../lib/api.js";
import { $, confirmBox, el } from "../lib/dom.js";
import { act, api, chars, clearFormError, errorText, formError, formRefusal, t, toast } from "./core.js";
import { fillItemSelect } from "./documents.js";
import { showLogin } from "./main.js";
import { base, cur } from "./meetings.js";

// ------------------------------------------------------------ agenda
export async function loadAgenda() {
  const mine = cur;
  const a = await act(null, () => api("GET", `${base()}/agenda`));
  if (!a || mine !== cur) return;
  mine.agenda = a;
  drawAgenda();
}

let dragId = null;
export function drawAgenda() {
  if (!cur) return;
  const list = $("agenda-list");
  list.replaceChildren();
  const items = cur.agenda.items || [];
  $("agenda-empty").hidden = items.length > 0;
  const currentId = cur.agenda.current ? cur.agenda.current.item_id : null;
  const live = cur.meeting && (cur.meeting.state === "open" || cur.meeting.state === "live");
  items.forEach((it, i) => {
    const isCurrent = it.id === currentId;
    const li = el(
      "li",
      { class: "ag-item", draggable: "true", dataset: { item: it.id, current: String(isCurrent) } },
      el("span", { class: "ag-handle", "aria-hidden": "true", text: "⋮⋮" }),
      el("span", { class: "ag-pos", text: `${i + 1}.` }),
      el(
        "div",
        { class: "ag-body" },
        el("div", { class: "ag-title", text: it.title }),
        el(
          "div",
          { class: "ag-meta" },
          `${it.presenter || t("ag_no_presenter")} · ${t("ag_minutes_short", { n: it.planned_minutes })} `,
          isCurrent ? el("span", { class: "tb-current", text: t("ag_current") }) : null
        )
      ),
      el(
        "div",
        { class: "ag-actions" },
        el("button", { class: "btn btn-small", type: "button", title: t("ag_up"), "aria-label": t("ag_up"), disabled: i === 0, text: "↑", onclick: (e) => moveItem(e.currentTarget, it.id, -1) }),
        el("button", { class: "btn btn-small", type: "button", title: t("ag_down"), "aria-label": t("ag_down"), disabled: i === items.length - 1, text: "↓", onclick: (e) => moveItem(e.currentTarget, it.id, 1) }),
        live && !isCurrent ? el("button", { class: "btn btn-small", type: "button", "data-action": "current", text: t("ag_take_up"), onclick: (e) => takeUp(e.currentTarget, it) }) : null,
        el("button", { class: "btn btn-small", type: "button", "data-action": "edit", text: t("edit"), onclick: () => editItem(it) }),
        el("button", { class: "btn btn-small btn-danger", type: "button", "data-action": "delete", text: t("delete"), onclick: (e) => deleteItem(e.currentTarget, it) })
      )
    );
    li.addEventListener("dragstart", (ev) => {
      dragId = it.id;
      li.classList.add("dragging");
      if (ev.dataTransfer) {
        ev.dataTransfer.effectAllowed = "move";
        try {
          ev.dataTransfer.setData("text/plain", it.id);
        } catch (_) {
          /* some browsers refuse data on synthetic events */
        }
      }
    });
    li.addEventListener("dragend", () => {
      dragId = null;
      for (const x of list.children) x.classList.remove("dragging", "drop-before", "drop-after");
    });
    li.addEventListener("dragover", (ev) => {
      if (!dragId || dragId === it.id) return;
      ev.preventDefault();
      if (ev.dataTransfer) ev.dataTransfer.dropEffect = "move";
      const after = dropAfter(li, ev);
      li.classList.toggle("drop-after", after);
      li.classList.toggle("drop-before", !after);
    });
    li.addEventListener("dragleave", () => li.classList.remove("drop-before", "drop-after"));
    li.addEventListener("drop", (ev) => {
      ev.preventDefault();
      const moving = dragId || (ev.dataTransfer && ev.dataTransfer.getData("text/plain"));
      const after = dropAfter(li, ev);
      li.classList.remove("drop-before", "drop-after");
      dragId = null;
      if (!moving || moving === it.id) return;
      const order = items.map((x) => x.id).filter((x) => x !== moving);
      let at = order.indexOf(it.id);
      if (after) at += 1;
      order.splice(at, 0, moving);
      reorder(order);
    });
    list.append(li);
  });
  fillItemSelect();
}

// Whether a drop lands after `li` (pointer in its lower half).
function dropAfter(li, ev) {
  const r = li.getBoundingClientRect();
  return typeof ev.clientY === "number" && ev.clientY > r.top + r.height / 2;
}

async function reorder(order) {
  if (!cur) return;
  const mine = cur;
  const before = mine.agenda.items;
  // Shown at once; the server's answer (or a reload on refusal) follows.
  const byId = new Map(before.map((x) => [x.id, x]));
  mine.agenda.items = order.map((id) => byId.get(id)).filter(Boolean);
  drawAgenda();
  try {
    const a = await api("POST", `${base()}/agenda/order`, { order });
    if (mine !== cur) return;
    mine.agenda = a;
    drawAgenda();
    toast(t("ag_reordered"), "ok");
  } catch (e) {
    toast(errorText(e), "error");
    if (e instanceof ApiError && e.status === 401) return showLogin();
    loadAgenda();
  }
}

function moveItem(button, id, by) {
  const order = cur.agenda.items.map((x) => x.id);
  const i = order.indexOf(id);
  const j = i + by;
  if (i < 0 || j < 0 || j >= order.length) return;
  [order[i], order[j]] = [order[j], order[i]];
  reorder(order);
}

async function takeUp(button, it) {
  const a = await act(button, () => api("POST", `${base()}/agenda/current`, { item_id: it.id }));
  if (a && cur) {
    cur.agenda = a;
    drawAgenda();
  }
}

function editItem(it) {
  cur.editing = it.id;
  const pos = cur.agenda.items.findIndex((x) => x.id === it.id) + 1;
  $("agenda-form-title").textContent = t("agenda_edit", { pos });
  $("ag-title").value = it.title;
  $("ag-presenter").value = it.presenter;
  $("ag-minutes").value = String(it.planned_minutes);
  $("ag-submit").textContent = t("save");
  $("ag-cancel").hidden = false;
  clearFormError("agenda-error", "agenda-form");
  $("ag-title").focus();
}

function resetAgendaForm() {
  if (cur) cur.editing = null;
  $("agenda-form-title").textContent = t("agenda_add");
  $("ag-title").value = "";
  $("ag-presenter").value = "";
  $("ag-minutes").value = "15";
  $("ag-submit").textContent = t("add");
  $("ag-cancel").hidden = true;
  clearFormError("agenda-error", "agenda-form");
}
$("ag-cancel").addEventListener("click", resetAgendaForm);

async function deleteItem(button, it) {
  if (!(await confirmBox(t("confirm_delete_item", { title: it.title })))) return;
  const ok = await act(button, () => api("DELETE", `${base()}/agenda/${encodeURIComponent(it.id)}`));
  if (ok === undefined) return;
  toast(t("ag_deleted", { title: it.title }), "ok");
  if (cur && cur.editing === it.id) resetAgendaForm();
  loadAgenda();
}

$("agenda-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!cur) return;
  clearFormError("agenda-error", "agenda-form");
  const title = $("ag-title").value.trim();
  const presenter = $("ag-presenter").value.trim();
  const minutesText = $("ag-minutes").value.trim();
  const minutes = Number(minutesText);
  if (!title || chars(title) > 500) return formError("agenda-error", t("ag_need_title"), $("ag-title"));
  if (chars(presenter) > 200) return formError("agenda-error", t("ag_bad_presenter"), $("ag-presenter"));
  if (!/^\d+$/.test(minutesText) || minutes < 1 || minutes > 600) return formError("agenda-error", t("ag_bad_minutes"), $("ag-minutes"));
  const body = { title, presenter, planned_minutes: minutes };
  const editing = cur.editing;
  $("ag-submit").disabled = true;
  try {
    if (editing) await api("PATCH", `${base()}/agenda/${encodeURIComponent(editing)}`, body);
    else await api("POST", `${base()}/agenda`, body);
    toast(t(editing ? "ag_saved" : "ag_added", { title }), "ok");
    resetAgendaForm();
    // Not awaited: the item is saved, so the form is free for the next
    // one while the list refreshes (the event stream may already have).
    loadAgenda();
  } catch (e) {
    formRefusal("agenda-error", e, { title: "ag-title", presenter: "ag-presenter", planned_minutes: "ag-minutes" });
  } finally {
    $("ag-submit").disabled = false;
  }
});
