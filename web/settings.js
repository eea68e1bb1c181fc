// settings.js - the live-settings form.
//
// Built from GET /api/config: numbers are text inputs (the server judges
// them), string settings with a known set of values are selects, and preset
// / conditional (or any boolean) are shown read-only and never sent. Apply
// sends only the changed fields with PATCH /api/config; a 400 {"error":
// "field: ..."} is shown inline and the named field is marked and focused.
// Revert puts the server's values back. Labels follow the language.
// loadConfig() asks the server; the store's "config" (an SSE "state"
// event's) updates the form too, keeping a field being edited. A viewer's
// fieldset is disabled by status.js.
import { $, api } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';

const ENUMS = { balance: ['off', 'auto'] };
const READONLY = new Set(['preset', 'conditional']);
let serverCfg = null;
const fieldIn = (k) => $(`cfg-${k}`);
const isRo = (k, v) => READONLY.has(k) || typeof v === 'boolean';
const same = (text, v) => (typeof v === 'number' ? text.trim() !== '' && Number(text) === v : text === String(v));
const label = (k, kind) => { const key = `${kind}.${k}`, s = t(key); return s === key ? (kind === 'cfg' ? k : '') : s; };
const optText = (v) => { const s = t(`opt.${v}`); return s === `opt.${v}` ? String(v) : s; };
function roText(k, v) {
  if (typeof v === 'boolean') return optText(v);
  return k === 'preset' ? label(v, 'preset') || String(v) : String(v);
}

function buildForm(cfg) {
  const box = $('config-fields');
  box.textContent = '';
  for (const k of Object.keys(cfg)) {
    const row = document.createElement('label');
    row.className = 'field';
    row.htmlFor = `cfg-${k}`;
    const name = document.createElement('span');
    name.className = 'fname';
    name.dataset.key = k;
    const key = document.createElement('code');
    key.textContent = k;
    let input;
    if (ENUMS[k] && !isRo(k, cfg[k])) {
      input = document.createElement('select');
      for (const v of ENUMS[k]) input.append(new Option(optText(v), v));
      if (!ENUMS[k].includes(cfg[k])) input.append(new Option(String(cfg[k]), String(cfg[k])));
      input.addEventListener('change', () => { input.classList.toggle('dirty', !same(input.value, serverCfg[k])); });
    } else {
      input = document.createElement('input');
      input.type = 'text';
      input.inputMode = 'decimal';
      input.autocomplete = 'off';
      input.spellcheck = false;
      input.addEventListener('input', () => { input.classList.toggle('dirty', !same(input.value, serverCfg[k])); });
    }
    input.id = `cfg-${k}`;
    input.name = k;
    if (isRo(k, cfg[k])) { input.readOnly = true; input.dataset.readonly = 'true'; }
    setField(input, k, cfg[k]);
    row.append(name, key, input);
    box.append(row);
  }
  labelForm();
}
function setField(input, k, v) {
  if (input.dataset.readonly) { input.value = roText(k, v); input.dataset.value = String(v); } else input.value = String(v);
}
function labelForm() {
  for (const name of $('config-fields').querySelectorAll('.fname')) {
    const k = name.dataset.key, input = fieldIn(k);
    name.textContent = label(k, 'cfg');
    name.title = label(k, 'cfgh');
    if (!input) continue;
    if (input.dataset.readonly) { input.title = t('config.readonly'); if (serverCfg) setField(input, k, serverCfg[k]); }
    if (input.tagName === 'SELECT') for (const o of input.options) o.textContent = optText(o.value);
  }
}
function applyConfig(cfg, overwriteDirty) {
  const keysChanged = !serverCfg || Object.keys(cfg).join() !== Object.keys(serverCfg).join();
  const old = serverCfg;
  serverCfg = { ...cfg };
  if (keysChanged) { buildForm(cfg); return; }
  for (const k of Object.keys(cfg)) {
    const input = fieldIn(k);
    if (!input) continue;
    if (input.dataset.readonly) { setField(input, k, cfg[k]); continue; }
    const clean = same(input.value, old[k]) && document.activeElement !== input;
    if (overwriteDirty || clean) { setField(input, k, cfg[k]); input.classList.remove('dirty'); }
    else input.classList.toggle('dirty', !same(input.value, cfg[k]));
  }
}
function configError(msg) {
  const el = $('config-error');
  for (const i of $('config-fields').querySelectorAll('input, select')) i.removeAttribute('aria-invalid');
  el.hidden = !msg;
  el.textContent = msg || '';
  if (!msg) return;
  const field = /^\s*([a-z0-9_]+)\s*:/i.exec(msg);
  const input = field && fieldIn(field[1]);
  if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
}
let okTimer = null;
function configOk(text) {
  const el = $('config-ok');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(okTimer);
  okTimer = setTimeout(() => { el.hidden = true; }, 2500);
}
export async function loadConfig() {
  applyConfig(await api('/api/config'), false);
}
$('config-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!serverCfg) return;
  const patch = {};
  for (const k of Object.keys(serverCfg)) {
    const input = fieldIn(k);
    if (!input || input.dataset.readonly) continue;
    const text = input.value.trim();
    if (text === '') { configError(t('config.empty', { k })); return; }
    if (typeof serverCfg[k] !== 'number') { if (text !== String(serverCfg[k])) patch[k] = text; continue; }
    const n = Number(text);
    if (Number.isFinite(n) && n === serverCfg[k]) continue;
    patch[k] = Number.isFinite(n) ? n : text; // let the server judge and explain
  }
  if (!Object.keys(patch).length) { configError(''); configOk(t('config.noChanges')); return; }
  const btn = $('config-submit');
  btn.disabled = true;
  try {
    const r = await api('/api/config', { method: 'PATCH', body: patch });
    configError('');
    applyConfig(r, true);
    configOk(t('config.savedKeys', { keys: Object.keys(patch).join(', ') }));
  } catch (e) {
    $('config-ok').hidden = true;
    configError(e.message);
  } finally {
    btn.disabled = false;
  }
});
$('config-reset').addEventListener('click', () => {
  configError('');
  if (serverCfg) applyConfig(serverCfg, true);
});

onChange(labelForm);
store.subscribe('config', (cfg) => applyConfig(cfg, false));
