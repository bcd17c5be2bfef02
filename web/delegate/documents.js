// @ts-check
// Documents by agenda item, and the reader (the watermarked copy in the
// browser's own PDF viewer, following the presenter's page on request).
import { $, el } from "../lib/dom.js";
import { signatureBadges } from "../lib/signatures.js";
import { S } from "./state.js";
import { errorText, log, t, toast } from "./core.js";
import { parseError } from "../lib/api.js";
import { base, cur } from "./meetings.js";
import { drawNote, saveNote } from "./notes.js";

// ------------------------------------------------------------ documents
// The newest readable version of each document.
export function readableDocs() {
  return cur ? cur.docs.filter((d) => d.state === "available" && !d.superseded_by) : [];
}
export function docById(id) {
  return cur ? cur.docs.find((d) => d.id === id) : null;
}

// A signed document's mark in the index: a check when every signature
// is valid, a warning sign otherwise (the reader shows why).
function signMark(d) {
  const sigs = d.signatures || [];
  if (!sigs.length) return null;
  const ok = sigs.every((s) => s.status === "valid");
  return el("span", { class: `doc-sig ${ok ? "doc-sig-ok" : "doc-sig-warn"}`, title: t(ok ? "sig_ok" : "sig_warn"), text: ok ? "✔ " + t("sig_signed") : "⚠ " + t("sig_signed") });
}

export function drawIndex() {
  if (!cur) return;
  const box = $("doc-index");
  box.replaceChildren();
  const docs = readableDocs();
  $("docs-empty").hidden = docs.length > 0;
  const currentId = cur.agenda.current ? cur.agenda.current.item_id : null;
  const docButton = (d) =>
    el(
      "button",
      {
        class: "btn doc-btn",
        type: "button",
        dataset: { doc: d.id },
        "aria-current": cur.viewer && cur.viewer.docId === d.id ? "true" : "false",
        onclick: () => openDoc(d.id, 1, true),
      },
      el("span", { text: d.title }),
      el("span", { class: "doc-ver", text: t("doc_version", { n: d.version }) }),
      signMark(d)
    );
  for (const item of cur.agenda.items || []) {
    const mine = docs.filter((d) => d.agenda_item_id === item.id);
    const isCurrent = item.id === currentId;
    box.append(
      el(
        "section",
        { class: "ag-group", dataset: { item: item.id, current: String(isCurrent) } },
        el(
          "div",
          { class: "ag-head" },
          el("span", { class: "ag-pos", text: `${item.position}.` }),
          el("span", { class: "ag-title", text: item.title }),
          isCurrent ? el("span", { class: "ag-current", text: t("ag_current") }) : null
        ),
        item.presenter ? el("div", { class: "ag-presenter", text: item.presenter }) : null,
        ...(mine.length ? mine.map(docButton) : [el("div", { class: "ag-none", text: t("ag_no_docs") })])
      )
    );
  }
  const itemIds = new Set((cur.agenda.items || []).map((i) => i.id));
  const general = docs.filter((d) => !d.agenda_item_id || !itemIds.has(d.agenda_item_id));
  if (general.length) {
    box.append(
      el(
        "section",
        { class: "ag-group", dataset: { item: "", current: "false" } },
        el("div", { class: "ag-head" }, el("span", { class: "ag-title", text: t("ag_general") })),
        ...general.map(docButton)
      )
    );
  }
}

// Open document `id` at `page`; `manual`: the delegate chose it, which
// stops following the presenter.
function openDoc(id, page, manual) {
  if (!cur) return;
  if (manual && cur.follow) setFollow(false, true);
  saveNote();
  cur.viewer = { docId: id, page: Math.max(1, page) };
  drawIndex();
  drawReader();
}

export function followPresenter() {
  const p = cur && cur.presentation;
  if (!p || !docById(p.document_id)) return;
  if (cur.viewer && cur.viewer.docId === p.document_id && cur.viewer.page === p.page) return;
  saveNote();
  cur.viewer = { docId: p.document_id, page: p.page };
  drawIndex();
}

export function readFollow() {
  try {
    return localStorage.getItem("diemcau.delegate.follow") !== "off";
  } catch (_) {
    return true;
  }
}
function setFollow(on, tell) {
  if (!cur) return;
  cur.follow = on;
  $("follow").checked = on;
  try {
    localStorage.setItem("diemcau.delegate.follow", on ? "on" : "off");
  } catch (_) {
    /* private mode */
  }
  if (on) followPresenter();
  else if (tell) toast(t("follow_off"));
  drawReader();
}
$("follow").addEventListener("change", () => setFollow($("follow").checked, false));

