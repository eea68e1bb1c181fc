// runs.mjs - runs side by side against a real server with two runs on disk
// (runs.sh: "first", preset classic, stopped; "second", preset fast, this
// server's): both listed, this server's run fixed on the charts; ticking
// "first" overlays it on the loss, accuracy and quality charts (the Quality
// card's own chart: no separate one), and each series the charts hold
// equals that run's points from /api/runs/<name>/metrics (and both runs'
// passes from /api/runs/<name>/quality); the x axis switch redraws every
// run on all three charts against wall time and images seen; Compare digits shows
// both runs' snapshots picked at or before the slider's iteration (or wall
// time); the New run dialog refuses a bad name itself, shows the server's
// 400 beside its field, and a good request restarts the server on a new run
// with "second" ticked; Spanish strings; no script errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { check, fail, finish, sleep } from './lib.mjs';

const exe = process.env.CHROMIUM || '/usr/bin/chromium';
const base = process.argv[2];

const sum = (pts, k) => pts.reduce((acc, p) => acc + (Number.isFinite(p[k]) ? p[k] : 0), 0);
const close = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

async function main() {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ganlive-chromium-'));
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: exe, headless: true, timeout: 20000, viewport: { width: 1440, height: 1000 }, locale: 'en-US',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  let restarting = false, expect400 = false;
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      // the event stream and polls drop while the server restarts itself
      // (and the dialog's refused request is logged as a failed load)
      const quiet = (restarting && /Failed to load resource|net::ERR_/.test(m.text()))
        || (expect400 && /Failed to load resource: the server responded with a status of 400/.test(m.text()));
      if (m.type() === 'error' && !quiet) errors.push(m.text());
    });
    const api = (u) => page.evaluate(async (x) => {
      const r = await fetch(x, { cache: 'no-store' });
      return r.json();
    }, u);
    const ds = (id) => page.evaluate((x) => ({ ...document.getElementById(x).dataset }), id);
    const waitFor = async (fn, ms = 10000) => {
      const t0 = Date.now();
      for (;;) {
        const v = await fn();
        if (v || Date.now() - t0 > ms) return v;
        await sleep(100);
      }
    };
    await page.goto(base + '/');   // runs.sh paused the server: the charts and the run's files agree
    await check('both runs are listed, this server\'s fixed on the charts', async () => {
      const boxes = await waitFor(async () => {
        const b = await page.evaluate(() => [...document.querySelectorAll('#runs-list input')]
          .map((x) => ({ run: x.dataset.run, checked: x.checked, disabled: x.disabled })));
        return b.some((x) => x.run === 'first') && b.some((x) => x.run === 'second') ? b : null;
      });
      if (!boxes) throw new Error('not listed');
      const s = boxes.find((x) => x.run === 'second'), f = boxes.find((x) => x.run === 'first');
      if (!s.checked || !s.disabled || f.checked) throw new Error(JSON.stringify(boxes));
      return boxes.map((x) => x.run).join(',');
    });
    await check('with nothing ticked the loss and quality charts draw this run alone', async () => {
      const d = await waitFor(async () => { const x = await ds('chart-loss'); return x.runs === 'second' ? x : null; });
      const q = await waitFor(async () => { const x = await ds('chart-quality'); return x.runs === 'second' ? x : null; });
      const legend = await page.evaluate(() => ['chart-loss', 'chart-quality'].map((id) => document.querySelectorAll(`#${id} .u-legend .u-series`).length));
      if (!d || !q || legend[0] !== 5 || legend[1] !== 6) throw new Error(`runs ${d && d.runs} / ${q && q.runs}, legend entries ${legend}`);
      return `${d.points} points, ${q.runPoints} passes`;
    });
    await page.click('#runs-list input[data-run="first"]');
    // (listed as soon as its load starts: wait for its points too)
    const d = await waitFor(async () => { const x = await ds('chart-loss'); return x.runs === 'second,first' && Number(x.runPoints.split(',')[1]) > 0 ? x : null; });
    await check('ticking "first" overlays it on the loss and accuracy charts', async () => {
      if (!d) throw new Error(`runs ${(await ds('chart-loss')).runs}`);
      const n = await page.evaluate(() => ['chart-loss', 'chart-acc'].map((id) => document.querySelectorAll(`#${id} .u-legend .u-series`).length));
      if (n[0] !== 7 || n[1] !== 6) throw new Error(`legend entries ${n}`);
      return 'D and G loss, overall accuracy of "first" added';
    });
    await check('the legend names the run, its preset and what differs', async () => {
      const run = await api('/api/runs/first');
      const labels = await page.$$eval('#chart-loss .u-legend .u-series .u-label', (els) => els.map((e) => e.textContent));
      const want = Object.entries(run.differs || {}).map(([k, v]) => `${k}=${v}`).join(' ');
      const l = labels.find((x) => x.startsWith('first ('));
      if (!l || !l.includes('classic') || !l.includes(want)) throw new Error(`labels ${JSON.stringify(labels)}, differs "${want}"`);
      return l;
    });
    const first = (await api('/api/runs/first/metrics?limit=10000')).points;
    const checkSeries = async (idx, name, pts) => {
      const loss = await ds('chart-loss'), acc = await ds('chart-acc');
      const n = Number(loss.runPoints.split(',')[idx]);
      const got = { g: Number(loss.sums.split(',')[idx]), d: Number(loss.dsums.split(',')[idx]), a: Number(acc.sums.split(',')[idx]) };
      const want = { g: sum(pts, 'g_loss'), d: sum(pts, 'd_loss'), a: sum(pts, 'd_acc') };
      if (n !== pts.length || pts.length < 5 || !close(got.g, want.g) || !close(got.d, want.d) || !close(got.a, want.a)) {
        throw new Error(`${name}: chart ${n} points ${JSON.stringify(got)}, log ${pts.length} points ${JSON.stringify(want)}`);
      }
      return `${n} points, G loss sum ${want.g.toFixed(4)}`;
    };
    await check('"first"\'s series are its logged G loss, D loss and accuracy, point for point', () => checkSeries(1, 'first', first));
    await check('"second"\'s series (this run, from /api/metrics and its events) are its logged points too', async () => {
      // the run's log may hold one point the paused page has not been sent
      const n = Number((await ds('chart-loss')).runPoints.split(',')[0]);
      const all = (await api('/api/runs/second/metrics?limit=10000')).points;
      if (all.length - n > 1) throw new Error(`chart ${n} points, log ${all.length}`);
      try {
        return await checkSeries(0, 'second', all.slice(0, n));
      } catch (e) {
        // which source differs: /api/metrics (what the page read) against the log
        const live = (await api('/api/metrics?since=0&limit=10000')).points;
        const bad = live.find((p, i) => !all[i] || p.iteration !== all[i].iteration || p.g_loss !== all[i].g_loss);
        throw new Error(`${e.message}; /api/metrics ${live.length} points, first differing from the log: ${JSON.stringify(bad || null)}`);
      }
    });
    const qp = async (name) => (await api(`/api/runs/${name}/quality`)).passes.map((p) => ({ ...p, time_s: p.time }));
    const passes = { first: await qp('first'), second: await qp('second') };
    await check('the Quality card\'s own chart holds both runs\' passes, as /api/runs/<name>/quality has them', async () => {
      const qf = passes.first, qs = passes.second;
      const q = await waitFor(async () => {
        const x = await ds('chart-quality');
        return x.runs === 'second,first' && x.runPoints === `${qs.length},${qf.length}` ? x : null;
      });
      if (!q) throw new Error(`chart ${JSON.stringify(await ds('chart-quality'))}, passes ${qs.length},${qf.length}`);
      const sums = q.sums.split(',').map(Number), fsums = q.fsums.split(',').map(Number);
      const bad = [[qs, 0], [qf, 1]].filter(([ps, i]) => ps.length < 1 || !close(sums[i], sum(ps, 'inception_score'))
        || !close(fsums[i], sum(ps, 'frechet')));
      if (bad.length) {
        throw new Error(`chart IS ${q.sums} FD ${q.fsums}; /quality IS ${sum(qs, 'inception_score')},${sum(qf, 'inception_score')}`
          + ` FD ${sum(qs, 'frechet')},${sum(qf, 'frechet')}`);
      }
      const gone = await page.evaluate(() => !document.getElementById('chart-quality-runs') && !document.getElementById('quality-runs'));
      if (!gone) throw new Error('the separate quality chart is still on the page');
      return `${q.runPoints} passes, IS sums ${q.sums}`;
    });
    await check('the quality legend names "first" with its preset and what differs, score and distance', async () => {
      const run = await api('/api/runs/first');
      const labels = await page.$$eval('#chart-quality .u-legend .u-series .u-label', (els) => els.map((e) => e.textContent));
      const want = Object.entries(run.differs || {}).map(([k, v]) => `${k}=${v}`).join(' ');
      const mine = labels.filter((x) => x.startsWith(`first (classic${want ? `: ${want}` : ''}) · `));
      if (labels.length !== 8 || mine.length !== 2 || !/inception score/.test(mine[0]) || !/Fréchet/.test(mine[1])) {
        throw new Error(`labels ${JSON.stringify(labels)}`);
      }
      const colours = await page.evaluate(() => [...document.querySelectorAll('#chart-quality .u-legend .u-series .u-marker')]
        .slice(-2).map((m) => getComputedStyle(m).borderColor));
      const swatch = await page.$eval('#runs-list input[data-run="first"] + .run-swatch', (el) => getComputedStyle(el).backgroundColor);
      if (colours.some((c) => c !== swatch)) throw new Error(`markers ${colours}, the run's swatch ${swatch}`);
      return mine.join(' | ');
    });
    // x: wall time, then images seen
    const runs = Object.fromEntries((await api('/api/runs')).runs.map((r) => [r.name, r]));
    const second = (await api('/api/runs/second/metrics?limit=10000')).points;
    const lastOf = (pts, f) => {
      let last = -Infinity;
      for (const p of pts) { const x = f(p); if (Number.isFinite(x) && x > last) last = x; }
      return last;
    };
    const xCheck = async (mode, label, f) => {
      const before = (await ds('chart-loss')).xlast;
      await page.selectOption('#runs-x', mode);
      const x = await waitFor(async () => { const y = await ds('chart-loss'); return y.x === mode ? y : null; });
      const xl = x.xlast.split(',').map(Number);
      const want = [lastOf(second, f(runs.second)), lastOf(first, f(runs.first))];
      const acc = await ds('chart-acc');
      const legend = await page.$eval('#chart-loss .u-legend .u-series th .u-label', (el) => el.textContent);
      if (x.xlast === before || acc.xlast !== x.xlast || Math.abs(xl[0] - want[0]) > 1e-6 || Math.abs(xl[1] - want[1]) > 1e-6
        || legend !== label) {
        throw new Error(`x ${x.xlast} (was ${before}), want ${want}, accuracy ${acc.xlast}, legend "${legend}"`);
      }
      // the quality chart follows the same switch: each run's last pass on this axis
      const q = await waitFor(async () => { const y = await ds('chart-quality'); return y.x === mode ? y : null; });
      const ql = q ? q.xlast.split(',').map(Number) : [];
      const qwant = [lastOf(passes.second, f(runs.second)), lastOf(passes.first, f(runs.first))];
      const qlegend = await page.$eval('#chart-quality .u-legend .u-series th .u-label', (el) => el.textContent);
      if (!q || ql.length !== 2 || ql.some((v, i) => Math.abs(v - qwant[i]) > 1e-6) || qlegend !== label) {
        throw new Error(`quality chart x ${q && q.x}, last x ${q && q.xlast}, want ${qwant}, legend "${qlegend}"`);
      }
      return `last x ${x.xlast}; quality ${q.xlast}`;
    };
    await check('x axis: wall time redraws both runs against their time_s', () => xCheck('time', 'wall time (s)', () => (p) => p.time_s));
    await check('x axis: images seen is iteration x each run\'s batch', () => xCheck('images', 'images seen', (r) => (p) => p.iteration * r.batch));
    await page.selectOption('#runs-x', 'iteration');

    // ---- Compare digits ----
    const tl = { second: (await api('/api/runs/second/timeline')).items, first: (await api('/api/runs/first/timeline')).items };
    const expectAt = (items, k, at) => { let b = null; for (const it of items) if (it[k] <= at) b = it; return b ? b.url : ''; };
    const compareAt = async (k, pos) => {
      await page.$eval('#cmp-slider', (el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }, pos);
      const got = await page.evaluate(() => ({ key: Number(document.getElementById('cmp-slider').dataset.key),
        a: document.getElementById('cmp-img-a').dataset.url, b: document.getElementById('cmp-img-b').dataset.url,
        ca: document.getElementById('cmp-cap-a').textContent }));
      const want = { a: expectAt(tl.second, k, got.key), b: expectAt(tl.first, k, got.key) };
      if (got.a !== want.a || got.b !== want.b) throw new Error(`at ${got.key}: ${got.a} | ${got.b}, want ${want.a} | ${want.b}`);
      return got;
    };
    await check('compare: this run beside "first", both grids loaded', async () => {
      if (!tl.second.length || !tl.first.length) throw new Error(`timelines ${tl.second.length}, ${tl.first.length}`);
      const ok = await waitFor(() => page.evaluate(() => ['a', 'b'].every((s) => {
        const img = document.getElementById(`cmp-img-${s}`);
        return img.dataset.url && img.complete && img.naturalWidth > 0;
      })));
      const sel = await page.evaluate(() => [document.getElementById('cmp-a').value, document.getElementById('cmp-b').value]);
      if (!ok || sel.join() !== 'second,first') throw new Error(`loaded ${ok}, picked ${sel}`);
      return `${tl.second.length} and ${tl.first.length} snapshots`;
    });
    await check('compare: one slider moves both grids (same iteration)', async () => {
      const max = Number(await page.$eval('#cmp-slider', (el) => el.max));
      const seen = new Set();
      for (const pos of [0, 1, Math.floor(max / 2), max]) {
        const g = await compareAt('iteration', pos);
        seen.add(`${g.a}|${g.b}`);
        const it = tl.second.find((x) => x.url === g.a);
        if (it && !g.ca.includes(String(it.iteration))) throw new Error(`caption "${g.ca}" for ${g.a}`);
      }
      if (seen.size < 3) throw new Error(`only ${seen.size} different pairs`);
      return `${seen.size} pairs over ${max + 1} positions`;
    });
    await check('compare: same wall time picks by time_s', async () => {
      await page.selectOption('#cmp-by', 'time');
      const max = Number(await page.$eval('#cmp-slider', (el) => el.max));
      const keys = [...new Set([...tl.second, ...tl.first].map((x) => x.time_s))];
      if (max !== keys.length - 1) throw new Error(`${max + 1} positions, ${keys.length} times`);
      let n = 0;
      for (const pos of [0, Math.floor(max / 3), Math.floor((2 * max) / 3), max]) { await compareAt('time_s', pos); n++; }
      return `${n} positions checked`;
    });

    // ---- New run dialog ----
    await check('New run: a bad name is refused in the page, nothing posted', async () => {
      let posted = 0;
      const count = (r) => { if (r.url().endsWith('/api/run') && r.method() === 'POST') posted++; };
      page.on('request', count);
      await page.click('#btn-new-run');
      await page.fill('#nr-name', '-bad name');
      await page.click('#nr-start');
      await sleep(300);
      page.off('request', count);
      const err = await page.textContent('#nr-err-name');
      if (posted || !err || !(await page.isVisible('#run-dialog'))) throw new Error(`posted ${posted}, error "${err}"`);
      return err;
    });
    await check('New run: the server\'s 400 shows beside its setting', async () => {
      await page.fill('#nr-name', 'third');
      await page.fill('#nr-train-d_steps', '500');
      const resp = page.waitForResponse((r) => r.url().endsWith('/api/run'));
      expect400 = true;
      await page.click('#nr-start');
      const r = await resp;
      const body = await r.json();
      await sleep(200);
      const err = await page.textContent('#nr-err-train-d_steps');
      if (r.status() !== 400 || err !== body.error || !(await page.isVisible('#run-dialog'))) {
        throw new Error(`${r.status()} ${JSON.stringify(body)}, shown "${err}"`);
      }
      expect400 = false;
      return err;
    });
    await check('New run: the request names the run and the settings; the server restarts on it, "second" stays ticked', async () => {
      await page.fill('#nr-train-d_steps', '2');
      await page.selectOption('#nr-preset', 'fast');
      const req = page.waitForRequest((x) => x.url().endsWith('/api/run') && x.method() === 'POST');
      restarting = true;
      await page.click('#nr-start');
      const body = JSON.parse((await req).postData());
      const want = { preset: 'fast', name: 'third', settings: { 'train.d_steps': 2 } };
      if (JSON.stringify(body) !== JSON.stringify(want)) throw new Error(`posted ${JSON.stringify(body)}`);
      const x = await waitFor(async () => { const y = await ds('chart-loss'); return y.runs === 'third,first,second' || y.runs === 'third,second,first' ? y : null; }, 40000);
      if (!x) throw new Error(`charts draw ${(await ds('chart-loss')).runs}`);
      const boxes = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#runs-list input')].map((b) => [b.dataset.run, b.checked])));
      if (!boxes.second || !boxes.first || !boxes.third) throw new Error(JSON.stringify(boxes));
      const st = await api('/api/runs/third');
      if (st.preset !== 'fast' || !st.differs || Number(st.differs.d_steps) !== 2) throw new Error(`run ${JSON.stringify(st)}`);
      restarting = false;
      return `${x.runs}; third differs ${JSON.stringify(st.differs)}`;
    });
    await check('Spanish: the runs, compare and dialog strings', async () => {
      await page.selectOption('#lang', 'es');
      const got = await page.evaluate(() => ({ runs: document.getElementById('h-runs').textContent,
        cmp: document.getElementById('h-compare').textContent, btn: document.getElementById('btn-new-run').textContent,
        x: document.querySelector('#runs-x option[value="time"]').textContent,
        list: document.getElementById('runs-list').textContent }));
      await page.selectOption('#lang', 'en');
      if (got.runs !== 'Ejecuciones lado a lado' || got.cmp !== 'Comparar dígitos' || got.btn !== 'Nueva ejecución…'
        || got.x !== 'tiempo real (s)' || !/parada/.test(got.list)) throw new Error(JSON.stringify(got));
      return got.runs;
    });
    await check('no script errors', () => (errors.length ? (console.log(errors.join('\n')), false) : true));
  } catch (e) {
    fail('runs panel', e && e.message);
  } finally {
    await context.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  }
  finish();
}
main();
