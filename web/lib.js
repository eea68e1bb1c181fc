// lib.js - the helpers every dashboard module shares, defined once.
//
// $ (element by id), colours from the CSS custom properties, number and
// time formatting, messages that follow the language, and the network:
// api() fetches JSON with the presenter's token and throws the server's
// error; fetchPng() fetches an image as a blob, revalidated by ETag. Both
// go through fetchRetry(), which asks again after the Retry-After of a 429
// or 503 (the server's render budget), a few times, quietly. setBlob() and
// dropBlob() put such a blob into an <img> and free the old one.
// onSharedRefresh(fn): the classroom's shared panels refresh together.
// The token: the presenter opens http://host:port/#token=T; it moves to
// session storage and out of the address bar as soon as this module loads,
// so a URL copied from the page never carries it.
import { t, locale, onChange } from './i18n.js';
import * as store from './store.js';

export const $ = (id) => document.getElementById(id);

// ---- the classroom's shared defaults -------------------------------------------
// The latent-walk candidates (seeds 1..10), the fake grid and the copying
// check start from the same seeds on every page and refresh on the same
// snapshots, so the server renders each once for a whole class.
export const SHARED_SEED = 1;
const REFRESH_EVERY = 15;       // every 15th shared snapshot while the stream is up
const REFRESH_MS = 15000;       // ... else this often
const refreshFns = [];
export const onSharedRefresh = (fn) => { refreshFns.push(fn); };
let lastTick = Date.now();
function sharedTick() {
  lastTick = Date.now();
  for (const fn of refreshFns) { try { fn(); } catch (e) { console.error(e); } }
}
store.subscribe('liveGrid', (g) => { if (g.version % REFRESH_EVERY === 0) sharedTick(); });
setInterval(() => { if (Date.now() - lastTick >= REFRESH_MS) sharedTick(); }, REFRESH_MS / 3);

// ---- colours ----------------------------------------------------------------
const css = getComputedStyle(document.documentElement);
export const color = (name, fallback) => (css.getPropertyValue(name).trim() || fallback);
// "#rrggbb" with an alpha, as rgba()
export const fade = (hex, a) => {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m) return hex;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`;
};
export const AXIS = color('--muted', '#9aa4b2');
export const GRID = color('--grid', 'rgba(255,255,255,0.07)');

// ---- formatting -------------------------------------------------------------
export const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString(locale()) : '–');
export const fmtFixed = (v, d) => (Number.isFinite(v) ? v.toFixed(d) : '–');
export const fmtPct = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–');
export function fmtUptime(s) {
  if (!Number.isFinite(s)) return '–';
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}
export const randomSeed = () => Math.floor(Math.random() * 1e9);

// Messages kept as functions of the language, redrawn on a switch.
const msgFns = {};
export function showMsg(id, text) {
  msgFns[id] = typeof text === 'function' ? text : () => text || '';
  $(id).textContent = msgFns[id]();
}
onChange(() => { for (const [id, fn] of Object.entries(msgFns)) $(id).textContent = fn(); });

// A uPlot legend's series names follow the language.
export function relabelChart(u, keys) {
  if (!u) return;
  const labels = u.root.querySelectorAll('.u-legend .u-series .u-label');
  keys.forEach((k, i) => { u.series[i].label = t(k); if (labels[i]) labels[i].textContent = t(k); });
}

// ---- the token ----------------------------------------------------------------
const token = (() => {
  const KEY = 'ganlive.token';
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get('token');
  try {
    if (fromUrl) {
      sessionStorage.setItem(KEY, fromUrl);
      history.replaceState(null, '', location.pathname + location.search);
      return fromUrl;
    }
    return sessionStorage.getItem(KEY);
  } catch { return fromUrl; }
})();

// ---- fetching -------------------------------------------------------------------
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
// A GET the server's render budget turned away (429, 503 + Retry-After)
// is asked again after the pause it names, a few times, quietly.
async function fetchRetry(path, init) {
  for (let tries = 0; ; tries++) {
    const r = await fetch(path, init);
    if ((r.status !== 429 && r.status !== 503) || tries >= 5 || (init.method && init.method !== 'GET')) return r;
    const after = Number(r.headers.get('Retry-After'));
    if (!Number.isFinite(after)) return r;   // a 503 that is not the budget's (e.g. no generator yet)
    await sleep(Math.min(after, 10) * 1000 * (0.5 + Math.random()));
  }
}
// JSON in and out; the token when the page holds one; a non-2xx answer is
// thrown as an Error with the server's message and .status.
export async function api(path, opts = {}) {
  const init = { cache: 'no-store', ...opts };
  if (opts.body !== undefined) {
    init.headers = { 'Content-Type': 'application/json' };
    init.body = JSON.stringify(opts.body);
  }
  if (token) init.headers = { ...(init.headers || {}), Authorization: `Bearer ${token}` };
  const r = await fetchRetry(path, init);
  let j = null;
  try { j = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) {
    const e = new Error((j && j.error) || `HTTP ${r.status}`);
    e.status = r.status;
    throw e;
  }
  return j;
}

// ---- PNG blobs ----------------------------------------------------------------------
export async function fetchPng(url) {
  const r = await fetchRetry(url, { cache: 'no-cache' });   // revalidated by ETag
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.blob();
}
// Swap without a flicker; the old object URL is freed once the new one shows.
export function setBlob(img, blob) {
  const url = URL.createObjectURL(blob);
  const old = img.dataset.blob;
  img.onload = () => { if (old) URL.revokeObjectURL(old); img.onload = null; };
  img.src = url;
  img.dataset.blob = url;
}
export function dropBlob(img) {
  if (img.dataset.blob) { URL.revokeObjectURL(img.dataset.blob); delete img.dataset.blob; }
}
// Fetch url into img; img.dataset.url names the API URL behind the blob
// (the hover tooltip and the browser tests read it).
export async function loadImg(img, url) {
  setBlob(img, await fetchPng(url));
  img.dataset.url = url;
}
