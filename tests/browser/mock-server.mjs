// mock-server.mjs - a stand-in for the ganlive C server, for developing and
// testing the dashboard without building the trainer.
//
// It implements the same HTTP API as the C server (status, metrics, samples,
// timeline, pause/resume/step, config, events) with a fake trainer: a timer advances the
// iteration counter and makes plausible loss/accuracy curves, PNG sample
// grids are drawn with a tiny built-in encoder (node:zlib only), and the
// static files are the same fixed list the real server serves, read from
// web/ and node_modules/uplot/dist/. No dependencies beyond Node itself.
//
//   node tests/browser/mock-server.mjs [--port 8080] [--host 127.0.0.1] [--rate 40]
//
// It prints "mock listening on http://HOST:PORT" once ready. It can also be
// imported: `const m = await startMock({port: 0}); m.url; await m.close()`.
// Checkpoints are simulated in memory (nothing is written): POST
// /api/checkpoint answers {"path","iteration"}, /api/status has
// "last_checkpoint" and "checkpoint_error", and POST /api/resume on a diverged
// run "restores" the last checkpoint (iteration and history go back) or
// answers 409 when there is none. startMock({runDir: ''}) turns checkpoints
// off like an empty run.dir (500 on POST /api/checkpoint).
// Extra mock-only endpoints: POST /__mock/drop-events closes every SSE stream
// (to exercise the page's reconnect path); POST /__mock/diverge {"reason"}
// makes the run diverge (with "forget_checkpoints": true, as if none existed); POST /__mock/checkpoint-error {"error"} sets (or,
// with null, clears) checkpoint_error; POST /__mock/warnings
// {"mode_collapse": bool, "copying": bool} switches the quality warnings (and
// the flags of later quality passes); POST /__mock/throttle {"n", "status"}
// answers the next n image requests (samples.png) with 429 or 503 and
// Retry-After: 1, as the render budget does; POST /__mock/balance {"action"} emits a
// balance event now.
//
// The insight API of /tmp/ganlive-contract.md is mocked too: quality passes
// every quality_every iterations (inception score rising toward the ceiling,
// Frechet distance falling, a class histogram), /api/quality, /api/nearest and
// nearest.png, samples.json, annotate=1 (RGB frames red = caught to green =
// fooled), digit=D / digits=all (startMock({conditional: true}); 400 otherwise),
// real.png, interpolate.png, balance (config "balance": "auto" makes skip/resume
// events, SSE "balance", GET /api/balance), and POST /api/run {"preset"}, which
// restarts the fake run from iteration 0 (uptime too) and drops the SSE streams.
// Runs side by side: the run is named "mock" at first; POST /api/run {"preset",
// "name", "settings"} checks the name and the settings as the C server does
// (400 naming the field; 409 for a name taken), answers 202 with the run's
// name (the one given, else "<preset>-<N>"), and sets the old run aside as a
// stopped run (its points, passes and snapshots kept): /api/runs lists them,
// /api/runs/<name>/metrics, /quality, /timeline ({run, items: [{iteration,
// time_s, url}]}) and /timeline/<N>.png answer for each.
// startMock({classifier: false}) answers quality "available": false with a reason.
// Grids follow the C server's layout: 28*scale cells, 2-px gutters between
// cells only (not scaled), ceil(sqrt(n)) columns.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'";

