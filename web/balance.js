// balance.js - the balance decisions as markers on the loss and accuracy charts.
//
// GET /api/balance once the first status is in (and again for a new run),
// then live SSE "balance" events (the store's "balance"), at most 256 kept.
// Each is a dashed vertical line in its action's colour (skip_d, skip_g,
// resume), drawn after every chart draw through charts.onDraw; the legend
// under both charts shows while the mode is auto or a decision exists.
// Each chart's uPlot root carries data-balance-markers (lines drawn) and
// #chart-loss data-balance-events (decisions held) for the browser tests.
import { $, api, color } from './lib.js';
import { t, onChange } from './i18n.js';
import * as store from './store.js';
import { onDraw, redraw } from './charts.js';

const C = { skip_d: color('--c-d', '#5b9dff'), skip_g: color('--c-g', '#ff8a4c'), resume: color('--muted', '#9aa4b2') };
let balance = [], mode = 'off', started = false;

async function loadBalance() {
  try {
    const r = await api('/api/balance');
    balance = Array.isArray(r.events) ? r.events.filter((e) => Number.isFinite(e.iteration)) : [];
    if (r.mode) mode = r.mode;
  } catch { return; }
  changed();
}
function changed() {
  $('chart-loss').dataset.balanceEvents = String(balance.length);
  renderLegend();
  redraw();
}

store.subscribe('status', (s) => {
  if (!started) { started = true; loadBalance(); }
  if (s.balance && s.balance.mode) { mode = s.balance.mode; renderLegend(); }
});
store.subscribe('balance', (e) => {
  if (!e || !Number.isFinite(e.iteration)) return;
  balance.push(e);
  if (balance.length > 256) balance.shift();
  changed();
});
store.subscribe('run', () => {
  balance = [];
  changed();
  setTimeout(loadBalance, 500);
});

onDraw((u) => {
  const { ctx } = u, { left, top, width, height } = u.bbox;
  const min = u.scales.x.min, max = u.scales.x.max;
  const dpr = devicePixelRatio || 1;
  let n = 0;
  ctx.save();
  ctx.lineWidth = Math.max(1, dpr);
  ctx.setLineDash([4 * dpr, 3 * dpr]);
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
});

function renderLegend() {
  const show = mode === 'auto' || balance.length > 0;
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
onChange(renderLegend);
