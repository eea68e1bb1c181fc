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
// (balance.js: its markers, in iterations: only with the iteration axis).
// setOverlay() (runs.js) adds other runs to the loss chart (their D and G
// loss, dashed and solid in the run's colour) and the accuracy chart
// (overall), and sets the x axis of both: iteration, wall time (time_s) or
// images seen (iteration x the run's batch). Runs share the union of their x
// values; each series is smoothed on its own points first. The Quality
// card's chart (insight.js) draws the same runs' passes on the same axis:
// onOverlay(fn) tells it of each setOverlay, and overlay(), overlayKey(),
// overlayTable(), xSeries(), xAxis(), atOrBefore() and joined() are the
// pieces it builds with. Each chart's box carries
// data-points and data-first (this run's points, its first iteration), and
// data-x, data-runs (this run's name, then the others), data-run-points,
// data-sums (per run: the sum of the G loss / overall accuracy as fed to the
// chart before smoothing; data-dsums: D loss) and data-xlast (each run's
// last x) for the browser tests.
import { $, api, color, fade, fmtInt, fmtFixed, AXIS, GRID } from './lib.js';
import { t, onChange, lang } from './i18n.js';
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
    const q = { iteration: p.iteration, count: p.count || 1, time_s: Number.isFinite(p.time_s) ? p.time_s : null };
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
    const m = { iteration: b.iteration, count: n, time_s: b.time_s };
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
const big = (v) => (Math.abs(v) >= 1e6 ? `${v / 1e6}M` : Math.abs(v) >= 10000 ? `${v / 1000}k` : v);
// The x axis of every chart that follows the switch (the Quality card's too).
export const xAxis = () => ({ stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 },
  values: (u, vals) => vals.map((v) => (ov.x === 'time' ? `${big(v)} s` : big(v))) });
const axes = (yFmt) => [
  xAxis(),
  { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 }, size: 50,
    values: yFmt },
];
const fmt = (d) => (u, v) => (v == null ? '–' : v.toFixed(d));
const pctValue = (u, v) => (v == null ? '–' : `${v.toFixed(1)}%`);
const line = (label, stroke, width, extra = {}) => ({ label, stroke, width, points: { show: false }, ...extra });
// Another run's legend value: its own latest at or before the x shown (the
// x values are the union of all runs', so most have none of their own).
export const atOrBefore = (f) => (u, v, si, idx) => {
  if (v == null && idx != null) {
    const d = u.data[si];
    for (let i = Math.min(idx, d.length - 1); i >= 0; i--) if (d[i] != null) { v = d[i]; break; }
  }
  return f(u, v);
};

const drawHooks = [];
export const onDraw = (fn) => { drawHooks.push(fn); };
// What other panels paint (balance.js: markers at iterations) needs the iteration axis.
const runDrawHooks = (u) => {
  if (ov.x !== 'iteration') return;
  for (const f of drawHooks) { try { f(u); } catch (e) { console.error(e); } }
};

let lossChart = null, accChart = null;
// The loss and accuracy charts that exist (none if uPlot failed to load).
export const charts = () => [lossChart, accChart].filter(Boolean);
export const redraw = () => { for (const u of charts()) u.redraw(false, false); };

