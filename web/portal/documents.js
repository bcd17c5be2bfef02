// @ts-check
// The documents tab: upload, versions, classification, signatures.
import { $, confirmBox, el } from "../lib/dom.js";
import { signatureBadges } from "../lib/signatures.js";
import { vnTime } from "../lib/time.js";
import { S } from "./state.js";
import { act, api, chars, clearFormError, errorText, formError, formRefusal, log, mib, t, toast } from "./core.js";
import { parseError } from "../lib/api.js";
import { base, cur } from "./meetings.js";

// ------------------------------------------------------------ documents
const CLASSES = ["thuong", "mat", "toi_mat", "tuyet_mat"];

export async function loadDocs() {
  const mine = cur;
  const d = await act(null, () => api("GET", `${base()}/documents`));
  if (!d || mine !== cur) return;
  mine.docs = d.documents || [];
  drawDocs();
}

function itemLabel(id) {
  if (!cur || !id) return null;
  const i = cur.agenda.items.findIndex((x) => x.id === id);
  return i < 0 ? null : `${t("doc_item", { pos: i + 1 })}: ${cur.agenda.items[i].title}`;
}

export function drawDocs() {
  if (!cur) return;
  const body = $("docs-body");
  body.replaceChildren();
  // Each lineage together, newest version first.
  const docs = [...cur.docs].sort((a, b) =>
    a.lineage_id === b.lineage_id ? b.version - a.version : a.uploaded_at_ms - b.uploaded_at_ms || a.lineage_id.localeCompare(b.lineage_id)
  );
  const firstAt = new Map();
  for (const d of cur.docs) if (d.version === 1) firstAt.set(d.lineage_id, d.uploaded_at_ms);
  docs.sort((a, b) => (firstAt.get(a.lineage_id) || 0) - (firstAt.get(b.lineage_id) || 0) || a.lineage_id.localeCompare(b.lineage_id) || b.version - a.version);
  $("docs-empty").hidden = docs.length > 0;
  for (const d of docs) {
    const url = `${base()}/documents/${encodeURIComponent(d.id)}/content`;
    const states = [el("span", { class: `badge badge-${d.state}`, text: t(`doc_${d.state}`) })];
    if (d.superseded_by) states.push(" ", el("span", { class: "badge badge-superseded", text: t("doc_superseded") }));
    const actions = el("div", { class: "actions" });
    if (d.state !== "recalled") actions.append(el("a", { class: "btn btn-small", href: url, download: "", "data-action": "download", text: t("doc_download") }));
    if (d.state === "held")
      actions.append(el("button", { class: "btn btn-small btn-primary", type: "button", "data-action": "confirm", title: t("held_hint"), text: t("doc_confirm"), onclick: (e) => confirmDoc(e.currentTarget, d) }));
    if (!d.superseded_by && d.state !== "recalled")
      actions.append(el("button", { class: "btn btn-small", type: "button", "data-action": "new-version", text: t("doc_new_version"), onclick: () => newVersionOf(d) }));
    const sub = [d.kind, d.classification === "thuong" ? t("class_thuong") : d.classification, itemLabel(d.agenda_item_id), vnTime(d.uploaded_at_ms)].filter(Boolean).join(" · ");
    body.append(
      el(
        "tr",
        { dataset: { doc: d.id, state: d.state, version: String(d.version) } },
        el("td", {}, el("div", { class: "doc-title", text: d.title }), el("div", { class: "doc-sub", text: sub }), signatureBadges(d.signatures, S.lang)),
        el("td", { text: `v${d.version}` }),
        el("td", { class: "time", text: mib(d.size_bytes) }),
        el("td", { class: "mono", title: d.sha256, text: d.sha256.slice(0, 12) }),
        el("td", {}, ...states),
        el("td", {}, actions)
      )
    );
  }
  fillDocSelect();
}

export function fillItemSelect() {
  const sel = $("up-item");
  const keep = sel.value;
  sel.replaceChildren(el("option", { value: "", text: t("up_none_item") }));
  if (cur) cur.agenda.items.forEach((it, i) => sel.append(el("option", { value: it.id, text: `${i + 1}. ${it.title}` })));
  sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "";
}

export function fillDocSelect() {
  const sel = $("up-supersedes");
  const keep = sel.value;
  sel.replaceChildren(el("option", { value: "", text: t("up_none_doc") }));
  if (cur) for (const d of cur.docs) if (!d.superseded_by && d.state !== "recalled") sel.append(el("option", { value: d.id, text: `${d.title} (v${d.version})` }));
  sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "";
}

export function fillClassSelect() {
  const sel = $("up-class");
  const keep = sel.value || "thuong";
  sel.replaceChildren(...CLASSES.map((c) => el("option", { value: c, text: t(`class_${c}`) })));
  sel.value = keep;
}

function newVersionOf(d) {
  $("up-supersedes").value = d.id;
  $("up-title").value = d.title;
  if (d.agenda_item_id) $("up-item").value = d.agenda_item_id;
  $("up-file").focus();
}

async function confirmDoc(button, d) {
  if (!(await confirmBox(t("confirm_doc", { title: d.title })))) return;
  const done = await act(button, () => api("POST", `${base()}/documents/${encodeURIComponent(d.id)}/confirm`));
  if (!done) return;
  toast(t("doc_confirmed", { title: d.title }), "ok");
  loadDocs();
  loadBook();
}

// The upload in flight, and what its progress bar showed (test hook).
export const upload = { xhr: null, trace: [], max: 0, state: "idle", total: 0, result: null };

