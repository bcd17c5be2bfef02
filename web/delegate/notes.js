// @ts-check
// Private notes: they never leave the tablet (localStorage, keyed by user,
// meeting, document version and page).
import { $, el } from "../lib/dom.js";
import { vnTime } from "../lib/time.js";
import { S } from "./state.js";
import { log, t, toast } from "./core.js";
import { docById } from "./documents.js";
import { cur } from "./meetings.js";

// ------------------------------------------------------------ private notes
// Kept in this browser only: user, meeting, document version, page.
const NOTE_PREFIX = "diemcau.note|";
function noteKey(docId, page) {
  const d = docById(docId);
  const lineage = d ? d.lineage_id : docId;
  const version = d ? d.version : 0;
  return `${NOTE_PREFIX}${S.me.id}|${cur.id}|${lineage}|v${version}|p${page}`;
}
function readNote(docId, page) {
  try {
    return localStorage.getItem(noteKey(docId, page)) || "";
  } catch (_) {
    return "";
  }
}
export function saveNote() {
  if (!cur || !cur.viewer || !S.me) return;
  const area = $("note-text");
  if (area.dataset.key !== noteKey(cur.viewer.docId, cur.viewer.page)) return;
  try {
    if (area.value) localStorage.setItem(area.dataset.key, area.value);
    else localStorage.removeItem(area.dataset.key);
  } catch (e) {
    log("note not saved", String(e));
  }
}
export function drawNote() {
  const v = cur.viewer;
  const d = docById(v.docId);
  const key = noteKey(v.docId, v.page);
  $("note-label").textContent = t("note_label", { title: d ? d.title : v.docId, page: v.page });
  const area = $("note-text");
  if (area.dataset.key !== key) {
    area.dataset.key = key;
    area.value = readNote(v.docId, v.page);
  }
}
$("note-text").addEventListener("input", () => saveNote());

// Every note of this meeting, as a text file.
export function notesText() {
  if (!cur || !S.me) return { text: "", count: 0 };
  const prefix = `${NOTE_PREFIX}${S.me.id}|${cur.id}|`;
  const found = [];
  for (let i = 0; i < localStorage.length; i++) {
    const k = localStorage.key(i);
    if (!k || !k.startsWith(prefix)) continue;
    const [lineage, ver, pg] = k.slice(prefix.length).split("|");
    found.push({ lineage, version: Number(ver.slice(1)), page: Number(pg.slice(1)), text: localStorage.getItem(k) || "" });
  }
  found.sort((a, b) => a.lineage.localeCompare(b.lineage) || a.version - b.version || a.page - b.page);
  const lines = [
    t("notes_head", { title: cur.meeting ? cur.meeting.title : cur.id }),
    t("notes_by", { who: S.me.display_name || S.me.login }),
    t("notes_at", { at: vnTime(Date.now()) }),
    "",
  ];
  let last = null;
  for (const n of found) {
    const d = cur.docs.find((x) => x.lineage_id === n.lineage && x.version === n.version);
    const head = t("notes_doc", { title: d ? d.title : n.lineage, n: n.version });
    if (head !== last) {
      lines.push(head);
      last = head;
    }
    lines.push(t("notes_page", { p: n.page }), n.text, "");
  }
  return { text: lines.join("\r\n"), count: found.length };
}
$("notes-export").addEventListener("click", () => {
  saveNote();
  const { text, count } = notesText();
  if (!count) {
    toast(t("notes_none"));
    return;
  }
  const url = URL.createObjectURL(new Blob(["\ufeff" + text], { type: "text/plain;charset=utf-8" }));
  const a = el("a", { href: url, download: `ghi-chu-${cur.id}.txt` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  toast(t("notes_exported", { n: count }), "ok");
});