// ---- other runs on the same charts (runs.js feeds them) ------------------------------------
// x: the x axis for all charts ('iteration' | 'time' | 'images': iteration x batch);
// current: {name, batch} of this server's run (null: not known yet);
// runs: [{name, label, colour, batch, points, passes}] the ticked others, points as
//   /api/runs/<name>/metrics, passes as /api/runs/<name>/quality with time as time_s.
let ov = { x: 'iteration', current: null, runs: [] };
const overlayHooks = [];
export const onOverlay = (fn) => { overlayHooks.push(fn); };
export const overlay = () => ov;
export function setOverlay(o) {
  ov = { ...ov, ...o };
  scheduleRender();
  for (const f of overlayHooks) { try { f(ov); } catch (e) { console.error(e); } }
}
const X_KEYS = { iteration: 's.iteration', time: 's.time', images: 's.images' };
function xOf(p, batch) {
  if (ov.x === 'time') return p.time_s;
  if (ov.x === 'images') return batch > 0 ? p.iteration * batch : NaN;
  return p.iteration;
}
// [xs, col per key] of one run's points on the chosen axis; x only grows (a
// resumed run repeats wall times), a figure that is not finite is null.
export function overlayTable(pts, batch, keys) {
  const xs = [], cols = keys.map(() => []);
  let last = -Infinity;
  for (const p of pts) {
    const x = xOf(p, batch);
    if (!Number.isFinite(x) || x <= last) continue;
    last = x;
    xs.push(x);
    keys.forEach((k, i) => { cols[i].push(Number.isFinite(p[k]) ? p[k] : null); });
  }
  return [xs, ...cols];
}
export const xSeries = () => ({ label: t(X_KEYS[ov.x]),
  value: (u, v) => (v == null ? '–' : ov.x === 'time' ? `${fmtFixed(v, 1)} s` : fmtInt(v)) });
export const runLabel = (r, what) => `${r.label}${what ? ` · ${what}` : ''}`;

let builtKey = '';
const elOf = () => ({ lossEl: $('chart-loss'), accEl: $('chart-acc') });
function build() {
  const { lossEl, accEl } = elOf();
  for (const u of [lossChart, accChart]) if (u) u.destroy();
  const common = { height: CHART_H, scales: { x: { time: false } }, cursor: { drag: { x: true, y: false } },
    legend: { live: true }, plugins: [{ hooks: { draw: [runDrawHooks] } }] };
  const others = ov.runs;
  lossChart = new uPlot({
    ...common, width: lossEl.clientWidth || 600,
    series: [
      xSeries(),
      line(t('s.draw'), fade(C.d, 0.25), 1, { value: fmt(4) }),
      line(t('s.graw'), fade(C.g, 0.25), 1, { value: fmt(4) }),
      line(t('s.dloss'), C.d, 2, { value: fmt(4) }),
      line(t('s.gloss'), C.g, 2, { value: fmt(4) }),
      ...others.flatMap((r) => [
        line(runLabel(r, t('s.dloss')), r.colour, 1.5, { dash: [5, 4], value: atOrBefore(fmt(4)) }),
        line(runLabel(r, t('s.gloss')), r.colour, 2, { value: atOrBefore(fmt(4)) })]),
    ],
    axes: axes((u, vals) => vals.map((v) => v.toFixed(2))),
  }, [[], [], [], [], [], ...others.flatMap(() => [[], []])], lossEl);
  accChart = new uPlot({
    ...common, width: accEl.clientWidth || 600,
    scales: { x: { time: false }, y: { range: [0, 100] } },
    series: [
      xSeries(),
      line(t('s.real'), C.real, 2, { value: pctValue }),
      line(t('s.fake'), C.fake, 2, { value: pctValue }),
      line(t('s.overall'), C.all, 2, { value: pctValue }),
      line(t('s.eq'), C.eq, 1, { dash: [6, 5], value: () => '50%' }),
      ...others.map((r) => line(runLabel(r, t('s.overall')), r.colour, 2, { value: atOrBefore(pctValue) })),
    ],
    axes: axes((u, vals) => vals.map((v) => `${v}%`)),
  }, [[], [], [], [], [], ...others.map(() => [])], accEl);
  for (const u of [lossChart, accChart]) u.root.parentElement.dataset.x = ov.x;
}

