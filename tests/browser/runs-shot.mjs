// runs-shot.mjs URL OUT - (runs-shot.sh) tick the run "classic" on a server
// training "fast", x axis wall time, and save the Loss, Discriminator
// accuracy and Runs cards as one PNG. Exits 1 if the overlay is not drawn.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [base, out] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, locale: 'en-US', deviceScaleFactor: 1 });
  await page.goto(`${base}/`);
  await page.waitForSelector('#runs-list input[data-run="classic"]', { timeout: 20000 });
  await page.click('#runs-list input[data-run="classic"]');
  await page.selectOption('#runs-x', 'time');
  await page.waitForFunction(() => document.getElementById('chart-loss').dataset.runs === 'fast,classic'
    && document.getElementById('chart-loss').dataset.x === 'time', null, { timeout: 20000 });
  await sleep(1000);
  // only the three cards (the others keep their place, unseen)
  await page.evaluate(() => {
    const keep = ['h-loss', 'h-acc', 'h-runs'].map((id) => document.getElementById(id).closest('section'));
    for (const s of document.querySelectorAll('main > section')) if (!keep.includes(s)) s.style.visibility = 'hidden';
  });
  const box = await page.evaluate(() => {
    const r = ['h-loss', 'h-acc', 'h-runs'].map((id) => document.getElementById(id).closest('section').getBoundingClientRect());
    const x = Math.min(...r.map((b) => b.left)), y = Math.min(...r.map((b) => b.top));
    return { x: x - 8, y: y - 8, width: Math.max(...r.map((b) => b.right)) - x + 16, height: Math.max(...r.map((b) => b.bottom)) - y + 16 };
  });
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  await page.screenshot({ path: out, clip: box });
  const d = await page.evaluate(() => ({ ...document.getElementById('chart-loss').dataset }));
  console.log(`${out}: runs ${d.runs}, points ${d.runPoints}, last wall time ${d.xlast}`);
} finally {
  await browser.close();
}
