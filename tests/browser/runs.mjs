// runs.mjs - the runs panel against a real server with two runs on disk
// (runs.sh): both listed, "second" (this server's) ticked at first; ticking
// "first" overlays it; each series the chart holds equals that run's points
// from /api/runs/<name>/metrics; the x axis switches to images seen.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { check, fail, finish, sleep } from './lib.mjs';

const exe = process.env.CHROMIUM || '/usr/bin/chromium';
const base = process.argv[2];

async function main() {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ganlive-chromium-'));
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: exe, headless: true, timeout: 20000, viewport: { width: 1440, height: 1000 }, locale: 'en-US',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(base + '/');
    const ds = () => page.evaluate(() => ({ ...document.getElementById('chart-runs').dataset }));
    const waitRuns = async (want) => {
      for (let i = 0; i < 100; i++) {
        const d = await ds();
        if (d.runs === want) return d;
        await sleep(100);
      }
      return ds();
    };
    await check('both runs are listed', async () => {
      let names = [];
      for (let i = 0; i < 100 && !(names.includes('first') && names.includes('second')); i++) {
        await sleep(100);
        names = await page.evaluate(() => [...document.querySelectorAll('#runs-list input')].map((b) => b.dataset.run));
      }
      return names.includes('first') && names.includes('second') ? names.join(',') : false;
    });
    await check("this server's run is ticked and drawn", async () => (await waitRuns('second')).runs === 'second');
    await page.click('#runs-list input[data-run="first"]');
    const d = await waitRuns('second,first');
    await check('ticking "first" overlays it (the chart draws both)', () => d.runs === 'second,first');
    // each series in the chart equals the run's points from its log
    const api = (u) => page.evaluate(async (x) => (await fetch(x, { cache: 'no-store' })).json(), u);
    const first = (await api('/api/runs/first/metrics?limit=10000')).points;
    await check('the chart holds series of both runs', async () => {
      const n = await page.evaluate(() => document.querySelectorAll('#chart-runs .u-legend .u-series').length);
      return n === 3 ? 'x and two runs' : false;
    });
    await check('"first"\'s series is its logged G loss, point for point', async () => {
      const dd = await ds();
      const counts = dd.points.split(',').map(Number), sums = dd.sums.split(',').map(Number);
      const want = first.reduce((acc, p) => acc + (Number.isFinite(p.g_loss) ? p.g_loss : 0), 0);
      return counts[1] === first.length && first.length > 5 && Math.abs(sums[1] - want) < 1e-9 * Math.max(1, want)
        ? `${first.length} points, sum ${want.toFixed(4)}` : false;
    });
    await check('"second"\'s series is its logged G loss too', async () => {
      const dd = await ds();
      const n = Number(dd.points.split(',')[0]);
      const pts = (await api(`/api/runs/second/metrics?limit=${n}`)).points;
      const want = pts.reduce((acc, p) => acc + (Number.isFinite(p.g_loss) ? p.g_loss : 0), 0);
      const got = Number(dd.sums.split(',')[0]);
      if (pts.length === n && Math.abs(got - want) < 1e-9 * Math.max(1, want)) return `${n} points`;
      throw new Error(`chart ${n} points sum ${got}, log ${pts.length} points sum ${want}`);
    });
    await page.selectOption('#runs-x', 'images');
    await check('x axis: images seen', async () => {
      const label = await page.evaluate(() => document.querySelector('#chart-runs .u-legend .u-series th .u-label').textContent);
      return label === 'images seen' ? label : false;
    });
    await check('no script errors', () => (errors.length ? false : true));
  } catch (e) {
    fail('runs panel', e && e.message);
  } finally {
    await context.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  }
  finish();
}
main();
