// insight.mjs - browser test of the dashboard's insight features against the
// mock server (tests/browser/mock-server.mjs, imported; the C server does not
// have the contract's endpoints yet). playwright-core drives the system
// Chromium, headless; nothing is downloaded.
//
// Checks: English/Spanish switch (texts, <html lang>, kept across a reload),
// the quality chart with its real-data ceiling, the 10-bar class histogram,
// the quality warning banner coming and going with the mock switch, the
// copying panel (nearest pairs image and an n-row table), annotate=1 and the
// hover tooltip (class and confidence as samples.json says), the digit picker
// (hidden for an unconditional run; digit=D / digits=all on a conditional
// one), the latent walk (click, click -> interpolate.png with both seeds),
// real beside fake, balance markers (SSE event and GET /api/balance after a
// reload), the "New run…" dialog as the one way to start a run (no old preset
// select or button; Cancel and Escape post nothing; in Spanish it says the
// run is set aside, starts at this run's preset, POSTs only the preset
// picked, says which run starts, and the page follows the restarted run
// while the old run is kept, listed and ticked, on the loss and quality
// charts), quality unavailable (reason shown),
// and no script errors, failed requests or foreign requests.
// Prints "ok - ..." / "FAIL - ..." per check, then "N passed, N failed";
// the exit code is non-zero on failure.
//
//   node tests/browser/insight.mjs
//
// Env: CHROMIUM (default /usr/bin/chromium), GANLIVE_SCREENSHOT (default
// build/insight.png). A watchdog ends the run after 150 s.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { check, fail, finish, sleep } from './lib.mjs';
import { startMock } from './mock-server.mjs';

const exe = process.env.CHROMIUM || '/usr/bin/chromium';
const shot = process.env.GANLIVE_SCREENSHOT || 'build/insight.png';
const watchdog = setTimeout(() => { fail('whole test within 150 s', 'watchdog fired'); finish(); }, 150000);
watchdog.unref();

const mocks = [];
let context = null, userDir = null;
async function cleanup() {
  try { if (context) await context.close(); } catch { /* already gone */ }
  try { if (userDir) fs.rmSync(userDir, { recursive: true, force: true }); } catch { /* best effort */ }
  for (const m of mocks) { try { await m.close(); } catch { /* best effort */ } }
}

const errors = [], foreign = [];
let throttled = 0;           // 429/503 answers the test asked the mock for
const origins = new Set();
function watch(page) {
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    if ((r.status() === 429 || r.status() === 503) && throttled > 0) { throttled--; return; }   // deliberate (render budget)
    errors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('blob:') && !u.startsWith('data:') && !origins.has(new URL(u).origin)) foreign.push(u);
  });
}
async function mock(opts) {
  const m = await startMock({ port: 0, quiet: true, rate: 80, ...opts });
  mocks.push(m);
  origins.add(new URL(m.url).origin);
  return m;
}
const imgLoaded = (page, sel) => page.waitForFunction((s) => {
  const im = document.querySelector(s);
  return im && im.complete && im.naturalWidth > 0 && im.dataset.url;
}, sel, { timeout: 10000, polling: 100 });
const textOf = (page, sel) => page.$eval(sel, (el) => el.textContent.trim());
// What the page writes on its elements beyond text: quality passes and the
// ceiling on #chart-quality, balance decisions held on #chart-loss, markers
// drawn on each chart's uPlot root.
const G = (page) => page.evaluate(() => ({
  quality: { passes: Number(document.getElementById('chart-quality').dataset.passes || 0),
    ceiling: document.getElementById('chart-quality').dataset.ceiling === 'true' },
  balanceEvents: Number(document.getElementById('chart-loss').dataset.balanceEvents || 0),
}));

