// timeline.js - the fixed-noise grid and its timeline slider.
//
// Following live, the grid is /api/samples/fixed.png, fetched on every
// FIXED_EVERY-th shared snapshot (the store's "liveGrid" version), so that
// all pages ask for the same snapshots and the server renders each once;
// without the event stream it is polled. /api/timeline (polled every 3 s)
// lists the snapshots the server keeps; moving the slider shows one of them
// (its own URL) until the slider's last position or "Follow live".
import { $, api, fetchPng, setBlob, dropBlob, fmtInt } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';

const FIXED_EVERY = 3;
const POLL_MS = 2000;           // without events, poll this often
const TIMELINE_MS = 3000;       // /api/timeline poll

let snapshots = [];             // [{iteration, url}]
let following = true;           // the grid follows the latest
let pinnedIter = null;          // the snapshot iteration the person picked
let busy = false, shownAt = -2; // -2: nothing shown yet

export async function refreshFixed(force = false) {
  const at = store.get('iteration');
  if (!following || busy) return;
  if (!force && (document.hidden || shownAt === at)) return;
  busy = true;
  try {
    const blob = await fetchPng('/api/samples/fixed.png');
    if (following) { setBlob($('fixed'), blob); shownAt = at; }
  } catch { /* next round */ } finally { busy = false; }
}

function renderSlider() {
  const sl = $('timeline');
  sl.max = String(snapshots.length);   // the last position is "live"
  if (following) sl.value = sl.max;
  else {
    let idx = snapshots.findIndex((s) => s.iteration >= pinnedIter);
    if (idx < 0) idx = snapshots.length - 1;
    sl.value = String(Math.max(0, idx));
  }
  const v = Number(sl.value);
  $('timeline-label').textContent = following
    ? t(snapshots.length === 1 ? 'timeline.live1' : 'timeline.liveN', { n: snapshots.length })
    : t('timeline.at', { i: fmtInt(snapshots[v] && snapshots[v].iteration), k: v + 1, n: snapshots.length });
  $('btn-live').disabled = following;
}
export async function loadTimeline() {
  const r = await api('/api/timeline');
  snapshots = Array.isArray(r.snapshots) ? r.snapshots : [];
  if (!following && !snapshots.length) following = true;
  renderSlider();
}
function follow() {
  following = true;
  pinnedIter = null;
  renderSlider();
  refreshFixed(true);
}
$('timeline').addEventListener('input', () => {
  const v = Number($('timeline').value);
  if (v >= snapshots.length) { follow(); return; }
  following = false;
  pinnedIter = snapshots[v].iteration;
  dropBlob($('fixed'));
  $('fixed').src = snapshots[v].url;
  renderSlider();
});
$('btn-live').addEventListener('click', follow);

store.subscribe('liveGrid', (g) => {
  if (document.hidden) return;
  if (g.version % FIXED_EVERY === 0 || shownAt === -2) refreshFixed(true);
});
setInterval(() => {
  const g = store.get('liveGrid');
  if (Date.now() - (g ? g.at : 0) > 3 * POLL_MS) refreshFixed();
}, POLL_MS);
setInterval(() => { loadTimeline().catch(() => {}); }, TIMELINE_MS);
document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshFixed(); });
onChange(renderSlider);
