// screenshot.mjs URL OUT.png [WAIT_S] - open the dashboard of a running
// ganlive in headless Chromium, let it fill for WAIT_S seconds (default 5)
// and save a full-page screenshot: how docs/dashboard.png is made.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, out, wait = '5'] = process.argv.slice(2);
if (!url || !out) {
  console.error('usage: node tools/screenshot.mjs URL OUT.png [WAIT_S]');
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), 'ganlive-shot-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1440, height: 1100 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'load', timeout: 20000 });
  await page.waitForTimeout(Number(wait) * 1000);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`saved ${out}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
