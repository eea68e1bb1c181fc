// runs.js - "Runs side by side": every run the server keeps under its runs
// root (/api/runs), ticked ones overlaid on one chart, one colour per run.
//
// The list shows each run's name, preset, state and the settings that
// differ from its preset; ticking a run loads its points from
// /api/runs/<name>/metrics (paged, from the run's log on disk) and draws
// the chosen figure (G loss, D loss, D accuracy) against the chosen x axis
// (iteration, wall time, images seen = iteration x batch). The legend names
// each run with what differs. This server's run is ticked at first and
// follows training: the list and the ticked current run are refreshed every
// REFRESH_MS, asking only for points past the last one held. A new run
// (store "run") reloads the list. The chart's box carries data-runs (the
// drawn runs' names, comma-separated), data-points (points per run) and
// data-sums (the sum of each drawn series) for the browser tests.
import { $, api, AXIS, GRID } from './lib.js';
import * as store from './store.js';

const PALETTE = ['#5b9dff', '#ff8a4c', '#3ecf8e', '#f25f8a', '#c9b6ff', '#ffd166', '#4cc9f0', '#e76f51'];
const REFRESH_MS = 10000;
const PAGE = 10000;
const MAX_PAGES = 50;
const CHART_H = 260;
const FIGURES = { g_loss: 'G loss', d_loss: 'D loss', d_acc: 'D accuracy (%)' };
const XS = { iteration: 'iteration', time: 'wall time (s)', images: 'images seen' };

let runs = [];                  // the listing, newest first
const ticked = new Set();       // names
const held = new Map();         // name -> {points: [], last}
let chart = null, chartKey = '', firstLoad = true;

const colourOf = (name) => PALETTE[Math.max(0, runs.findIndex((r) => r.name === name)) % PALETTE.length];
const differsText = (r) => Object.entries(r.differs || {}).map(([k, v]) => `${k}=${v}`).join(' ');
const runUrl = (name) => `/api/runs/${name.split('/').map(encodeURIComponent).join('/')}`;

// One load per run at a time (the list refresh and a tick may ask together);
// a point is kept only past the last one held.
const loading = new Map();
function loadPoints(name) {
  if (!loading.has(name)) loading.set(name, loadPages(name).finally(() => loading.delete(name)));
  return loading.get(name);
}
async function loadPages(name) {
  let h = held.get(name);
  if (!h) { h = { points: [], last: -1 }; held.set(name, h); }
  for (let i = 0; i < MAX_PAGES; i++) {
    const r = await api(`${runUrl(name)}/metrics?since=${h.last}&limit=${PAGE}`);
    if (!r.points || !r.points.length) break;
    for (const p of r.points) {
      if (!(p.iteration > h.last)) continue;
      h.points.push(p);
      h.last = p.iteration;
    }
    if (r.points.length < PAGE) break;
  }
}

function renderList() {
  const ul = $('runs-list');
  ul.textContent = '';
  for (const r of runs) {
    const li = document.createElement('li');
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = ticked.has(r.name);
    box.dataset.run = r.name;
    box.addEventListener('change', () => {
      if (box.checked) ticked.add(r.name); else ticked.delete(r.name);
      refreshTicked().catch(() => {});
    });
    const sw = document.createElement('span');
    sw.className = 'run-swatch';
    sw.style.background = colourOf(r.name);
    const name = document.createElement('b');
    name.textContent = r.name;
    const meta = document.createElement('span');
    meta.className = 'hint';
    const it = Number.isFinite(r.iteration) ? r.iteration : 0;
    meta.textContent = ` ${r.preset || '?'} · ${r.state} · ${it} it${differsText(r) ? ` · ${differsText(r)}` : ''}`;
    label.append(box, sw, name, meta);
    li.append(label);
    ul.append(li);
  }
}

function xOf(p, r) {
  if ($('runs-x').value === 'time') return p.time_s;
  if ($('runs-x').value === 'images') return p.iteration * (r.batch || 0);
  return p.iteration;
}

function draw() {
  const box = $('chart-runs');
  const fig = $('runs-figure').value;
  const names = runs.map((r) => r.name).filter((n) => ticked.has(n) && held.has(n));
  box.dataset.runs = names.join(',');
  box.dataset.points = names.map((n) => held.get(n).points.length).join(',');
  box.dataset.sums = '';
  if (typeof uPlot === 'undefined') return;
  const tables = names.map((n) => {
    const r = runs.find((q) => q.name === n);
    const xs = [], ys = [];
    let lastX = -Infinity;
    for (const p of held.get(n).points) {
      const x = xOf(p, r);
      if (!Number.isFinite(x) || x <= lastX) continue;     // x must grow (a resumed run repeats times)
      lastX = x;
      xs.push(x);
      const v = p[fig];
      ys.push(Number.isFinite(v) ? (fig === 'd_acc' ? v * 100 : v) : null);
    }
    return [xs, ys];
  });
  // the sum of each drawn series, for the browser test to compare with the run's log
  box.dataset.sums = tables.map(([, ys]) => ys.reduce((a, v) => a + (v ?? 0), 0)).join(',');
  const data = tables.length ? uPlot.join(tables) : [[]];
  const key = `${names.join('|')}:${fig}:${$('runs-x').value}`;
  if (!chart || key !== chartKey) {
    if (chart) chart.destroy();
    chartKey = key;
    chart = new uPlot({
      width: box.clientWidth || 600, height: CHART_H, scales: { x: { time: false } },
      legend: { live: true },
      series: [{ label: XS[$('runs-x').value] },
        ...names.map((n) => {
          const r = runs.find((q) => q.name === n);
          const d = differsText(r);
          return { label: `${n}${d ? ` (${d})` : ''}`, stroke: colourOf(n), width: 2, points: { show: false },
            spanGaps: true, value: (u, v) => (v == null ? '–' : v.toFixed(3)) };
        })],
      axes: [{ stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } },
        { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 }, size: 50,
          label: FIGURES[fig] }],
    }, data, box);
  } else {
    chart.setData(data);
  }
}

async function refreshTicked() {
  for (const n of ticked) {
    const r = runs.find((q) => q.name === n);
    if (!r) { ticked.delete(n); continue; }
    if (!held.has(n) || r.state === 'current') {
      try { await loadPoints(n); } catch { /* a run that went away: skip it */ }
    }
  }
  draw();
}

async function loadRuns() {
  let r;
  try { r = await api('/api/runs'); } catch { $('runs-msg').textContent = 'runs unavailable'; return; }
  runs = Array.isArray(r.runs) ? r.runs : [];
  $('runs-msg').textContent = runs.length ? '' : 'no runs kept (checkpoints off?)';
  if (firstLoad && r.current && runs.some((q) => q.name === r.current)) ticked.add(r.current);
  firstLoad = false;
  renderList();
  await refreshTicked();
}

$('runs-x').addEventListener('change', draw);
$('runs-figure').addEventListener('change', draw);
store.subscribe('run', () => { held.clear(); firstLoad = true; ticked.clear(); setTimeout(() => loadRuns().catch(() => {}), 500); });
new ResizeObserver(() => { if (chart) chart.setSize({ width: $('chart-runs').clientWidth, height: CHART_H }); })
  .observe($('chart-runs'));
setInterval(() => { if (!document.hidden) loadRuns().catch(() => {}); }, REFRESH_MS);
loadRuns().catch(() => {});
