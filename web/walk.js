// walk.js - the latent walk: ten candidate digits; click one, then another,
// to see the generator's digits on the way from one noise vector to the other.
//
// The candidates are /api/samples.png?n=1&seed=S; by default seeds 1..10,
// the same on every page (lib.onSharedRefresh redraws them on the shared
// snapshots), "New seeds" gives this page its own. The walk is
// /api/interpolate.png?from=A&to=B, redrawn with the candidates.
import { $, loadImg, dropBlob, randomSeed, onSharedRefresh } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';

let seeds = [], from = null, to = null, shownAt = -1;

function newSeeds(shared = false) {
  seeds = Array.from({ length: 10 }, (_, i) => (shared ? i + 1 : randomSeed()));
  from = to = null;
  const box = $('walk-candidates');
  box.textContent = '';
  for (const s of seeds) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'cand';
    b.dataset.seed = String(s);
    b.setAttribute('aria-pressed', 'false');
    const im = document.createElement('img');
    im.alt = '';
    b.append(im);
    b.addEventListener('click', () => pick(s));
    box.append(b);
  }
  dropWalk();
  refreshWalk(true);
}
function dropWalk() {
  dropBlob($('walk-img'));
  $('walk-img').removeAttribute('src');
  delete $('walk-img').dataset.url;
}
function pick(s) {
  if (from === null || to !== null) { from = s; to = null; dropWalk(); } else if (s !== from) to = s;
  renderWalk();
  if (to !== null) loadWalk();
}
function renderWalk() {
  for (const b of $('walk-candidates').children) {
    const s = Number(b.dataset.seed);
    b.classList.toggle('from', s === from);
    b.classList.toggle('to', s === to);
    b.setAttribute('aria-pressed', String(s === from || s === to));
    b.setAttribute('aria-label', t('walk.seed', { s }));
    b.title = b.getAttribute('aria-label');
  }
  $('walk-msg').textContent = from === null ? t('walk.pickFrom') : to === null ? t('walk.pickTo') : t('walk.path', { a: from, b: to });
}
async function loadWalk() {
  if (from === null || to === null) return;
  try { await loadImg($('walk-img'), `/api/interpolate.png?from=${from}&to=${to}&steps=10&scale=2`); } catch { /* next round */ }
}
async function refreshWalk(force = false) {
  if (!force && (document.hidden || shownAt === store.get('iteration'))) return;
  shownAt = store.get('iteration');
  renderWalk();
  await Promise.allSettled([...$('walk-candidates').children].map((b) =>
    loadImg(b.firstChild, `/api/samples.png?n=1&seed=${b.dataset.seed}&scale=2`)));
  await loadWalk();
}
$('btn-seeds').addEventListener('click', () => newSeeds());
onSharedRefresh(() => refreshWalk());
store.subscribe('run', () => setTimeout(() => refreshWalk(true), 500));
onChange(renderWalk);

newSeeds(true);
