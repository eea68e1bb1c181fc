// controls.js - pause, resume (or "Restore last checkpoint"), step, and
// the "New run…" dialog.
//
// The buttons follow the store's "state" and "access": they show only what
// the server said, and a viewer's are disabled (and the New run button
// hidden by status.js: .presenter-only). A POST's answer is authoritative: its state is set with
// force, so a status poll that was in flight is dropped as stale. A diverged
// run's Resume restores the newest good checkpoint; the run then went back,
// so the page starts the run over (store.newRun) and reloads what it shows.
// "New run…", the one way to start a run from the page, opens a dialog with
// the preset (this run's at first), a run name and the settings to change
// (blank: the preset's value), checked as the server checks them; "Start new
// run" POSTs {"preset", "name", "settings"} (Cancel or Escape posts
// nothing), and a 400 is shown next to the field it names. The event
// stream's reconnect then follows the new run (and runs.js keeps the
// previous one on the charts, ticked).
import { $, api, fmtInt, showMsg } from './lib.js';
import { t, onChange, applyLanguage } from './i18n.js';
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

// ---- the New run dialog ---------------------------------------------------------------
// "starting run …" until the page follows the new run.
const runMsg = (fn) => showMsg('run-msg', fn);
store.subscribe('run', () => { setTimeout(() => runMsg(() => ''), 500); });
// As the server checks a run name: 1-64 of [A-Za-z0-9._-], a letter or digit first.
export const RUN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// [key, integer, least value, the i18n key of its label, least value excluded]. Upper
// bounds are the server's to say (its 400 names the setting).
const FIELDS = [
  ['train.d_steps', true, 1, 'cfg.d_steps'], ['train.g_steps', true, 1, 'cfg.g_steps'],
  ['train.lr_d', false, 0, 'cfg.lr_d', true], ['train.lr_g', false, 0, 'cfg.lr_g', true],
  ['train.beta1', false, 0, 'cfg.beta1'], ['train.batch', true, 1, 'nr.batch'],
  ['train.seed', true, 0, 'nr.seed'], ['model.nz', true, 1, 'nr.nz'],
  ['model.ngf', true, 1, 'nr.ngf'], ['model.ndf', true, 1, 'nr.ndf'],
];
// GET /api/presets: each preset's name and the model and train settings a
// new run of it starts with (this server's settings, then the preset's), so
// the choices and each field's placeholder come from the server's one table.
let presets = [];
async function loadPresets() {
  try { presets = (await api('/api/presets')).presets || []; } catch { return; }
  const sel = $('nr-preset'), keep = sel.value;
  sel.textContent = '';
  for (const p of presets) {
    const o = document.createElement('option');
    o.value = p.name;
    o.textContent = p.name;
    if (t(`preset.${p.name}`) !== `preset.${p.name}`) o.dataset.i18n = `preset.${p.name}`;
    sel.append(o);
  }
  applyLanguage(sel);
  if (presets.some((p) => p.name === keep)) sel.value = keep;
  placeholders();
}
const fieldId = (k) => `nr-${k.replace('.', '-')}`;
const errId = (k) => `nr-err-${k.replace('.', '-')}`;

function buildFields() {
  const box = $('nr-fields');
  for (const [k, int, min, label] of FIELDS) {
    const l = document.createElement('label');
    l.htmlFor = fieldId(k);
    l.dataset.i18n = label;
    l.title = k;
    const input = document.createElement('input');
    input.type = 'number';
    input.id = fieldId(k);
    input.dataset.key = k;
    input.inputMode = int ? 'numeric' : 'decimal';
    input.step = int ? '1' : 'any';
    input.min = String(min);
    const err = document.createElement('span');
    err.className = 'nr-err';
    err.id = errId(k);
    err.setAttribute('role', 'alert');
    box.append(l, input, err);
  }
  applyLanguage(box);
}
function placeholders() {
  const p = presets.find((x) => x.name === $('nr-preset').value);
  for (const [k] of FIELDS) {
    const [sec, key] = k.split('.'), v = p && p[sec] ? p[sec][key] : undefined;
    $(fieldId(k)).placeholder = v === undefined ? '' : String(v);
  }
  $('nr-name').placeholder = `${$('nr-preset').value}-<UTC>`;
}
function clearErrors() {
  for (const el of $('run-dialog').querySelectorAll('.nr-err')) el.textContent = '';
  for (const el of $('run-dialog').querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  $('nr-error').hidden = true;
  $('nr-error').textContent = '';
}
function fieldError(key, text) {
  const err = key === 'name' || key === 'preset' ? $(`nr-err-${key}`) : $(errId(key));
  const input = key === 'name' ? $('nr-name') : key === 'preset' ? $('nr-preset') : $(fieldId(key));
  err.textContent = text;
  input.setAttribute('aria-invalid', 'true');
}
// The request, or null after marking what is wrong.
function readForm() {
  clearErrors();
  let ok = true;
  const body = { preset: $('nr-preset').value };
  const name = $('nr-name').value.trim();
  if (name) {
    if (!RUN_NAME.test(name) || name === 'current') { fieldError('name', t('nr.badName')); ok = false; } else body.name = name;
  }
  const settings = {};
  for (const [k, int, min, , minOpen] of FIELDS) {
    const raw = $(fieldId(k)).value.trim();
    if (!raw) continue;
    const v = Number(raw);
    if (!Number.isFinite(v) || (int && !Number.isInteger(v)) || (minOpen ? v <= min : v < min)) {
      fieldError(k, t(int ? 'nr.badInt' : 'nr.badNum', { lo: min, range: `${minOpen ? '>' : '≥'} ${min}` }));
      ok = false;
    } else settings[k] = v;
  }
  if (Object.keys(settings).length) body.settings = settings;
  return ok ? body : null;
}
// The field a server error names ("train.lr_d: ...", "name: ..."), else the dialog's line.
function serverError(msg) {
  const m = String(msg || '');
  for (const [k] of FIELDS) {
    const short = k.split('.')[1];
    if (m.includes(k) || new RegExp(`(^|[^a-z_.])${short}\\b`).test(m)) { fieldError(k, m); return; }
  }
  if (/\bname\b/i.test(m)) { fieldError('name', m); return; }
  if (/\bpreset\b/i.test(m)) { fieldError('preset', m); return; }
  $('nr-error').textContent = m;
  $('nr-error').hidden = false;
}

buildFields();
$('nr-preset').addEventListener('change', placeholders);
loadPresets();
$('btn-new-run').addEventListener('click', async () => {
  if (store.get('access').viewer) return;
  if (!presets.length) await loadPresets();
  clearErrors();
  const s = store.get('status');
  if (s && presets.some((p) => p.name === s.preset)) $('nr-preset').value = s.preset;   // this run's
  placeholders();
  $('run-dialog').showModal();
});
$('nr-cancel').addEventListener('click', () => $('run-dialog').close());
$('run-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (store.get('access').viewer) return;
  const body = readForm();
  if (!body) return;
  $('nr-start').disabled = true;
  try {
    const r = await api('/api/run', { method: 'POST', body });
    $('run-dialog').close();
    const p = t(`preset.${body.preset}`);
    runMsg(() => (r && r.name ? t('nr.starting', { p, name: r.name }) : t('preset.starting', { p })));
  } catch (err) {
    serverError(err.message);
  } finally {
    $('nr-start').disabled = false;
  }
});
store.subscribe('access', (a) => { if (a.viewer && $('run-dialog').open) $('run-dialog').close(); });
onChange(() => { applyLanguage($('run-dialog')); placeholders(); });

renderButtons();
