// app.js - the ganlive dashboard's logic (vanilla JS, no build step).
//
// How it works:
// - On load it reads /api/status, /api/config and /api/timeline, then opens
//   the Server-Sent Events stream /api/events. Each time the stream opens it
//   catches up with GET /api/metrics?since=<last iteration held> (paging with
//   limit) while queueing live "metrics" events, so no point is missed or
//   doubled, including after a server restart (EventSource reconnects by
//   itself; the connection badge shows "reconnecting"/"disconnected").
// - Points live in one array capped at MAX_POINTS: when full, the older half
//   is thinned by merging neighbours (count-weighted means), so a page left
//   open for hours keeps bounded memory while recent points stay exact.
// - Charts (uPlot) are redrawn at most every RENDER_MS, with an EMA smoothing
//   slider. The state badge and buttons only ever show what the server said
//   (status polls every 2 s, "state" events, and the replies to our POSTs).
// - Sample grids are fetched as blobs (no flicker, object URLs revoked) and
//   revalidated by ETag (cache: 'no-cache'). The live grid is shared: the
//   server renders one grid of rotating noise per model snapshot and names
//   it in a "samples" event, so a whole class loads the same cached picture.
//   "New noise" switches this page to its own seed (refreshed every 2 s
//   while training moves), "Shared noise" back. The fixed-noise grid follows
//   every third snapshot unless the timeline slider moved.
// - 429 and 503 answers (the server's render budget) are retried after the
//   Retry-After they name, quietly.
// - The live-settings form is settings.js (built from /api/config, PATCHes
//   only changed fields, shows the server's 400 inline).
// - A server bound beyond loopback wants a token on POST/PATCH: open the page
//   as http://host:port/#token=T (the fragment never leaves the browser) and
//   api() sends it as "Authorization: Bearer T". The token moves to session
//   storage and out of the address bar at once, so a URL copied from the
//   presenter's page never carries it. /api/status "access" says whether
//   this page holds it: the presenter's page has every control and the
//   Invite panel (join URLs and QR codes); a viewer's page is read-only and
//   makes no request that would be refused.
// - Checkpoints: the status bar shows the last one (iteration, age, path in
//   the tooltip) from /api/status "last_checkpoint", and a banner shows
//   "checkpoint_error" while the server reports one. "Save checkpoint" POSTs
//   /api/checkpoint and shows the answer (or its error) next to the button.
// - Diverged: a banner shows the server's diverged_reason, and Resume turns
//   into "Restore last checkpoint" (POST /api/resume restores the newest good
//   checkpoint; its 409, e.g. no checkpoint yet, is shown inline). After a
//   restore the iteration goes back, so the page reloads the run's metrics.
// - Every string goes through t() from i18n.js (English / Spanish); texts
//   the page writes are redrawn when the language changes.
// - window.ganlive is the small interface insight.js builds on (status and
//   reset hooks, SSE listeners, chart draw hooks, the live-samples query).
'use strict';

