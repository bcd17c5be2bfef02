// @ts-check
// The floor: request and withdraw, the queue.
import { $ } from "../lib/dom.js";
import { log, st, t } from "./core.js";
import { api, pl } from "./documents.js";

// -------------------------------------------------------------- floor
export function applyLive(snap) {
  if (!snap || !snap.roll_call) return;
  pl.live = snap;
  pl.liveAt = performance.now();
  const sites = Array.isArray(snap.roll_call.sites) ? snap.roll_call.sites : [];
  if (st.participant) {
    const me = sites.find((s) => s.participant != null && String(s.participant) === String(st.participant));
    if (me && me.endpoint_id !== pl.endpoint) {
      pl.endpoint = me.endpoint_id;
      log('this room is endpoint', pl.endpoint);
    }
  }
}

export function mySite() {
  if (!pl.live || !pl.endpoint) return null;
  return (pl.live.roll_call.sites || []).find((s) => s.endpoint_id === pl.endpoint) || null;
}

export function floorState() {
  const f = pl.live && pl.live.floor;
  if (!f || !pl.endpoint) return { state: 'none' };
  if (f.speaker && f.speaker.endpoint_id === pl.endpoint) return { state: 'speaking', speaker: f.speaker };
  const q = Array.isArray(f.queue) ? f.queue : [];
  const e = q.find((x) => x.endpoint_id === pl.endpoint);
  return e ? { state: 'queued', pos: e.position, n: q.length } : { state: 'none' };
}

function mmss(ms) {
  const s = Math.max(0, Math.round(Math.abs(ms) / 1000));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

export function renderFloor() {
  const btn = $('btn-floor');
  const status = $('floor-status');
  const usable = pl.available === true && !!pl.endpoint;
  btn.hidden = !usable;
  if (!usable) {
    status.textContent = '';
    return;
  }
  const f = floorState();
  btn.dataset.floor = f.state;
  const label = f.state === 'speaking' ? t('floor.speakingBtn') : f.state === 'queued' ? t('floor.withdraw') : t('floor.request');
  const txt = btn.querySelector('.btn-text');
  if (txt.textContent !== label) txt.textContent = label;
  btn.disabled = pl.floorBusy || f.state === 'speaking';
  btn.setAttribute('aria-pressed', f.state === 'none' ? 'false' : 'true');
  let text = '';
  if (pl.floorBusy) text = t('floor.sending');
  else if (pl.floorError) text = t('floor.failed', { e: pl.floorError });
  else if (f.state === 'queued') text = t('floor.queued', { pos: f.pos, n: f.n });
  else if (f.state === 'speaking') {
    text = t('floor.speaking');
    const rem = f.speaker.remaining_ms;
    if (typeof rem === 'number') {
      const left = rem - (performance.now() - pl.liveAt);
      text += ' – ' + t(left >= 0 ? 'floor.left' : 'floor.over', { t: mmss(left) });
    }
  }
  status.dataset.floor = f.state;
  if (status.textContent !== text) status.textContent = text;
}

export async function onFloorClick() {
  const f = floorState();
  if (pl.floorBusy || f.state === 'speaking') return;
  const what = f.state === 'queued' ? 'withdraw' : 'request';
  pl.floorBusy = true;
  pl.floorError = null;
  renderFloor();
  try {
    applyLive(await api('POST', '/live/floor/' + what, {}));
    log('floor', what, 'ok');
  } catch (e) {
    log('floor', what, 'failed:', e.code, e.message);
    pl.floorError = e.message;
    setTimeout(() => {
      pl.floorError = null;
      renderFloor();
    }, 8000);
  } finally {
    pl.floorBusy = false;
    renderFloor();
  }
}
