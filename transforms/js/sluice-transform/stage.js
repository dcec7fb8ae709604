// A stage's definition, its params, and the lifecycle that runs it (the same
// natively in tests and inside the component).

import { BatchError } from './batch.js';
import { Output, checkDecls } from './output.js';
import { log } from './log.js';
import * as wit from './wit.js';

/**
 * Thrown from `init`, refuses the params (the message reaches the
 * operator); thrown from `process`, fails the whole batch (a broken deploy,
 * not bad data: reject or drop single records instead).
 */
export class StageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'StageError';
  }
}

/**
 * Defines a stage; export the result as `stage` from app.js:
 *
 *   export const stage = defineStage({
 *     params: { prefix: 'test-' },          // defaults; other keys are refused
 *     init(params) { return state },        // optional; state defaults to params
 *     outputs: [output('sessions').column('session_id', 'text')],   // or (state) => [...]
 *     process(batch, out, state) { for (const record of batch) out.keep(); },
 *   });
 *
 * `params` is an object of defaults (unknown keys refused, values typed like
 * the defaults), a function given the parsed table (return the params, throw
 * to refuse), or absent (only an empty table). State lives as long as the
 * module instance; the host may start a new one at any time, so keep nothing
 * there that correctness depends on.
 *
 * In `process`, throwing StageError fails the batch; any other exception
 * traps the module, and the host isolates the record that caused it and
 * dead-letters it.
 */
export function defineStage(spec) {
  if (spec === null || typeof spec !== 'object' || typeof spec.process !== 'function') {
    throw new TypeError('defineStage needs { process(batch, out, state) { ... } }');
  }
  let state;
  let decls = null;

  // The two functions of the WIT interface `stage`, called unbound.
  function init(params) {
    decls = null;
    state = undefined;
    try {
      const parsed = parseParams(spec.params, params);
      const s = spec.init === undefined ? parsed : spec.init(parsed);
      if (isPromise(s)) throw new StageError('init returned a Promise: stages are synchronous (no async/await)');
      const outs = typeof spec.outputs === 'function' ? spec.outputs(s) : (spec.outputs ?? []);
      if (!Array.isArray(outs)) throw new StageError('outputs must be an array of output(...) declarations');
      const problem = checkDecls(outs);
      if (problem !== null) throw new StageError(problem);
      state = s;
      decls = outs.slice();
      return { tag: 'ok', val: wit.stageInfoToWit(decls) };
    } catch (e) {
      return { tag: 'err', val: e instanceof StageError ? e.message : `init failed: ${describeError(e)}` };
    }
  }

  function process(b) {
    if (decls === null) return { tag: 'err', val: 'process called before a successful init' };
    let batch;
    try {
      batch = wit.batchFromWit(b);
    } catch (e) {
      if (e instanceof BatchError) return { tag: 'err', val: e.message };
      throw e;
    }
    const out = new Output(decls, batch.length);
    let ret;
    try {
      ret = spec.process(batch, out, state);
    } catch (e) {
      if (e instanceof StageError) return { tag: 'err', val: e.message };
      // A bug: trap, so that the host finds the record and dead-letters it.
      // The host takes the reason from "panicked at ..." in the log. Inside
      // the component the bindings cannot lower this error as the `err`
      // string (it is from another realm), which traps; natively it is thrown.
      log.error(`process threw an exception; panicked at ${where(e) ?? 'process'}: ${describeError(e, false)}`);
      throw e;
    }
    if (isPromise(ret)) return { tag: 'err', val: 'process returned a Promise: stages are synchronous (no async/await)' };
    const problem = out.check(batch.length);
    if (problem !== null) return { tag: 'err', val: problem };
    return { tag: 'ok', val: wit.outputToWit(out) };
  }

  return { init, process };
}

/** Parses params JSON for `spec` (see defineStage); throws StageError naming the field. */
export function parseParams(spec, text) {
  const fail = (message) => {
    throw new StageError(`invalid params: ${message}`);
  };
  let raw = {};
  if (text.trim() !== '') {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      fail(e.message);
    }
  }
  if (jsonType(raw) !== 'table') fail(`expected a table, got ${jsonType(raw)}`);
  if (typeof spec === 'function') return spec(raw);
  const keys = Object.keys(raw);
  if (spec === undefined || spec === null) {
    if (keys.length) fail(`unknown field \`${keys[0]}\` (this stage takes no params)`);
    return {};
  }
  const known = Object.keys(spec);
  const params = JSON.parse(JSON.stringify(spec));
  for (const key of keys) {
    if (!Object.hasOwn(spec, key)) fail(`unknown field \`${key}\` (expected: ${known.join(', ') || 'none'})`);
    const want = jsonType(spec[key]);
    const got = jsonType(raw[key]);
    if (want !== 'null' && want !== got) fail(`field \`${key}\`: expected ${want}, got ${got}`);
    params[key] = raw[key];
  }
  return params;
}

function jsonType(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'table';
  return typeof v;
}

function isPromise(v) {
  return v !== null && typeof v === 'object' && typeof v.then === 'function';
}

function describeError(e, withPlace = true) {
  // (An error from the bindings' realm is no `instanceof Error` here.)
  if (Object.prototype.toString.call(e) !== '[object Error]') return String(e);
  const place = withPlace ? where(e) : null;
  return `${e.name}: ${e.message}${place ? ` (${place})` : ''}`;
}

/** Where an error was thrown: "app.js:11:60", from its innermost stack frame. */
function where(e) {
  // SpiderMonkey: "process@app.js:11:60"; V8: "    at Object.process (file:///.../app.js:11:60)".
  for (const line of String(e?.stack ?? '').split('\n')) {
    const m = /@(.+:\d+:\d+)$/.exec(line) ?? /^\s*at (?:.* \()?(.+:\d+:\d+)\)?$/.exec(line);
    if (m) return m[1];
  }
  return null;
}
