// classroom.mjs - the dashboard as a class sees it, in headless Chromium
// against a real `ganlive serve` on a LAN bind with a token (started by
// tests/browser/classroom.sh).
//
// A viewer (no token) must get a complete, live, read-only page: charts and
// the shared sample grid moving, every control that needs the token
// disabled or hidden with the one-line note, and no request that fails (no
// 4xx/5xx answer, no POST or PATCH at all). The presenter (#token=T) must
// get the controls and the Invite panel, whose QR code is an image, and the
// token must leave the address bar at once. Both pages must show the same
// shared live grid URL (rendered once by the server: its counters say so).
//
//   node tests/browser/classroom.mjs URL TOKEN
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { check, fail, finish, sleep } from './lib.mjs';

const [base0, token] = process.argv.slice(2);
const exe = process.env.CHROMIUM || '/usr/bin/chromium';
const shot = process.env.GANLIVE_SCREENSHOT || 'build/classroom.png';
const watchdog = setTimeout(() => { fail('whole test within 150 s', 'watchdog fired'); finish(); }, 150000);
watchdog.unref();

let context = null, userDir = null;

function watch(page, label) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`${label} pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${label} console: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${label} HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
  return problems;
}

async function main() {
  if (!base0 || !token) { fail('usage: classroom.mjs URL TOKEN'); return; }
  const base = base0.replace(/\/+$/, '');
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ganlive-chromium-'));
  context = await chromium.launchPersistentContext(userDir, {
    executablePath: exe, headless: true, timeout: 20000, viewport: { width: 1440, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.setDefaultTimeout(10000);

  // ---- the viewer ----
  const viewer = context.pages()[0] || await context.newPage();
  const vProblems = watch(viewer, 'viewer');
  const mutations = [];
  viewer.on('request', (r) => { if (!['GET', 'HEAD'].includes(r.method())) mutations.push(`${r.method()} ${r.url()}`); });
  await viewer.goto(`${base}/`, { waitUntil: 'load' });

  await check('viewer: the page says it is view-only', async () => {
    await viewer.waitForFunction(() => !document.getElementById('viewer-note').hidden, null, { timeout: 10000 });
    return (await viewer.$eval('#viewer-note', (el) => el.textContent.trim().replace(/\s+/g, ' ')));
  });
  await check('viewer: controls that need the token are disabled or hidden', async () => {
    const st = await viewer.evaluate(() => ({
      pause: document.getElementById('btn-pause').disabled, resume: document.getElementById('btn-resume').disabled,
      step: document.getElementById('btn-step').disabled, ckpt: document.getElementById('btn-checkpoint').disabled,
      settings: document.getElementById('config-fieldset').disabled,
      run: document.querySelector('.preset-group').hidden, invite: document.getElementById('invite-card').hidden,
    }));
    const bad = Object.entries(st).filter(([, v]) => v !== true).map(([k]) => k);
    if (bad.length) throw new Error(`enabled or shown: ${bad.join(', ')}`);
  });
  await check('viewer: charts and iteration are live', async () => {
    const i0 = await viewer.$eval('#iteration', (el) => Number(el.dataset.value ?? -1));
    await viewer.waitForFunction((x) => Number(document.getElementById('iteration').dataset.value ?? -1) > x, i0, { timeout: 15000 });
    return `iteration ${i0} -> ${await viewer.$eval('#iteration', (el) => el.dataset.value)}`;
  });
  let sharedUrl = '';
  await check('viewer: the shared live grid is shown', async () => {
    await viewer.waitForFunction(() => {
      const im = document.getElementById('samples');
      return im.dataset.url && im.naturalWidth > 0 && /shared/.test(document.getElementById('samples-caption').textContent);
    }, null, { timeout: 15000 });
    sharedUrl = await viewer.$eval('#samples', (im) => im.dataset.url);
    return sharedUrl;
  });
  await check('viewer: the shared grid moves on with training', async () => {
    await viewer.waitForFunction((u) => document.getElementById('samples').dataset.url !== u, sharedUrl, { timeout: 15000 });
  });

  // ---- the presenter ----
  const presenter = await context.newPage();
  const pProblems = watch(presenter, 'presenter');
  await presenter.goto(`${base}/#token=${token}`, { waitUntil: 'load' });
  await check('presenter: the token leaves the address bar at once', async () => {
    await presenter.waitForFunction(() => !location.href.includes('token'), null, { timeout: 5000 });
    return presenter.url();
  });
  await check('presenter: controls are enabled, no view-only note', async () => {
    await presenter.waitForFunction(() => !document.getElementById('btn-pause').disabled ||
      !document.getElementById('btn-resume').disabled, null, { timeout: 10000 });
    if (!(await presenter.$eval('#viewer-note', (el) => el.hidden))) throw new Error('view-only note shown');
    if (await presenter.$eval('#config-fieldset', (el) => el.disabled)) throw new Error('settings disabled');
  });
  await check('presenter: the Invite panel shows join URLs with QR codes', async () => {
    await presenter.waitForFunction(() => {
      const im = document.querySelector('#invite-list img');
      return !document.getElementById('invite-card').hidden && im && im.complete && im.naturalWidth > 100;
    }, null, { timeout: 10000 });
    const urls = await presenter.$$eval('#invite-list a', (as) => as.map((a) => a.textContent));
    if (!urls.length || urls.some((u) => /token/.test(u) || !/^http:\/\//.test(u))) throw new Error(urls.join(' '));
    return urls.join(' ');
  });
  await check('presenter and viewer show the same shared grid', async () => {
    await presenter.waitForFunction(() => /shared/.test(document.getElementById('samples-caption').textContent), null, { timeout: 15000 });
    for (let i = 0; i < 40; i++) {
      const [a, b] = await Promise.all([viewer.$eval('#samples', (im) => im.dataset.url), presenter.$eval('#samples', (im) => im.dataset.url)]);
      if (a && a === b) return a;
      await sleep(250);
    }
    throw new Error('never the same URL');
  });
  await check('the server rendered the shared grid once for both pages', async () => {
    const s = await presenter.evaluate(async () => (await fetch('/api/status', { cache: 'no-store' })).json());
    const c = s.classroom;
    if (!(c.viewers >= 2)) throw new Error(`viewers ${c.viewers}`);
    if (!(c.render_cache_hits + c.render_not_modified + c.render_coalesced > 0)) throw new Error(JSON.stringify(c));
    return `viewers ${c.viewers}, renders ${c.renders}, hits ${c.render_cache_hits}, 304 ${c.render_not_modified}`;
  });
  await check('both pages show the fixed-noise grid and the copying pairs', async () => {
    for (const pg of [viewer, presenter]) {
      await pg.waitForFunction(() => ['fixed', 'nearest-img'].every((id) => document.getElementById(id).naturalWidth > 0),
        null, { timeout: 15000 });
    }
  });
  await check('screenshot of the presenter page', async () => {
    await presenter.screenshot({ path: shot, fullPage: true });
    return shot;
  });
  await check('viewer: no failed request and no script error', async () => {
    if (vProblems.length) throw new Error(vProblems.slice(0, 3).join(' | '));
  });
  await check('viewer: no POST or PATCH was sent', async () => {
    if (mutations.length) throw new Error(mutations.slice(0, 3).join(' | '));
  });
  await check('presenter: no failed request and no script error', async () => {
    if (pProblems.length) throw new Error(pProblems.slice(0, 3).join(' | '));
  });
}

try { await main(); } catch (e) { fail('classroom test', e && e.message); }
try { if (context) await context.close(); } catch { /* gone */ }
try { if (userDir) fs.rmSync(userDir, { recursive: true, force: true }); } catch { /* best effort */ }
finish();
