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
// Readable: a line at the top of the panel (made here), from /api/status
// quality.readable_since: "readable since 0:52 (iteration 969)", the run
// time and iteration of the first pass that was readable (>= 80% read as
// the digit asked for, or an Inception-style score >= 7); before that "not
// readable yet (best so far: 71% / score 6.1)" (conditional: the best share
// read as asked / the best score of the passes; unconditional: the best
// score). #quality-readable carries data-readable ("yes"/"no") and
// data-iteration for the browser tests.
// The runs ticked in "Runs side by side" are drawn on the same chart, as on
// the Loss chart: charts.js hands over what runs.js set (onOverlay), each
// run's Inception Score solid and Frechet distance dashed in its colour,
// named "name (preset: what differs)", and every run, this one too, against
// the x axis chosen in the Loss card (iteration, wall time, images seen).
// #chart-quality carries data-passes and data-ceiling for the browser tests,
// and as the loss chart does data-x, data-runs (this run, then the others),
// data-run-points, data-sums (Inception Score), data-fsums (Frechet
// distance) and data-xlast, per run, as fed to the chart.
import { $, api, loadImg, color, randomSeed, fmtInt, fmtFixed, fmtPct, GRID, SHARED_SEED } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';
import { overlay, onOverlay, overlayKey, overlayTable, xSeries, xAxis, atOrBefore, joined, runLabel } from './charts.js';

