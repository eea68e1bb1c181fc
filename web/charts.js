// charts.js - the loss and accuracy charts and the metric points behind them.
//
// catchUp() pages through /api/metrics?since=<last iteration held> while
// live SSE "metrics" events (the store's "metrics") are queued, then replays
// them, so no point is missed or doubled, including after a server restart.
// Points live in one array capped at MAX_POINTS: when full, the older half
// is thinned by merging neighbours (count-weighted means), so a page left
// open for hours keeps bounded memory while recent points stay exact.
// Charts (uPlot, the classic script /uPlot.iife.min.js) are redrawn at most
// every RENDER_MS, with an EMA smoothing slider; with the pointer off a
// chart its legend shows the latest values. A new run (store "run") empties
// them. onDraw(fn) lets another panel paint on both charts after each draw
// (balance.js: its markers). Each chart's box carries data-points and
// data-first (how many points, the first iteration) for the browser tests.
import { $, api, color, fade, fmtInt, relabelChart, AXIS, GRID } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';

const MAX_POINTS = 5000;        // points kept in the browser
const PAGE_LIMIT = 10000;       // /api/metrics page size while catching up
const RENDER_MS = 250;          // chart redraw at most this often
const CHART_H = 260;
const KEYS = ['d_loss', 'g_loss', 'd_acc', 'd_acc_real', 'd_acc_fake'];

// ---- points ----------------------------------------------------------------------
let points = [];                // {iteration, count, d_loss, ...}, oldest first
let lastIter = 0;               // highest point iteration held

function addPoints(pts) {
  if (!Array.isArray(pts)) return;
  let added = 0;
  for (const p of pts) {
    if (!p || !Number.isFinite(p.iteration) || p.iteration <= lastIter) continue;
    const q = { iteration: p.iteration, count: p.count || 1 };
    for (const k of KEYS) q[k] = Number.isFinite(p[k]) ? p[k] : null;
    points.push(q);
    lastIter = p.iteration;
    added++;
  }
  if (points.length > MAX_POINTS) thin();
  if (added) scheduleRender();
}
// Merge neighbour pairs in the older half (count-weighted means).
function thin() {
  const half = Math.floor(points.length / 2) & ~1;
  const merged = [];
  for (let i = 0; i < half; i += 2) {
    const a = points[i], b = points[i + 1], n = a.count + b.count;
    const m = { iteration: b.iteration, count: n };
    for (const k of KEYS) {
      m[k] = a[k] === null ? b[k] : b[k] === null ? a[k] : (a[k] * a.count + b[k] * b.count) / n;
    }
    merged.push(m);
  }
  points = merged.concat(points.slice(half));
}
store.subscribe('run', () => {
  points = [];
  lastIter = 0;
  scheduleRender();
});

// Catch up with /api/metrics while queueing live events, then replay them.
let catchingUp = false;
let queued = [];
export async function catchUp() {
  if (catchingUp) return;
  catchingUp = true;
  try {
    for (let pages = 0; pages < 50; pages++) {
      const r = await api(`/api/metrics?since=${lastIter}&limit=${PAGE_LIMIT}`);
      if (r.iteration < lastIter) { store.newRun(); continue; }  // server restarted with a new run
      addPoints(r.points);
      store.setIteration(r.iteration);
      if (!r.points || r.points.length < PAGE_LIMIT) break;
    }
  } finally {
    catchingUp = false;
    const q = queued;
    queued = [];
    for (const ev of q) onMetrics(ev);
  }
}
function onMetrics(d) {
  if (catchingUp) { queued.push(d); if (queued.length > 200) queued.shift(); return; }
  addPoints(d.points);
  store.setIteration(d.iteration);
}
store.subscribe('metrics', onMetrics);

// ---- the charts ---------------------------------------------------------------------
const C = {
  d: color('--c-d', '#5b9dff'), g: color('--c-g', '#ff8a4c'),
  real: color('--c-real', '#3ecf8e'), fake: color('--c-fake', '#f25f8a'), all: color('--c-all', '#c9b6ff'),
  eq: color('--c-eq', '#e6e6e6'),
};
const axes = (yFmt) => [
  { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 },
    values: (u, vals) => vals.map((v) => (v >= 10000 ? `${v / 1000}k` : v)) },
  { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 }, size: 50,
    values: yFmt },
];
const fmt = (d) => (u, v) => (v == null ? '–' : v.toFixed(d));
const pctValue = (u, v) => (v == null ? '–' : `${v.toFixed(1)}%`);
const line = (label, stroke, width, extra = {}) => ({ label, stroke, width, points: { show: false }, ...extra });
const SERIES_KEYS = [['s.iteration', 's.draw', 's.graw', 's.dloss', 's.gloss'],
  ['s.iteration', 's.real', 's.fake', 's.overall', 's.eq']];

