// @ts-check
// The presentation: the document and page the presenter shows.
import { $ } from "../lib/dom.js";
import { signatureBadges } from "../lib/signatures.js";
import { token } from "./config.js";
import { lang, log, t } from "./core.js";
import { DOC_RETRY_MS, api, apiBase, pl } from "./documents.js";

// ------------------------------------------------------- presentation
export function applyPresentation(p) {
  const next = p && p.document_id ? { document_id: String(p.document_id), page: Number(p.page) || 1 } : null;
  const cur = pl.presentation;
  if ((cur && next && cur.document_id === next.document_id && cur.page === next.page) || (!cur && !next)) return;
  log('presentation', next);
  pl.presentation = next;
}

async function loadDocument(id) {
  if (pl.blobs.has(id) || pl.docLoading) return;
  pl.docLoading = id;
  try {
    if (!pl.book.has(id)) {
      const book = await api('GET', '/book');
      for (const d of (book && book.documents) || []) pl.book.set(d.id, d);
    }
    const entry = pl.book.get(id);
    const url = entry && entry.url ? entry.url : apiBase + '/documents/' + encodeURIComponent(id) + '/content';
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 60000);
    let blob;
    try {
      const r = await fetch(url, { headers: { Authorization: 'Bearer ' + token }, signal: ctl.signal });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      blob = await r.blob();
    } finally {
      clearTimeout(timer);
    }
    const type = (entry && entry.media_type) || blob.type || 'application/pdf';
    const typed = blob.type === type ? blob : new Blob([blob], { type });
    pl.blobs.set(id, { url: URL.createObjectURL(typed), type });
    pl.docError = null;
    log('document', id, 'loaded,', typed.size, 'bytes');
  } catch (e) {
    log('document', id, 'failed:', e);
    pl.docError = { id, text: e && e.message ? e.message : String(e) };
    setTimeout(() => {
      if (pl.docError && pl.docError.id === id) pl.docError = null;
      renderPresentation();
    }, DOC_RETRY_MS);
  } finally {
    pl.docLoading = null;
    renderPresentation();
  }
}

export function renderPresentation() {
  const p = pl.available === true ? pl.presentation : null;
  const frameBox = $('doc-frame');
  const old = frameBox.querySelector('iframe');
  $('layout').classList.toggle('presenting', !!p);
  $('doc-panel').hidden = !p;
  if (!p) {
    if (old) old.remove();
    pl.shown = null;
    return;
  }
  const entry = pl.book.get(p.document_id);
  const caption = t('doc.caption', { title: entry ? entry.title : p.document_id, page: p.page });
  if ($('doc-caption').textContent !== caption) $('doc-caption').textContent = caption;
  // Whether the shown document is the signed original, as the server
  // checked it (common.js draws the same lines for every page).
  const sigBox = $('doc-signatures');
  const sigKey = p.document_id + '|' + lang + '|' + (entry ? entry.signatures_checked_at_ms : '');
  if (sigBox.dataset.key !== sigKey) {
    const badges = entry ? signatureBadges(entry.signatures, lang) : null;
    sigBox.replaceChildren(...(badges ? [badges] : []));
    sigBox.dataset.key = sigKey;
  }
  const note = $('doc-note');
  const blob = pl.blobs.get(p.document_id);
  if (!blob) {
    const failed = pl.docError && pl.docError.id === p.document_id;
    note.textContent = failed ? t('doc.failed', { e: pl.docError.text }) : t('doc.loading');
    note.hidden = false;
    if (old) old.remove();
    if (!failed) loadDocument(p.document_id);
    return;
  }
  const viewable = /^(application\/pdf|image\/)/.test(blob.type);
  note.hidden = viewable;
  note.textContent = viewable ? '' : t('doc.notpdf');
  // No toolbar or thumbnails: a wall screen shows the page, not a reader.
  const src = blob.url + (blob.type === 'application/pdf' ? '#toolbar=0&navpanes=0&page=' + p.page : '');
  if (viewable && (!old || old.getAttribute('src') !== src)) {
    // A fresh frame per page: the browser's own PDF viewer reads
    // #page= when it opens the (already downloaded) blob.
    const f = document.createElement('iframe');
    f.title = caption;
    f.setAttribute('src', src);
    if (old) old.replaceWith(f);
    else frameBox.appendChild(f);
  } else if (!viewable && old) {
    old.remove();
  }
  pl.shown = { document_id: p.document_id, page: p.page };
}