function turnPage(delta) {
  if (!cur || !cur.viewer) return;
  const b = cur.blobs.get(cur.viewer.docId);
  const max = b && b.pages ? b.pages : Infinity;
  const next = Math.min(max, Math.max(1, cur.viewer.page + delta));
  if (next === cur.viewer.page) return;
  if (cur.follow) setFollow(false, true);
  saveNote();
  cur.viewer.page = next;
  drawReader();
}
$("page-prev").addEventListener("click", () => turnPage(-1));
$("page-next").addEventListener("click", () => turnPage(1));

// Pages of a PDF, counted from its page objects (null: not found).
function countPages(bytes) {
  let text = "";
  const step = 65536;
  for (let i = 0; i < bytes.length; i += step) text += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
  const counts = [...text.matchAll(/\/Type\s*\/Pages\b[^>]*?\/Count\s+(\d+)/g)].map((m) => Number(m[1]));
  if (counts.length) return Math.max(...counts);
  const pages = text.match(/\/Type\s*\/Page(?![a-zA-Z])/g);
  return pages ? pages.length : null;
}

async function loadDoc(mine, id) {
  if (mine.blobs.has(id)) return;
  mine.blobs.set(id, { loading: true });
  try {
    const r = await fetch(`${base()}/documents/${encodeURIComponent(id)}/content`, { credentials: "same-origin" });
    if (!r.ok) throw parseError(r.status, await r.text(), r.statusText);
    const raw = await r.blob();
    const d = docById(id);
    const type = (d && d.media_type) || raw.type || "application/pdf";
    const blob = raw.type === type ? raw : new Blob([raw], { type });
    const pages = type === "application/pdf" ? countPages(new Uint8Array(await blob.arrayBuffer())) : null;
    mine.blobs.set(id, { url: URL.createObjectURL(blob), type, pages });
    log("document", id, "loaded,", blob.size, "bytes,", pages, "pages");
  } catch (e) {
    log("document", id, "failed", errorText(e));
    mine.blobs.set(id, { error: errorText(e) });
    setTimeout(() => {
      if (mine.blobs.get(id) && mine.blobs.get(id).error) mine.blobs.delete(id);
    }, 5000);
  }
  if (!mine.closed) drawReader();
}

function rememberPlace() {
  const v = cur.viewer;
  const search = v ? `?doc=${encodeURIComponent(v.docId)}&page=${v.page}` : "";
  if (location.search !== search) history.replaceState(null, "", location.pathname + search);
}

export function drawReader() {
  if (!cur) return;
  const v = cur.viewer;
  rememberPlace();
  $("reader-empty").hidden = !!v;
  $("reader").hidden = !v;
  const frameBox = $("reader-frame");
  const old = frameBox.querySelector("iframe");
  if (!v) {
    if (old) old.remove();
    return;
  }
  const d = docById(v.docId);
  const title = d ? d.title : v.docId;
  $("reader-title").textContent = title;
  const sigBox = $("reader-signatures");
  const badges = d ? signatureBadges(d.signatures, S.lang) : null;
  if (sigBox.dataset.doc !== v.docId || sigBox.dataset.lang !== S.lang) {
    sigBox.replaceChildren(...(badges ? [badges] : []));
    sigBox.dataset.doc = v.docId;
    sigBox.dataset.lang = S.lang;
  }
  const b = cur.blobs.get(v.docId);
  if (!b) loadDoc(cur, v.docId);
  const pages = b && b.pages ? b.pages : null;
  if (pages && v.page > pages) v.page = pages;
  $("page-label").textContent = pages ? t("page_of", { p: v.page, n: pages }) : t("page_only", { p: v.page });
  $("page-prev").disabled = v.page <= 1;
  $("page-next").disabled = !!pages && v.page >= pages;
  const note = $("reader-note");
  let noteText = "";
  const p = cur.presentation;
  if (!b || b.loading) noteText = t("doc_loading");
  else if (b.error) noteText = t("doc_failed", { e: b.error });
  else if (!/^(application\/pdf|image\/)/.test(b.type)) noteText = t("doc_notpdf");
  else if (cur.follow && p && p.document_id !== v.docId) {
    const pd = docById(p.document_id);
    noteText = t("presenter_other", { title: pd ? pd.title : p.document_id, page: p.page });
  }
  note.textContent = noteText;
  note.hidden = !noteText;
  if (b && b.url && /^(application\/pdf|image\/)/.test(b.type)) {
    const src = b.url + (b.type === "application/pdf" ? `#toolbar=0&navpanes=0&page=${v.page}` : "");
    if (!old || old.getAttribute("src") !== src) {
      // A fresh frame per page: the browser's PDF viewer reads #page= when
      // it opens the (already downloaded) blob.
      const f = document.createElement("iframe");
      f.title = `${title} – ${t("page_only", { p: v.page })}`;
      f.setAttribute("src", src);
      if (old) old.replaceWith(f);
      else frameBox.append(f);
    }
  } else if (old) old.remove();
  drawNote();
}
