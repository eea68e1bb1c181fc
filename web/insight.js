// insight.js - the Quality panel, the quality-warning banner and the Copying check.
//
// Quality: GET /api/quality on the first status and whenever /api/status
// names a newer pass; a uPlot chart of inception score, Frechet distance and
// mean confidence per pass with the real digits' ceiling dashed, and the
// newest pass's class histogram as 10 bars named by the run's classes
// (outside thresholds.class_min..class_max highlighted). With "available"
// false the server's reason replaces them. The banner lists status.warnings
// (mode collapse, copying).
// Copying: the newest nn_ratio against its threshold, /api/nearest.png
// (sample | nearest training digit) and the /api/nearest table, for the
// shared seed 1 (the same on every page, so the server renders it once for
// a class) until "New samples" picks this page's own; again on a new pass.
// #chart-quality carries data-passes and data-ceiling for the browser tests.
import { $, api, loadImg, color, randomSeed, fmtInt, fmtFixed, fmtPct, relabelChart, AXIS, GRID, SHARED_SEED } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';

const C = { is: color('--c-d', '#5b9dff'), fd: color('--c-g', '#ff8a4c'), conf: color('--c-real', '#3ecf8e') };
const SERIES = ['s.iteration', 'q.is', 'q.fd', 'q.conf', 'q.isCeil', 'q.fdCeil'];
const NEAREST_N = 8;

// ---- status: warnings, new passes ----------------------------------------------------
let started = false, lastPassIter = null;
store.subscribe('status', (s) => {
  renderWarnings(Array.isArray(s.warnings) ? s.warnings : []);
  const q = s.quality;
  const newPass = !!q && q.iteration !== lastPassIter;
  if (newPass) lastPassIter = q.iteration;
  if (!started || newPass) { started = true; loadQuality(); loadNearest(); }
  renderRatio(q ? q.nn_ratio : null);
});
store.subscribe('run', () => {
  lastPassIter = null;
  if (quality) { quality.passes = []; renderQuality(); }
  setTimeout(() => { loadQuality(); loadNearest(); }, 500);
});

// ---- warnings banner -------------------------------------------------------------------
let warnings = [];
function renderWarnings(list) {
  warnings = list;
  const ul = $('quality-warning-list');
  ul.textContent = '';
  for (const w of list) {
    const li = document.createElement('li');
    li.dataset.kind = w.kind || '';
    const k = document.createElement('strong');
    const key = `warn.${w.kind}`;
    k.textContent = t(key) === key ? String(w.kind || '') : t(key);
    li.append(k, ` — ${w.message || ''}`);
    ul.append(li);
  }
  $('quality-warning').hidden = !list.length;
}

