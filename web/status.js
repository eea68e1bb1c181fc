// status.js - the status bar, the diverged banner, the connection badge and
// the viewer's read-only mode; loadStatus() asks /api/status.
//
// loadStatus() publishes every answer to the store ("status", "state",
// "iteration", "access", "classes", "checkpoint"); this module draws the
// bar from the store. The state badge only ever shows what the server said:
// a status answer whose request went out before another authoritative state
// (an SSE "state" event, the answer to a pause) is not applied.
// Uptime going back means another run (server restarted, POST /api/run):
// the store's newRun() tells every panel.
// Viewer mode (/api/status "access": the token is needed and this page
// lacks it): the one-line note, .presenter-only hidden, the settings
// fieldset disabled; controls.js and checkpoint.js disable their buttons.
import { $, api, fmtInt, fmtUptime } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';
import { catchUp } from './charts.js';

const stateLabel = (s) => { const k = `state.${s}`, v = t(k); return v === k ? s : v; };

// ---- state badge and diverged banner -----------------------------------------------
let divergedReason = '';
function renderState() {
  const s = store.get('state');
  if (s === 'unknown') return;
  const el = $('state');
  el.textContent = stateLabel(s);
  el.dataset.state = s;
}
function renderBanner() {
  const on = store.get('state') === 'diverged';
  $('banner').hidden = !on;
  $('banner-title').textContent = on ? t('banner.title') : '';
  $('banner-reason').textContent = on ? (divergedReason || t('banner.reason')) : '';
  $('banner-hint').textContent = on ? t('banner.hint') : '';
}
store.subscribe('state', (s) => {
  renderState();
  if (s !== 'diverged') divergedReason = '';
  renderBanner();
});

// ---- iteration --------------------------------------------------------------------------
function renderIteration() {
  const i = store.get('iteration');
  if (i < 0) return;            // a new run: the old number stays until the first of the new one
  const el = $('iteration');
  el.textContent = fmtInt(i);
  el.dataset.value = String(i);
}
store.subscribe('iteration', renderIteration);

// ---- connection badge -----------------------------------------------------------------------
const connText = () => { const c = store.get('conn'); return c.key || c.kind ? t(c.key || `conn.${c.kind}`, c.params) : ''; };
store.subscribe('conn', (c) => {
  // Values in the status bar are last known ones while not live.
  $('status-bar').classList.toggle('stale', c.kind !== 'live');
  $('conn').dataset.conn = c.kind;
  $('conn').textContent = connText();
});

// ---- presenter or viewer --------------------------------------------------------------------
store.subscribe('access', (a, old) => {
  if (a.viewer === old.viewer) return;
  document.body.classList.toggle('viewer', a.viewer);
  $('viewer-note').hidden = !a.viewer;
  for (const el of document.querySelectorAll('.presenter-only')) el.hidden = a.viewer;
  $('config-fieldset').disabled = a.viewer;      // the live settings stay readable
});

// ---- /api/status ----------------------------------------------------------------------------------
let lastUptime = Infinity;
store.subscribe('run', () => { lastUptime = Infinity; });

function applyStatus(s, stateAt, ckptAt) {
  if (s.state && stateAt === store.version('state')) store.set('state', s.state);   // else stale
  store.setIteration(s.iteration);
  $('epoch').textContent = Number.isFinite(s.epoch) ? s.epoch.toFixed(2) : '–';
  $('ips').textContent = fmtInt(s.images_per_sec);
  $('uptime').textContent = fmtUptime(s.uptime_s);
  $('dataset').textContent = s.dataset || '–';
  lastUptime = s.uptime_s;
  if (s.state === 'diverged' && typeof s.diverged_reason === 'string' && s.diverged_reason !== divergedReason) {
    divergedReason = s.diverged_reason;
    renderBanner();
  }
  if (ckptAt === store.version('checkpoint')) {   // a save answered since this was sent: keep its result
    const run = s.config && s.config.run;
    store.set('checkpoint', { last: s.last_checkpoint && typeof s.last_checkpoint === 'object' ? s.last_checkpoint : null,
      error: typeof s.checkpoint_error === 'string' ? s.checkpoint_error : '', off: !!(run && run.dir === '') });
  }
  if (Array.isArray(s.classes) && s.classes.length === 10) store.set('classes', s.classes.map(String));
  const a = s.access;
  const viewer = !!(a && a.token_required && a.role === 'viewer');
  store.set('access', { viewer, lan: !!(a && a.lan), presenter: !viewer });
}

// afterReconnect: the event stream dropped, so the server may have been
// restarted; if its uptime went back, what we hold is another run's.
export async function loadStatus(afterReconnect = false) {
  const stateAt = store.version('state'), ckptAt = store.version('checkpoint');
  const s = await api('/api/status');
  // Uptime going back means another run: always after a reconnect, and by
  // more than a second on a plain poll.
  const restarted = afterReconnect ? s.uptime_s < lastUptime : s.uptime_s + 1 < lastUptime;
  if (restarted) store.newRun();
  applyStatus(s, stateAt, ckptAt);
  if (restarted && !afterReconnect) catchUp().catch(() => {});
  store.emit('status', s);
  return s;
}
// ---- language -------------------------------------------------------------------------------------
onChange(() => {
  $('conn').textContent = connText();
  renderState();
  renderBanner();
  const i = store.get('iteration');
  $('iteration').textContent = fmtInt(i >= 0 ? i : NaN);
});
