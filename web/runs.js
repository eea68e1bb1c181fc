// runs.js - "Runs side by side": every run the server keeps under its runs
// root (/api/runs); the ticked ones are drawn on the dashboard's own loss,
// accuracy (charts.js) and quality (insight.js) charts, one colour per run.
//
// The list shows each run's name, preset, state and the settings that
// differ from its preset. This server's run is always on the charts (its
// box is ticked and fixed); ticking another loads its points from
// /api/runs/<name>/metrics (paged, from the run's log on disk) and its
// quality passes from /api/runs/<name>/quality, and hands them to
// charts.setOverlay with the x axis chosen in the Loss card (#runs-x:
// iteration, wall time, images seen = iteration x batch); charts.js passes
// the passes on to the Quality card's chart (insight.js). The legends name
// each run with its preset and what differs. The list, and ticked runs that
// some ganlive is still training, are refreshed every REFRESH_MS, asking
// only for points past the last one held. When this server's run changes
// (New run, a restart on another run) the run it trained before is ticked,
// so it stays on the charts. onRuns(fn) hands every listing to compare.js.
import { $, api, showMsg } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';
import { setOverlay } from './charts.js';

// Not the colours of this run's own series (D blue, G orange).
const PALETTE = ['#ffd166', '#4cc9f0', '#e76f51', '#a7c957', '#f15bb5', '#00c2a8', '#b388ff', '#ff99c8'];
const REFRESH_MS = 10000;
const PAGE = 10000;
const MAX_PAGES = 50;

let runs = [];                  // the listing, newest first
let current = '';               // this server's run
let known = null;               // the names in the previous listing
const ticked = new Set();       // other runs drawn on the charts
const colours = new Map();      // name -> palette index, given when ticked
const held = new Map();         // name -> {points, last, passes}
const listeners = [];
export const onRuns = (fn) => { listeners.push(fn); };
export const listing = () => ({ runs, current });

const runOf = (name) => runs.find((r) => r.name === name);
const differsText = (r) => Object.entries((r && r.differs) || {}).map(([k, v]) => `${k}=${v}`).join(' ');
export const runLabel = (r) => {
  const d = differsText(r);
  return `${r.name} (${r.preset || '?'}${d ? `: ${d}` : ''})`;
};
export const runUrl = (name) => `/api/runs/${name.split('/').map(encodeURIComponent).join('/')}`;
const colourOf = (name) => PALETTE[(colours.get(name) ?? 0) % PALETTE.length];

function tick(name, on = true) {
  if (!on) { ticked.delete(name); colours.delete(name); return; }
  if (name === current || ticked.has(name)) return;
  ticked.add(name);
  const used = new Set(colours.values());
  let i = 0;
  while (used.has(i)) i++;
  colours.set(name, i);
}

// One load per run at a time (the list refresh and a tick may ask together);
// a point is kept only past the last one held.
const loading = new Map();
function load(name) {
  if (!loading.has(name)) loading.set(name, loadRun(name).finally(() => loading.delete(name)));
  return loading.get(name);
}
async function loadRun(name) {
  let h = held.get(name);
  if (!h) { h = { points: [], last: -1, passes: [] }; held.set(name, h); }
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
  h.passes = await loadPasses(name);
}
async function loadPasses(name) {
  try {
    const q = await api(`${runUrl(name)}/quality`);
    return (Array.isArray(q.passes) ? q.passes : []).map((p) => ({ ...p, time_s: p.time }));
  } catch { return []; }
}

function renderList() {
  const ul = $('runs-list');
  ul.textContent = '';
  for (const r of runs) {
    const li = document.createElement('li');
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.dataset.run = r.name;
    const mine = r.name === current;
    box.checked = mine || ticked.has(r.name);
    box.disabled = mine;
    box.addEventListener('change', () => {
      tick(r.name, box.checked);
      renderList();
      refresh().catch(() => {});
    });
    const sw = document.createElement('span');
    sw.className = 'run-swatch';
    if (mine) sw.classList.add('mine');
    else if (ticked.has(r.name)) sw.style.background = colourOf(r.name);
    const name = document.createElement('b');
    name.textContent = r.name;
    const meta = document.createElement('span');
    meta.className = 'hint';
    const it = Number.isFinite(r.iteration) ? r.iteration : 0;
    const d = differsText(r);
    meta.textContent = ` ${r.preset || '?'} · ${t(`runs.state.${r.state}`)} · ${t('runs.its', { n: it })}${d ? ` · ${d}` : ''}`
      + (mine ? ` · ${t('runs.mine')}` : '');
    label.append(box, sw, name, meta);
    li.append(label);
    ul.append(li);
  }
}

function push() {
  const cur = runOf(current);
  const others = runs.filter((r) => ticked.has(r.name) && held.has(r.name));
  setOverlay({
    x: $('runs-x').value,
    current: current ? { name: current, batch: (cur && cur.batch) || 0 } : null,
    runs: others.map((r) => ({ name: r.name, label: runLabel(r), colour: colourOf(r.name), batch: r.batch || 0,
      points: held.get(r.name).points, passes: held.get(r.name).passes })),
  });
}

async function refresh() {
  for (const n of [...ticked]) {
    const r = runOf(n);
    if (!r || n === current) { tick(n, false); continue; }
    if (!held.has(n) || r.state === 'current') {
      try { await load(n); } catch { /* a run that went away: skip it */ }
    }
  }
  push();
}

async function loadRuns() {
  let r;
  try { r = await api('/api/runs'); } catch { showMsg('runs-msg', () => t('runs.unavailable')); return; }
  runs = Array.isArray(r.runs) ? r.runs : [];
  const was = current;
  current = typeof r.current === 'string' ? r.current : '';
  if (was && current !== was && runOf(was)) tick(was);     // the run trained before stays on the charts
  if (was && current === was && known) {
    // the same name started afresh: its old checkpoints are a run of their own
    for (const q of runs) if (!known.has(q.name) && q.name.startsWith(`${was}/old-`)) tick(q.name);
  }
  known = new Set(runs.map((q) => q.name));
  showMsg('runs-msg', () => (runs.length ? '' : t('runs.none')));
  renderList();
  for (const fn of listeners) { try { fn(runs, current); } catch (e) { console.error(e); } }
  await refresh();
}

$('runs-x').addEventListener('change', push);
store.subscribe('run', () => { setTimeout(() => loadRuns().catch(() => {}), 500); });
// The event stream back after a drop: the server may have restarted on another run.
let wasLive = false;
store.subscribe('conn', (c) => {
  if (c.kind === 'live' && wasLive === 'lost') loadRuns().catch(() => {});
  wasLive = c.kind === 'live' ? true : wasLive ? 'lost' : false;
});
onChange(renderList);
setInterval(() => { if (!document.hidden) loadRuns().catch(() => {}); }, REFRESH_MS);
loadRuns().catch(() => {});