export function makeCharts() {
  if (typeof uPlot === 'undefined') {
    $('chart-loss').textContent = t('chart.noUplot');
    return;
  }
  build();
  builtKey = overlayKey();
  const { lossEl, accEl } = elOf();
  const ro = new ResizeObserver(() => {
    if (lossChart) lossChart.setSize({ width: lossEl.clientWidth, height: CHART_H });
    if (accChart) accChart.setSize({ width: accEl.clientWidth, height: CHART_H });
  });
  ro.observe(lossEl);
  ro.observe(accEl);
}
// What a chart of the overlay is built for (its series and labels): another means build again.
export const overlayKey = () => `${lang()}|${ov.x}|${ov.current ? ov.current.name : ''}|${ov.runs.map((r) => `${r.name}=${r.label}=${r.colour}`).join('|')}`;

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
const sum = (a) => a.reduce((acc, v) => acc + (v ?? 0), 0);
const pct = (a) => a.map((v) => (v === null ? null : v * 100));
// Several runs on one x: the union of their x values, each series undefined
// (joined across) where its run has no point. The last column of the
// accuracy chart (50%) spans the union.
export function joined(tables) {
  return tables.length > 1 ? uPlot.join(tables) : tables[0];
}
function render() {
  lastRender = performance.now();
  if (!lossChart || !accChart) return;
  if (overlayKey() !== builtKey) {
    build();
    builtKey = overlayKey();
    scheduleRender();   // a new chart's first draw resets its legend: set it again next time
  }
  const alpha = Number($('smoothing').value) || 0;
  const batch = ov.current ? ov.current.batch : 0;
  const [x, dl, gl, ar, af, aa] = overlayTable(points, batch, ['d_loss', 'g_loss', 'd_acc_real', 'd_acc_fake', 'd_acc']);
  const others = ov.runs.map((r) => overlayTable(r.points || [], r.batch, ['d_loss', 'g_loss', 'd_acc']));
  lossChart.setData(joined([[x, dl, gl, ema(dl, alpha), ema(gl, alpha)],
    ...others.map(([xs, d, g]) => [xs, ema(d, alpha), ema(g, alpha)])]));
  // Accuracies are fractions; the chart shows percents.
  const acc = joined([[x, ...[ar, af, aa].map((a) => ema(pct(a), alpha)), x.map(() => 50)],
    ...others.map(([xs, , , a]) => [xs, ema(pct(a), alpha)])]);
  acc[4] = acc[0].map(() => 50);
  accChart.setData(acc);
  // For the browser tests: each drawn run's name, points, the sums of its
  // figures as fed to the chart before smoothing, and its last x.
  const names = [ov.current ? ov.current.name : '', ...ov.runs.map((r) => r.name)];
  const all = [[x, dl, gl, aa], ...others];
  const at = (u) => {
    // With the pointer off the chart, the legend shows this run's latest values.
    if (!x.length || u.cursor.left >= 0) return;
    const last = x[x.length - 1], xs = u.data[0];
    let i = xs.length - 1;
    while (i > 0 && xs[i] > last) i--;
    u.setLegend({ idx: i });
  };
  for (const [u, col] of [[lossChart, 2], [accChart, 3]]) {
    at(u);
    const box = u.root.parentElement;
    box.dataset.points = String(x.length);
    box.dataset.first = points.length ? String(points[0].iteration) : '';
    box.dataset.x = ov.x;
    box.dataset.runs = names.join(',');
    box.dataset.runPoints = all.map((tb) => tb[0].length).join(',');
    box.dataset.sums = all.map((tb) => sum(tb[col])).join(',');
    box.dataset.xlast = all.map((tb) => (tb[0].length ? tb[0][tb[0].length - 1] : '')).join(',');
  }
  lossChart.root.parentElement.dataset.dsums = all.map((tb) => sum(tb[1])).join(',');
}

$('smoothing').addEventListener('input', () => {
  $('smoothing-val').textContent = Number($('smoothing').value).toFixed(2);
  scheduleRender();
});
document.addEventListener('visibilitychange', () => { if (!document.hidden) scheduleRender(); });

// A new language: the charts are built again with its labels.
onChange(() => { builtKey = ''; scheduleRender(); });
