// checkpoint.js - the last checkpoint in the status bar, the checkpoint-error
// banner and the "Save checkpoint" button.
//
// The store's "checkpoint" ({last, error, off}) comes from /api/status
// (last_checkpoint, checkpoint_error, and run.dir "" for checkpoints off)
// and from the answer to our own save. A save bumps the key's version, so a
// status poll sent before it answered cannot turn the shown result back.
// The age ("12s ago") is redrawn every second. The button is disabled for a
// viewer, while a save is in flight, and unless the run is running or paused
// (a diverged run is never saved).
import { $, api, fmtInt, fmtUptime, showMsg } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';
import { loadStatus } from './status.js';

let busy = false;               // a save is in flight

function fmtAgo(when) {
  if (!Number.isFinite(when)) return '';
  const s = Math.max(0, Math.round(Date.now() / 1000 - when));
  return s < 5 ? t('ckpt.justNow') : t('ckpt.ago', { t: fmtUptime(s) });
}
function renderLast() {
  const { last, off } = store.get('checkpoint');
  const el = $('ckpt-last');
  if (last && Number.isFinite(last.iteration)) {
    el.textContent = `#${fmtInt(last.iteration)} · ${fmtAgo(last.time)}`;
    el.title = last.path || '';
    el.dataset.iteration = String(last.iteration);
  } else {
    el.textContent = t(off ? 'ckpt.off' : 'ckpt.none');
    el.title = off ? t('ckpt.offTip') : '';
    el.dataset.iteration = '';
  }
}
function renderError() {
  const text = store.get('checkpoint').error;
  const el = $('ckpt-error');
  el.hidden = !text;
  el.textContent = text ? t('ckpt.failed', { e: text.replace(/\.$/, '') }) : '';
}
function renderButton() {
  const s = store.get('state');
  $('btn-checkpoint').disabled = store.get('access').viewer || busy || !(s === 'running' || s === 'paused');
}
store.subscribe('checkpoint', () => { renderLast(); renderError(); });
store.subscribe('state', renderButton);
store.subscribe('access', renderButton);
onChange(() => { renderLast(); renderError(); });
setInterval(renderLast, 1000);  // keep "… ago" current

function ckptMsg(text, isError = false) {
  showMsg('ckpt-msg', text);
  const el = $('ckpt-msg');
  el.classList.toggle('err', !!isError);
  el.classList.toggle('good', !!text && !isError);
}
$('btn-checkpoint').addEventListener('click', async () => {
  busy = true;
  renderButton();
  ckptMsg(() => t('ckpt.saving'));
  try {
    const r = await api('/api/checkpoint', { method: 'POST', body: {}, signal: AbortSignal.timeout(60 * 1000) });
    store.set('checkpoint', { ...store.get('checkpoint'), last: { path: r.path, iteration: r.iteration, time: Date.now() / 1000 },
      error: '' }, true);
    const file = typeof r.path === 'string' ? r.path.split('/').pop() : '';
    ckptMsg(() => `${t('ckpt.saved', { n: fmtInt(r.iteration) })}${file ? ` · ${file}` : ''}`);
    $('ckpt-msg').title = r.path || '';
  } catch (e) {
    store.set('checkpoint', store.get('checkpoint'), true);   // a status sent before this answer is stale
    ckptMsg(() => t('ckpt.notSaved', { e: e.message }), true);
    $('ckpt-msg').title = '';
    loadStatus().catch(() => {});
  } finally {
    busy = false;
    renderButton();
  }
});

renderButton();
