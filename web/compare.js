// compare.js - "Compare digits": two runs' fixed-noise grids side by side,
// one slider for both.
//
// Each run's snapshots come from GET /api/runs/<name>/timeline ({run, items:
// [{iteration, time_s, url}]}, oldest first). The toggle (#cmp-by) lines
// them up by iteration or by wall time: the slider's positions are the
// union of both runs' iterations (or times), and at each position each side
// shows its newest snapshot at or before it (none yet: an empty box), with
// its iteration and time underneath. The slider at its last position
// follows new snapshots of a run still training (refreshed every
// REFRESH_MS). The runs to pick from are runs.js's listing; at first A is
// this server's run and B the newest other. The images carry data-url and
// the slider's box data-key for the browser tests.
import { $, api, fmtInt, fmtFixed } from './lib.js';
import { t, onChange } from './i18n.js';
import { onRuns, runUrl, listing } from './runs.js';

const REFRESH_MS = 10000;
const SIDES = ['a', 'b'];
const tl = { a: null, b: null };   // side -> {run, items} (null: nothing picked or not loaded)
let keys = [];                      // the slider's positions, ascending
let atEnd = true;                   // the slider sits at the newest position
let picked = false;                 // the person chose the runs (else follow the defaults)

const by = () => ($('cmp-by').value === 'time' ? 'time_s' : 'iteration');

function fillSelects(runs, current) {
  for (const s of SIDES) {
    const sel = $(`cmp-${s}`);
    const keep = sel.value;
    sel.textContent = '';
    const none = document.createElement('option');
    none.value = '';
    none.textContent = '–';
    sel.append(none);
    for (const r of runs) {
      const o = document.createElement('option');
      o.value = r.name;
      o.textContent = r.name === current ? `${r.name} · ${t('runs.mine')}` : r.name;
      sel.append(o);
    }
    if (keep && runs.some((r) => r.name === keep)) sel.value = keep;
  }
  if (!picked) {
    const other = runs.find((r) => r.name !== current);
    if (runs.some((r) => r.name === current)) $('cmp-a').value = current;
    $('cmp-b').value = other ? other.name : '';
  }
}

async function loadSide(s) {
  const name = $(`cmp-${s}`).value;
  if (!name) { tl[s] = null; return; }
  try {
    const r = await api(`${runUrl(name)}/timeline`);
    if ($(`cmp-${s}`).value !== name) return;             // picked another meanwhile
    tl[s] = { run: name, items: (Array.isArray(r.items) ? r.items : []).filter((it) => it && typeof it.url === 'string') };
  } catch (e) {
    tl[s] = { run: name, items: [], error: e.message };
  }
}

function rebuild() {
  const k = by();
  const oldKey = keys[Number($('cmp-slider').value)];
  const set = new Set();
  for (const s of SIDES) for (const it of (tl[s] ? tl[s].items : [])) if (Number.isFinite(it[k])) set.add(it[k]);
  keys = [...set].sort((x, y) => x - y);
  const sl = $('cmp-slider');
  sl.max = String(Math.max(0, keys.length - 1));
  sl.disabled = keys.length < 2;
  let idx = keys.length - 1;
  if (!atEnd && oldKey !== undefined) {
    idx = keys.findIndex((v) => v >= oldKey);
    if (idx < 0) idx = keys.length - 1;
  }
  sl.value = String(Math.max(0, idx));
  show();
}

// The newest item of a side at or before the slider's position.
function pick(items, k, at) {
  let best = null;
  for (const it of items) if (Number.isFinite(it[k]) && it[k] <= at) best = it;
  return best;
}

function show() {
  const k = by();
  const v = Number($('cmp-slider').value);
  const at = keys[v];
  $('cmp-slider').dataset.key = at === undefined ? '' : String(at);
  $('cmp-label').textContent = at === undefined ? t('cmp.empty')
    : k === 'time_s' ? t('cmp.atTime', { s: fmtFixed(at, 1) }) : t('cmp.atIter', { i: fmtInt(at) });
  for (const s of SIDES) {
    const img = $(`cmp-img-${s}`), cap = $(`cmp-cap-${s}`);
    const side = tl[s];
    const it = side && at !== undefined ? pick(side.items, k, at) : null;
    if (it) {
      if (img.dataset.url !== it.url) { img.src = it.url; img.dataset.url = it.url; }
      img.hidden = false;
      cap.textContent = t('cmp.shot', { i: fmtInt(it.iteration), s: fmtFixed(it.time_s, 1) });
    } else {
      img.removeAttribute('src');
      img.dataset.url = '';
      img.hidden = true;
      cap.textContent = !side ? t('cmp.pick') : side.error ? t('cmp.error', { e: side.error })
        : side.items.length ? t('cmp.notYet') : t('cmp.noShots');
    }
  }
}

async function reload(sides = SIDES) {
  await Promise.all(sides.map(loadSide));
  rebuild();
}

for (const s of SIDES) {
  $(`cmp-${s}`).addEventListener('change', () => { picked = true; reload([s]).catch(() => {}); });
}
$('cmp-by').addEventListener('change', () => { atEnd = true; rebuild(); });
$('cmp-slider').addEventListener('input', () => {
  atEnd = Number($('cmp-slider').value) >= keys.length - 1;
  show();
});
let first = true;
function listed(runs, current) {
  const before = SIDES.map((s) => $(`cmp-${s}`).value).join('|');
  fillSelects(runs, current);
  const now = SIDES.map((s) => $(`cmp-${s}`).value).join('|');
  if (first || before !== now) { first = false; reload().catch(() => {}); }
}
onRuns(listed);
if (listing().runs.length) listed(listing().runs, listing().current);
// Runs still training grow new snapshots.
setInterval(() => {
  if (document.hidden) return;
  const { runs } = listing();
  const live = SIDES.filter((s) => tl[s] && (runs.find((r) => r.name === tl[s].run) || {}).state === 'current');
  if (live.length) reload(live).catch(() => {});
}, REFRESH_MS);
onChange(() => {
  const { runs, current } = listing();
  fillSelects(runs, current);
  show();
});