// ---- quality chart and histogram ---------------------------------------------------------
let quality = null, qChart = null;
function makeQualityChart() {
  if (qChart || typeof uPlot === 'undefined') return;
  const el = $('chart-quality');
  const line = (key, stroke, scale, extra = {}) => ({ label: t(key), stroke, scale, width: 2, points: { show: true, size: 5 }, ...extra });
  const axis = (scale, side, stroke) => ({ scale, side, stroke, size: 46, grid: { stroke: scale === 'is' ? GRID : 'transparent', width: 1 },
    ticks: { stroke: GRID, width: 1 } });
  qChart = new uPlot({
    width: el.clientWidth || 600, height: 220, cursor: { drag: { x: false, y: false } }, legend: { live: true },
    scales: { x: { time: false }, is: { range: (u, lo, hi) => [0, Math.max(10, hi || 0)] },
      fd: { range: (u, lo, hi) => [0, Math.max(1, hi || 0) * 1.05] }, conf: { range: [0, 1] } },
    series: [
      { label: t('s.iteration'), value: (u, v) => (v == null ? '–' : fmtInt(v)) },
      line('q.is', C.is, 'is', { value: (u, v) => fmtFixed(v, 2) }),
      line('q.fd', C.fd, 'fd', { value: (u, v) => fmtFixed(v, 2) }),
      line('q.conf', C.conf, 'conf', { value: (u, v) => fmtPct(v) }),
      line('q.isCeil', C.is, 'is', { width: 1, dash: [6, 5], points: { show: false }, value: (u, v) => fmtFixed(v, 2) }),
      line('q.fdCeil', C.fd, 'fd', { width: 1, dash: [6, 5], points: { show: false }, value: (u, v) => fmtFixed(v, 2) }),
    ],
    axes: [{ stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } },
      axis('is', 3, C.is), axis('fd', 1, C.fd)],
  }, [[], [], [], [], [], []], el);
  new ResizeObserver(() => { qChart.setSize({ width: el.clientWidth, height: 220 }); }).observe(el);
}
async function loadQuality() {
  try { quality = await api('/api/quality'); } catch { return; }
  renderQuality();
}
function renderQuality() {
  const q = quality;
  if (!q) return;
  const off = q.available === false;
  $('quality-reason').hidden = !off;
  $('quality-reason-text').textContent = off ? (q.reason || '') : '';
  $('quality-body').hidden = off;
  $('quality-every').textContent = Number.isFinite(q.every) && q.every > 0 && !off
    ? t('q.every', { n: fmtInt(q.every), m: fmtInt(q.samples) }) : '';
  const passes = Array.isArray(q.passes) ? q.passes : [];
  const ceil = q.ceiling || {};
  $('chart-quality').dataset.passes = String(off ? 0 : passes.length);
  $('chart-quality').dataset.ceiling = String(Number.isFinite(ceil.inception_score));
  if (off) return;
  makeQualityChart();
  if (qChart) {
    const x = passes.map((p) => p.iteration);
    const col = (k) => passes.map((p) => (Number.isFinite(p[k]) ? p[k] : null));
    const flat = (v) => x.map(() => (Number.isFinite(v) ? v : null));
    qChart.setData([x, col('inception_score'), col('frechet'), col('confidence'),
      flat(ceil.inception_score), flat(ceil.frechet)]);
    if (x.length && !(qChart.cursor.left >= 0)) qChart.setLegend({ idx: x.length - 1 });
  }
  renderHistogram(passes[passes.length - 1] || null);
  renderRatio(passes.length ? passes[passes.length - 1].nn_ratio : null);
}
function renderHistogram(pass) {
  const box = $('quality-hist');
  box.textContent = '';
  const h = pass && Array.isArray(pass.histogram) ? pass.histogram : [];
  const th = (quality && quality.thresholds) || {};
  const max = Math.max(0.3, ...h.filter(Number.isFinite));
  $('h-hist').textContent = pass ? t('q.hist', { i: fmtInt(pass.iteration) }) : t('q.histEmpty');
  for (let i = 0; i < 10; i++) {
    const v = Number.isFinite(h[i]) ? h[i] : 0;
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.setAttribute('role', 'listitem');
    const outside = pass && ((Number.isFinite(th.class_min) && v < th.class_min) || (Number.isFinite(th.class_max) && v > th.class_max));
    bar.classList.toggle('off', !!outside);
    bar.title = t('q.histBar', { c: store.className(i), p: fmtPct(v) })
      + (outside ? ` · ${t('q.outside', { lo: fmtPct(th.class_min), hi: fmtPct(th.class_max) })}` : '');
    bar.setAttribute('aria-label', bar.title);
    const track = document.createElement('span');
    track.className = 'bar-track';
    const fill = document.createElement('span');
    fill.className = 'bar-fill';
    fill.style.height = `${Math.min(100, (v / max) * 100)}%`;
    track.append(fill);
    const val = document.createElement('span');
    val.className = 'bar-val';
    val.textContent = pass ? `${Math.round(v * 100)}%` : '';
    const name = document.createElement('span');
    name.className = 'bar-name';
    name.textContent = store.className(i);
    bar.append(val, track, name);
    box.append(bar);
  }
}

// ---- copying: nn ratio, nearest pairs and table -------------------------------------------
let nnRatio = null, nearestSeed = SHARED_SEED, nearestMedian = null, nearestBusy = false;
function renderRatio(r) {
  nnRatio = Number.isFinite(r) ? r : null;
  const min = quality && quality.thresholds && Number.isFinite(quality.thresholds.nn_ratio_min) ? quality.thresholds.nn_ratio_min : 0.6;
  const el = $('nn-ratio');
  el.textContent = nnRatio === null ? '–' : nnRatio.toFixed(2);
  el.classList.toggle('bad', nnRatio !== null && nnRatio < min);
  $('nn-threshold').textContent = nnRatio === null ? t('copy.noRatio') : t('copy.threshold', { t: min.toFixed(2) });
}
async function loadNearest() {
  if (nearestBusy) return;
  nearestBusy = true;
  const q = `seed=${nearestSeed}&n=${NEAREST_N}`;
  try {
    const [r] = await Promise.all([api(`/api/nearest?${q}`), loadImg($('nearest-img'), `/api/nearest.png?${q}&scale=2`)]);
    const body = $('nearest-table').tBodies[0];
    body.textContent = '';
    for (const it of Array.isArray(r.items) ? r.items : []) {
      const tr = body.insertRow();
      for (const v of [it.index, it.train_index, store.className(it.train_label), fmtFixed(it.distance, 2)]) {
        tr.insertCell().textContent = typeof v === 'number' ? String(v) : v;
      }
    }
    nearestMedian = Number.isFinite(r.test_median) ? r.test_median : null;
    renderNearestCaption();
  } catch (e) {
    $('nearest-caption').textContent = t('copy.error', { e: e.message });
  } finally { nearestBusy = false; }
}
function renderNearestCaption() {
  $('nearest-caption').textContent = nearestMedian === null ? t('copy.captionNoMedian')
    : t('copy.caption', { m: nearestMedian.toFixed(2) });
}
$('btn-nearest').addEventListener('click', () => { nearestSeed = randomSeed(); loadNearest(); });

// ---- language ------------------------------------------------------------------------------
onChange(() => {
  renderWarnings(warnings);
  relabelChart(qChart, SERIES);
  renderQuality();
  renderRatio(nnRatio);
  if (nearestMedian !== null || $('nearest-table').tBodies[0].rows.length) renderNearestCaption();
});

renderHistogram(null);
renderRatio(null);
