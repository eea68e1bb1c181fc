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
// with null, clears) checkpoint_error.

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
function encodePng(w, h, gray) {
  const raw = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w + 1)] = 0;
    gray.copy(raw, y * (w + 1) + 1, y * w, y * w + w);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 0; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
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
// goes on (quality q in [0,1]).
function drawCell(out, W, ox, oy, seed, q) {
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
  for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
    const v = q * cell[y * 28 + x] + (1 - q) * nr();
    out[(oy + y) * W + ox + x] = Math.max(0, Math.min(255, Math.round(v * 255)));
  }
}

function gridPng(n, seed, scale, iteration) {
  const cols = Math.ceil(Math.sqrt(n)), rows = Math.ceil(n / cols), g = 2;
  const W = cols * 28 + (cols + 1) * g, H = rows * 28 + (rows + 1) * g;
  const img = Buffer.alloc(W * H, 40);
  const q = Math.min(0.97, 0.25 + iteration / 1500);
  for (let i = 0; i < n; i++) {
    const cx = i % cols, cy = Math.floor(i / cols);
    drawCell(img, W, g + cx * (28 + g), g + cy * (28 + g), (seed * 7919 + i * 104729) >>> 0, q);
  }
  if (scale === 1) return encodePng(W, H, img);
  const SW = W * scale, SH = H * scale, big = Buffer.alloc(SW * SH);
  for (let y = 0; y < SH; y++) for (let x = 0; x < SW; x++)
    big[y * SW + x] = img[Math.floor(y / scale) * W + Math.floor(x / scale)];
  return encodePng(SW, SH, big);
}

// ---- fake trainer ------------------------------------------------------------
const LIVE_RULES = {
  lr_d: ['number', 0, 1], lr_g: ['number', 0, 1],
  beta1: ['number', 0, 0.9999], beta2: ['number', 0, 0.9999],
  d_steps: ['int', 1, 10], g_steps: ['int', 1, 10],
  timeline_every: ['int', 1, 1000000], events_interval_ms: ['int', 50, 10000],
};

export async function startMock({ port = 0, host = '127.0.0.1', rate = 40, quiet = false, runDir = 'runs/mock' } = {}) {
  const t0 = Date.now();
  let boundPort = port;
  const live = { lr_d: 0.0002, lr_g: 0.0002, beta1: 0.5, beta2: 0.999, d_steps: 1, g_steps: 1,
                 timeline_every: 100, events_interval_ms: 250 };
  const S = { state: 'running', iteration: 0, stepTarget: null, stepWaiters: [], divergedReason: '' };
  const CK = { last: null, error: null, saved: [] };   // saved: [{iteration, path, time}]
  const history = [];            // point objects, oldest first
  const MAX_HISTORY = 4000;
  const timeline = [];           // iterations with a snapshot
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
  function advance(k) {
    for (let i = 0; i < k; i++) {
      S.iteration++;
      history.push(makePoint(S.iteration));
      if (S.iteration % live.timeline_every === 0) {
        timeline.push(S.iteration);
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

  function status() {
    return { state: S.state, iteration: S.iteration, epoch: +(S.iteration * 64 / 60000).toFixed(4),
      images_per_sec: S.state === 'running' ? Math.round(imagesPerSec) : 0, uptime_s: (Date.now() - t0) / 1000,
      ...(S.state === 'diverged' ? { diverged_reason: S.divergedReason } : {}),
      last_checkpoint: CK.last ? { path: CK.last.path, iteration: CK.last.iteration, time: CK.last.time } : null,
      checkpoint_error: CK.error,
      dataset: 'mnist',
      config: { server: { bind: host, port: boundPort, events_interval_ms: live.events_interval_ms },
        data: { dataset: 'mnist', data_dir: 'data/mnist' },
        model: { z_dim: 100, g_features: 32, d_features: 32, batch: 64 },
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

  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    const p = u.pathname;
    try {
      if (req.method === 'GET' && STATIC[p]) {
        const [file, type] = STATIC[p];
        const body = fs.readFileSync(path.join(ROOT, file));
        res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-cache',
          'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' });
        return res.end(body);
      }
      if (p === '/api/status') return req.method === 'GET' ? json(res, 200, status()) : json(res, 405, { error: 'method not allowed' });
      if (p === '/api/metrics' && req.method === 'GET') {
        const since = intParam(u, 'since', -1, -1, Number.MAX_SAFE_INTEGER);
        const limit = intParam(u, 'limit', 1000, 1, 10000);
        const pts = history.filter((q) => q.iteration > since).slice(0, limit);
        return json(res, 200, { iteration: S.iteration, points: pts });
      }
      if (p === '/api/samples.png' && req.method === 'GET') {
        const n = intParam(u, 'n', 64, 1, 256), scale = intParam(u, 'scale', 1, 1, 8);
        const seed = intParam(u, 'seed', Math.floor(Math.random() * 1e9), 0, Number.MAX_SAFE_INTEGER);
        return png(res, gridPng(n, seed, scale, S.iteration));
      }
      if (p === '/api/samples/fixed.png' && req.method === 'GET') return png(res, gridPng(64, 1234, 1, S.iteration));
      if (p === '/api/timeline' && req.method === 'GET')
        return json(res, 200, { snapshots: timeline.map((it) => ({ iteration: it, url: `/api/timeline/${it}.png` })) });
      const m = /^\/api\/timeline\/(\d+)\.png$/.exec(p);
      if (m && req.method === 'GET') {
        const it = Number(m[1]);
        if (!timeline.includes(it)) return json(res, 404, { error: 'no such snapshot' });
        return png(res, gridPng(64, 1234, 1, it), 'public, max-age=3600');
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
        if (req.method === 'GET') return json(res, 200, live);
        if (req.method !== 'PATCH') return json(res, 405, { error: 'method not allowed' });
        const body = await jsonBody(req, res); if (!body) return;
        for (const [k, v] of Object.entries(body)) {
          const rule = LIVE_RULES[k];
          if (!rule) return json(res, 400, { error: `${k}: unknown or not live-tunable setting` });
          const [type, lo, hi] = rule;
          const ok = typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi && (type !== 'int' || Number.isInteger(v));
          if (!ok) return json(res, 400, { error: `${k}: must be ${type === 'int' ? 'an integer' : 'a number'} in [${lo}, ${hi}]` });
        }
        Object.assign(live, body);
        broadcastState({ config: { ...live } });
        return json(res, 200, live);
      }
      if (p === '/api/events' && req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
        res.write('retry: 1000\n\n');
        const c = { res, last: S.iteration };
        sse.add(c);
        sendEvent(res, 'state', { state: S.state, iteration: S.iteration });
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
