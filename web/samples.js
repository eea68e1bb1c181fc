// samples.js - the live sample grid: shared or own noise, annotate, the digit
// picker of a conditional run, and the hover tooltip.
//
// The live grid is shared: the server renders one grid of rotating noise per
// model snapshot and names it in an SSE "samples" event (the store's
// "liveGrid"), so a whole class loads the same cached picture. "New noise"
// switches this page to its own seed (refreshed every 2 s while training
// moves), "Shared noise" back. Without the events (stream down) the grid is
// polled. One request at a time; a forced refresh asked for meanwhile runs
// when it ends. The query adds annotate=1 (frames by D's verdict), digit=D
// or digits=all&n=80 (a conditional run, store "status".conditional).
// Hovering a cell asks /api/samples.json for the same query (one request at
// a time, again when the grid or the iteration moved) and shows D(G(z)), the
// classifier's class and confidence: cells are 28*scale px with 2-px gutters,
// as the server draws them.
import { $, api, fetchPng, setBlob, randomSeed, fmtInt, fmtFixed, fmtPct, showMsg } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';

const SAMPLES_MS = 2000;        // own noise, or no events: refresh this often
const img = $('samples'), tip = $('sample-tip');

// ---- the query ------------------------------------------------------------------------
let ownSeed = null;             // null: the shared noise
let conditional = false;
const noiseSeed = () => (ownSeed !== null ? ownSeed : store.get('liveGrid') ? store.get('liveGrid').seed : null);
function extra() {
  const x = {};
  if ($('annotate').checked) x.annotate = '1';
  const d = conditional ? $('digit').value : '';
  if (d === 'all') { x.digits = 'all'; x.n = '80'; } else if (d !== '') x.digit = d;
  return x;
}
const query = () => new URLSearchParams({ n: '64', scale: '2', seed: String(noiseSeed()), ...extra() });

// ---- loading --------------------------------------------------------------------------------
let busy = false, shownKey = '', again = false;
export async function refreshSamples(force = false) {
  if (busy) { if (force) again = true; return; }
  if (noiseSeed() === null) return;          // the first shared grid is on its way
  const q = query().toString();
  const grid = store.get('liveGrid');
  const key = `${q}@${ownSeed === null ? `v${grid ? grid.version : 0}` : store.get('iteration')}`;
  if (!force && (document.hidden || key === shownKey)) return;
  busy = true;
  try {
    const url = `/api/samples.png?${q}`;
    const blob = await fetchPng(url);
    setBlob(img, blob);
    img.dataset.url = url;   // the API URL behind the blob (tests and hover read it)
    shownKey = key;
    const it = store.get('iteration'), seed = noiseSeed(), own = ownSeed !== null;
    showMsg('samples-caption', () => t(own ? 'samples.caption' : 'samples.shared', { i: fmtInt(it), s: seed }));
  } catch (e) {
    showMsg('samples-caption', () => t('samples.error', { e: e.message }));
  } finally {
    busy = false;
    if (again) { again = false; refreshSamples(true); }
  }
}
$('btn-noise').addEventListener('click', () => { ownSeed = randomSeed(); $('btn-shared').hidden = false; refreshSamples(true); });
$('btn-shared').addEventListener('click', () => { ownSeed = null; $('btn-shared').hidden = true; refreshSamples(true); });
store.subscribe('liveGrid', () => {
  if (document.hidden) return;              // caught up when the tab shows again
  if (ownSeed === null) refreshSamples(true);
});
setInterval(() => {
  const grid = store.get('liveGrid');
  const quiet = Date.now() - (grid ? grid.at : 0) > 3 * SAMPLES_MS;
  if (ownSeed !== null || quiet) refreshSamples();
}, SAMPLES_MS);
document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshSamples(true); });

