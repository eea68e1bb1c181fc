// app.js - the dashboard's entry module: starts the panels and follows the
// server (index.html loads it as <script type="module">; no build step).
//
// Every panel is its own module that subscribes to the store (store.js) for
// what it shows; this module only feeds the store:
// - On load it reads /api/status, /api/config and /api/timeline, then opens
//   the Server-Sent Events stream /api/events. Each time the stream opens it
//   catches up with /api/metrics (charts.catchUp); after a drop it first
//   reloads status, settings and timeline, since the server may have
//   restarted (EventSource reconnects by itself; when the browser gives up,
//   this module retries with a growing pause). The connection badge shows
//   live / reconnecting / disconnected.
// - Events go to the store: "state" (state, iteration, config), "metrics",
//   "samples" (the shared live grid: liveGrid) and "balance".
// - /api/status is polled every 2 s; without the stream the charts are
//   kept going by polling /api/metrics too.
// Module map: lib.js helpers, store.js shared state, i18n.js strings;
// status.js, controls.js, checkpoint.js, charts.js, balance.js, samples.js,
// timeline.js, settings.js, insight.js, walk.js, realfake.js, invite.js, runs.js one
// panel each.
import * as store from './store.js';
import { loadStatus } from './status.js';
import { catchUp, makeCharts } from './charts.js';
import { loadConfig } from './settings.js';
import { loadTimeline, refreshFixed } from './timeline.js';
import { refreshSamples } from './samples.js';
import './controls.js';
import './checkpoint.js';
import './balance.js';
import './insight.js';
import './walk.js';
import './realfake.js';
import './invite.js';
import './runs.js';

const STATUS_MS = 2000;         // /api/status poll

// ---- the event stream ---------------------------------------------------------------
let es = null, everOpen = false, lost = false, retryTimer = null, backoff = 1000;
const setConn = (kind, key, params) => store.set('conn', { kind, key, params });
const parsed = (fn) => (e) => {
  let d;
  try { d = JSON.parse(e.data); } catch { return; }   // ignore a bad event
  if (d && typeof d === 'object') fn(d);
};
function connect() {
  clearTimeout(retryTimer);
  es = new EventSource('/api/events');
  es.addEventListener('open', () => {
    setConn('live');
    backoff = 1000;
    const resync = lost;
    lost = false;
    everOpen = true;
    if (resync) {
      // The server may have restarted: reload everything, then the metrics we missed.
      loadStatus(true).catch(() => {}).then(catchUp).catch(() => {});
      loadConfig().catch(() => {});
      loadTimeline().catch(() => {});
    } else catchUp().catch(() => {});
  });
  es.addEventListener('error', () => {
    lost = true;
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. an HTTP error answer): retry ourselves.
      es.close();
      setConn('disconnected', 'conn.retry', { s: Math.round(backoff / 1000) });
      retryTimer = setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    } else setConn('reconnecting', everOpen ? 'conn.reconnecting…' : 'conn.connecting…');
  });
  es.addEventListener('balance', parsed((d) => store.emit('balance', d)));
  es.addEventListener('samples', parsed((d) => {
    if (Number.isFinite(d.seed)) store.emit('liveGrid', { seed: d.seed, version: d.version, at: Date.now() });
  }));
  es.addEventListener('metrics', parsed((d) => store.emit('metrics', d)));
  es.addEventListener('state', parsed((d) => {
    if (d.state && d.state !== store.get('state')) {
      store.set('state', d.state);
      if (d.state === 'diverged') loadStatus().catch(() => {});   // for diverged_reason
    }
    store.setIteration(d.iteration);
    if (d.config && typeof d.config === 'object') store.emit('config', d.config);
  }));
}

// ---- polling ---------------------------------------------------------------------------------
async function tickStatus() {
  try {
    await loadStatus();
    // Without the event stream, keep the charts going by polling.
    if (!es || es.readyState !== EventSource.OPEN) await catchUp();
  } catch {
    if (!es || es.readyState !== EventSource.OPEN) setConn('disconnected');
  }
}

async function start() {
  makeCharts();
  await Promise.allSettled([loadStatus(), loadConfig(), loadTimeline()]);
  connect();
  refreshSamples(true);
  refreshFixed(true);
  setInterval(tickStatus, STATUS_MS);
}
start();