async function main() {
  const m = await mock({});
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ganlive-chromium-'));
  context = await chromium.launchPersistentContext(userDir, {
    executablePath: exe, headless: true, timeout: 20000, viewport: { width: 1440, height: 1000 }, locale: 'en-US',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.setDefaultTimeout(10000);
  const page = context.pages()[0] || await context.newPage();
  watch(page);
  const apiJson = (p) => page.evaluate(async (u) => (await fetch(u, { cache: 'no-store' })).json(), p);
  const apiPost = (p, body) => page.evaluate(async ([u, b]) => (await fetch(u, { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(b) })).json(), [p, body]);
  console.log(`# mock at ${m.url}`);

  const loaded = await check('dashboard loads with the insight panels', async () => {
    const r = await page.goto(`${m.url}/`, { waitUntil: 'load', timeout: 15000 });
    if (!r || !r.ok()) throw new Error(`HTTP ${r && r.status()}`);
    await page.waitForFunction(() => document.getElementById('conn').dataset.conn === 'live', null, { timeout: 10000 });
    for (const id of ['chart-quality', 'quality-hist', 'nearest-img', 'walk-candidates', 'real-img', 'lang', 'btn-new-run', 'run-dialog']) {
      if (!(await page.$(`#${id}`))) throw new Error(`#${id} missing`);
    }
    // the dialog is the one way to start a run: the old one-click preset flow is gone
    for (const id of ['preset', 'btn-run', 'chart-quality-runs']) if (await page.$(`#${id}`)) throw new Error(`#${id} still there`);
  });
  if (!loaded) return;

  // ---- language ----
  await check('Spanish switch translates the page and sets <html lang>', async () => {
    if ((await page.getAttribute('html', 'lang')) !== 'en') throw new Error('not English at first');
    await page.selectOption('#lang', 'es');
    const want = { '#h-samples': 'Muestras en vivo', '#btn-pause': 'Pausar', '#h-acc': 'Precisión del discriminador',
      '#h-loss': 'Pérdida', '#btn-step': 'Paso', '#h-quality': 'Calidad', '#btn-new-run': 'Nueva ejecución…',
      '#h-walk': 'Paseo por el espacio latente', '#state': 'entrenando' };
    for (const [sel, text] of Object.entries(want)) {
      const got = await textOf(page, sel);
      if (got !== text) throw new Error(`${sel} "${got}", want "${text}"`);
    }
    if ((await page.getAttribute('html', 'lang')) !== 'es') throw new Error('<html lang> not es');
    if (!/Reanudar/.test(await textOf(page, '#btn-resume'))) throw new Error('resume button not translated');
    // the charts are built again in the new language at their next draw (at most every 250 ms)
    await page.waitForFunction(() => /reales/.test(document.querySelector('#chart-acc .u-legend').textContent), null, { timeout: 3000 }).catch(() => {});
    const legend = await textOf(page, '#chart-acc .u-legend');
    if (!/reales/.test(legend) || !/50%/.test(legend)) throw new Error(`accuracy legend "${legend}"`);
    const label = await page.$eval('#cfg-lr_d', (el) => el.closest('label').querySelector('.fname').textContent);
    if (label !== 'tasa de aprendizaje de D') throw new Error(`settings label "${label}"`);
    const tip = await page.getAttribute('#btn-checkpoint', 'title');
    if (!/punto de control/.test(tip)) throw new Error(`tooltip "${tip}"`);
  });
  await check('the language is kept across a reload, and English comes back', async () => {
    await page.reload({ waitUntil: 'load' });
    await page.waitForFunction(() => document.getElementById('conn').dataset.conn === 'live', null, { timeout: 10000 });
    if ((await textOf(page, '#h-samples')) !== 'Muestras en vivo') throw new Error('not Spanish after reload');
    if ((await page.inputValue('#lang')) !== 'es') throw new Error('switch not on Español');
    if ((await textOf(page, '#conn')) !== 'en vivo') throw new Error(`connection "${await textOf(page, '#conn')}"`);
    await page.selectOption('#lang', 'en');
    if ((await textOf(page, '#h-samples')) !== 'Live samples') throw new Error('not back to English');
    if ((await textOf(page, '#state')) !== 'running') throw new Error(`state "${await textOf(page, '#state')}"`);
    const stored = await page.evaluate(() => localStorage.getItem('ganlive.lang'));
    if (stored !== 'en') throw new Error(`stored ${stored}`);
  });

  // ---- quality ----
  await check('quality chart is drawn with the real-data ceiling', async () => {
    await page.waitForFunction(() => Number(document.getElementById('chart-quality').dataset.passes || 0) >= 2, null, { timeout: 15000 });
    await page.waitForSelector('#chart-quality canvas');
    const q = await G(page);
    if (!q.quality.ceiling) throw new Error('no ceiling');
    const legend = await textOf(page, '#chart-quality .u-legend');
    if (!/IS real data/.test(legend) || !/FD real data/.test(legend)) throw new Error(`legend "${legend}"`);
    if (!/9\.80/.test(legend)) throw new Error(`ceiling value 9.80 not in the legend "${legend}"`);
    const n = await page.$eval('#chart-quality canvas', (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let k = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) k++; return k;
    });
    if (n < 1500) throw new Error(`only ${n} painted pixels`);
    return `${q.quality.passes} passes, ${n} px`;
  });
  await check('class histogram has 10 bars named by status.classes', async () => {
    const bars = await page.$$eval('#quality-hist .bar', (els) => els.map((e) => e.querySelector('.bar-name').textContent));
    if (bars.length !== 10) throw new Error(`${bars.length} bars`);
    const st = await apiJson('/api/status');
    if (bars.join() !== st.classes.join()) throw new Error(`names ${bars.join()}`);
    const h = await page.$$eval('#quality-hist .bar-fill', (els) => els.filter((e) => parseFloat(e.style.height) > 0).length);
    if (h !== 10) throw new Error(`${h} bars with a height`);
  });
  await check('quality panel: "not readable yet" with the best score so far (unconditional, score under 7)', async () => {
    await page.waitForSelector('#quality-readable:not([hidden])', { timeout: 8000 });
    const t = await textOf(page, '#quality-readable');
    const m1 = /^not readable yet \(best so far: score (\d+\.\d)\)$/.exec(t);
    if (!m1) throw new Error(`text "${t}"`);
    if (await page.getAttribute('#quality-readable', 'data-readable') !== 'no') throw new Error('data-readable not "no"');
    // the best score of the passes up to the status the page last drew (it polls; passes go on)
    const passes = (await apiJson('/api/quality')).passes;
    let best = -Infinity;
    const bests = passes.map((p) => (best = Math.max(best, p.inception_score)).toFixed(1));
    if (!(Number(m1[1]) < 7 && bests.includes(m1[1]))) throw new Error(`${m1[1]} not among the running bests ${bests.join(' ')}`);
    return `"${t}"`;
  });
  await check('warning banner appears with the mode-collapse switch and goes away', async () => {
    if (!(await page.isHidden('#quality-warning'))) throw new Error('banner shown before');
    await apiPost('/__mock/warnings', { mode_collapse: true });
    await page.waitForSelector('#quality-warning:not([hidden])', { timeout: 15000 });
    const t = await textOf(page, '#quality-warning');
    if (!/mode collapse/.test(t) || !/digit 3 is/.test(t)) throw new Error(`text "${t}"`);
    await apiPost('/__mock/warnings', {});
    await page.waitForSelector('#quality-warning', { state: 'hidden', timeout: 15000 });
    return `"${t.replace(/\s+/g, ' ')}"`;
  });

  // ---- copying ----
  await check('copying panel: nearest image, 8-row table and nn ratio with threshold', async () => {
    await imgLoaded(page, '#nearest-img');
    await page.waitForFunction(() => document.querySelectorAll('#nearest-table tbody tr').length === 8, null, { timeout: 8000 });
    const url = await page.$eval('#nearest-img', (im) => im.dataset.url);
    if (!/nearest\.png\?seed=\d+&n=8/.test(url)) throw new Error(`url ${url}`);
    const seed = /seed=(\d+)/.exec(url)[1];
    const j = await apiJson(`/api/nearest?seed=${seed}&n=8`);
    const first = await page.$$eval('#nearest-table tbody tr:first-child td', (tds) => tds.map((td) => td.textContent));
    if (Number(first[1]) !== j.items[0].train_index) throw new Error(`row ${first.join('|')} vs ${JSON.stringify(j.items[0])}`);
    const ratio = await textOf(page, '#nn-ratio');
    if (!/^\d\.\d\d$/.test(ratio)) throw new Error(`ratio "${ratio}"`);
    if (!/0\.60/.test(await textOf(page, '#nn-threshold'))) throw new Error('threshold not shown');
    await page.click('#btn-nearest');
    await page.waitForFunction((u) => document.getElementById('nearest-img').dataset.url !== u, url, { timeout: 8000 });
    return `ratio ${ratio}`;
  });

  // ---- live samples ----
  await check('digit picker is hidden for an unconditional run', async () => {
    if (!(await page.isHidden('#digit-picker'))) throw new Error('picker shown');
  });
  await check('annotate adds annotate=1 to the sample URL and shows the legend', async () => {
    await imgLoaded(page, '#samples');
    await page.check('#annotate');
    await page.waitForFunction(() => /[?&]annotate=1/.test(document.getElementById('samples').dataset.url || ''), null, { timeout: 8000 });
    if (await page.isHidden('#annotate-legend')) throw new Error('legend hidden');
    const legend = await textOf(page, '#annotate-legend');
    if (!/caught/.test(legend) || !/fooled/.test(legend)) throw new Error(`legend "${legend}"`);
    return page.$eval('#samples', (im) => im.dataset.url);
  });
  await check('hovering a digit shows D(G(z)), class and confidence from samples.json', async () => {
    await imgLoaded(page, '#samples');
    await page.click('#btn-pause');   // keep the grid still while comparing
    await page.waitForFunction(() => document.getElementById('state').dataset.state === 'paused', null, { timeout: 8000 });
    await sleep(2500);
    const box = await page.$eval('#samples', (im) => {
      const r = im.getBoundingClientRect();
      return { x: r.left, y: r.top, w: r.width, h: r.height, nw: im.naturalWidth, url: im.dataset.url };
    });
    // cell 10 = row 1, column 2 of 8; cells 56 px + 2-px gutters at scale 2
    const k = box.w / box.nw, cx = (2 * 58 + 28) * k, cy = (1 * 58 + 28) * k;
    await page.mouse.move(box.x + cx - 5, box.y + cy - 5);
    await page.mouse.move(box.x + cx, box.y + cy);
    await page.waitForSelector('#sample-tip:not([hidden])', { timeout: 15000 });
    const tip = await textOf(page, '#sample-tip');
    const q = new URL(box.url, m.url).searchParams;
    const j = await apiJson(`/api/samples.json?n=${q.get('n')}&seed=${q.get('seed')}`);
    const s = j.samples[10];
    if (!tip.startsWith('#10 ')) throw new Error(`tip "${tip}"`);
    if (!tip.includes(`class ${s.label}`) || !tip.includes(`confidence ${(s.confidence * 100).toFixed(1)}%`)) {
      throw new Error(`tip "${tip}", samples.json ${JSON.stringify(s)}`);
    }
    if (!tip.includes(`D(G(z)) ${s.d_fake.toFixed(2)}`)) throw new Error(`tip "${tip}", d_fake ${s.d_fake}`);
    await page.mouse.move(0, 0);
    await page.click('#btn-resume');
    return `"${tip}"`;
  });

  // ---- latent walk, real beside fake ----
  await check('latent walk: click, click loads interpolate.png with both seeds', async () => {
    await page.waitForFunction(() => [...document.querySelectorAll('#walk-candidates .cand img')]
      .filter((im) => im.complete && im.naturalWidth > 0).length === 10, null, { timeout: 10000 });
    const seeds = await page.$$eval('#walk-candidates .cand', (bs) => bs.map((b) => b.dataset.seed));
    await page.click('#walk-candidates .cand:nth-child(3)');
    if (!/click the digit to walk to/.test(await textOf(page, '#walk-msg'))) throw new Error('no prompt for "to"');
    await page.click('#walk-candidates .cand:nth-child(6)');
    await imgLoaded(page, '#walk-img');
    const url = await page.$eval('#walk-img', (im) => im.dataset.url);
    if (!url.includes(`from=${seeds[2]}&to=${seeds[5]}`)) throw new Error(`url ${url}, seeds ${seeds[2]} ${seeds[5]}`);
    const pressed = await page.$$eval('#walk-candidates .cand[aria-pressed="true"]', (bs) => bs.length);
    if (pressed !== 2) throw new Error(`${pressed} pressed`);
    const w = await page.$eval('#walk-img', (im) => im.naturalWidth);
    if (w !== 10 * 56 + 9 * 2) throw new Error(`width ${w}`);
    return url;
  });
  await check('real beside fake: real.png and samples.png with n=16 load', async () => {
    await imgLoaded(page, '#real-img');
    await imgLoaded(page, '#fake-img');
    const r = await page.$eval('#real-img', (im) => im.dataset.url), f = await page.$eval('#fake-img', (im) => im.dataset.url);
    if (!/\/api\/real\.png\?n=16&seed=\d+/.test(r) || !/\/api\/samples\.png\?n=16&seed=\d+/.test(f)) throw new Error(`${r} ${f}`);
    await page.click('#btn-real');
    await page.waitForFunction((u) => document.getElementById('real-img').dataset.url !== u, r, { timeout: 8000 });
  });

  // ---- balance ----
  await check('balance renders as a select (off/auto) and saves', async () => {
    const opts = await page.$$eval('#cfg-balance option', (os) => os.map((o) => o.value));
    if (opts.join() !== 'off,auto') throw new Error(`options ${opts.join()}`);
    if (!(await page.$eval('#cfg-preset', (el) => el.readOnly))) throw new Error('preset is editable');
    await page.selectOption('#cfg-balance', 'auto');
    await page.click('#config-submit');
    await page.waitForSelector('#config-ok:not([hidden])', { timeout: 8000 });
    const cfg = await apiJson('/api/config');
    if (cfg.balance !== 'auto') throw new Error(`server has ${cfg.balance}`);
  });
  await check('balance events are drawn as markers on the loss and accuracy charts', async () => {
    await apiPost('/__mock/balance', { action: 'skip_d' });
    await page.waitForFunction(() => Math.max(0, ...[...document.querySelectorAll('#chart-loss .uplot, #chart-acc .uplot')].map((u) => Number(u.dataset.balanceMarkers || 0))) > 0, null, { timeout: 8000 });
    const n = await page.evaluate(() => [...document.querySelectorAll('#chart-loss .uplot, #chart-acc .uplot')]
      .map((u) => Number(u.dataset.balanceMarkers || 0)));
    if (!(n[0] > 0 && n[1] > 0)) throw new Error(`markers ${n.join()}`);
    if (await page.isHidden('#h-loss ~ .bal-legend, #chart-loss ~ .bal-legend')) throw new Error('legend hidden');
    return `markers ${n.join('/')}`;
  });
  for (const status of [429, 503]) {
    await check(`the live grid waits out ${status} + Retry-After and then loads, quietly`, async () => {
      throttled += 2;
      await apiPost('/__mock/throttle', { n: 2, status });
      const before = await page.$eval('#samples', (im) => im.dataset.url || '');
      await page.evaluate(() => {          // every caption the grid shows meanwhile
        window.__captions = [];
        const el = document.getElementById('samples-caption');
        window.__capObs = new MutationObserver(() => window.__captions.push(el.textContent));
        window.__capObs.observe(el, { childList: true, characterData: true, subtree: true });
      });
      const t0 = Date.now();
      await page.click('#btn-noise');
      await page.waitForFunction((b) => { const im = document.getElementById('samples');
        return im.dataset.url && im.dataset.url !== b && /seed=/.test(im.dataset.url); }, before, { timeout: 15000 });
      const took = Date.now() - t0;
      const caps = await page.evaluate(() => { window.__capObs.disconnect(); return window.__captions; });
      await page.click('#btn-shared');
      // (whole numbers only: a seed such as 884293648 holds the digits 429)
      if (caps.some((c) => /\b(429|503)\b|HTTP|error/i.test(c))) throw new Error(`the page showed: ${caps.join(' | ')}`);
      // Retry-After: 1 is waited with jitter (0.5..1.5 s); another request of
      // the page may take one of the two deliberate answers
      if (took < 450) throw new Error(`loaded after ${took} ms: the Retry-After was not waited for`);
      if (throttled !== 0) throw new Error(`${throttled} of the deliberate answers never came`);
      return `loaded after ${took} ms`;
    });
  }
  await check('after a reload the markers come from GET /api/balance', async () => {
    const ev = (await apiJson('/api/balance')).events.length;
    await page.reload({ waitUntil: 'load' });
    await page.waitForFunction((k) => Number(document.getElementById('chart-loss').dataset.balanceEvents || 0) >= k
      && Math.max(0, ...[...document.querySelectorAll('#chart-loss .uplot, #chart-acc .uplot')].map((u) => Number(u.dataset.balanceMarkers || 0))) > 0, ev, { timeout: 10000 });
    return `${ev} events`;
  });

  // ---- new run: the dialog ----
  let runPosts = 0;
  page.on('request', (r) => { if (r.url().endsWith('/api/run') && r.method() === 'POST') runPosts++; });
  await check('New run: Cancel and Escape close the dialog and post nothing', async () => {
    const before = m.run.restarts, posts = runPosts;
    for (const close of [() => page.click('#nr-cancel'), () => page.keyboard.press('Escape')]) {
      await page.click('#btn-new-run');
      await page.waitForSelector('#run-dialog[open]', { timeout: 5000 });
      if ((await page.inputValue('#nr-preset')) !== 'classic') throw new Error(`preset ${await page.inputValue('#nr-preset')}, not this run's`);
      await close();
      await page.waitForSelector('#run-dialog:not([open])', { state: 'attached', timeout: 5000 });
    }
    await sleep(500);
    if (runPosts !== posts || m.run.restarts !== before) throw new Error(`${runPosts - posts} POSTs, the run restarted ${m.run.restarts - before} times`);
  });
  await check('New run: the choices and each field\'s placeholder come from GET /api/presets', async () => {
    const want = (await apiJson('/api/presets')).presets;
    await page.click('#btn-new-run');
    await page.waitForSelector('#run-dialog[open]', { timeout: 5000 });
    const names = await page.$$eval('#nr-preset option', (os) => os.map((o) => o.value));
    if (names.join() !== want.map((p) => p.name).join()) throw new Error(`choices ${names}`);
    const seen = [];
    for (const p of want) {
      await page.selectOption('#nr-preset', p.name);
      const got = await page.evaluate(() => ({ ngf: document.getElementById('nr-model-ngf').placeholder,
        batch: document.getElementById('nr-train-batch').placeholder, lr: document.getElementById('nr-train-lr_d').placeholder }));
      if (got.ngf !== String(p.model.ngf) || got.batch !== String(p.train.batch) || got.lr !== String(p.train.lr_d))
        throw new Error(`${p.name}: ${JSON.stringify(got)}`);
      seen.push(`${p.name} ngf ${got.ngf} batch ${got.batch}`);
    }
    await page.selectOption('#nr-preset', 'classic');
    await page.click('#nr-cancel');
    await page.waitForSelector('#run-dialog:not([open])', { state: 'attached', timeout: 5000 });
    return seen.join(', ');
  });
  await check('New run in Spanish: says the run is set aside, POSTs the preset, the page follows the new run', async () => {
    await page.selectOption('#lang', 'es');
    await page.waitForFunction(() => Number(document.getElementById('iteration').dataset.value) > 200, null, { timeout: 15000 });
    const before = await page.$eval('#iteration', (el) => Number(el.dataset.value));
    await page.click('#btn-new-run');
    await page.waitForSelector('#run-dialog[open]', { timeout: 5000 });
    const d = await page.evaluate(() => ({ title: document.getElementById('h-run-dialog').textContent,
      hint: document.querySelector('#run-form > .hint').textContent, start: document.getElementById('nr-start').textContent,
      fast: document.querySelector('#nr-preset option[value="fast"]').textContent }));
    if (d.title !== 'Nueva ejecución' || !/se guarda y se aparta/.test(d.hint) || !/desde la iteración 0/.test(d.hint)
      || d.start !== 'Empezar nueva ejecución' || d.fast !== 'rápido') throw new Error(JSON.stringify(d));
    await page.selectOption('#nr-preset', 'fast');
    await page.evaluate(() => {          // every line the page shows meanwhile
      window.__runMsgs = [];
      const el = document.getElementById('run-msg');
      window.__runObs = new MutationObserver(() => window.__runMsgs.push(el.textContent));
      window.__runObs.observe(el, { childList: true, characterData: true, subtree: true });
    });
    const posted = page.waitForRequest((r) => r.url().endsWith('/api/run') && r.method() === 'POST');
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/run') && r.request().method() === 'POST');
    await page.click('#nr-start');
    const req = await posted, res = await answered;
    if (req.postData() !== JSON.stringify({ preset: 'fast' })) throw new Error(`body ${req.postData()}`);
    const name = (await res.json()).name;
    await page.waitForSelector('#run-dialog:not([open])', { state: 'attached', timeout: 5000 });
    await page.waitForFunction((b) => Number(document.getElementById('iteration').dataset.value) < b - 100, before, { timeout: 15000 });
    await page.waitForFunction(() => document.getElementById('conn').dataset.conn === 'live', null, { timeout: 10000 });
    const msgs = await page.evaluate(() => { window.__runObs.disconnect(); return window.__runMsgs; });
    const want = `empezando la ejecución «${name}» con el preajuste «rápido»…`;
    if (!name || !msgs.includes(want)) throw new Error(`run-msg showed ${JSON.stringify(msgs)}, want "${want}"`);
    const st = await apiJson('/api/status');
    if (st.preset !== 'fast' || m.run.restarts !== 1) throw new Error(`preset ${st.preset}, restarts ${m.run.restarts}`);
    await sleep(1000);
    const cfg = await page.inputValue('#cfg-preset');
    if (cfg !== 'rápido') throw new Error(`settings show preset "${cfg}"`);
    const markers = await G(page);
    if (markers.balanceEvents) throw new Error('old balance events kept');
    await page.selectOption('#lang', 'en');
    return `${name}: ${before} -> ${await page.$eval('#iteration', (el) => el.dataset.value)}`;
  });
  await check('New run: the old run is kept, listed and ticked, on the loss and quality charts', async () => {
    const runs = await apiJson('/api/runs');
    const old = runs.runs.find((r) => r.name === 'mock');
    if (!old || old.state !== 'stopped' || runs.current === 'mock') throw new Error(JSON.stringify(runs));
    const cur = runs.current, want = `${cur},mock`;
    await page.waitForFunction((w) => document.getElementById('chart-loss').dataset.runs === w
      && document.getElementById('chart-quality').dataset.runs === w, want, { timeout: 15000 });
    const box = await page.$eval('#runs-list input[data-run="mock"]', (b) => b.checked);
    const passes = (await apiJson('/api/runs/mock/quality')).passes.length;
    const q = await page.$eval('#chart-quality', (el) => el.dataset.runPoints.split(',').map(Number));
    if (!box || !(passes >= 2) || q[1] !== passes) throw new Error(`ticked ${box}, chart ${q}, /quality ${passes}`);
    return `${want}; "mock" ${passes} passes`;
  });
  await check('loss and accuracy charts hold only the new run\'s points', async () => {
    const x = await page.$$eval('#chart-loss, #chart-acc', (els) => els.map((el) => [Number(el.dataset.first), Number(el.dataset.points)]));
    const it = await page.$eval('#iteration', (el) => Number(el.dataset.value));
    for (const [first, n] of x) if (!(first >= 1 && first <= 50 && n <= it)) throw new Error(`first x ${first}, ${n} points, iteration ${it}`);
    return `first x ${x[0][0]}, ${x[0][1]} points`;
  });

  await check(`screenshot saved to ${shot}`, async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    fs.mkdirSync(path.dirname(path.resolve(shot)), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true, timeout: 10000 });
  });

  // ---- a conditional run ----
  const mc = await mock({ conditional: true });
  const pc = await context.newPage();
  watch(pc);
  await check('conditional run: the digit picker shows the classes and sets digit=D', async () => {
    await pc.goto(`${mc.url}/`, { waitUntil: 'load' });
    await pc.waitForSelector('#digit-picker:not([hidden])', { timeout: 8000 });
    const opts = await pc.$$eval('#digit option', (os) => os.map((o) => o.textContent));
    if (opts.length !== 12 || opts[0] !== 'any' || opts[11] !== 'all digits' || opts[4] !== '3') throw new Error(opts.join('|'));
    await pc.selectOption('#digit', '3');
    await pc.waitForFunction(() => /[?&]digit=3(&|$)/.test(document.getElementById('samples').dataset.url || ''), null, { timeout: 8000 });
    await imgLoaded(pc, '#samples');
  });
  await check('conditional run: "all digits" asks for digits=all, 10 columns', async () => {
    await pc.selectOption('#digit', 'all');
    await pc.waitForFunction(() => /[?&]digits=all/.test(document.getElementById('samples').dataset.url || ''), null, { timeout: 8000 });
    await pc.waitForFunction(() => document.getElementById('samples').naturalWidth === 10 * 56 + 9 * 2, null, { timeout: 8000 });
    const url = await pc.$eval('#samples', (im) => im.dataset.url);
    if (!/n=80/.test(url)) throw new Error(url);
    return url;
  });
  await check('conditional run: "readable since m:ss (iteration N)" once 80% are read as asked', async () => {
    await pc.waitForFunction(() => document.getElementById('quality-readable').dataset.readable === 'no', null, { timeout: 8000 });
    const before = await textOf(pc, '#quality-readable');
    if (!/^not readable yet \(best so far: \d+% \/ score \d+\.\d\)$/.test(before)) throw new Error(`before: "${before}"`);
    await pc.waitForFunction(() => document.getElementById('quality-readable').dataset.readable === 'yes', null, { timeout: 30000 });
    const t = await textOf(pc, '#quality-readable');
    const st = await pc.evaluate(async () => (await fetch('/api/status', { cache: 'no-store' })).json());
    const r = st.quality.readable_since, s = Math.floor(r.time_s);
    const want = `readable since ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} (iteration ${r.iteration.toLocaleString('en-US')})`;
    if (t !== want) throw new Error(`"${t}", want "${want}"`);
    if (!/80%/.test(await pc.getAttribute('#quality-readable', 'title'))) throw new Error('no 80% in the tooltip');
    return `"${before}" then "${t}"`;
  });
  await pc.close();

  // ---- no classifier ----
  const mn = await mock({ classifier: false });
  const pn = await context.newPage();
  watch(pn);
  await check('without a classifier the quality panel shows the reason instead of the chart', async () => {
    await pn.goto(`${mn.url}/`, { waitUntil: 'load' });
    await pn.waitForSelector('#quality-reason:not([hidden])', { timeout: 8000 });
    const t = await textOf(pn, '#quality-reason');
    if (!/no classifier at data\/mnist\/classifier\.bin/.test(t)) throw new Error(`text "${t}"`);
    if (!(await pn.isHidden('#quality-body'))) throw new Error('chart still shown');
    return `"${t}"`;
  });
  await pn.close();

  await check('no script errors or failed requests', () => {
    if (errors.length) throw new Error(errors.slice(0, 3).join(' | '));
  });
  await check('no request left the servers\' origins', () => {
    if (foreign.length) throw new Error(foreign.slice(0, 3).join(' '));
  });
}

try {
  await main();
} catch (e) {
  fail('test harness', e && e.message);
} finally {
  await cleanup();
  finish();
}
