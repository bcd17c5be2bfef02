// @ts-check
// The scheduler's room picker: the org tree with each unit's rooms, ticked
// one by one (endpoint_ids), and unit queries (every room of some kinds
// under a unit, resolved by the server at the meeting's date).
export function drawSchedTree() {
  const s = S.sched;
  const hub = $("sch-hub").value;
  const tree = $("sch-tree");
  const epLine = (e) =>
    el(
      "li",
      { class: "ep-line", dataset: { hub: String(e.id === hub) } },
      el(
        "label",
        { class: "check" },
        el("input", {
          type: "checkbox",
          dataset: { endpoint: e.id },
          checked: e.id === hub || s.selected.has(e.id),
          disabled: e.id === hub,
        }),
        el("span", { class: "ep-name", text: e.name })
      ),
      el("span", {
        class: "ep-meta",
        text: [tk("links", e.link), e.room, e.id === hub ? t("sch_is_hub") : "", e.revoked_at_ms ? t("sch_revoked") : ""].filter(Boolean).join(" · "),
      })
    );
  const unitNode = (u) => {
    const kids = s.shape.children.get(u.id) || [];
    const eps = s.shape.epsByUnit.get(u.id) || [];
    const inner = el("ul", {}, ...eps.map(epLine), ...kids.map(unitNode));
    return el(
      "li",
      { dataset: { unitNode: u.id } },
      el(
        "div",
        { class: "unit-line" },
        el(
          "label",
          { class: "check" },
          el("input", { type: "checkbox", dataset: { unit: u.id }, "aria-label": u.name }),
          el("span", { class: "unit-name", text: u.name })
        ),
        el("span", { class: "kind-tag", text: tk("org_kinds", u.kind) })
      ),
      inner
    );
  };
  const nodes = s.shape.roots.map(unitNode);
  const loose = s.shape.epsByUnit.get("") || [];
  if (loose.length)
    nodes.push(el("li", {}, el("div", { class: "unit-line" }, el("span", { class: "unit-name", text: t("sch_unbound") })), el("ul", {}, ...loose.map(epLine))));
  tree.replaceChildren(...nodes);
  if (!nodes.length) tree.append(el("li", { class: "muted-text", text: t("sch_no_units") }));
  syncTreeChecks();
  applySchedFilter();
}
import { $, el } from "../lib/dom.js";
import { S } from "./state.js";
import { t } from "./core.js";
import { fold } from "./registry.js";
import { subtreeIds, tk } from "./util.js";

// Narrow the tree to what matches (accents and case aside); ticks stay.
function applySchedFilter() {
  const q = fold($("sch-tree-filter").value.trim());
  const tree = $("sch-tree");
  for (const li of tree.querySelectorAll("li.ep-line")) li.hidden = !!q && !fold(li.textContent).includes(q);
  for (const li of [...tree.querySelectorAll("li[data-unit-node]")].reverse()) {
    const line = li.querySelector(":scope > .unit-line");
    if (!q || fold(line.textContent).includes(q)) {
      for (const x of li.querySelectorAll("li")) x.hidden = false;
      li.hidden = false;
      continue;
    }
    li.hidden = !li.querySelector(":scope > ul > li:not([hidden])");
  }
}
$("sch-tree-filter").addEventListener("input", applySchedFilter);

// Unit boxes: ticked when every room below is, half when some are.
export function syncTreeChecks() {
  const s = S.sched;
  if (!s || !s.shape) return;
  const hub = $("sch-hub").value;
  for (const box of $("sch-tree").querySelectorAll("input[data-unit]")) {
    const ids = endpointsUnder(box.dataset.unit).filter((e) => e !== hub);
    const on = ids.filter((e) => s.selected.has(e)).length;
    box.disabled = ids.length === 0;
    box.checked = ids.length > 0 && on === ids.length;
    box.indeterminate = on > 0 && on < ids.length;
  }
  for (const box of $("sch-tree").querySelectorAll("input[data-endpoint]")) {
    if (box.dataset.endpoint !== hub) box.checked = s.selected.has(box.dataset.endpoint);
  }
  const n = [...s.selected].filter((e) => e !== hub).length + (hub ? 1 : 0);
  $("sch-count").textContent = t("sch_count", { n });
}

export function endpointsUnder(unitId) {
  const s = S.sched;
  const out = [];
  for (const u of subtreeIds(s.shape, unitId)) for (const e of s.shape.epsByUnit.get(u) || []) out.push(e.id);
  return out;
}


function queryText(q) {
  const s = S.sched;
  const unit = s.org.units.find((u) => u.id === q.unit_id);
  const name = unit ? unit.name : q.unit_id;
  const kinds = q.kinds.length ? q.kinds.map((k) => tk("org_kinds_plural", k)).join(", ") : t("sch_q_all_kinds");
  return t(q.include_self ? "sch_q_text_self" : "sch_q_text", { unit: name, kinds });
}
// What the query reaches on the tree shown (the server resolves it again
// at the meeting's date).
function queryPreview(q) {
  const s = S.sched;
  const ids = subtreeIds(s.shape, q.unit_id).filter((id) => {
    if (id === q.unit_id) return q.include_self;
    const u = s.org.units.find((x) => x.id === id);
    return u && (!q.kinds.length || q.kinds.includes(u.kind));
  });
  const eps = ids.reduce((n, id) => n + (s.shape.epsByUnit.get(id) || []).length, 0);
  return t("sch_q_preview", { units: ids.length, eps });
}
export function drawQueries() {
  const s = S.sched;
  const list = $("sch-queries");
  list.replaceChildren(
    ...s.queries.map((q, i) =>
      el(
        "li",
        { dataset: { unit: q.unit_id } },
        el("span", { class: "q-text" }, queryText(q), el("br"), el("span", { class: "muted-text", text: queryPreview(q) })),
        el("button", {
          class: "btn btn-small",
          type: "button",
          text: t("sch_q_remove"),
          onclick: () => {
            s.queries.splice(i, 1);
            drawQueries();
          },
        })
      )
    )
  );
  if (!s.queries.length) list.append(el("li", { class: "muted-text", text: t("sch_q_empty") }));
}
$("sch-q-add").addEventListener("click", () => {
  const s = S.sched;
  if (!s || !s.org) return;
  const box = $("sch-queries-error");
  box.hidden = true;
  $("sch-q-unit").removeAttribute("aria-invalid");
  const unit_id = $("sch-q-unit").value;
  if (!unit_id) {
    box.textContent = t("sch_q_need_unit");
    box.hidden = false;
    $("sch-q-unit").setAttribute("aria-invalid", "true");
    $("sch-q-unit").focus();
    return;
  }
  const kinds = [...$("sch-q-kinds").querySelectorAll("input:checked")].map((i) => i.value);
  s.queries.push({ unit_id, kinds, include_self: $("sch-q-self").checked });
  $("sch-participants-error").hidden = true;
  drawQueries();
});

