// @ts-check
// The console's Cơ quan view: bodies (Ban Chấp hành, Ban Thường vụ of a
// term) and their members over dated spans — added one by one, ended on a
// date, or imported from CSV. A closed meeting that names its body takes the
// members the body has on the meeting's date.
//
// Mounted by console.js, which lends its api(), act() (errors as toasts),
// toast(), may() and the current language.
import { dictionary } from "../lib/i18n.js";
import { el } from "../lib/dom.js";

const DICT = dictionary("bodies");

export function mount(root, ctx) {
  const t = (k, vars) => {
    const d = DICT[ctx.lang()] || DICT.vi;
    let s = k.includes(".") ? k.split(".").reduce((o, p) => (o ? o[p] : undefined), d) : d[k];
    if (s === undefined) s = k;
    for (const [n, v] of Object.entries(vars || {})) s = s.replace(`{${n}}`, v);
    return s;
  };
  const write = ctx.may("org_write");
  let bodies = [];
  let users = [];
  let current = null;

  async function load() {
    const [b, u] = await Promise.all([
      ctx.act(null, () => ctx.api("GET", "/api/v1/bodies")),
      ctx.may("users_read") ? ctx.act(null, () => ctx.api("GET", "/api/v1/users")) : Promise.resolve({ users: [] }),
    ]);
    bodies = (b && b.bodies) || [];
    users = ((u && u.users) || []).filter((x) => !x.disabled);
    if (current) await openBody(current.id);
    draw();
  }

  async function openBody(id) {
    const b = await ctx.act(null, () => ctx.api("GET", `/api/v1/bodies/${encodeURIComponent(id)}`));
    current = b || null;
    draw();
  }

  const userName = (id) => {
    const u = users.find((x) => x.id === id);
    return u ? `${u.display_name} (${u.login})` : id;
  };

  function newBodyForm() {
    const name = el("input", { id: "body-name", required: true, maxlength: 200 });
    const term = el("input", { id: "body-term", required: true, maxlength: 200, placeholder: "khóa XV, nhiệm kỳ 2025–2030" });
    const kind = el("select", { id: "body-kind" }, ...["btv", "bch", "other"].map((k) => el("option", { value: k, text: t(`kinds.${k}`) })));
    const form = el(
      "form",
      { class: "row-form", id: "body-form" },
      el("h3", { text: t("new_title") }),
      el("label", { text: t("name") }, name),
      el("label", { text: t("kind") }, kind),
      el("label", { text: t("term") }, term),
      el("button", { class: "btn btn-primary", type: "submit", text: t("create") })
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const made = await ctx.act(form.querySelector("button"), () =>
        ctx.api("POST", "/api/v1/bodies", { name: name.value, kind: kind.value, term: term.value })
      );
      if (!made) return;
      ctx.toast(t("created", { name: made.name }), "ok");
      current = { id: made.id };
      await load();
    });
    return form;
  }

  function membersCard() {
    if (!current || !current.id || !current.name) return el("p", { class: "muted-text", text: t("pick") });
    const rows = (current.members || []).map((m) =>
      el(
        "tr",
        { dataset: { member: m.id } },
        el("td", { text: userName(m.user_id) }),
        el("td", { text: m.position }),
        el("td", { text: m.voting ? t("yes") : t("no") }),
        el("td", { text: m.valid_from }),
        el("td", { text: m.valid_to || t("still") }),
        el(
          "td",
          {},
          write && !m.valid_to
            ? el("button", {
                class: "btn btn-small",
                type: "button",
                "data-action": "end",
                text: t("end"),
                onclick: async (e) => {
                  const on = window.prompt(t("end_on"), new Date().toISOString().slice(0, 10));
                  if (!on) return;
                  const b = await ctx.act(e.currentTarget, () =>
                    ctx.api("POST", `/api/v1/bodies/${encodeURIComponent(current.id)}/members/${encodeURIComponent(m.id)}/end`, { valid_to: on })
                  );
                  if (b) {
                    current = b;
                    draw();
                  }
                },
              })
            : null
        )
      )
    );
    const table = el(
      "table",
      { class: "table", id: "body-members" },
      el("thead", {}, el("tr", {}, ...["person", "position", "voting", "from", "to"].map((k) => el("th", { text: t(k) })), el("th"))),
      el("tbody", {}, ...rows)
    );
    const card = el("div", {}, el("h3", { text: `${t("members")} — ${current.name} (${current.term})` }), rows.length ? table : el("p", { class: "muted-text", text: t("members_empty") }));
    if (!write) return card;
    const who = el("select", { id: "bm-user" }, ...users.map((u) => el("option", { value: u.id, text: `${u.display_name} (${u.login})` })));
    const pos = el("input", { id: "bm-position", value: "Ủy viên", maxlength: 200 });
    const voting = el("input", { id: "bm-voting", type: "checkbox", checked: true });
    const from = el("input", { id: "bm-from", type: "date", value: new Date().toISOString().slice(0, 10) });
    const add = el(
      "form",
      { class: "row-form", id: "bm-form" },
      el("label", { text: t("person") }, who),
      el("label", { text: t("position") }, pos),
      el("label", { class: "check" }, voting, " ", t("voting")),
      el("label", { text: t("from") }, from),
      el("button", { class: "btn btn-primary", type: "submit", text: t("add") })
    );
    add.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await ctx.act(add.querySelector("button"), () =>
        ctx.api("POST", `/api/v1/bodies/${encodeURIComponent(current.id)}/members`, {
          members: [{ user_id: who.value, position: pos.value, voting: voting.checked, valid_from: from.value }],
        })
      );
      if (r) {
        ctx.toast(t("added", { n: r.members.length }), "ok");
        await openBody(current.id);
      }
    });
    const file = el("input", { id: "bm-csv", type: "file", accept: ".csv,text/csv" });
    file.addEventListener("change", async () => {
      const f = file.files && file.files[0];
      if (!f) return;
      const text = await f.text();
      const r = await ctx.act(null, () => ctx.api("POST", `/api/v1/bodies/${encodeURIComponent(current.id)}/import`, text, "text/csv"));
      file.value = "";
      if (r) {
        ctx.toast(t("added", { n: r.members.length }), "ok");
        await openBody(current.id);
      }
    });
    card.append(add, el("label", { class: "import" }, el("span", { text: `${t("import")}: ` }), file), el("p", { class: "hint", text: t("import_hint") }));
    return card;
  }

  function draw() {
    const list = el(
      "ul",
      { class: "bodies", id: "bodies-list" },
      ...bodies.map((b) =>
        el(
          "li",
          { dataset: { body: b.id }, class: current && current.id === b.id ? "selected" : "" },
          el("button", { class: "btn btn-link", type: "button", text: `${b.name} — ${b.term}`, onclick: () => openBody(b.id) }),
          el("span", { class: `badge badge-${b.kind}`, text: t(`kinds.${b.kind}`) })
        )
      )
    );
    if (!bodies.length) list.append(el("li", { class: "muted-text", text: t("empty") }));
    root.replaceChildren(
      el("h2", { text: t("title") }),
      el("p", { class: "hint", text: t("intro") }),
      el("div", { class: "bodies-grid" }, el("section", { class: "card" }, list, write ? newBodyForm() : null), el("section", { class: "card" }, membersCard()))
    );
  }

  load();
  return { redraw: draw };
}

export { mount as mountBodies };
