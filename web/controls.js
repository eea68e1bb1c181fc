// controls.js - pause, resume (or "Restore last checkpoint"), step, and
// "Start new run" with a preset.
//
// The buttons follow the store's "state" and "access": they show only what
// the server said, and a viewer's are disabled (and the preset group hidden
// by status.js). A POST's answer is authoritative: its state is set with
// force, so a status poll that was in flight is dropped as stale. A diverged
// run's Resume restores the newest good checkpoint; the run then went back,
// so the page starts the run over (store.newRun) and reloads what it shows.
// "Start new run" confirms in the page's language and POSTs /api/run; the
// event stream's reconnect then follows the new run.
import { $, api, fmtInt, showMsg } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';
import { loadStatus } from './status.js';
import { catchUp } from './charts.js';
import { loadTimeline, refreshFixed } from './timeline.js';
import { refreshSamples } from './samples.js';

let busy = false;               // a pause/resume/step request is in flight

function renderButtons() {
  const s = store.get('state'), viewer = store.get('access').viewer;
  $('btn-pause').disabled = viewer || busy || s !== 'running';
  $('btn-resume').disabled = viewer || busy || !(s === 'paused' || s === 'diverged');
  $('btn-step').disabled = viewer || busy || s !== 'paused';
  // A diverged run is never saved; "resume" then means "restore".
  const rb = $('btn-resume');
  const restore = s === 'diverged';
  rb.textContent = t(restore ? 'btn.restore' : 'btn.resume');
  rb.title = t(restore ? 'tip.restore' : 'tip.resume');
  rb.dataset.restore = String(restore);
}
store.subscribe('state', renderButtons);
store.subscribe('access', renderButtons);
onChange(renderButtons);

function controlMsg(text, isError = false) {
  showMsg('control-msg', text);
  $('control-msg').classList.toggle('err', !!isError);
}

// ---- pause / resume / step ----------------------------------------------------------
async function control(path, body, label) {
  busy = true;
  renderButtons();
  controlMsg(() => t(label[0], label[1]));
  try {
    const r = await api(path, { method: 'POST', body, signal: AbortSignal.timeout(10 * 60 * 1000) });
    store.set('state', r.state || store.get('state'), true);   // anything in flight before this is stale
    store.setIteration(r.iteration);
    return r;
  } catch (e) {
    controlMsg(e.message, true);
    loadStatus().catch(() => {});
    return null;
  } finally {
    busy = false;
    renderButtons();
  }
}
$('btn-pause').addEventListener('click', async () => {
  if (await control('/api/pause', {}, ['msg.pausing'])) controlMsg('');
});
$('btn-resume').addEventListener('click', async () => {
  const restoring = store.get('state') === 'diverged';
  const r = await control('/api/resume', {}, [restoring ? 'msg.restoring' : 'msg.resuming']);
  if (!r) return;              // the error (e.g. 409: no checkpoint yet) stays shown
  if (restoring) {
    // The run went back to the checkpoint: reload what it holds.
    controlMsg(() => t('msg.restored', { n: fmtInt(r.iteration) }));
    store.newRun();
    store.setIteration(r.iteration, true);
    catchUp().catch(() => {});
    loadStatus().catch(() => {});
    loadTimeline().catch(() => {});
    refreshSamples(true);
    refreshFixed(true);
  } else controlMsg('');
});
$('btn-step').addEventListener('click', async () => {
  const n = Number($('step-n').value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    controlMsg(() => t('msg.stepBad'), true);
    return;
  }
  const before = store.get('iteration');
  const r = await control('/api/step', { n }, ['msg.stepping', { n }]);
  if (r) controlMsg(() => t('msg.stepped', { d: fmtInt(r.iteration - before), i: fmtInt(r.iteration) }));
});

// ---- preset: start a new run ----------------------------------------------------------------
let presetTouched = false;
function runMsg(fn, err = false) {
  showMsg('run-msg', fn);
  $('run-msg').classList.toggle('err', err);
}
store.subscribe('status', (s) => {
  if (!presetTouched && (s.preset === 'classic' || s.preset === 'fast')) $('preset').value = s.preset;
});
$('preset').addEventListener('change', () => { presetTouched = true; });
$('btn-run').addEventListener('click', async () => {
  if (store.get('access').viewer) return;
  const p = $('preset').value;
  if (!window.confirm(t('preset.confirm', { p: t(`preset.${p}`) }))) return;
  $('btn-run').disabled = true;
  runMsg(() => t('preset.starting', { p: t(`preset.${p}`) }));
  try {
    await api('/api/run', { method: 'POST', body: { preset: p } });
    presetTouched = false;
  } catch (e) {
    runMsg(() => t('preset.failed', { e: e.message }), true);
  } finally {
    setTimeout(() => { $('btn-run').disabled = false; }, 1500);
  }
});
store.subscribe('run', () => {
  setTimeout(() => { if (!$('run-msg').classList.contains('err')) runMsg(() => ''); }, 500);
});

renderButtons();