export function drawFileName() {
  const f = $("up-file").files[0];
  $("up-file-name").textContent = f ? `${f.name} (${mib(f.size)})` : t("up_no_file");
}
$("up-file").addEventListener("change", () => {
  drawFileName();
  const f = $("up-file").files[0];
  if (f && !$("up-title").value.trim()) $("up-title").value = f.name.replace(/\.[^.]+$/, "");
});

function setProgress(loaded, total, text) {
  const pct = total > 0 ? Math.min(100, Math.floor((loaded * 100) / total)) : 0;
  $("up-bar").style.width = `${pct}%`;
  $("up-bar").setAttribute("aria-valuenow", String(pct));
  $("up-progress-text").textContent = text || t("up_progress", { pct, loaded: mib(loaded), total: mib(total) });
  upload.trace.push(pct);
  if (upload.trace.length > 500) upload.trace.shift();
  upload.max = Math.max(upload.max, pct);
}

$("upload-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (!cur || upload.xhr) return;
  clearFormError("upload-error", "upload-form");
  const file = $("up-file").files[0];
  const title = $("up-title").value.trim();
  if (!file) return formError("upload-error", t("up_need_file"), $("up-file"));
  if (file.size === 0) return formError("upload-error", t("up_empty_file"), $("up-file"));
  if (!title || chars(title) > 300) return formError("upload-error", t("up_need_title"), $("up-title"));
  const q = new URLSearchParams({ title, classification: $("up-class").value });
  if ($("up-item").value) q.set("agenda_item_id", $("up-item").value);
  if ($("up-supersedes").value) q.set("supersedes", $("up-supersedes").value);
  const mine = cur;
  const xhr = new XMLHttpRequest();
  upload.xhr = xhr;
  upload.trace = [];
  upload.max = 0;
  upload.state = "uploading";
  upload.total = file.size;
  upload.result = null;
  const box = $("up-progress");
  box.hidden = false;
  box.dataset.state = "uploading";
  setProgress(0, file.size);
  $("up-submit").disabled = true;
  $("up-abort").hidden = false;
  const finish = (state) => {
    upload.xhr = null;
    upload.state = state;
    box.dataset.state = state;
    $("up-submit").disabled = false;
    $("up-abort").hidden = true;
  };
  xhr.open("POST", `${base()}/documents?${q}`);
  xhr.setRequestHeader("Accept", "application/json");
  xhr.setRequestHeader("Content-Type", "application/octet-stream");
  if (S.csrf) xhr.setRequestHeader("X-CSRF-Token", S.csrf);
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) setProgress(e.loaded, e.total);
  };
  xhr.upload.onload = () => setProgress(file.size, file.size, t("up_processing", { total: mib(file.size) }));
  xhr.onload = () => {
    if (xhr.status >= 200 && xhr.status < 300) {
      let d = null;
      try {
        d = JSON.parse(xhr.responseText);
      } catch (_) {
        d = null;
      }
      finish("done");
      upload.result = d;
      setProgress(file.size, file.size);
      if (d && d.state === "held") toast(t("up_done_held", { title }), "info");
      else toast(t("up_done", { title, size: mib(file.size) }), "ok");
      $("up-file").value = "";
      drawFileName();
      $("up-title").value = "";
      $("up-supersedes").value = "";
      if (mine === cur) {
        loadDocs();
        loadBook();
      }
    } else {
      finish("failed");
      $("up-progress-text").textContent = t("up_failed");
      const e = parseError(xhr.status, xhr.responseText, xhr.statusText);
      upload.result = { error: e.code, message: e.message };
      formRefusal("upload-error", e, { title: "up-title", classification: "up-class", agenda_item_id: "up-item", supersedes: "up-supersedes" });
    }
  };
  xhr.onerror = () => {
    finish("failed");
    $("up-progress-text").textContent = t("up_failed");
    formError("upload-error", `${t("up_failed")} ${t("network_error")}`);
  };
  xhr.onabort = () => {
    finish("failed");
    $("up-progress-text").textContent = t("up_aborted");
    formError("upload-error", t("up_aborted"));
  };
  log("upload", title, file.size);
  xhr.send(file);
});
$("up-abort").addEventListener("click", () => {
  if (upload.xhr) upload.xhr.abort();
});

export async function loadBook() {
  if (!cur || !cur.meeting) return;
  const mine = cur;
  try {
    const [book, parts] = await Promise.all([api("GET", `${base()}/book`), api("GET", `${base()}/participants`)]);
    if (mine !== cur) return;
    mine.book = book;
    mine.participants = parts.participants || [];
    drawBook();
  } catch (e) {
    log("book", errorText(e));
  }
}

export function drawBook() {
  const box = $("book");
  box.replaceChildren();
  if (!cur || !cur.book) return;
  const docs = cur.book.documents || [];
  const eps = cur.participants;
  if (docs.length === 0 || eps.length === 0) {
    box.append(el("div", { class: "empty", text: t("book_empty") }));
    return;
  }
  const head = el("tr", {}, el("th", { text: t("book_endpoint") }), ...docs.map((d) => el("th", { title: d.title, text: `${d.title.length > 18 ? d.title.slice(0, 17) + "…" : d.title} v${d.version}` })), el("th", { text: t("book_count") }));
  const rows = eps.map((p) => {
    let n = 0;
    const cells = docs.map((d) => {
      const has = (d.fetched_by || []).includes(p.endpoint_id);
      if (has) n += 1;
      return el("td", { class: has ? "tick" : "no", text: has ? "✓" : "—" });
    });
    return el("tr", { dataset: { endpoint: p.endpoint_id } }, el("td", { text: p.endpoint_name }), ...cells, el("td", { text: `${n}/${docs.length}` }));
  });
  box.append(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)), el("p", { class: "hint", text: t("book_total", { n: docs.length, size: mib(cur.book.total_bytes) }) }));
}
