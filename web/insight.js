// insight.js - dashboard panels for quality, copying, latent walks and balance.
//
// Built on window.ganlive (app.js) and window.i18n (i18n.js); loaded after app.js.
// - Quality: GET /api/quality when /api/status reports a newer pass; a uPlot
//   chart of inception score, Frechet distance and mean confidence per pass
//   with the real-data ceiling dashed, the latest class histogram as 10 bars
//   named by status.classes, and a banner with status.warnings (mode
//   collapse, copying). With quality.available false the reason replaces it.
// - Copying: the latest nn_ratio against its threshold, /api/nearest.png
//   (generated digit | nearest training digit) and the /api/nearest table.
// - Live samples: "annotate" (annotate=1, red caught -> green fooled), a digit
//   picker for conditional runs (digit=D / digits=all), and a hover tooltip
//   with D(G(z)), class and confidence from /api/samples.json for the same
//   query (cells 28*scale px, 2-px gutters between cells, as the C server).
// - Latent walk: 10 candidate seeds (samples.png?n=1), click "from" then
//   "to" for /api/interpolate.png. Real beside fake: real.png | samples.png.
// - Balance: /api/balance and SSE "balance" events as vertical markers on the
//   loss and accuracy charts. Preset: confirm, POST /api/run; the reconnect
//   path in app.js then resets the page for the new run.
// - Shared by default: the candidates (seeds 1..10), the fake grid and the
//   copying check use the same seeds on every page and refresh on the same
//   "samples" events, so the server renders each once for a whole class;
//   "New seeds", "New digits" and "New samples" switch one page to its own.
// - Invite (the presenter's page on a LAN bind): /api/invite's join URLs
//   with their QR codes.
// window.__ganlive exposes a little state for tests (markers drawn, hover).
'use strict';

