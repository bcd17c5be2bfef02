// @ts-check
// The vote panel: the room votes with the headcount confirmed for it at roll call.
import { $ } from "../lib/dom.js";
import { lang, log, t } from "./core.js";
import { MAX_HEADCOUNT, api, pl } from "./documents.js";
import { mySite } from "./floor.js";

// --------------------------------------------------------------- vote
export function applyMotions(list) {
  pl.motions = Array.isArray(list) ? list : [];
  for (const m of pl.motions) if (m.state === 'open') pl.seenOpen.add(m.id);
}

// An open motion; else the last one this page saw open (its result),
// until it is dismissed or another opens.
function currentMotion() {
  const open = pl.motions.filter((m) => m.state === 'open');
  if (open.length) return open[open.length - 1];
  let best = null;
  for (const m of pl.motions) {
    if ((m.state !== 'closed' && m.state !== 'published') || !pl.seenOpen.has(m.id) || pl.dismissed.has(m.id)) continue;
    if (!best || (m.closed_at_ms || 0) >= (best.closed_at_ms || 0)) best = m;
  }
  return best;
}

/** The headcount confirmed for this room at roll call: what its vote weighs. */
function knownHeadcount() {
  const site = mySite();
  return site && !site.headcount_self_reported && site.headcount > 0 && site.headcount <= MAX_HEADCOUNT ? site.headcount : null;
}

export function renderVote() {
  const m = pl.available === true ? currentMotion() : null;
  pl.motion = m;
  const panel = $('vote-panel');
  panel.hidden = !m;
  if (!m) return;
  panel.dataset.state = m.state;
  panel.dataset.motion = m.id;
  if ($('vote-title').textContent !== m.title) $('vote-title').textContent = m.title;
  $('vote-desc').textContent = m.description || '';
  $('vote-desc').hidden = !m.description;
  $('vote-mode').textContent = t(m.mode === 'secret' ? 'vote.secret' : 'vote.open');
  $('vote-dismiss').hidden = m.state === 'open';
  const voted = m.you_voted === true || pl.voted.has(m.id);
  const eligible = m.electorate === 'rooms';
  const canVote = m.state === 'open' && !voted && eligible;
  $('vote-ballot').hidden = !canVote;
  const box = $('vote-options');
  const hc = $('vote-headcount');
  if (box.dataset.motion !== m.id) {
    box.textContent = '';
    (m.options || []).forEach((label, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn vote-option';
      b.dataset.index = String(i);
      b.textContent = label;
      b.addEventListener('click', () => castVote(m.id, i));
      box.appendChild(b);
    });
    box.dataset.motion = m.id;
    pl.voteError = null;
  }
  const known = knownHeadcount();
  const shown = known ? String(known) : '—';
  if (hc.value !== shown) hc.value = shown;
  const hcOk = known !== null;
  for (const b of box.querySelectorAll('button')) b.disabled = !!pl.voteBusy || !hcOk;
  let status = '';
  if (m.state === 'published') status = t('vote.result');
  else if (pl.voteBusy === m.id) status = t('vote.sending');
  else if (pl.voteError) status = t('vote.failed', { e: pl.voteError });
  else if (voted) status = t('vote.done');
  else if (m.state === 'closed') status = t('vote.closed');
  else if (!eligible) status = t('vote.notEligible');
  else status = hcOk ? t('vote.choose') : t('vote.needHeadcount');
  const st_ = $('vote-status');
  st_.dataset.voted = voted ? 'true' : 'false';
  if (st_.textContent !== status) st_.textContent = status;
  renderResults(m);
}

function renderResults(m) {
  const box = $('vote-results');
  const r = m.state === 'published' ? m.results : null;
  box.hidden = !r;
  if (!r) {
    box.dataset.key = '';
    return;
  }
  const key = m.id + '|' + lang + '|' + JSON.stringify(r.options);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.textContent = '';
  const total = Number(r.total_votes) || 0;
  for (const o of r.options || []) {
    const votes = Number(o.votes) || 0;
    const pct = total ? Math.round((votes * 1000) / total) / 10 : 0;
    const row = document.createElement('div');
    row.className = 'vote-bar';
    row.dataset.index = String(o.index);
    row.dataset.votes = String(votes);
    const label = document.createElement('span');
    label.className = 'vote-bar-label';
    label.textContent = o.label;
    const track = document.createElement('span');
    track.className = 'vote-bar-track';
    const fill = document.createElement('span');
    fill.className = 'vote-bar-fill';
    fill.style.width = pct + '%';
    track.appendChild(fill);
    const count = document.createElement('span');
    count.className = 'vote-bar-count';
    count.textContent = votes + ' (' + pct.toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB') + '%)';
    row.append(label, track, count);
    box.appendChild(row);
  }
  const sum = document.createElement('div');
  sum.className = 'vote-total';
  sum.textContent = t('vote.total', { n: total });
  box.appendChild(sum);
}

async function castVote(id, index) {
  const hc = knownHeadcount();
  if (hc === null || pl.voteBusy) {
    renderVote();
    return;
  }
  pl.voteBusy = id;
  pl.voteError = null;
  renderVote();
  try {
    await api('POST', '/motions/' + encodeURIComponent(id) + '/vote', { option: index });
    pl.voted.add(id);
    log('voted on', id, 'option', index, 'weighing the confirmed headcount', hc);
  } catch (e) {
    log('vote failed:', e.code, e.message);
    if (e.code === 'already_voted') pl.voted.add(id);
    else pl.voteError = e.message;
  } finally {
    pl.voteBusy = null;
    renderVote();
  }
}