const drawHooks = [];
export const onDraw = (fn) => { drawHooks.push(fn); };
const runDrawHooks = (u) => { for (const f of drawHooks) { try { f(u); } catch (e) { console.error(e); } } };

let lossChart = null, accChart = null;
// The loss and accuracy charts that exist (none if uPlot failed to load).
export const charts = () => [lossChart, accChart].filter(Boolean);
export const redraw = () => { for (const u of charts()) u.redraw(false, false); };

export function makeCharts() {
  if (typeof uPlot === 'undefined') {
    $('chart-loss').textContent = t('chart.noUplot');
    return;
  }
  const common = { height: CHART_H, scales: { x: { time: false } }, cursor: { drag: { x: true, y: false } },
    legend: { live: true }, plugins: [{ hooks: { draw: [runDrawHooks] } }] };
  const lossEl = $('chart-loss'), accEl = $('chart-acc');
  const iterSeries = () => ({ label: t('s.iteration'), value: (u, v) => (v == null ? '–' : fmtInt(v)) });
  lossChart = new uPlot({
    ...common, width: lossEl.clientWidth || 600,
    series: [
      iterSeries(),
      line(t('s.draw'), fade(C.d, 0.25), 1, { value: fmt(4) }),
      line(t('s.graw'), fade(C.g, 0.25), 1, { value: fmt(4) }),
      line(t('s.dloss'), C.d, 2, { value: fmt(4) }),
      line(t('s.gloss'), C.g, 2, { value: fmt(4) }),
    ],
    axes: axes((u, vals) => vals.map((v) => v.toFixed(2))),
  }, [[], [], [], [], []], lossEl);
  accChart = new uPlot({
    ...common, width: accEl.clientWidth || 600,
    scales: { x: { time: false }, y: { range: [0, 100] } },
    series: [
      iterSeries(),
      line(t('s.real'), C.real, 2, { value: pctValue }),
      line(t('s.fake'), C.fake, 2, { value: pctValue }),
      line(t('s.overall'), C.all, 2, { value: pctValue }),
      line(t('s.eq'), C.eq, 1, { dash: [6, 5], value: () => '50%' }),
    ],
    axes: axes((u, vals) => vals.map((v) => `${v}%`)),
  }, [[], [], [], [], []], accEl);
  const ro = new ResizeObserver(() => {
    lossChart.setSize({ width: lossEl.clientWidth, height: CHART_H });
    accChart.setSize({ width: accEl.clientWidth, height: CHART_H });
  });
  ro.observe(lossEl);
  ro.observe(accEl);
}

function ema(vals, alpha) {
  const out = new Array(vals.length);
  let s = null;
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i];
    if (v === null) { out[i] = s; continue; }
    s = s === null ? v : alpha * s + (1 - alpha) * v;
    out[i] = s;
  }
  return out;
}
let renderTimer = null, lastRender = 0;
export function scheduleRender() {
  if (renderTimer) return;
  const wait = Math.max(0, RENDER_MS - (performance.now() - lastRender));
  renderTimer = setTimeout(() => { renderTimer = null; render(); }, wait);
}
function render() {
  lastRender = performance.now();
  if (!lossChart || !accChart) return;
  const alpha = Number($('smoothing').value) || 0;
  const x = points.map((p) => p.iteration);
  const col = (k) => points.map((p) => p[k]);
  const dl = col('d_loss'), gl = col('g_loss');
  lossChart.setData([x, dl, gl, ema(dl, alpha), ema(gl, alpha)]);
  // Accuracies are fractions; the chart shows percents.
  const pct = (a) => a.map((v) => (v === null ? null : v * 100));
  const acc = ['d_acc_real', 'd_acc_fake', 'd_acc'].map((k) => ema(pct(col(k)), alpha));
  accChart.setData([x, ...acc, x.map(() => 50)]);
  for (const u of [lossChart, accChart]) {
    // With the pointer off the chart, the legend shows the latest values.
    if (x.length && !(u.cursor.left >= 0)) u.setLegend({ idx: x.length - 1 });
    u.root.parentElement.dataset.points = String(u.data[0].length);
    u.root.parentElement.dataset.first = u.data[0].length ? String(u.data[0][0]) : '';
  }
}

$('smoothing').addEventListener('input', () => {
  $('smoothing-val').textContent = Number($('smoothing').value).toFixed(2);
  scheduleRender();
});
document.addEventListener('visibilitychange', () => { if (!document.hidden) scheduleRender(); });

onChange(() => {
  relabelChart(lossChart, SERIES_KEYS[0]);
  relabelChart(accChart, SERIES_KEYS[1]);
});