const STATIC = {
  '/': ['web/index.html', 'text/html; charset=utf-8'],
  '/index.html': ['web/index.html', 'text/html; charset=utf-8'],
  '/app.js': ['web/app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['web/style.css', 'text/css; charset=utf-8'],
  '/i18n.js': ['web/i18n.js', 'text/javascript; charset=utf-8'],
  '/insight.js': ['web/insight.js', 'text/javascript; charset=utf-8'],
  '/settings.js': ['web/settings.js', 'text/javascript; charset=utf-8'],
  '/lib.js': ['web/lib.js', 'text/javascript; charset=utf-8'],
  '/store.js': ['web/store.js', 'text/javascript; charset=utf-8'],
  '/status.js': ['web/status.js', 'text/javascript; charset=utf-8'],
  '/controls.js': ['web/controls.js', 'text/javascript; charset=utf-8'],
  '/checkpoint.js': ['web/checkpoint.js', 'text/javascript; charset=utf-8'],
  '/charts.js': ['web/charts.js', 'text/javascript; charset=utf-8'],
  '/balance.js': ['web/balance.js', 'text/javascript; charset=utf-8'],
  '/samples.js': ['web/samples.js', 'text/javascript; charset=utf-8'],
  '/timeline.js': ['web/timeline.js', 'text/javascript; charset=utf-8'],
  '/walk.js': ['web/walk.js', 'text/javascript; charset=utf-8'],
  '/realfake.js': ['web/realfake.js', 'text/javascript; charset=utf-8'],
  '/invite.js': ['web/invite.js', 'text/javascript; charset=utf-8'],
  '/runs.js': ['web/runs.js', 'text/javascript; charset=utf-8'],
  '/compare.js': ['web/compare.js', 'text/javascript; charset=utf-8'],
  '/uPlot.iife.min.js': ['node_modules/uplot/dist/uPlot.iife.min.js', 'text/javascript; charset=utf-8'],
  '/uPlot.min.css': ['node_modules/uplot/dist/uPlot.min.css', 'text/css; charset=utf-8'],
};

// ---- tiny PNG encoder (8-bit grayscale) -----------------------------------
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function encodePng(w, h, pix, ch = 1) {
  const stride = w * ch;
  const raw = Buffer.alloc((stride + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (stride + 1)] = 0;
    pix.copy(raw, y * (stride + 1) + 1, y * stride, y * stride + stride);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = ch === 3 ? 2 : 0; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

// Deterministic PRNG (mulberry32).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A "digit": a few thick strokes, blended with noise that fades as training
// goes on (quality q in [0,1]). Returns 28*28 values in [0,1].
function digitCell(seed, q) {
  const r = rng(seed);
  const cell = new Float32Array(28 * 28);
  const strokes = 1 + Math.floor(r() * 3);
  for (let s = 0; s < strokes; s++) {
    const cx = 8 + r() * 12, cy = 8 + r() * 12, rx = 3 + r() * 6, ry = 4 + r() * 7;
    const a0 = r() * Math.PI * 2, span = Math.PI * (0.6 + r() * 1.6);
    for (let k = 0; k <= 60; k++) {
      const a = a0 + span * (k / 60);
      const px = cx + rx * Math.cos(a), py = cy + ry * Math.sin(a);
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) {
        const x = Math.round(px + dx), y = Math.round(py + dy);
        if (x < 0 || y < 0 || x >= 28 || y >= 28) continue;
        const v = Math.max(0, 1 - Math.hypot(dx, dy) / 2.2);
        cell[y * 28 + x] = Math.max(cell[y * 28 + x], v);
      }
    }
  }
  const nr = rng(seed ^ 0x9e3779b9);
  for (let i = 0; i < 28 * 28; i++) cell[i] = q * cell[i] + (1 - q) * nr();
  return cell;
}
const quality = (iteration) => Math.min(0.97, 0.25 + iteration / 1500);
const gridCols = (n) => Math.ceil(Math.sqrt(n));

// The C server's layout: cell i at ((i % cols) * pitch, floor(i / cols) * pitch),
// pitch = 28*scale + 2; gutters between cells only, grey 48. frames: optional
// [r, g, b] per cell, drawn as a 2-px border inside the cell (RGB PNG then).
function renderGrid(cells, cols, scale, frames = null) {
  const n = cells.length, G = 2;
  if (cols > n) cols = n;
  const rows = Math.ceil(n / cols), pitch = 28 * scale + G;
  const W = cols * 28 * scale + (cols - 1) * G, H = rows * 28 * scale + (rows - 1) * G;
  const ch = frames ? 3 : 1;
  const img = Buffer.alloc(W * H * ch, 48);
  for (let i = 0; i < n; i++) {
    const x0 = (i % cols) * pitch, y0 = Math.floor(i / cols) * pitch, c = cells[i];
    for (let y = 0; y < 28 * scale; y++) for (let x = 0; x < 28 * scale; x++) {
      const v = Math.max(0, Math.min(255, Math.round(c[Math.floor(y / scale) * 28 + Math.floor(x / scale)] * 255)));
      const o = ((y0 + y) * W + x0 + x) * ch;
      const edge = frames && (x < 2 || y < 2 || x >= 28 * scale - 2 || y >= 28 * scale - 2);
      for (let k = 0; k < ch; k++) img[o + k] = edge ? frames[i][k] : v;
    }
  }
  return encodePng(W, H, img, ch);
}
const sampleSeed = (seed, i, digit) => (seed * 7919 + i * 104729 + (digit === null ? 0 : (digit + 1) * 15485863)) >>> 0;

// ---- fake trainer ------------------------------------------------------------
const LIVE_RULES = {
  lr_d: ['number', 0, 1], lr_g: ['number', 0, 1],
  beta1: ['number', 0, 0.9999], beta2: ['number', 0, 0.9999],
  d_steps: ['int', 1, 10], g_steps: ['int', 1, 10],
  timeline_every: ['int', 1, 1000000], events_interval_ms: ['int', 50, 10000],
  balance: ['enum', ['off', 'auto']], balance_hi: ['number', 0, 1], balance_lo: ['number', 0, 1],
  balance_window: ['int', 1, 1000], quality_every: ['int', 0, 1000000],
};
const PRESETS = {
  classic: { lr_d: 0.0002, lr_g: 0.0002, beta1: 0.5, beta2: 0.999, d_steps: 1, g_steps: 1 },
  fast: { lr_d: 0.0005, lr_g: 0.0005, beta1: 0.5, beta2: 0.999, d_steps: 1, g_steps: 2 },
};
const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const CEILING = { confidence: 0.99, inception_score: 9.8, frechet: 0.9, nn_ratio: 1.0 };
const THRESHOLDS = { class_min: 0.02, class_max: 0.30, nn_ratio_min: 0.6 };

export async function startMock({ port = 0, host = '127.0.0.1', rate = 40, quiet = false, runDir = 'runs/mock',
  conditional = false, classifier = true, qualityEvery = 100, preset = 'classic' } = {}) {
  let t0 = Date.now();
  let boundPort = port;
  const live = { lr_d: 0.0002, lr_g: 0.0002, beta1: 0.5, beta2: 0.999, d_steps: 1, g_steps: 1,
                 timeline_every: 100, events_interval_ms: 250, ...PRESETS[preset],
                 balance: 'off', balance_hi: 0.95, balance_lo: 0.35, balance_window: 20, quality_every: qualityEvery };
  const RUN = { preset, restarts: 0, name: 'mock', past: [] };   // past: [{name, preset, history, passes, timeline}]
  const Q = { passes: [], modeCollapse: false, copying: false };
  const BAL = { skipping: null, events: [] };
  const S = { state: 'running', iteration: 0, stepTarget: null, stepWaiters: [], divergedReason: '' };
  const CK = { last: null, error: null, saved: [] };   // saved: [{iteration, path, time}]
  const history = [];            // point objects, oldest first
  const MAX_HISTORY = 4000;
  const timeline = [];           // iterations with a snapshot
  const tlTime = new Map();      // snapshot iteration -> time_s
  const TIMELINE_MAX = 200;
  const sse = new Set();
  const noise = rng(42);
  let lastImgsTime = Date.now(), lastImgsIter = 0, imagesPerSec = 0;

  function makePoint(it) {
    const p = Math.min(1, it / 3000);
    const wob = Math.sin(it / 60) * 0.08 + (noise() - 0.5) * 0.25;
    const dl = 1.38 - 0.35 * p + wob * 0.6;
    const gl = 0.75 + 0.9 * p - wob + (noise() - 0.5) * 0.2;
    const ar = Math.min(1, Math.max(0, 0.55 + 0.25 * p + (noise() - 0.5) * 0.15));
    const af = Math.min(1, Math.max(0, 0.45 + 0.2 * p + (noise() - 0.5) * 0.15));
    return { iteration: it, count: 1, time_s: (Date.now() - t0) / 1000, d_loss: +dl.toFixed(5),
      g_loss: +gl.toFixed(5), d_acc: +((ar + af) / 2).toFixed(5), d_acc_real: +ar.toFixed(5),
      d_acc_fake: +af.toFixed(5), d_real: +(0.5 + ar * 0.3).toFixed(5), d_fake: +(0.5 - af * 0.3).toFixed(5) };
  }
  function thin() {
    // Average the oldest half in buckets of 4, like the real server's history.
    if (history.length <= MAX_HISTORY) return;
    const half = Math.floor(history.length / 2), merged = [];
    for (let i = 0; i < half; i += 4) {
      const grp = history.slice(i, Math.min(i + 4, half));
      const cnt = grp.reduce((s, p) => s + p.count, 0);
      const m = { iteration: grp[grp.length - 1].iteration, count: cnt, time_s: grp[grp.length - 1].time_s };
      for (const k of ['d_loss', 'g_loss', 'd_acc', 'd_acc_real', 'd_acc_fake', 'd_real', 'd_fake'])
        m[k] = grp.reduce((s, p) => s + p[k] * p.count, 0) / cnt;
      merged.push(m);
    }
    history.splice(0, half, ...merged);
  }
  // ---- quality passes and balance events (fake) ----
  function makePass(it) {
    const e = Math.exp(-it / 1500), w = () => (noise() - 0.5);
    const hist = CLASSES.map(() => 1 + 0.25 * w());
    if (Q.modeCollapse) hist[3] = 0.08;
    const sum = hist.reduce((a, b) => a + b, 0);
    const histogram = hist.map((h) => +(h / sum).toFixed(4));
    const nn = Q.copying ? 0.41 + 0.03 * w() : 0.95 + 0.06 * w();
    return { iteration: it, time: +((Date.now() - t0) / 1000).toFixed(1),
      confidence: +(CEILING.confidence - 0.6 * e + 0.01 * w()).toFixed(4),
      inception_score: +Math.min(9.6, CEILING.inception_score - 8.2 * e + 0.2 * w()).toFixed(3),
      frechet: +(CEILING.frechet + 80 * Math.exp(-it / 1200) + 0.3 * Math.abs(w())).toFixed(3),
      nn_ratio: +nn.toFixed(3), histogram,
      mode_collapse: histogram.some((h) => h < THRESHOLDS.class_min || h > THRESHOLDS.class_max),
      copying: nn < THRESHOLDS.nn_ratio_min };
  }
  function warnings() {
    const w = [];
    if (!classifier) return w;
    const last = Q.passes[Q.passes.length - 1];
    if (Q.modeCollapse) {
      const share = last && last.mode_collapse ? last.histogram[3] : 0.008;
      w.push({ kind: 'mode_collapse', message: `digit 3 is ${(share * 100).toFixed(1)}% of samples (under 2%)` });
    }
    if (Q.copying) {
      const r = last && last.copying ? last.nn_ratio : 0.41;
      w.push({ kind: 'copying', message: `samples sit ${r.toFixed(2)}x as close to training digits as test digits do (under 0.6)` });
    }
    return w;
  }
  // The readable moment as /api/status quality carries it: the first pass
  // with an inception score >= 7 (unconditional) or >= 80% of samples read
  // as the digit asked for (conditional; 1 - 0.9 e^(-it/600) here).
  function readableOf() {
    const share = (p) => +(1 - 0.9 * Math.exp(-p.iteration / 600)).toFixed(4);
    const v = (p) => (conditional ? share(p) : p.inception_score), thr = conditional ? 0.8 : 7.0;
    const first = Q.passes.find((p) => v(p) >= thr);
    const best = Q.passes.reduce((b, p) => (b && v(b) >= v(p) ? b : p), null);
    return { as_asked: conditional ? share(Q.passes[Q.passes.length - 1]) : null,
      readable_since: first ? { iteration: first.iteration, time_s: first.time } : null,
      readable: { metric: conditional ? 'as_asked' : 'inception_score', threshold: thr,
        best: best ? v(best) : null, best_iteration: best ? best.iteration : null } };
  }
  function balanceEvent(action) {
    const last = history[history.length - 1];
    const acc = action === 'skip_d' ? 0.97 : action === 'skip_g' ? 0.31 : (last ? last.d_acc : 0.6);
    const ev = { iteration: S.iteration, action, d_acc: +acc.toFixed(4) };
    BAL.events.push(ev);
    if (BAL.events.length > 256) BAL.events.shift();
    BAL.skipping = action === 'skip_d' ? 'd' : action === 'skip_g' ? 'g' : null;
    for (const c of sse) sendEvent(c.res, 'balance', ev);
    return ev;
  }
  function advance(k) {
    for (let i = 0; i < k; i++) {
      S.iteration++;
      history.push(makePoint(S.iteration));
      if (classifier && live.quality_every > 0 && S.iteration % live.quality_every === 0) {
        Q.passes.push(makePass(S.iteration));
        if (Q.passes.length > 1000) Q.passes.shift();
      }
      if (live.balance === 'auto') {   // a skip/resume cycle every 160 iterations
        const ph = S.iteration % 160;
        if (ph === 0) balanceEvent('skip_d');
        else if (ph === 40 || ph === 120) balanceEvent('resume');
        else if (ph === 80) balanceEvent('skip_g');
      }
      if (S.iteration % live.timeline_every === 0) {
        timeline.push(S.iteration);
        tlTime.set(S.iteration, (Date.now() - t0) / 1000);
        if (timeline.length > TIMELINE_MAX) timeline.splice(1, 1);
      }
    }
    thin();
  }
  const perTick = Math.max(1, Math.round(rate / 20));
  const tick = setInterval(() => {
    if (S.state === 'running') advance(perTick);
    else if (S.stepTarget !== null) {
      advance(Math.min(perTick, S.stepTarget - S.iteration));
      if (S.iteration >= S.stepTarget) {
        S.stepTarget = null;
        const ws = S.stepWaiters; S.stepWaiters = [];
        for (const w of ws) w();
        broadcastState();
      }
    }
    const now = Date.now();
    if (now - lastImgsTime >= 1000) {
      imagesPerSec = ((S.iteration - lastImgsIter) * 64) / ((now - lastImgsTime) / 1000);
      lastImgsTime = now; lastImgsIter = S.iteration;
    }
  }, 50);

  function sendEvent(res, ev, data) { res.write(`event: ${ev}\ndata: ${JSON.stringify(data)}\n\n`); }
  function broadcastState(extra = {}) {
    for (const c of sse) sendEvent(c.res, 'state', { state: S.state, iteration: S.iteration, ...extra });
  }
  let evTimer = null;
  function scheduleEvents() {
    clearTimeout(evTimer);
    evTimer = setTimeout(() => {
      for (const c of sse) {
        const pts = history.filter((p) => p.iteration > c.last).slice(-1000);
        if (pts.length) {
          c.last = pts[pts.length - 1].iteration;
          sendEvent(c.res, 'metrics', { iteration: S.iteration, points: pts });
        }
      }
      scheduleEvents();
    }, live.events_interval_ms);
  }
  scheduleEvents();
  // The shared live grid (render.c): a new snapshot about every second while
  // the iteration moves, announced as a "samples" event.
  const LIVE = { version: 0, iteration: -1, seed: null };
  const THROTTLE = { n: 0, status: 429, sent: 0 };   // deliberate 429/503 answers
  function liveEvent() {
    return { iteration: LIVE.iteration, version: LIVE.version, seed: LIVE.seed,
      url: `/api/samples.png?n=64&scale=2&seed=${LIVE.seed}` };
  }
  setInterval(() => {
    if (S.iteration === LIVE.iteration) return;
    LIVE.version++;
    LIVE.iteration = S.iteration;
    LIVE.seed = (LIVE.version * 2654435761) % 9007199254740991;
    for (const c of sse) sendEvent(c.res, 'samples', liveEvent());
  }, 1000).unref();

  function status() {
    return { state: S.state, iteration: S.iteration, epoch: +(S.iteration * 64 / 60000).toFixed(4),
      images_per_sec: S.state === 'running' ? Math.round(imagesPerSec) : 0, uptime_s: (Date.now() - t0) / 1000,
      ...(S.state === 'diverged' ? { diverged_reason: S.divergedReason } : {}),
      last_checkpoint: CK.last ? { path: CK.last.path, iteration: CK.last.iteration, time: CK.last.time } : null,
      checkpoint_error: CK.error,
      dataset: 'mnist',
      conditional, classes: CLASSES, preset: RUN.preset,
      quality: Q.passes.length ? (({ iteration, confidence, inception_score, frechet, nn_ratio, histogram }) =>
        ({ iteration, confidence, inception_score, frechet, nn_ratio, histogram, ...readableOf() }))(Q.passes[Q.passes.length - 1]) : null,
      warnings: warnings(),
      balance: { mode: live.balance, skipping: live.balance === 'auto' ? BAL.skipping : null },
      config: { server: { bind: host, port: boundPort, events_interval_ms: live.events_interval_ms },
        data: { dataset: 'mnist', data_dir: 'data/mnist' },
        model: { z_dim: 100, g_features: 32, d_features: 32, batch: 64, conditional },
        train: { lr_d: live.lr_d, lr_g: live.lr_g, beta1: live.beta1, beta2: live.beta2,
          d_steps: live.d_steps, g_steps: live.g_steps, seed: 1, threads: 0, iters: 0 },
        history: { max_points: MAX_HISTORY }, timeline: { every: live.timeline_every, max: TIMELINE_MAX },
        run: { dir: runDir, checkpoint_every_s: 0, keep: 3 } } };
  }

  function json(res, code, obj) {
    const body = JSON.stringify(obj);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(body), 'Content-Security-Policy': CSP });
    res.end(body);
  }
  function png(res, buf, cache = 'no-store') {
    res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': buf.length, 'Cache-Control': cache });
    res.end(buf);
  }
  function readBody(req) {
    return new Promise((resolve, reject) => {
      const parts = []; let size = 0;
      req.on('data', (d) => { size += d.length; if (size > 65536) { reject(new Error('too large')); req.destroy(); } else parts.push(d); });
      req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      req.on('error', reject);
    });
  }
  async function jsonBody(req, res) {
    if (!/^application\/json\b/i.test(req.headers['content-type'] || '')) {
      json(res, 415, { error: 'Content-Type must be application/json' }); return null;
    }
    let text;
    try { text = await readBody(req); } catch { json(res, 413, { error: 'body too large' }); return null; }
    try { const v = JSON.parse(text || '{}'); if (v && typeof v === 'object' && !Array.isArray(v)) return v; } catch { /* fall through */ }
    json(res, 400, { error: 'body must be a JSON object' }); return null;
  }
  function intParam(u, name, def, lo, hi) {
    const v = u.searchParams.get(name);
    if (v === null) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${name}: must be an integer in [${lo}, ${hi}]`);
    return n;
  }

  // samples.png / samples.json query: n, seed, scale, digit=D | digits=all.
  function sampleQuery(u) {
    let n = intParam(u, 'n', null, 1, 256);
    const scale = intParam(u, 'scale', 1, 1, 8);
    const seed = intParam(u, 'seed', Math.floor(Math.random() * 1e9), 0, Number.MAX_SAFE_INTEGER);
    const digit = u.searchParams.has('digit') ? intParam(u, 'digit', 0, 0, 9) : null;
    const all = u.searchParams.get('digits') === 'all';
    if (u.searchParams.has('digits') && !all) throw new Error('digits: must be "all"');
    if ((digit !== null || all) && !conditional) {
      throw new Error(`${all ? 'digits' : 'digit'}: the model is not conditional (it was trained without labels)`);
    }
    if (all) n = Math.min(260, Math.ceil((n === null ? 80 : n) / 10) * 10);
    if (n === null) n = 64;
    const labels = Array.from({ length: n }, (_, i) => (all ? i % 10 : digit));
    return { n, seed, scale, labels, requested: all || digit !== null, cols: all ? 10 : gridCols(n) };
  }
  function sampleInfo(q, i) {
    const d = q.labels[i];
    const r = rng(sampleSeed(q.seed, i, d) ^ (S.iteration * 2654435761));
    const r2 = rng(sampleSeed(q.seed, i, d));
    const label = d !== null ? (r2() < 0.9 ? d : Math.floor(r2() * 10)) : Math.floor(r2() * 10);
    return { index: i, d_fake: +Math.min(1, Math.max(0, 0.15 + 0.6 * r())).toFixed(4),
      label: classifier ? label : null, confidence: classifier ? +(0.55 + 0.44 * r2()).toFixed(4) : null,
      requested: d };
  }
  function nearestItem(seed, i) {
    const r = rng(sampleSeed(seed, i, null) ^ 0x51ed27);
    const train_index = Math.floor(r() * 60000);
    const base = Q.copying ? 2.6 : 6.2;
    return { index: i, train_index, distance: +(base + (r() - 0.5) * 1.5).toFixed(3), train_label: Math.floor(r() * 10) };
  }
  function fixedPng(it) {
    const n = conditional ? 80 : 64;
    const cells = Array.from({ length: n }, (_, i) => digitCell(sampleSeed(1234, i, conditional ? i % 10 : null), quality(it)));
    return renderGrid(cells, conditional ? 10 : 8, 1);
  }
  // POST /api/run: the real server restarts itself; here the run starts over.
  function restartRun(p, name) {
    RUN.past.unshift({ name: RUN.name, preset: RUN.preset, iteration: S.iteration, history: history.slice(),
      passes: Q.passes.slice(), timeline: timeline.map((it) => ({ iteration: it, time_s: tlTime.get(it) ?? 0 })) });
    RUN.name = name || `${p}-${RUN.restarts + 1}`;
    RUN.preset = p;
    RUN.restarts++;
    Object.assign(live, PRESETS[p], { balance: 'off' });
    t0 = Date.now();
    S.state = 'running'; S.iteration = 0; S.stepTarget = null; S.divergedReason = '';
    for (const w of S.stepWaiters.splice(0)) w();
    history.length = 0; timeline.length = 0; tlTime.clear(); Q.passes.length = 0; BAL.events.length = 0; BAL.skipping = null;
    CK.last = null; CK.saved = []; CK.error = null;
    lastImgsIter = 0;
    for (const c of sse) c.res.destroy();
    sse.clear();
  }

  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    const p = u.pathname;
    try {
      if (THROTTLE.n > 0 && p === '/api/samples.png' && req.method === 'GET') {
        THROTTLE.n--;
        THROTTLE.sent++;
        res.writeHead(THROTTLE.status, { 'Content-Type': 'application/json', 'Retry-After': '1', 'Cache-Control': 'no-store' });
        return res.end(JSON.stringify({ error: 'the render queue is full: try again shortly', retry_after_s: 1 }));
      }
      if (req.method === 'GET' && STATIC[p]) {
        const [file, type] = STATIC[p];
        const body = fs.readFileSync(path.join(ROOT, file));
        res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-cache',
          'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' });
        return res.end(body);
      }
      if (p === '/api/status') return req.method === 'GET' ? json(res, 200, status()) : json(res, 405, { error: 'method not allowed' });
      // What a new run of each preset starts with (the C server: srv_api_presets).
      if (p === '/api/presets' && req.method === 'GET') {
        return json(res, 200, { presets: Object.entries(PRESETS).map(([name, v]) => ({ name,
          model: { nz: 100, ngf: name === 'fast' ? 64 : 128, ndf: name === 'fast' ? 32 : 64, conditional: name === 'fast' },
          train: { batch: name === 'fast' ? 16 : 64, seed: 1, lr_d: v.lr_d, lr_g: v.lr_g, beta1: v.beta1, beta2: v.beta2,
            d_steps: v.d_steps, g_steps: v.g_steps } })) });
      }
      // Runs side by side: this run and the ones set aside by POST /api/run.
      if (p === '/api/runs' && req.method === 'GET') {
        const batch = RUN.preset === 'fast' ? 16 : 64;
        return json(res, 200, { current: RUN.name, runs: [{ name: RUN.name, preset: RUN.preset, differs: {}, batch,
          iteration: S.iteration, state: 'current', live: true, this_server: true },
        ...RUN.past.map((r) => ({ name: r.name, preset: r.preset, differs: {}, batch: r.preset === 'fast' ? 16 : 64,
          iteration: r.iteration, state: 'stopped', live: false, this_server: false }))] });
      }
      const rm = /^\/api\/runs\/([A-Za-z0-9._-]+)\/(metrics|quality|timeline|timeline\/(\d+)\.png)$/.exec(p);
      if (rm && req.method === 'GET') {
        const mine = rm[1] === RUN.name || rm[1] === 'current';
        const r = mine ? { name: RUN.name, history, passes: Q.passes,
          timeline: timeline.map((it) => ({ iteration: it, time_s: tlTime.get(it) ?? 0 })) } : RUN.past.find((q) => q.name === rm[1]);
        if (!r) return json(res, 404, { error: `no run named ${rm[1]}` });
        if (rm[2] === 'metrics') {
          const since = intParam(u, 'since', -1, -1, Number.MAX_SAFE_INTEGER);
          const limit = intParam(u, 'limit', 1000, 1, 10000);
          return json(res, 200, { iteration: mine ? S.iteration : r.iteration,
            points: r.history.filter((q) => q.iteration > since).slice(0, limit) });
        }
        if (rm[2] === 'quality') return json(res, 200, { passes: classifier ? r.passes : [] });
        if (rm[2] === 'timeline') {
          return json(res, 200, { run: r.name, items: r.timeline.map((q) => ({ ...q,
            url: `/api/runs/${r.name}/timeline/${q.iteration}.png` })) });
        }
        const it = Number(rm[3]);
        if (!r.timeline.some((q) => q.iteration === it)) return json(res, 404, { error: 'no such snapshot' });
        return png(res, fixedPng(it), 'public, max-age=3600');
      }
      if (p === '/api/metrics' && req.method === 'GET') {
        const since = intParam(u, 'since', -1, -1, Number.MAX_SAFE_INTEGER);
        const limit = intParam(u, 'limit', 1000, 1, 10000);
        const pts = history.filter((q) => q.iteration > since).slice(0, limit);
        return json(res, 200, { iteration: S.iteration, points: pts });
      }
      if ((p === '/api/samples.png' || p === '/api/samples.json') && req.method === 'GET') {
        const q = sampleQuery(u);
        if (p === '/api/samples.json') {
          return json(res, 200, { iteration: S.iteration, seed: q.seed, n: q.n, conditional,
            samples: q.labels.map((req1, i) => sampleInfo(q, i)) });
        }
        const cells = q.labels.map((d, i) => digitCell(sampleSeed(q.seed, i, d), quality(S.iteration)));
        const frames = u.searchParams.get('annotate') === '1'
          ? q.labels.map((d, i) => { const f = sampleInfo(q, i).d_fake; return [Math.round(230 * (1 - f)), Math.round(200 * f), 40]; })
          : null;
        return png(res, renderGrid(cells, q.cols, q.scale, frames));
      }
      if (p === '/api/real.png' && req.method === 'GET') {
        const n = intParam(u, 'n', 64, 1, 256), scale = intParam(u, 'scale', 1, 1, 8);
        const seed = intParam(u, 'seed', Math.floor(Math.random() * 1e9), 0, Number.MAX_SAFE_INTEGER);
        const cells = Array.from({ length: n }, (_, i) => digitCell((seed * 31337 + i * 7 + 3) >>> 0, 1));
        return png(res, renderGrid(cells, gridCols(n), scale));
      }
      if (p === '/api/interpolate.png' && req.method === 'GET') {
        if (!u.searchParams.has('from') || !u.searchParams.has('to')) return json(res, 400, { error: 'from, to: both are required' });
        const from = intParam(u, 'from', 0, 0, Number.MAX_SAFE_INTEGER), to = intParam(u, 'to', 0, 0, Number.MAX_SAFE_INTEGER);
        const steps = intParam(u, 'steps', 10, 2, 32), scale = intParam(u, 'scale', 1, 1, 8);
        const a = digitCell(sampleSeed(from, 0, null), quality(S.iteration));
        const b = digitCell(sampleSeed(to, 0, null), quality(S.iteration));
        const cells = Array.from({ length: steps }, (_, k) => a.map((v, j) => v + (b[j] - v) * (k / (steps - 1))));
        return png(res, renderGrid(cells, steps, scale));
      }
      if ((p === '/api/nearest' || p === '/api/nearest.png') && req.method === 'GET') {
        const n = intParam(u, 'n', 8, 1, 64), seed = intParam(u, 'seed', 1, 0, Number.MAX_SAFE_INTEGER);
        const items = Array.from({ length: n }, (_, i) => nearestItem(seed, i));
        if (p === '/api/nearest') {
          return json(res, 200, { iteration: S.iteration, seed, n, items, test_median: 6.5 });
        }
        const scale = intParam(u, 'scale', 1, 1, 8), cells = [];
        for (const it of items) {
          cells.push(digitCell(sampleSeed(seed, it.index, null), quality(S.iteration)));
          cells.push(digitCell((it.train_index * 31337 + 3) >>> 0, 1));
        }
        return png(res, renderGrid(cells, 2, scale));
      }
      if (p === '/api/quality' && req.method === 'GET') {
        return json(res, 200, { every: live.quality_every, samples: 1000, available: classifier,
          reason: classifier ? null : 'no classifier at data/mnist/classifier.bin (run: make classifier)',
          ceiling: classifier ? CEILING : null, thresholds: THRESHOLDS, passes: classifier ? Q.passes : [] });
      }
      if (p === '/api/balance' && req.method === 'GET') {
        return json(res, 200, { mode: live.balance, skipping: live.balance === 'auto' ? BAL.skipping : null, events: BAL.events });
      }
      if (p === '/api/run') {
        if (req.method !== 'POST') return json(res, 405, { error: 'method not allowed' });
        const body = await jsonBody(req, res); if (!body) return;
        if (!PRESETS[body.preset]) return json(res, 400, { error: 'preset: must be "classic" or "fast"' });
        for (const k of Object.keys(body)) {
          if (!['preset', 'name', 'settings'].includes(k)) return json(res, 400, { error: `unknown field: ${k}` });
        }
        const name = body.name == null ? '' : body.name;
        if (typeof name !== 'string' || (name && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))) {
          return json(res, 400, { error: 'name: must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit' });
        }
        if (name === 'current') return json(res, 400, { error: 'name: "current" is taken (it names the run a server trains)' });
        if (name && (name === RUN.name || RUN.past.some((r) => r.name === name))) {
          return json(res, 409, { error: `name: a run named "${name}" exists; runs are never overwritten, choose another name` });
        }
        const LIMITS = { 'train.d_steps': [1, 100], 'train.g_steps': [1, 100], 'train.lr_d': [0, 1], 'train.lr_g': [0, 1],
          'train.beta1': [0, 0.9999], 'train.batch': [1, 1024], 'train.seed': [0, 2 ** 53 - 1], 'model.nz': [1, 1024],
          'model.ngf': [1, 1024], 'model.ndf': [1, 1024] };
        if (body.settings != null && (typeof body.settings !== 'object' || Array.isArray(body.settings))) {
          return json(res, 400, { error: 'settings: must be an object of "section.key": value' });
        }
        for (const [k, v] of Object.entries(body.settings || {})) {
          if (!LIMITS[k]) return json(res, 400, { error: `settings.${k}: unknown setting` });
          const [lo, hi] = LIMITS[k];
          if (typeof v !== 'number' || !(v >= lo && v <= hi)) return json(res, 400, { error: `settings.${k}: must be in ${lo}..${hi}` });
        }
        // as the C server: the name given, or one made for it ("<preset>-<N>" here)
        const made = name || `${body.preset}-${RUN.restarts + 1}`;
        json(res, 202, { preset: body.preset, name: made, settings: body.settings, restarting: true });
        RUN.lastBody = body;
        setTimeout(() => restartRun(body.preset, made), 100);
        return;
      }
      if (p === '/api/samples/fixed.png' && req.method === 'GET') return png(res, fixedPng(S.iteration));
      if (p === '/api/timeline' && req.method === 'GET')
        return json(res, 200, { snapshots: timeline.map((it) => ({ iteration: it, url: `/api/timeline/${it}.png?v=${it + 1}` })) });
      const m = /^\/api\/timeline\/(\d+)\.png$/.exec(p);
      if (m && req.method === 'GET') {
        const it = Number(m[1]);
        if (!timeline.includes(it)) return json(res, 404, { error: 'no such snapshot' });
        return png(res, fixedPng(it), 'public, max-age=3600');
      }
      if (p === '/api/pause' || p === '/api/resume' || p === '/api/step') {
        if (req.method !== 'POST') return json(res, 405, { error: 'method not allowed' });
        const body = await jsonBody(req, res); if (!body) return;
        if (p === '/api/pause') {
          if (S.state === 'running') { S.state = 'paused'; broadcastState(); }
          return json(res, 200, { state: S.state, iteration: S.iteration });
        }
        if (p === '/api/resume') {
          if (S.state === 'diverged') {
            if (!CK.last) {
              return json(res, 409, { error: `cannot resume: no checkpoint to restore in ${runDir || '(checkpoints are off)'}; `
                + 'restart ganlive with --fresh to start over' });
            }
            // Restore: the run goes back to the checkpoint, history included.
            S.iteration = CK.last.iteration;
            while (history.length && history[history.length - 1].iteration > S.iteration) history.pop();
            while (timeline.length && timeline[timeline.length - 1] > S.iteration) timeline.pop();
            S.divergedReason = '';
            S.state = 'running';
            broadcastState();
            return json(res, 200, { state: S.state, iteration: S.iteration });
          }
          if (S.state !== 'running' && S.stepTarget === null) { S.state = 'running'; broadcastState(); }
          return json(res, 200, { state: S.state, iteration: S.iteration });
        }
        if (S.state !== 'paused') return json(res, 409, { error: 'step: only while paused' });
        if (S.stepTarget !== null) return json(res, 409, { error: 'step: already stepping' });
        const n = body.n === undefined ? 1 : body.n;
        if (!Number.isInteger(n) || n < 1 || n > 1000) return json(res, 400, { error: 'n: must be an integer in [1, 1000]' });
        S.stepTarget = S.iteration + n;
        await new Promise((r) => S.stepWaiters.push(r));
        return json(res, 200, { state: S.state, iteration: S.iteration });
      }
      if (p === '/api/config') {
        if (req.method === 'GET') return json(res, 200, { preset: RUN.preset, conditional, ...live });
        if (req.method !== 'PATCH') return json(res, 405, { error: 'method not allowed' });
        const body = await jsonBody(req, res); if (!body) return;
        for (const [k, v] of Object.entries(body)) {
          if (k === 'preset' || k === 'conditional') {
            return json(res, 400, { error: `${k}: read-only (POST /api/run {"preset": ...} starts a new run)` });
          }
          const rule = LIVE_RULES[k];
          if (!rule) return json(res, 400, { error: `${k}: unknown or not live-tunable setting` });
          const [type, lo, hi] = rule;
          if (type === 'enum') {
            if (!lo.includes(v)) return json(res, 400, { error: `${k}: must be one of ${lo.map((x) => `"${x}"`).join(', ')}` });
            continue;
          }
          const ok = typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi && (type !== 'int' || Number.isInteger(v));
          if (!ok) return json(res, 400, { error: `${k}: must be ${type === 'int' ? 'an integer' : 'a number'} in [${lo}, ${hi}]` });
        }
        Object.assign(live, body);
        if (live.balance !== 'auto') BAL.skipping = null;
        broadcastState({ config: { preset: RUN.preset, conditional, ...live } });
        return json(res, 200, { preset: RUN.preset, conditional, ...live });
      }
      if (p === '/api/events' && req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
        res.write('retry: 1000\n\n');
        const c = { res, last: S.iteration };
        sse.add(c);
        sendEvent(res, 'state', { state: S.state, iteration: S.iteration });
        if (LIVE.seed !== null) sendEvent(res, 'samples', liveEvent());
        req.on('close', () => sse.delete(c));
        return;
      }
      if (p === '/api/checkpoint') {
        if (req.method !== 'POST') return json(res, 405, { error: 'method not allowed' });
        const body = await jsonBody(req, res); if (!body) return;
        if (S.state === 'diverged') {
          return json(res, 409, { error: `run diverged at iteration ${S.iteration}: POST /api/resume restores the last good checkpoint first` });
        }
        if (!runDir) return json(res, 500, { error: 'checkpoints are off (run.dir is empty)' });
        await new Promise((r) => setTimeout(r, 60));   // a save takes a moment
        const it = S.iteration;
        const c = { path: `${runDir}/ckpt-${String(it).padStart(9, '0')}.bin`, iteration: it, time: Date.now() / 1000 };
        CK.last = c; CK.error = null;
        CK.saved.push(c); if (CK.saved.length > 3) CK.saved.shift();
        return json(res, 200, { path: c.path, iteration: c.iteration });
      }
      if (p === '/__mock/diverge' && req.method === 'POST') {
        const body = await jsonBody(req, res); if (!body) return;
        if (body.forget_checkpoints) { CK.last = null; CK.saved = []; }
        S.state = 'diverged';
        S.stepTarget = null;
        const ws = S.stepWaiters; S.stepWaiters = [];
        for (const w of ws) w();
        S.divergedReason = typeof body.reason === 'string' ? body.reason
          : `non-finite loss in iteration ${S.iteration + 1} (d_loss nan, g_loss 1.2); update not applied`;
        broadcastState();
        return json(res, 200, { state: S.state, iteration: S.iteration, diverged_reason: S.divergedReason });
      }
      if (p === '/__mock/checkpoint-error' && req.method === 'POST') {
        const body = await jsonBody(req, res); if (!body) return;
        CK.error = typeof body.error === 'string' && body.error ? body.error : null;
        return json(res, 200, { checkpoint_error: CK.error });
      }
      if (p === '/__mock/warnings' && req.method === 'POST') {
        const body = await jsonBody(req, res); if (!body) return;
        Q.modeCollapse = !!body.mode_collapse;
        Q.copying = !!body.copying;
        return json(res, 200, { warnings: warnings() });
      }
      if (p === '/__mock/throttle' && req.method === 'POST') {
        const body = await jsonBody(req, res); if (!body) return;
        THROTTLE.n = Number(body.n) || 0;
        THROTTLE.status = body.status === 503 ? 503 : 429;
        return json(res, 200, { ...THROTTLE });
      }
      if (p === '/__mock/balance' && req.method === 'POST') {
        const body = await jsonBody(req, res); if (!body) return;
        const action = ['skip_d', 'skip_g', 'resume'].includes(body.action) ? body.action : 'skip_d';
        return json(res, 200, balanceEvent(action));
      }
      if (p === '/__mock/drop-events' && req.method === 'POST') {
        const n = sse.size;
        for (const c of sse) c.res.destroy();
        sse.clear();
        return json(res, 200, { dropped: n });
      }
      return json(res, 404, { error: 'not found' });
    } catch (e) {
      return json(res, 400, { error: String(e.message || e) });
    }
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve); });
  const actual = server.address().port;
  boundPort = actual;
  const url = `http://${host}:${actual}`;
  if (!quiet) console.log(`mock listening on ${url}`);
  return {
    url,
    run: RUN,
    close: () => new Promise((resolve) => {
      clearInterval(tick); clearTimeout(evTimer);
      for (const c of sse) c.res.destroy();
      for (const w of S.stepWaiters) w();
      server.close(() => resolve());
      server.closeAllConnections?.();
    }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 && args[i + 1] ? args[i + 1] : def; };
  const m = await startMock({ port: Number(opt('--port', process.env.PORT || 8080)), host: opt('--host', '127.0.0.1'),
    rate: Number(opt('--rate', 40)) });
  const stop = () => m.close().then(() => process.exit(0));
  process.on('SIGINT', stop); process.on('SIGTERM', stop);
}
