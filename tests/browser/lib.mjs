// lib.mjs - what the browser suites (dashboard.mjs, insight.mjs) share: one
// line per check ("ok - name" or "FAIL - name: why"), the closing line
// "N passed, N failed" with the exit status, and a sleep.

let passed = 0, failed = 0;

export function ok(name) { passed++; console.log(`ok - ${name}`); }

export function fail(name, why) {
  failed++;
  console.log(`FAIL - ${name}${why ? `: ${String(why).split('\n')[0]}` : ''}`);
}

// Run one check: fn may return false (failed), a string (shown after the
// name) or anything else (passed); a throw fails with its message.
export async function check(name, fn) {
  try {
    const r = await fn();
    if (r === false) fail(name); else ok(typeof r === 'string' ? `${name} (${r})` : name);
    return r !== false;
  } catch (e) { fail(name, e && e.message); return false; }
}

export function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed || !passed ? 1 : 0);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
