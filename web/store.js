// store.js - the one place the dashboard's shared state lives; panels
// subscribe to the keys they show instead of calling each other.
//
// set(key, v) stores a value and notifies the key's subscribers when it
// changed (objects compared by their JSON); emit(key, v) stores and always
// notifies (events). Each notification bumps the key's version(): a reply
// that was asked for at version n is stale if version(key) moved meanwhile
// (a status poll sent before a pause answered must not undo it).
// Subscribers run in the order they subscribed; one that throws is logged
// and the others still run.
//
// Keys:
//   status      every /api/status answer (event)
//   state       'unknown' | 'running' | 'paused' | 'diverged', only ever what the server said
//   iteration   the highest iteration the server reported for this run (-1: none yet)
//   access      {viewer, lan, presenter} from /api/status "access"
//   classes     the ten class names (status.classes)
//   conn        {kind, key, params}: the event stream's connection
//   checkpoint  {last, error, off}: the last checkpoint, the server's checkpoint error,
//               and whether the server has no run directory
//   liveGrid    {seed, version, at}: the newest shared live grid (SSE "samples")
//   config      the live settings of an SSE "state" event (event)
//   metrics     a live SSE "metrics" event (event)
//   balance     a live SSE "balance" event (event)
//   run         a new run began (server restart, POST /api/run, restore): panels drop what they hold (event)
const values = {
  status: null, state: 'unknown', iteration: -1, access: { viewer: false, lan: false, presenter: true },
  classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], conn: { kind: 'connecting' },
  checkpoint: { last: null, error: '', off: false }, config: null, liveGrid: null, metrics: null, balance: null, run: 0,
};
const versions = {};
const subscribers = {};

const same = (a, b) => Object.is(a, b)
  || (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));

export const get = (key) => values[key];
export const version = (key) => versions[key] || 0;

export function subscribe(key, fn) {
  (subscribers[key] = subscribers[key] || []).push(fn);
}

export function emit(key, value) {
  const old = values[key];
  values[key] = value;
  versions[key] = version(key) + 1;
  for (const fn of subscribers[key] || []) {
    try { fn(value, old); } catch (e) { console.error(e); }
  }
}

// force: notify (and bump the version) even when the value is the same.
export function set(key, value, force = false) {
  if (!force && same(values[key], value)) return;
  emit(key, value);
}

// ---- the few rules every writer must follow --------------------------------------

// The iteration only moves forward within a run (force: a restore went back).
export function setIteration(i, force = false) {
  if (!Number.isFinite(i)) return;
  if (!force && i <= values.iteration) return;
  set('iteration', i);
}

// A new run: the iteration starts again, and every panel drops what it held.
export function newRun() {
  set('iteration', -1);
  emit('run', values.run + 1);
}

// A class index as the run names it ("–" for none).
export const className = (i) => {
  const c = values.classes;
  return Number.isInteger(i) && c[i] !== undefined ? c[i] : i == null ? '–' : String(i);
};