(() => {
  const G = window.ganlive, t = window.i18n.t;
  if (!G) return;
  const $ = (id) => document.getElementById(id);
  const fmt = (v, d) => (Number.isFinite(v) ? v.toFixed(d) : '–');
  const pct = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–');
  const DEFAULT_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
  const REFRESH_MS = 15000;    // latent-walk candidates and the fake grid
  const REFRESH_EVERY = 15;    // ... on every 15th shared snapshot while the stream is up
  const SHARED_SEED = 1;       // the seed every page starts from
  const css = getComputedStyle(document.documentElement);
  const color = (name, fb) => (css.getPropertyValue(name).trim() || fb);
  const C = { is: color('--c-d', '#5b9dff'), fd: color('--c-g', '#ff8a4c'), conf: color('--c-real', '#3ecf8e'),
    axis: color('--muted', '#9aa4b2'), grid: color('--grid', 'rgba(255,255,255,0.07)'),
    skip_d: color('--c-d', '#5b9dff'), skip_g: color('--c-g', '#ff8a4c'), resume: color('--muted', '#9aa4b2') };
  const test = window.__ganlive = { balanceMarkers: 0, balanceEvents: [], quality: null, hover: null, walk: null };
  let classes = DEFAULT_CLASSES, conditional = false;
  const className = (i) => (Number.isInteger(i) && classes[i] !== undefined ? classes[i] : i == null ? '–' : String(i));

  async function loadImg(img, url) {
    const blob = await G.fetchPng(url);
    G.setBlob(img, blob);
    img.dataset.url = url;
  }

  // ---- status: classes, conditional, warnings, new quality passes ----------------
  let presetTouched = false, lastPassIter = null;
  // A server without the quality/balance API (no such keys in /api/status) is
  // not asked for it, so an older ganlive shows the rest without 404s.
  let hasQuality = false, hasBalance = false, started = false;
  G.onStatus((s) => {
    hasQuality = 'quality' in s;
    hasBalance = 'balance' in s;
    if (!started) {
      started = true;
      if (hasQuality) { loadQuality(); loadNearest(); } else noQualityApi();
      if (hasBalance) loadBalance();
    }
    classes = Array.isArray(s.classes) && s.classes.length === 10 ? s.classes.map(String) : DEFAULT_CLASSES;
    setConditional(!!s.conditional);
    renderWarnings(Array.isArray(s.warnings) ? s.warnings : []);
    const q = s.quality;
    if (q && q.iteration !== lastPassIter) { lastPassIter = q.iteration; loadQuality(); loadNearest(); }
    renderRatio(q ? q.nn_ratio : null);
    if (!presetTouched && (s.preset === 'classic' || s.preset === 'fast')) $('preset').value = s.preset;
    if (s.balance && s.balance.mode) { balanceMode = s.balance.mode; renderBalanceLegend(); }
  });

  // ---- warnings banner -------------------------------------------------------------
  let warnings = [];
  function renderWarnings(list) {
    warnings = list;
    const ul = $('quality-warning-list');
    ul.textContent = '';
    for (const w of list) {
      const li = document.createElement('li');
      li.dataset.kind = w.kind || '';
      const k = document.createElement('strong');
      const key = `warn.${w.kind}`;
      k.textContent = t(key) === key ? String(w.kind || '') : t(key);
      li.append(k, ` — ${w.message || ''}`);
      ul.append(li);
    }
    $('quality-warning').hidden = !list.length;
  }

  // ---- quality chart and histogram -----------------------------------------------------
  let quality = null, qChart = null;
  const SERIES = ['q.is', 'q.fd', 'q.conf', 'q.isCeil', 'q.fdCeil'];
  function makeQualityChart() {
    if (qChart || typeof uPlot === 'undefined') return;
    const el = $('chart-quality');
    const line = (key, stroke, scale, extra = {}) => ({ label: t(key), stroke, scale, width: 2, points: { show: true, size: 5 }, ...extra });
    const axis = (scale, side, stroke) => ({ scale, side, stroke, size: 46, grid: { stroke: scale === 'is' ? C.grid : 'transparent', width: 1 },
      ticks: { stroke: C.grid, width: 1 } });
    qChart = new uPlot({
      width: el.clientWidth || 600, height: 220, cursor: { drag: { x: false, y: false } }, legend: { live: true },
      scales: { x: { time: false }, is: { range: (u, lo, hi) => [0, Math.max(10, hi || 0)] },
        fd: { range: (u, lo, hi) => [0, Math.max(1, hi || 0) * 1.05] }, conf: { range: [0, 1] } },
      series: [
        { label: t('s.iteration'), value: (u, v) => (v == null ? '–' : G.fmtInt(v)) },
        line('q.is', C.is, 'is', { value: (u, v) => fmt(v, 2) }),
        line('q.fd', C.fd, 'fd', { value: (u, v) => fmt(v, 2) }),
        line('q.conf', C.conf, 'conf', { value: (u, v) => pct(v) }),
        line('q.isCeil', C.is, 'is', { width: 1, dash: [6, 5], points: { show: false }, value: (u, v) => fmt(v, 2) }),
        line('q.fdCeil', C.fd, 'fd', { width: 1, dash: [6, 5], points: { show: false }, value: (u, v) => fmt(v, 2) }),
      ],
      axes: [{ stroke: C.axis, grid: { stroke: C.grid, width: 1 }, ticks: { stroke: C.grid, width: 1 } },
        axis('is', 3, C.is), axis('fd', 1, C.fd)],
    }, [[], [], [], [], [], []], el);
    new ResizeObserver(() => { if (qChart) qChart.setSize({ width: el.clientWidth, height: 220 }); }).observe(el);
  }
  function noQualityApi() {
    $('quality-reason').hidden = false;
    $('quality-reason-text').textContent = t('q.noApi');
    $('quality-body').hidden = true;
  }
  async function loadQuality() {
    if (!hasQuality) return;
    try { quality = await G.api('/api/quality'); } catch { return; }
    renderQuality();
  }
  function renderQuality() {
    const q = quality;
    if (!q) return;
    const off = q.available === false;
    $('quality-reason').hidden = !off;
    $('quality-reason-text').textContent = off ? (q.reason || '') : '';
    $('quality-body').hidden = off;
    $('quality-every').textContent = Number.isFinite(q.every) && q.every > 0 && !off
      ? t('q.every', { n: G.fmtInt(q.every), m: G.fmtInt(q.samples) }) : '';
    const passes = Array.isArray(q.passes) ? q.passes : [];
    const ceil = q.ceiling || {};
    test.quality = { available: !off, passes: passes.length, ceiling: Number.isFinite(ceil.inception_score) };
    if (off) return;
    makeQualityChart();
    if (qChart) {
      const x = passes.map((p) => p.iteration);
      const col = (k) => passes.map((p) => (Number.isFinite(p[k]) ? p[k] : null));
      const flat = (v) => x.map(() => (Number.isFinite(v) ? v : null));
      qChart.setData([x, col('inception_score'), col('frechet'), col('confidence'),
        flat(ceil.inception_score), flat(ceil.frechet)]);
      if (x.length && !(qChart.cursor.left >= 0)) qChart.setLegend({ idx: x.length - 1 });
    }
    renderHistogram(passes[passes.length - 1] || null);
    renderRatio(passes.length ? passes[passes.length - 1].nn_ratio : null);
  }
  function renderHistogram(pass) {
    const box = $('quality-hist');
    box.textContent = '';
    const h = pass && Array.isArray(pass.histogram) ? pass.histogram : [];
    const th = (quality && quality.thresholds) || {};
    const max = Math.max(0.3, ...h.filter(Number.isFinite));
    $('h-hist').textContent = pass ? t('q.hist', { i: G.fmtInt(pass.iteration) }) : t('q.histEmpty');
    for (let i = 0; i < 10; i++) {
      const v = Number.isFinite(h[i]) ? h[i] : 0;
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.setAttribute('role', 'listitem');
      const outside = pass && ((Number.isFinite(th.class_min) && v < th.class_min) || (Number.isFinite(th.class_max) && v > th.class_max));
      bar.classList.toggle('off', !!outside);
      bar.title = t('q.histBar', { c: className(i), p: pct(v) })
        + (outside ? ` · ${t('q.outside', { lo: pct(th.class_min), hi: pct(th.class_max) })}` : '');
      bar.setAttribute('aria-label', bar.title);
      const track = document.createElement('span');
      track.className = 'bar-track';
      const fill = document.createElement('span');
      fill.className = 'bar-fill';
      fill.style.height = `${Math.min(100, (v / max) * 100)}%`;
      track.append(fill);
      const val = document.createElement('span');
      val.className = 'bar-val';
      val.textContent = pass ? `${Math.round(v * 100)}%` : '';
      const name = document.createElement('span');
      name.className = 'bar-name';
      name.textContent = className(i);
      bar.append(val, track, name);
      box.append(bar);
    }
  }

  // ---- copying: nn ratio, nearest pairs and table ---------------------------------------
  let nnRatio = null, nearestSeed = SHARED_SEED, nearestMedian = null;
  const NEAREST_N = 8;
  function renderRatio(r) {
    nnRatio = Number.isFinite(r) ? r : null;
    const min = quality && quality.thresholds && Number.isFinite(quality.thresholds.nn_ratio_min) ? quality.thresholds.nn_ratio_min : 0.6;
    const el = $('nn-ratio');
    el.textContent = nnRatio === null ? '–' : nnRatio.toFixed(2);
    el.classList.toggle('bad', nnRatio !== null && nnRatio < min);
    $('nn-threshold').textContent = nnRatio === null ? t('copy.noRatio') : t('copy.threshold', { t: min.toFixed(2) });
  }
  let nearestBusy = false;
  async function loadNearest() {
    if (nearestBusy || !hasQuality) return;
    nearestBusy = true;
    const q = `seed=${nearestSeed}&n=${NEAREST_N}`;
    try {
      const [r] = await Promise.all([G.api(`/api/nearest?${q}`), loadImg($('nearest-img'), `/api/nearest.png?${q}&scale=2`)]);
      const body = $('nearest-table').tBodies[0];
      body.textContent = '';
      for (const it of Array.isArray(r.items) ? r.items : []) {
        const tr = body.insertRow();
        for (const v of [it.index, it.train_index, className(it.train_label), fmt(it.distance, 2)]) {
          tr.insertCell().textContent = typeof v === 'number' ? String(v) : v;
        }
      }
      nearestMedian = Number.isFinite(r.test_median) ? r.test_median : null;
      renderNearestCaption();
    } catch (e) {
      $('nearest-caption').textContent = t('copy.error', { e: e.message });
    } finally { nearestBusy = false; }
  }
  function renderNearestCaption() {
    $('nearest-caption').textContent = nearestMedian === null ? t('copy.captionNoMedian')
      : t('copy.caption', { m: nearestMedian.toFixed(2) });
  }
  $('btn-nearest').addEventListener('click', () => { nearestSeed = G.randomSeed(); loadNearest(); });

  // ---- live samples: annotate, digit picker, hover ---------------------------------------
  function setConditional(on) {
    if (on === conditional && $('digit').options.length) { labelDigits(); return; }
    conditional = on;
    $('digit-picker').hidden = !on;
    if (!on && $('digit').value !== '') { $('digit').value = ''; G.setSamplesQuery(samplesExtra); }
    labelDigits();
  }
  function labelDigits() {
    const sel = $('digit');
    if (!sel.options.length) {
      sel.append(new Option('', ''));
      for (let i = 0; i < 10; i++) sel.append(new Option('', String(i)));
      sel.append(new Option('', 'all'));
    }
    for (const o of sel.options) {
      o.textContent = o.value === '' ? t('digit.any') : o.value === 'all' ? t('digit.all') : className(Number(o.value));
    }
  }
  function samplesExtra() {
    const x = {};
    if ($('annotate').checked) x.annotate = '1';
    const d = conditional ? $('digit').value : '';
    if (d === 'all') { x.digits = 'all'; x.n = '80'; } else if (d !== '') x.digit = d;
    return x;
  }
  G.setSamplesQuery(samplesExtra);
  $('annotate').addEventListener('change', () => {
    $('annotate-legend').hidden = !$('annotate').checked;
    G.setSamplesQuery(samplesExtra);
  });
  $('digit').addEventListener('change', () => G.setSamplesQuery(samplesExtra));

  // The grid under the pointer: cells of 28*scale px, 2-px gutters between them.
  const img = $('samples'), tip = $('sample-tip');
  let info = null, infoKey = '', infoBusy = false;
  function cellAt(ev) {
    const u = img.dataset.url && new URL(img.dataset.url, location.href);
    if (!u || !img.naturalWidth) return null;
    const q = u.searchParams, n = Number(q.get('n') || (q.get('digits') === 'all' ? 80 : 64)), scale = Number(q.get('scale') || 1);
    let cols = q.get('digits') === 'all' ? 10 : Math.ceil(Math.sqrt(n));
    while (cols > 1 && (cols - 1) * (cols - 1) >= n && q.get('digits') !== 'all') cols--;
    const box = img.getBoundingClientRect();
    const k = Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight);
    const x = (ev.clientX - box.left - (box.width - img.naturalWidth * k) / 2) / k;
    const y = (ev.clientY - box.top - (box.height - img.naturalHeight * k) / 2) / k;
    const pitch = 28 * scale + 2, c = Math.floor(x / pitch), r = Math.floor(y / pitch);
    if (x < 0 || y < 0 || c >= cols || x - c * pitch >= 28 * scale || y - r * pitch >= 28 * scale) return null;
    const index = r * cols + c;
    if (index >= n) return null;
    const jq = new URLSearchParams();
    for (const key of ['n', 'seed', 'digit', 'digits']) if (q.has(key)) jq.set(key, q.get(key));
    return { index, key: `/api/samples.json?${jq}`, left: (c * pitch + 28 * scale) * k + (box.width - img.naturalWidth * k) / 2,
      top: r * pitch * k + (box.height - img.naturalHeight * k) / 2 };
  }
  let lastCell = null;
  // One samples.json request at a time (a new one when the grid or the
  // iteration moved); when it comes back, whatever cell is under the pointer
  // by then is shown.
  async function refresh() {
    const cell = lastCell, key = `${cell.key}@${img.dataset.url}@${G.iteration()}`;
    if (key !== infoKey && !infoBusy) {
      infoBusy = true;
      try { info = await G.api(cell.key); } catch { info = null; } finally { infoBusy = false; infoKey = key; }
    }
    if (lastCell) showTip(lastCell);
  }
  function hover(ev) {
    lastCell = cellAt(ev);
    if (!lastCell) { tip.hidden = true; test.hover = null; return; }
    refresh();
  }
  function showTip(cell) {
    const s = info && Array.isArray(info.samples) ? info.samples[cell.index] : null;
    if (!s) { tip.hidden = true; return; }
    const parts = [`${t('tip.d')} ${fmt(s.d_fake, 2)}`];
    if (s.label == null) parts.push(t('tip.noClassifier'));
    else parts.push(`${t('tip.label')} ${className(s.label)}`, `${t('tip.conf')} ${pct(s.confidence)}`);
    if (s.requested != null) parts.push(`${t('tip.requested')} ${className(s.requested)}`);
    tip.textContent = `#${s.index} · ${parts.join(' · ')}`;
    tip.hidden = false;
    const w = img.parentElement.clientWidth;
    tip.style.left = `${Math.max(0, Math.min(cell.left + 4, w - tip.offsetWidth))}px`;
    tip.style.top = `${Math.max(0, cell.top)}px`;
    test.hover = { index: s.index, d_fake: s.d_fake, label: s.label, confidence: s.confidence, text: tip.textContent };
  }
  img.addEventListener('mousemove', hover);
  img.addEventListener('mouseleave', () => { lastCell = null; tip.hidden = true; test.hover = null; });

  // ---- latent walk -----------------------------------------------------------------------------
  let seeds = [], from = null, to = null, walkAt = -1;
  function newSeeds(shared = false) {
    seeds = Array.from({ length: 10 }, (_, i) => (shared ? i + 1 : G.randomSeed()));
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
    G.dropBlob($('walk-img'));
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
    test.walk = { from, to };
  }
  async function loadWalk() {
    if (from === null || to === null) return;
    try { await loadImg($('walk-img'), `/api/interpolate.png?from=${from}&to=${to}&steps=10&scale=2`); } catch { /* next round */ }
  }
  async function refreshWalk(force = false) {
    if (!force && (document.hidden || walkAt === G.iteration())) return;
    walkAt = G.iteration();
    renderWalk();
    await Promise.allSettled([...$('walk-candidates').children].map((b) =>
      loadImg(b.firstChild, `/api/samples.png?n=1&seed=${b.dataset.seed}&scale=2`)));
    await loadWalk();
  }
  $('btn-seeds').addEventListener('click', () => newSeeds());

  // ---- real beside fake ------------------------------------------------------------------------
  let realSeed = SHARED_SEED, fakeSeed = SHARED_SEED;
  function loadReal() {
    loadImg($('real-img'), `/api/real.png?n=16&seed=${realSeed}&scale=2`).catch(() => {});
    loadImg($('fake-img'), `/api/samples.png?n=16&seed=${fakeSeed}&scale=2`).catch(() => {});
  }
  $('btn-real').addEventListener('click', () => { realSeed = G.randomSeed(); fakeSeed = G.randomSeed(); loadReal(); });

  // ---- balance markers on the loss and accuracy charts -------------------------------------------
  let balance = [], balanceMode = 'off';
  async function loadBalance() {
    if (!hasBalance) return;
    try {
      const r = await G.api('/api/balance');
      balance = Array.isArray(r.events) ? r.events.filter((e) => Number.isFinite(e.iteration)) : [];
      if (r.mode) balanceMode = r.mode;
    } catch { return; }
    balanceChanged();
  }
  G.onEvent('balance', (e) => {
    if (!e || !Number.isFinite(e.iteration)) return;
    balance.push(e);
    if (balance.length > 256) balance.shift();
    balanceChanged();
  });
  function balanceChanged() {
    test.balanceEvents = balance.slice();
    renderBalanceLegend();
    G.redrawCharts();
  }
  G.onChartDraw((u) => {
    const { ctx } = u, { left, top, width, height } = u.bbox;
    const min = u.scales.x.min, max = u.scales.x.max;
    let n = 0;
    ctx.save();
    ctx.lineWidth = Math.max(1, devicePixelRatio || 1);
    ctx.setLineDash([4 * (devicePixelRatio || 1), 3 * (devicePixelRatio || 1)]);
    for (const e of balance) {
      if (!(e.iteration >= min && e.iteration <= max)) continue;
      const x = Math.round(u.valToPos(e.iteration, 'x', true));
      if (x < left || x > left + width) continue;
      ctx.strokeStyle = C[e.action] || C.resume;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      n++;
    }
    ctx.restore();
    u.root.dataset.balanceMarkers = String(n);
    test.balanceMarkers = Math.max(...G.charts().map((c) => Number(c.root.dataset.balanceMarkers || 0)));
  });
  function renderBalanceLegend() {
    const show = balanceMode === 'auto' || balance.length > 0;
    for (const el of document.querySelectorAll('.bal-legend')) {
      el.hidden = !show;
      el.textContent = '';
      const title = document.createElement('span');
      title.textContent = t('bal.legend');
      el.append(title);
      for (const a of ['skip_d', 'skip_g', 'resume']) {
        const item = document.createElement('span');
        item.className = `bal-item ${a}`;
        item.textContent = t(`bal.${a}`);
        el.append(item);
      }
    }
  }

  // ---- preset: start a new run ----------------------------------------------------------------
  let runMsg = () => '';
  function showRunMsg(fn, err = false) {
    runMsg = fn;
    $('run-msg').textContent = fn();
    $('run-msg').classList.toggle('err', err);
  }
  $('preset').addEventListener('change', () => { presetTouched = true; });
  $('btn-run').addEventListener('click', async () => {
    if (G.isViewer()) return;
    const p = $('preset').value;
    if (!window.confirm(t('preset.confirm', { p: t(`preset.${p}`) }))) return;
    $('btn-run').disabled = true;
    showRunMsg(() => t('preset.starting', { p: t(`preset.${p}`) }));
    try {
      await G.api('/api/run', { method: 'POST', body: { preset: p } });
      presetTouched = false;
    } catch (e) {
      showRunMsg(() => t('preset.failed', { e: e.message }), true);
    } finally {
      setTimeout(() => { $('btn-run').disabled = false; }, 1500);
    }
  });

  // ---- a new run (restart, preset, restore) --------------------------------------------------
  G.onReset(() => {
    lastPassIter = null;
    balance = [];
    balanceChanged();
    if (quality) { quality.passes = []; renderQuality(); }
    setTimeout(() => {
      loadQuality(); loadBalance(); loadNearest(); refreshWalk(true); loadReal();
      if ($('run-msg').classList.contains('err') === false) showRunMsg(() => '');
    }, 500);
  });

  // ---- language ---------------------------------------------------------------------------------------
  G.onLanguage(() => {
    renderWarnings(warnings);
    if (qChart) {
      const labels = qChart.root.querySelectorAll('.u-legend .u-series .u-label');
      ['s.iteration', ...SERIES].forEach((k, i) => { qChart.series[i].label = t(k); if (labels[i]) labels[i].textContent = t(k); });
    }
    if (hasQuality) renderQuality(); else if (started) noQualityApi();
    renderRatio(nnRatio);
    if (nearestMedian !== null || $('nearest-table').tBodies[0].rows.length) renderNearestCaption();
    labelDigits();
    renderWalk();
    renderBalanceLegend();
    $('run-msg').textContent = runMsg();
  });

  // ---- start ---------------------------------------------------------------------------------------------
  labelDigits();
  renderHistogram(null);
  renderRatio(null);
  newSeeds(true);
  loadReal();
  function refreshPanels() {
    refreshWalk();
    if (!document.hidden) loadImg($('fake-img'), `/api/samples.png?n=16&seed=${fakeSeed}&scale=2`).catch(() => {});
  }
  let lastTick = Date.now();
  G.onEvent('samples', (d) => {
    if (!d || !Number.isFinite(d.version) || d.version % REFRESH_EVERY !== 0) return;
    lastTick = Date.now();
    refreshPanels();
  });
  setInterval(() => {            // without the stream: every REFRESH_MS
    if (Date.now() - lastTick >= REFRESH_MS) { lastTick = Date.now(); refreshPanels(); }
  }, REFRESH_MS / 3);

  // ---- invite: join URLs and QR codes (the presenter, on a LAN bind) --------------------------------
  let inviteShown = null;
  G.onAccess((a) => {
    const show = a.presenter && a.lan;
    if (show === inviteShown) return;
    inviteShown = show;
    $('invite-card').hidden = !show;
    if (show) loadInvite();
  });
  async function loadInvite() {
    try {
      const r = await G.api('/api/invite');
      const list = $('invite-list');
      list.textContent = '';
      const invites = Array.isArray(r.invites) ? r.invites : [];
      $('invite-msg').textContent = r.lan === false ? t('invite.loopback') : invites.length ? '' : t('invite.none');
      for (const it of invites) {
        const fig = document.createElement('figure');
        fig.className = 'invite';
        const im = document.createElement('img');
        im.src = it.qr;
        im.alt = t('invite.qrAlt', { u: it.url });
        const a = document.createElement('a');
        a.href = it.url;
        a.textContent = it.url;
        fig.append(im, a);
        list.append(fig);
      }
    } catch (e) {
      $('invite-msg').textContent = e.message;
    }
  }
})();