(() => {
  const MAX_POINTS = 5000;        // points kept in the browser
  const PAGE_LIMIT = 10000;       // /api/metrics page size while catching up
  const RENDER_MS = 250;          // chart redraw at most this often
  const STATUS_MS = 2000;         // /api/status poll
  const SAMPLES_MS = 2000;        // live sample grid refresh
  const TIMELINE_MS = 3000;       // /api/timeline poll
  const $ = (id) => document.getElementById(id);
  const I = window.i18n;
  const t = I.t;
  // Hooks for insight.js (see the end of the file).
  const hooks = { status: [], reset: [], sse: {}, draw: [], lang: [], access: [] };
  const runHooks = (list, ...a) => { for (const f of list) { try { f(...a); } catch (e) { console.error(e); } } };

  // ---- small helpers -------------------------------------------------------
  const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString(I.locale()) : '–');
  function fmtUptime(s) {
    if (!Number.isFinite(s)) return '–';
    s = Math.floor(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
    if (m) return `${m}m ${String(sec).padStart(2, '0')}s`;
    return `${sec}s`;
  }
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
  // A GET the server's render budget turned away (429, 503 + Retry-After)
  // is asked again after the pause it names, a few times, quietly.
  const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
  async function fetchRetry(path, init) {
    for (let tries = 0; ; tries++) {
      const r = await fetch(path, init);
      if ((r.status !== 429 && r.status !== 503) || tries >= 5 || (init.method && init.method !== 'GET')) return r;
      const after = Number(r.headers.get('Retry-After'));
      if (!Number.isFinite(after)) return r;   // a 503 that is not the budget's (e.g. no generator yet)
      await sleep(Math.min(after, 10) * 1000 * (0.5 + Math.random()));
    }
  }
  async function api(path, opts = {}) {
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
  const randomSeed = () => Math.floor(Math.random() * 1e9);

  // ---- presenter or viewer (/api/status "access") ------------------------------------
  let viewer = false;             // a read-only page: the token is needed and we lack it
  function applyAccess(a) {
    const v = !!(a && a.token_required && a.role === 'viewer');
    const lan = !!(a && a.lan);
    if (v !== viewer) {
      viewer = v;
      document.body.classList.toggle('viewer', v);
      $('viewer-note').hidden = !v;
      for (const el of document.querySelectorAll('.presenter-only')) el.hidden = v;
      $('config-fieldset').disabled = v;      // the live settings stay readable
      updateButtons();
    }
    runHooks(hooks.access, { viewer: v, lan, presenter: !v });
  }

  // ---- connection badge and banner ---------------------------------------------
  let connText = () => '';
  function setConn(kind, key, params) {
    // Values in the status bar are last known ones while not live.
    $('status-bar').classList.toggle('stale', kind !== 'live');
    const el = $('conn');
    el.dataset.conn = kind;
    connText = () => t(key || `conn.${kind}`, params);
    el.textContent = connText();
  }
  // The diverged banner: title, the server's reason, and what to do.
  let divergedReason = '';
  function updateBanner() {
    const on = state === 'diverged';
    $('banner').hidden = !on;
    $('banner-title').textContent = on ? t('banner.title') : '';
    $('banner-reason').textContent = on ? (divergedReason || t('banner.reason')) : '';
    $('banner-hint').textContent = on ? t('banner.hint') : '';
  }

  // ---- training state (only from the server) -------------------------------
  let state = 'unknown';
  let shownIter = -1;             // highest iteration the server reported (this run)
  let stateSeq = 0;               // bumps on every authoritative state change
  let busy = false;               // a pause/resume/step request is in flight

  function setState(s) {
    if (!s || s === state) return;
    state = s;
    stateSeq++;
    const el = $('state');
    el.textContent = stateLabel(s);
    el.dataset.state = s;
    if (s !== 'diverged') divergedReason = '';
    updateBanner();
    updateButtons();
  }
  const stateLabel = (s) => { const k = `state.${s}`, v = t(k); return v === k ? s : v; };
  function setIteration(i, force = false) {
    if (!Number.isFinite(i)) return;
    if (!force && i <= shownIter) return;
    shownIter = i;
    const el = $('iteration');
    el.textContent = fmtInt(i);
    el.dataset.value = String(i);
  }
  function updateButtons() {
    $('btn-pause').disabled = viewer || busy || state !== 'running';
    $('btn-resume').disabled = viewer || busy || !(state === 'paused' || state === 'diverged');
    $('btn-step').disabled = viewer || busy || state !== 'paused';
    // A diverged run is never saved; "resume" then means "restore".
    $('btn-checkpoint').disabled = viewer || ckptBusy || !(state === 'running' || state === 'paused');
    const rb = $('btn-resume');
    const restore = state === 'diverged';
    rb.textContent = t(restore ? 'btn.restore' : 'btn.resume');
    rb.title = t(restore ? 'tip.restore' : 'tip.resume');
    rb.dataset.restore = String(restore);
  }
  // Messages are kept as functions of the language, to redraw on a switch.
  const msgFns = {};
  function showMsg(id, text) {
    msgFns[id] = typeof text === 'function' ? text : () => text || '';
    $(id).textContent = msgFns[id]();
  }
  function controlMsg(text, isError = false) {
    showMsg('control-msg', text);
    $('control-msg').classList.toggle('err', !!isError);
  }

  let lastUptime = Infinity;
  let lastStatus = null;
  function applyStatus(s, seqAtSend, ckptSeqAtSend) {
    if (seqAtSend === stateSeq) setState(s.state); // ignore a stale state
    setIteration(s.iteration);
    $('epoch').textContent = Number.isFinite(s.epoch) ? s.epoch.toFixed(2) : '–';
    $('ips').textContent = fmtInt(s.images_per_sec);
    $('uptime').textContent = fmtUptime(s.uptime_s);
    $('dataset').textContent = s.dataset || (s.config && s.config.data && s.config.data.dataset) || '–';
    lastUptime = s.uptime_s;
    if (s.state === 'diverged' && typeof s.diverged_reason === 'string' && s.diverged_reason !== divergedReason) {
      divergedReason = s.diverged_reason;
      updateBanner();
    }
    if (ckptSeqAtSend === ckptSeq) {  // a save answered since this was sent: keep its result
      const run = s.config && s.config.run;
      ckptOff = !!(run && run.dir === '');
      setLastCheckpoint(s.last_checkpoint || null);
      setCheckpointError(typeof s.checkpoint_error === 'string' ? s.checkpoint_error : '');
    }
  }
  // afterReconnect: the event stream dropped, so the server may have been
  // restarted; if its uptime went back, what we hold is another run's.
  async function loadStatus(afterReconnect = false) {
    const seq = stateSeq, cseq = ckptSeq;
    const s = await api('/api/status');
    // Uptime going back means another run (server restarted, POST /api/run):
    // always after a reconnect, and by more than a second on a plain poll.
    const restarted = afterReconnect ? s.uptime_s < lastUptime : s.uptime_s + 1 < lastUptime;
    if (restarted) resetRun();
    applyStatus(s, seq, cseq);
    if (restarted && !afterReconnect) catchUp().catch(() => {});
    applyAccess(s.access);
    lastStatus = s;
    runHooks(hooks.status, s);
    return s;
  }

  // ---- checkpoints ------------------------------------------------------------
  let lastCkpt = null;            // {path, iteration, time (unix s)} or null
  let ckptOff = false;            // the server has no run directory
  let ckptSeq = 0;                // bumps when a save answers
  let ckptBusy = false;           // a save is in flight
  function fmtAgo(when) {
    if (!Number.isFinite(when)) return '';
    const s = Math.max(0, Math.round(Date.now() / 1000 - when));
    return s < 5 ? t('ckpt.justNow') : t('ckpt.ago', { t: fmtUptime(s) });
  }
  function renderLastCheckpoint() {
    const el = $('ckpt-last');
    if (lastCkpt && Number.isFinite(lastCkpt.iteration)) {
      el.textContent = `#${fmtInt(lastCkpt.iteration)} · ${fmtAgo(lastCkpt.time)}`;
      el.title = lastCkpt.path || '';
      el.dataset.iteration = String(lastCkpt.iteration);
    } else {
      el.textContent = t(ckptOff ? 'ckpt.off' : 'ckpt.none');
      el.title = ckptOff ? t('ckpt.offTip') : '';
      el.dataset.iteration = '';
    }
  }
  function setLastCheckpoint(c) {
    lastCkpt = c && typeof c === 'object' ? c : null;
    renderLastCheckpoint();
  }
  let ckptErrText = '';
  function setCheckpointError(text) {
    const el = $('ckpt-error');
    ckptErrText = text;
    el.hidden = !text;
    el.textContent = text ? t('ckpt.failed', { e: text.replace(/\.$/, '') }) : '';
  }
  function ckptMsg(text, isError = false) {
    showMsg('ckpt-msg', text);
    const el = $('ckpt-msg');
    el.classList.toggle('err', !!isError);
    el.classList.toggle('good', !!text && !isError);
  }
  $('btn-checkpoint').addEventListener('click', async () => {
    ckptBusy = true;
    updateButtons();
    ckptMsg(() => t('ckpt.saving'));
    try {
      const r = await api('/api/checkpoint', { method: 'POST', body: {}, signal: AbortSignal.timeout(60 * 1000) });
      ckptSeq++;
      setLastCheckpoint({ path: r.path, iteration: r.iteration, time: Date.now() / 1000 });
      setCheckpointError('');
      const file = typeof r.path === 'string' ? r.path.split('/').pop() : '';
      ckptMsg(() => `${t('ckpt.saved', { n: fmtInt(r.iteration) })}${file ? ` · ${file}` : ''}`);
      $('ckpt-msg').title = r.path || '';
    } catch (e) {
      ckptSeq++;
      ckptMsg(() => t('ckpt.notSaved', { e: e.message }), true);
      $('ckpt-msg').title = '';
      loadStatus().catch(() => {});
    } finally {
      ckptBusy = false;
      updateButtons();
    }
  });

  // ---- metrics store --------------------------------------------------------
  const KEYS = ['d_loss', 'g_loss', 'd_acc', 'd_acc_real', 'd_acc_fake'];
  let points = [];                // {iteration, count, d_loss, ...}, oldest first
  let lastIter = 0;               // highest point iteration held

  function addPoints(pts) {
    if (!Array.isArray(pts)) return;
    let added = 0;
    for (const p of pts) {
      if (!p || !Number.isFinite(p.iteration) || p.iteration <= lastIter) continue;
      const q = { iteration: p.iteration, count: p.count || 1 };
      for (const k of KEYS) q[k] = Number.isFinite(p[k]) ? p[k] : null;
      points.push(q);
      lastIter = p.iteration;
      added++;
    }
    if (points.length > MAX_POINTS) thin();
    if (added) scheduleRender();
  }
  // Merge neighbour pairs in the older half (count-weighted means).
  function thin() {
    const half = Math.floor(points.length / 2) & ~1;
    const merged = [];
    for (let i = 0; i < half; i += 2) {
      const a = points[i], b = points[i + 1], n = a.count + b.count;
      const m = { iteration: b.iteration, count: n };
      for (const k of KEYS) {
        m[k] = a[k] === null ? b[k] : b[k] === null ? a[k] : (a[k] * a.count + b[k] * b.count) / n;
      }
      merged.push(m);
    }
    points = merged.concat(points.slice(half));
  }
  function resetRun() {
    points = [];
    lastIter = 0;
    shownIter = -1;
    lastUptime = Infinity;
    scheduleRender();
    runHooks(hooks.reset);
  }

  // Catch up with /api/metrics while queueing live events, then replay them.
  let catchingUp = false;
  let queued = [];
  async function catchUp() {
    if (catchingUp) return;
    catchingUp = true;
    try {
      for (let pages = 0; pages < 50; pages++) {
        const r = await api(`/api/metrics?since=${lastIter}&limit=${PAGE_LIMIT}`);
        if (r.iteration < lastIter) { resetRun(); continue; }  // server restarted with a new run
        addPoints(r.points);
        setIteration(r.iteration);
        if (!r.points || r.points.length < PAGE_LIMIT) break;
      }
    } finally {
      catchingUp = false;
      const q = queued;
      queued = [];
      for (const ev of q) onMetrics(ev);
    }
  }
  function onMetrics(d) {
    if (catchingUp) { queued.push(d); if (queued.length > 200) queued.shift(); return; }
    addPoints(d.points);
    setIteration(d.iteration);
  }

  // ---- charts ------------------------------------------------------------------
  const CHART_H = 260;
  const css = getComputedStyle(document.documentElement);
  const color = (name, fb) => (css.getPropertyValue(name).trim() || fb);
  const C = {
    axis: color('--muted', '#9aa4b2'), grid: color('--grid', 'rgba(255,255,255,0.07)'),
    d: color('--c-d', '#5b9dff'), g: color('--c-g', '#ff8a4c'),
    real: color('--c-real', '#3ecf8e'), fake: color('--c-fake', '#f25f8a'), all: color('--c-all', '#c9b6ff'),
    eq: color('--c-eq', '#e6e6e6'),
  };
  const fade = (hex, a) => {
    const m = /^#([0-9a-f]{6})$/i.exec(hex);
    if (!m) return hex;
    const n = parseInt(m[1], 16);
    return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`;
  };
  const axes = (yFmt) => [
    { stroke: C.axis, grid: { stroke: C.grid, width: 1 }, ticks: { stroke: C.grid, width: 1 },
      values: (u, vals) => vals.map((v) => (v >= 10000 ? `${v / 1000}k` : v)) },
    { stroke: C.axis, grid: { stroke: C.grid, width: 1 }, ticks: { stroke: C.grid, width: 1 }, size: 50,
      values: yFmt },
  ];
  const fmt = (d) => (u, v) => (v == null ? '–' : v.toFixed(d));
  const line = (label, stroke, width, extra = {}) => ({ label, stroke, width, points: { show: false }, ...extra });

  let lossChart = null, accChart = null;
  function makeCharts() {
    if (typeof uPlot === 'undefined') {
      $('chart-loss').textContent = t('chart.noUplot');
      return;
    }
    const common = { height: CHART_H, scales: { x: { time: false } }, cursor: { drag: { x: true, y: false } },
      legend: { live: true }, plugins: [{ hooks: { draw: [(u) => runHooks(hooks.draw, u)] } }] };
    const lossEl = $('chart-loss'), accEl = $('chart-acc');
    lossChart = new uPlot({
      ...common, width: lossEl.clientWidth || 600,
      series: [
        { label: t('s.iteration'), value: (u, v) => (v == null ? '–' : fmtInt(v)) },
        line(t('s.draw'), fade(C.d, 0.25), 1, { value: fmt(4) }),
        line(t('s.graw'), fade(C.g, 0.25), 1, { value: fmt(4) }),
        line(t('s.dloss'), C.d, 2, { value: fmt(4) }),
        line(t('s.gloss'), C.g, 2, { value: fmt(4) }),
      ],
      axes: axes((u, vals) => vals.map((v) => v.toFixed(2))),
    }, [[], [], [], [], []], lossEl);
    accChart = new uPlot({
      ...common, width: accEl.clientWidth || 600,
      scales: { x: { time: false }, y: { range: [0, 100] } },
      series: [
        { label: t('s.iteration'), value: (u, v) => (v == null ? '–' : fmtInt(v)) },
        line(t('s.real'), C.real, 2, { value: (u, v) => (v == null ? '–' : `${v.toFixed(1)}%`) }),
        line(t('s.fake'), C.fake, 2, { value: (u, v) => (v == null ? '–' : `${v.toFixed(1)}%`) }),
        line(t('s.overall'), C.all, 2, { value: (u, v) => (v == null ? '–' : `${v.toFixed(1)}%`) }),
        line(t('s.eq'), C.eq, 1, { dash: [6, 5], value: () => '50%' }),
      ],
      axes: axes((u, vals) => vals.map((v) => `${v}%`)),
    }, [[], [], [], [], []], accEl);
    const ro = new ResizeObserver(() => {
      if (lossChart) lossChart.setSize({ width: lossEl.clientWidth, height: CHART_H });
      if (accChart) accChart.setSize({ width: accEl.clientWidth, height: CHART_H });
    });
    ro.observe(lossEl);
    ro.observe(accEl);
  }
  // Series names in the legends follow the language.
  const SERIES_KEYS = [['s.iteration', 's.draw', 's.graw', 's.dloss', 's.gloss'],
    ['s.iteration', 's.real', 's.fake', 's.overall', 's.eq']];
  function relabelCharts(u, keys) {
    if (!u) return;
    const labels = u.root.querySelectorAll('.u-legend .u-series .u-label');
    keys.forEach((k, i) => { u.series[i].label = t(k); if (labels[i]) labels[i].textContent = t(k); });
  }

  function ema(vals, alpha) {
    const out = new Array(vals.length);
    let s = null;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v === null) { out[i] = s; continue; }
      s = s === null ? v : alpha * s + (1 - alpha) * v;
      out[i] = s;
    }
    return out;
  }
  let renderTimer = null, lastRender = 0;
  function scheduleRender() {
    if (renderTimer) return;
    const wait = Math.max(0, RENDER_MS - (performance.now() - lastRender));
    renderTimer = setTimeout(() => { renderTimer = null; render(); }, wait);
  }
  function render() {
    lastRender = performance.now();
    if (!lossChart || !accChart) return;
    const alpha = Number($('smoothing').value) || 0;
    const x = points.map((p) => p.iteration);
    const col = (k) => points.map((p) => p[k]);
    const dl = col('d_loss'), gl = col('g_loss');
    lossChart.setData([x, dl, gl, ema(dl, alpha), ema(gl, alpha)]);
    showLatestInLegend(lossChart, x.length);
    // Accuracies may come as fractions (0..1) or percents; show percents.
    const acc = ['d_acc_real', 'd_acc_fake', 'd_acc'].map(col);
    const isFrac = !acc.some((a) => a.some((v) => v !== null && v > 1.0001));
    const pct = (a) => (isFrac ? a.map((v) => (v === null ? null : v * 100)) : a);
    accChart.setData([x, ...acc.map((a) => ema(pct(a), alpha)), x.map(() => 50)]);
    showLatestInLegend(accChart, x.length);
  }
  // With the pointer off the chart, the legend shows the latest values.
  function showLatestInLegend(u, n) {
    if (n && !(u.cursor.left >= 0)) u.setLegend({ idx: n - 1 });
  }

  // ---- pause / resume / step ----------------------------------------------------
  async function control(path, body, label) {
    busy = true;
    updateButtons();
    controlMsg(() => t(label[0], label[1]));
    try {
      const r = await api(path, { method: 'POST', body, signal: AbortSignal.timeout(10 * 60 * 1000) });
      stateSeq++;                 // anything in flight before this is stale
      state = '';                 // force the badge update
      setState(r.state);
      setIteration(r.iteration);
      return r;
    } catch (e) {
      controlMsg(e.message, true);
      loadStatus().catch(() => {});
      return null;
    } finally {
      busy = false;
      updateButtons();
    }
  }
  $('btn-pause').addEventListener('click', async () => {
    if (await control('/api/pause', {}, ['msg.pausing'])) controlMsg('');
  });
  $('btn-resume').addEventListener('click', async () => {
    const restoring = state === 'diverged';
    const r = await control('/api/resume', {}, [restoring ? 'msg.restoring' : 'msg.resuming']);
    if (!r) return;              // the error (e.g. 409: no checkpoint yet) stays shown
    if (restoring) {
      // The run went back to the checkpoint: reload what it holds.
      controlMsg(() => t('msg.restored', { n: fmtInt(r.iteration) }));
      resetRun();
      setIteration(r.iteration, true);
      catchUp().catch(() => {});
      loadStatus().catch(() => {});
      loadTimeline().catch(() => {});
      refreshSamples(true);
      refreshFixed(true);
    } else controlMsg('');
  });
  $('btn-step').addEventListener('click', async () => {
    const n = Number($('step-n').value);
    if (!Number.isInteger(n) || n < 1 || n > 1000) {
      controlMsg(() => t('msg.stepBad'), true);
      return;
    }
    const before = shownIter;
    const r = await control('/api/step', { n }, ['msg.stepping', { n }]);
    if (r) controlMsg(() => t('msg.stepped', { d: fmtInt(r.iteration - before), i: fmtInt(r.iteration) }));
  });

  // ---- images: live samples and fixed-noise timeline -------------------------
  function setBlob(img, blob) {
    const url = URL.createObjectURL(blob);
    const old = img.dataset.blob;
    img.onload = () => { if (old) URL.revokeObjectURL(old); img.onload = null; };
    img.src = url;
    img.dataset.blob = url;
  }
  function dropBlob(img) {
    if (img.dataset.blob) { URL.revokeObjectURL(img.dataset.blob); delete img.dataset.blob; }
  }
  async function fetchPng(url) {
    const r = await fetchRetry(url, { cache: 'no-cache' });   // revalidated by ETag
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    return r.blob();
  }

  // The live grid's query; insight.js adds annotate=1, digit=D or digits=all
  // (and n=80 for all digits) through ganlive.samplesQuery. Shared noise
  // (ownSeed null) follows the server's "samples" events; the grid for that
  // seed is the one the server rendered for everybody.
  let ownSeed = null, liveSeed = null, liveVersion = 0;
  let samplesExtra = () => ({});
  const noiseSeed = () => (ownSeed !== null ? ownSeed : liveSeed);
  const samplesQuery = () => new URLSearchParams({ n: '64', scale: '2', seed: String(noiseSeed()), ...samplesExtra() });
  let samplesBusy = false, samplesKey = '', samplesAgain = false;
  async function refreshSamples(force = false) {
    if (samplesBusy) { if (force) samplesAgain = true; return; }
    if (noiseSeed() === null) return;          // the first shared grid is on its way
    const q = samplesQuery().toString();
    const key = `${q}@${ownSeed === null ? `v${liveVersion}` : shownIter}`;
    if (!force && (document.hidden || key === samplesKey)) return;
    samplesBusy = true;
    try {
      const url = `/api/samples.png?${q}`;
      const blob = await fetchPng(url);
      setBlob($('samples'), blob);
      $('samples').dataset.url = url;   // the API URL behind the blob (tests and hover read it)
      samplesKey = key;
      const it = shownIter, seed = noiseSeed(), own = ownSeed !== null;
      showMsg('samples-caption', () => t(own ? 'samples.caption' : 'samples.shared', { i: fmtInt(it), s: seed }));
    } catch (e) {
      showMsg('samples-caption', () => t('samples.error', { e: e.message }));
    } finally {
      samplesBusy = false;
      if (samplesAgain) { samplesAgain = false; refreshSamples(true); }
    }
  }
  $('btn-noise').addEventListener('click', () => { ownSeed = randomSeed(); $('btn-shared').hidden = false; refreshSamples(true); });
  $('btn-shared').addEventListener('click', () => { ownSeed = null; $('btn-shared').hidden = true; refreshSamples(true); });
  // A new shared grid: show it (unless this page chose its own noise), and
  // every FIXED_EVERY-th snapshot the fixed-noise grid, so that all pages
  // ask for the same snapshots and the server renders each once.
  const FIXED_EVERY = 3;
  let lastSamplesEvent = 0;
  function onSamples(d) {
    if (!d || !Number.isFinite(d.seed)) return;
    lastSamplesEvent = Date.now();
    liveSeed = d.seed;
    liveVersion = d.version;
    if (document.hidden) return;              // caught up when the tab shows again
    if (ownSeed === null) refreshSamples(true);
    if (d.version % FIXED_EVERY === 0 || fixedKey === -2) refreshFixed(true);
  }

  let snapshots = [];             // [{iteration, url}]
  let following = true;           // fixed grid follows the latest
  let pinnedIter = null;          // snapshot iteration the person picked
  let fixedBusy = false, fixedKey = -2;
  async function refreshFixed(force = false) {
    if (!following || fixedBusy) return;
    if (!force && (document.hidden || fixedKey === shownIter)) return;
    fixedBusy = true;
    const at = shownIter;
    try {
      const blob = await fetchPng(`/api/samples/fixed.png`);
      if (following) { setBlob($('fixed'), blob); fixedKey = at; }
    } catch { /* next round */ } finally { fixedBusy = false; }
  }
  function timelineUi() {
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
  async function loadTimeline() {
    const r = await api('/api/timeline');
    snapshots = Array.isArray(r.snapshots) ? r.snapshots : [];
    if (!following && !snapshots.length) following = true;
    timelineUi();
  }
  $('timeline').addEventListener('input', () => {
    const v = Number($('timeline').value);
    if (v >= snapshots.length) { follow(); return; }
    following = false;
    pinnedIter = snapshots[v].iteration;
    dropBlob($('fixed'));
    $('fixed').src = snapshots[v].url;
    timelineUi();
  });
  function follow() {
    following = true;
    pinnedIter = null;
    timelineUi();
    refreshFixed(true);
  }
  $('btn-live').addEventListener('click', follow);

  // ---- settings form (settings.js) ---------------------------------------------------
  const { applyConfig, loadConfig, labelForm } = window.ganliveSettings(api);

  // ---- smoothing control --------------------------------------------------------
  $('smoothing').addEventListener('input', () => {
    $('smoothing-val').textContent = Number($('smoothing').value).toFixed(2);
    scheduleRender();
  });

  // ---- event stream --------------------------------------------------------------
  let es = null, everOpen = false, lost = false, retryTimer = null, backoff = 1000;
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
        // Server may have restarted: reload everything, then the metrics we missed.
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
    for (const [name, fns] of Object.entries(hooks.sse)) {
      es.addEventListener(name, (e) => {
        let d;
        try { d = JSON.parse(e.data); } catch { return; }
        runHooks(fns, d);
      });
    }
    es.addEventListener('samples', (e) => {
      try { onSamples(JSON.parse(e.data)); } catch { /* ignore a bad event */ }
    });
    es.addEventListener('metrics', (e) => {
      try { onMetrics(JSON.parse(e.data)); } catch { /* ignore a bad event */ }
    });
    es.addEventListener('state', (e) => {
      let d;
      try { d = JSON.parse(e.data); } catch { return; }
      if (d.state && d.state !== state) {
        stateSeq++;
        setState(d.state);
        if (d.state === 'diverged') loadStatus().catch(() => {});   // for diverged_reason
      }
      setIteration(d.iteration);
      if (d.config && typeof d.config === 'object') applyConfig(d.config, false);
    });
  }

  // ---- periodic work ------------------------------------------------------------------
  async function tickStatus() {
    try {
      await loadStatus();
      // Without the event stream, keep the charts going by polling.
      if (!es || es.readyState !== EventSource.OPEN) await catchUp();
    } catch {
      if (!es || es.readyState !== EventSource.OPEN) setConn('disconnected');
    }
  }

  // ---- language switch: redraw every text the page wrote -------------------------
  I.onChange(() => {
    $('conn').textContent = connText();
    if (state !== 'unknown') $('state').textContent = stateLabel(state);
    updateBanner();
    updateButtons();
    for (const [id, fn] of Object.entries(msgFns)) $(id).textContent = fn();
    renderLastCheckpoint();
    setCheckpointError(ckptErrText);
    timelineUi();
    labelForm();
    relabelCharts(lossChart, SERIES_KEYS[0]);
    relabelCharts(accChart, SERIES_KEYS[1]);
    $('iteration').textContent = fmtInt(shownIter >= 0 ? shownIter : NaN);
    runHooks(hooks.lang);
  });

  // ---- the interface insight.js builds on ----------------------------------------------
  window.ganlive = {
    api, fetchPng, setBlob, dropBlob, randomSeed, fmtInt,
    iteration: () => shownIter,
    status: () => lastStatus,
    // a status already known is handed over after the calling script has run
    onStatus: (fn) => { hooks.status.push(fn); if (lastStatus) queueMicrotask(() => fn(lastStatus)); },
    onReset: (fn) => hooks.reset.push(fn),
    onLanguage: (fn) => hooks.lang.push(fn),
    // SSE events by name (register before the stream opens: at script load).
    onEvent: (name, fn) => { (hooks.sse[name] = hooks.sse[name] || []).push(fn); },
    // draw(u) runs after each draw of the loss and accuracy charts.
    onChartDraw: (fn) => hooks.draw.push(fn),
    charts: () => [lossChart, accChart].filter(Boolean),
    redrawCharts: () => { for (const u of [lossChart, accChart]) if (u) u.redraw(false, false); },
    setSamplesQuery: (fn) => { samplesExtra = fn; refreshSamples(true); },
    onAccess: (fn) => hooks.access.push(fn),
    isViewer: () => viewer,
    samplesQuery: () => samplesQuery(),
    refreshSamples,
  };

  async function start() {
    updateButtons();
    makeCharts();
    await Promise.allSettled([loadStatus(), loadConfig(), loadTimeline()]);
    connect();
    refreshSamples(true);
    refreshFixed(true);
    setInterval(tickStatus, STATUS_MS);
    setInterval(renderLastCheckpoint, 1000);   // keep "… ago" current
    // Own noise, or no "samples" events (stream down): refresh by polling.
    setInterval(() => {
      const quiet = Date.now() - lastSamplesEvent > 3 * SAMPLES_MS;
      if (ownSeed !== null || quiet) refreshSamples();
      if (quiet) refreshFixed();
    }, SAMPLES_MS);
    setInterval(() => { loadTimeline().catch(() => {}); }, TIMELINE_MS);
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) { refreshSamples(true); refreshFixed(); scheduleRender(); }
    });
  }
  // After every deferred script (insight.js too) has run and registered its
  // hooks: a status or an SSE event must not arrive before its listeners.
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
