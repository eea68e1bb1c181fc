// realfake.js - "Real beside fake": 16 training digits next to 16 generated ones.
//
// /api/real.png and /api/samples.png, n=16, both for the shared seed 1 (the
// same on every page) until "New digits" picks this page's own. The fake
// grid follows training on the shared snapshots (lib.onSharedRefresh).
import { $, loadImg, randomSeed, onSharedRefresh, SHARED_SEED } from './lib.js';
import * as store from './store.js';

let realSeed = SHARED_SEED, fakeSeed = SHARED_SEED;
const loadFake = () => loadImg($('fake-img'), `/api/samples.png?n=16&seed=${fakeSeed}&scale=2`).catch(() => {});
function loadBoth() {
  loadImg($('real-img'), `/api/real.png?n=16&seed=${realSeed}&scale=2`).catch(() => {});
  loadFake();
}
$('btn-real').addEventListener('click', () => { realSeed = randomSeed(); fakeSeed = randomSeed(); loadBoth(); });
onSharedRefresh(() => { if (!document.hidden) loadFake(); });
store.subscribe('run', () => setTimeout(loadBoth, 500));

loadBoth();