// ---- annotate and the digit picker ----------------------------------------------------------
$('annotate').addEventListener('change', () => {
  $('annotate-legend').hidden = !$('annotate').checked;
  refreshSamples(true);
});
$('digit').addEventListener('change', () => refreshSamples(true));
function labelDigits() {
  const sel = $('digit');
  if (!sel.options.length) {
    sel.append(new Option('', ''));
    for (let i = 0; i < 10; i++) sel.append(new Option('', String(i)));
    sel.append(new Option('', 'all'));
  }
  for (const o of sel.options) {
    o.textContent = o.value === '' ? t('digit.any') : o.value === 'all' ? t('digit.all') : store.className(Number(o.value));
  }
}
store.subscribe('status', (s) => {
  const on = !!s.conditional;
  if (on !== conditional) {
    conditional = on;
    $('digit-picker').hidden = !on;
    if (!on && $('digit').value !== '') { $('digit').value = ''; refreshSamples(true); }
  }
  labelDigits();
});

// ---- hover: D(G(z)), class and confidence -------------------------------------------------------
let info = null, infoKey = '', infoBusy = false, lastCell = null;
// The cell under the pointer: cells of 28*scale px, 2-px gutters between them.
function cellAt(ev) {
  const u = img.dataset.url && new URL(img.dataset.url, location.href);
  if (!u || !img.naturalWidth) return null;
  const q = u.searchParams, all = q.get('digits') === 'all';
  const n = Number(q.get('n') || (all ? 80 : 64)), scale = Number(q.get('scale') || 1);
  let cols = all ? 10 : Math.ceil(Math.sqrt(n));
  while (cols > 1 && (cols - 1) * (cols - 1) >= n && !all) cols--;
  const box = img.getBoundingClientRect();
  const k = Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight);
  const x = (ev.clientX - box.left - (box.width - img.naturalWidth * k) / 2) / k;
  const y = (ev.clientY - box.top - (box.height - img.naturalHeight * k) / 2) / k;
  const pitch = 28 * scale + 2, c = Math.floor(x / pitch), r = Math.floor(y / pitch);
  if (x < 0 || y < 0 || c >= cols || x - c * pitch >= 28 * scale || y - r * pitch >= 28 * scale) return null;
  const index = r * cols + c;
  if (index >= n) return null;
  const jq = new URLSearchParams();
  for (const key of ['n', 'seed', 'digit', 'digits']) if (q.has(key)) jq.set(key, q.get(key));
  return { index, key: `/api/samples.json?${jq}`, left: (c * pitch + 28 * scale) * k + (box.width - img.naturalWidth * k) / 2,
    top: r * pitch * k + (box.height - img.naturalHeight * k) / 2 };
}
// One samples.json request at a time; when it comes back, whatever cell is
// under the pointer by then is shown.
async function refreshInfo() {
  const cell = lastCell, key = `${cell.key}@${img.dataset.url}@${store.get('iteration')}`;
  if (key !== infoKey && !infoBusy) {
    infoBusy = true;
    try { info = await api(cell.key); } catch { info = null; } finally { infoBusy = false; infoKey = key; }
  }
  if (lastCell) showTip(lastCell);
}
function showTip(cell) {
  const s = info && Array.isArray(info.samples) ? info.samples[cell.index] : null;
  if (!s) { tip.hidden = true; return; }
  const parts = [`${t('tip.d')} ${fmtFixed(s.d_fake, 2)}`];
  if (s.label == null) parts.push(t('tip.noClassifier'));
  else parts.push(`${t('tip.label')} ${store.className(s.label)}`, `${t('tip.conf')} ${fmtPct(s.confidence)}`);
  if (s.requested != null) parts.push(`${t('tip.requested')} ${store.className(s.requested)}`);
  tip.textContent = `#${s.index} · ${parts.join(' · ')}`;
  tip.hidden = false;
  const w = img.parentElement.clientWidth;
  tip.style.left = `${Math.max(0, Math.min(cell.left + 4, w - tip.offsetWidth))}px`;
  tip.style.top = `${Math.max(0, cell.top)}px`;
}
img.addEventListener('mousemove', (ev) => {
  lastCell = cellAt(ev);
  if (!lastCell) { tip.hidden = true; return; }
  refreshInfo();
});
img.addEventListener('mouseleave', () => { lastCell = null; tip.hidden = true; });

onChange(labelDigits);
labelDigits();