const C = { is: color('--c-d', '#5b9dff'), fd: color('--c-g', '#ff8a4c'), conf: color('--c-real', '#3ecf8e') };
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
  renderReadable(q && typeof q === 'object' ? q : null);
});
store.subscribe('run', () => {
  lastPassIter = null;
  renderReadable(null);
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

// ---- readable since ------------------------------------------------------------------------
let readableQ = null;
function readableEl() {
  let el = $('quality-readable');
  if (!el) {
    el = document.createElement('p');
    el.id = 'quality-readable';
    el.className = 'nn-line';
    el.setAttribute('aria-live', 'polite');
    el.hidden = true;
    const body = $('quality-body');
    body.insertBefore(el, body.firstChild);
  }
  return el;
}
// run time as m:ss, or h:mm:ss
function fmtClock(s) {
  if (!Number.isFinite(s) || s < 0) return '–';
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
function renderReadable(q) {
  readableQ = q;
  const el = readableEl();
  const r = q && q.readable && typeof q.readable === 'object' ? q.readable : null;
  const since = q && q.readable_since && typeof q.readable_since === 'object' ? q.readable_since : null;
  el.hidden = !r;
  el.textContent = '';
  if (!r) { delete el.dataset.readable; delete el.dataset.iteration; return; }
  const share = r.metric === 'as_asked';
  const thr = share ? `${Math.round(r.threshold * 100)}%` : fmtFixed(r.threshold, 1);
  el.title = t(share ? 'q.readableTipShare' : 'q.readableTipScore', { v: thr });
  const strong = document.createElement('strong');
  if (since) {
    el.dataset.readable = 'yes';
    el.dataset.iteration = String(since.iteration);
    strong.textContent = t('q.readableSince', { t: fmtClock(since.time_s), i: fmtInt(since.iteration) });
    el.append(strong);
    return;
  }
  el.dataset.readable = 'no';
  delete el.dataset.iteration;
  const passes = quality && Array.isArray(quality.passes) ? quality.passes : [];
  const scores = passes.map((p) => p.inception_score).filter(Number.isFinite);
  const bestScore = share ? (scores.length ? Math.max(...scores) : null) : r.best;
  const parts = [];
  if (share && Number.isFinite(r.best)) parts.push(`${Math.round(r.best * 100)}%`);
  if (Number.isFinite(bestScore)) parts.push(t('q.score', { s: fmtFixed(bestScore, 1) }));
  strong.textContent = t('q.notReadable');
  el.append(strong);
  if (parts.length) el.append(` ${t('q.bestSoFar', { b: parts.join(' / ') })}`);
}

// ---- quality chart and histogram ---------------------------------------------------------
let quality = null, qChart = null, qKey = '', qLatest = -1;   // qLatest: this run's newest pass in the chart's data
// With the pointer off the chart its legend shows this run's newest pass (a new chart's first draw clears it: again when ready).
const latestLegend = (u) => { if (qLatest >= 0 && !(u.cursor.left >= 0)) u.setLegend({ idx: qLatest }); };
// Built again when the ticked runs, their labels, the x axis or the language change.
function makeQualityChart() {
  if (typeof uPlot === 'undefined' || (qChart && qKey === overlayKey())) return;
  const el = $('chart-quality');
  const others = overlay().runs;
  if (qChart) qChart.destroy();
  else new ResizeObserver(() => { qChart.setSize({ width: el.clientWidth, height: 220 }); }).observe(el);
  qKey = overlayKey();
  const line = (key, stroke, scale, extra = {}) => ({ label: t(key), stroke, scale, width: 2, points: { show: true, size: 5 }, ...extra });
  const axis = (scale, side, stroke) => ({ scale, side, stroke, size: 46, grid: { stroke: scale === 'is' ? GRID : 'transparent', width: 1 },
    ticks: { stroke: GRID, width: 1 } });
  qChart = new uPlot({
    width: el.clientWidth || 600, height: 220, cursor: { drag: { x: false, y: false } }, legend: { live: true },
    hooks: { ready: [latestLegend] },
    scales: { x: { time: false }, is: { range: (u, lo, hi) => [0, Math.max(10, hi || 0)] },
      fd: { range: (u, lo, hi) => [0, Math.max(1, hi || 0) * 1.05] }, conf: { range: [0, 1] } },
    series: [
      xSeries(),
      line('q.is', C.is, 'is', { value: (u, v) => fmtFixed(v, 2) }),
      line('q.fd', C.fd, 'fd', { value: (u, v) => fmtFixed(v, 2) }),
      line('q.conf', C.conf, 'conf', { value: (u, v) => fmtPct(v) }),
      line('q.isCeil', C.is, 'is', { width: 1, dash: [6, 5], points: { show: false }, value: (u, v) => fmtFixed(v, 2) }),
      line('q.fdCeil', C.fd, 'fd', { width: 1, dash: [6, 5], points: { show: false }, value: (u, v) => fmtFixed(v, 2) }),
      ...others.flatMap((r) => [
        { ...line('q.is', r.colour, 'is', { spanGaps: true, value: atOrBefore((u, v) => fmtFixed(v, 2)) }), label: runLabel(r, t('q.is')) },
        { ...line('q.fd', r.colour, 'fd', { width: 1.5, dash: [5, 4], points: { show: true, size: 4 }, spanGaps: true,
          value: atOrBefore((u, v) => fmtFixed(v, 2)) }), label: runLabel(r, t('q.fd')) }]),
    ],
    axes: [xAxis(), axis('is', 3, C.is), axis('fd', 1, C.fd)],
  }, [[], [], [], [], [], [], ...others.flatMap(() => [[], []])], el);
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
  drawQuality(passes, ceil);
  renderHistogram(passes[passes.length - 1] || null);
  renderRatio(passes.length ? passes[passes.length - 1].nn_ratio : null);
  renderReadable(readableQ);          // the best score of the passes
}
// This run's passes and the ticked runs' (runs.js), on the Loss card's x axis.
function drawQuality(passes, ceil) {
  makeQualityChart();
  if (!qChart) return;
  const ov = overlay();
  const mine = overlayTable(passes.map((p) => ({ ...p, time_s: p.time })), ov.current ? ov.current.batch : 0,
    ['inception_score', 'frechet', 'confidence']);
  const others = ov.runs.map((r) => overlayTable(r.passes || [], r.batch, ['inception_score', 'frechet']));
  const x = mine[0];
  const flat = (v) => (xs) => xs.map(() => (Number.isFinite(v) ? v : null));
  const data = joined([[...mine, flat(ceil.inception_score)(x), flat(ceil.frechet)(x)], ...others]);
  data[4] = flat(ceil.inception_score)(data[0]);   // the ceilings span every run's x
  data[5] = flat(ceil.frechet)(data[0]);
  qChart.setData(data);
  qLatest = x.length ? data[0].indexOf(x[x.length - 1]) : -1;
  latestLegend(qChart);
  const all = [mine, ...others], sum = (a) => a.reduce((acc, v) => acc + (v ?? 0), 0), box = $('chart-quality');
  box.dataset.x = ov.x;
  box.dataset.runs = [ov.current ? ov.current.name : '', ...ov.runs.map((r) => r.name)].join(',');
  box.dataset.runPoints = all.map((tb) => tb[0].length).join(',');
  box.dataset.sums = all.map((tb) => sum(tb[1])).join(',');
  box.dataset.fsums = all.map((tb) => sum(tb[2])).join(',');
  box.dataset.xlast = all.map((tb) => (tb[0].length ? tb[0][tb[0].length - 1] : '')).join(',');
}
onOverlay(() => { if (quality && quality.available !== false) drawQuality(Array.isArray(quality.passes) ? quality.passes : [], quality.ceiling || {}); });
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
  renderQuality();                    // the chart is built again in this language
  renderRatio(nnRatio);
  renderReadable(readableQ);
  if (nearestMedian !== null || $('nearest-table').tBodies[0].rows.length) renderNearestCaption();
});

renderHistogram(null);
renderRatio(null);
