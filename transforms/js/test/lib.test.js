// Tests of the library itself: node --test transforms/js/test/

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  Batch, NO_KEY, Row, StageError, Verdict, defineStage, output, parseParams, run,
} from '../sluice-transform/index.js';
import { checkOutput } from '../sluice-transform/wit.js';

const enc = (s) => new TextEncoder().encode(s);

/** Keeps everything; `mode` picks a way to get the answer wrong. */
const probe = defineStage({
  params: { mode: '' },
  outputs: [output('log').column('n', 'int').nullableColumn('s', 'text')],
  process(batch, out, { mode }) {
    for (const record of batch) {
      out.keep();
      if (mode === 'bad-kind') out.emit(0, [1, 2], record);
      else if (mode === 'bad-null') out.emit(0, [null, null]);
      else if (mode === 'bad-arity') out.emit(0, [1]);
      else if (mode === 'bad-output') out.emit(7, [1]);
      else if (mode === 'bad-record') out.emit(0, [1, null], 9);
      else if (mode === 'float-int') out.emit('log', [1.5, null]);
      else out.emit('log', [record.offset, null], record);
    }
    if (mode === 'fail') throw new StageError('broken');
    if (mode === 'short') out.keep();
  },
});

test('decodes keys, values, headers, timestamps in place', () => {
  const batch = new Batch('study-log-events', 2)
    .push('first', { key: 'k1', offset: 10, timestamp: 1000, headers: [['a', '1']] })
    .push('')
    .push('third value', { key: '', offset: 12, timestamp: 3000, headers: [['b', null], ['c', '3']] });
  const c = batch.columns();
  assert.deepEqual([...c.keyLens], [2, NO_KEY, 0]);
  const records = [...batch];
  assert.equal(records.length, 3);
  const [r0, r1, r2] = records;
  assert.deepEqual([r0.index, r0.offset, r0.timestamp, r0.keyText(), r0.text()], [0, 10, 1000, 'k1', 'first']);
  assert.deepEqual(r0.header('a'), enc('1'));
  assert.equal(r0.topic, 'study-log-events');
  assert.equal(r0.partition, 2);
  assert.deepEqual([r1.offset, r1.timestamp, r1.key, r1.text(), r1.headers], [11, null, null, '', []]);
  assert.deepEqual([r2.index, r2.keyText(), r2.text(), r2.headers.length], [2, '', 'third value', 2]);
  assert.equal(r2.header('b'), null);
  assert.deepEqual(r2.header('c'), enc('3'));
  // Views into the batch buffer, not copies.
  assert.equal(r2.value.buffer, c.values.buffer);
  assert.equal(r2.value.byteOffset, 5);
  assert.deepEqual(batch.values().map((v) => new TextDecoder().decode(v)), ['first', '', 'third value']);
});

test('text() and json() refuse what is not UTF-8 or JSON', () => {
  const [bad, notJson, ok, bom] = Batch.fromValues([new Uint8Array([0xff]), 'nope', '{"a":[1]}', '\ufeff{}']);
  assert.throws(() => bad.text(), TypeError);
  assert.throws(() => notJson.json(), SyntaxError);
  assert.equal(bom.text(), '\ufeff{}');
  assert.throws(() => bom.json(), SyntaxError);
  assert.deepEqual(ok.json(), { a: [1] });
});

test('an ok run returns verdicts and rows', () => {
  const out = run(probe, ['a', 'b']);
  assert.deepEqual(out.verdicts(), [Verdict.keep(), Verdict.keep()]);
  assert.deepEqual(out.rows(), [Row(0, 0, [0, null]), Row(0, 1, [1, null])]);
});

test('rows are checked against the declarations', () => {
  const msg = (mode) => {
    try {
      run(probe, ['a', 'b'], { mode });
    } catch (e) {
      assert.ok(e instanceof StageError, e);
      return e.message;
    }
    assert.fail('no error');
  };
  assert.equal(msg('bad-kind'), 'row 0: on output "log": column "s" is text (nullable), got number');
  assert.equal(msg('bad-null'), 'row 0: on output "log": column "n" is int, got null');
  assert.equal(msg('bad-arity'), 'row 0: on output "log": 1 values for 2 columns');
  assert.equal(msg('bad-output'), 'row 0: output 7 is not declared (declared: 0 = "log")');
  assert.equal(msg('bad-record'), 'row 0: on output "log": record 9 is not in this batch of 2');
  assert.equal(msg('float-int'), 'row 0: on output "log": column "n" is int, got number 1.5 (not an integer)');
  assert.equal(msg('fail'), 'broken');
  assert.equal(msg('short'), 'process gave 3 verdicts for 2 records (one per record is required)');
});

test('verdict count is checked', () => {
  const short = defineStage({ process: (batch, out) => out.keep() });
  assert.throws(() => run(short, ['a', 'b', 'c']), {
    message: 'process gave 1 verdicts for 3 records (one per record is required)',
  });
  assert.deepEqual(run(short, ['a']).verdicts(), [Verdict.keep()]);
});

test('verdicts of all four kinds cross with their payloads', () => {
  const stage = defineStage({
    process(batch, out) {
      for (const r of batch) {
        const t = r.text();
        if (t === 'k') out.keep();
        else if (t === 'd') out.drop();
        else if (t.startsWith('x')) out.reject(`bad ${t}`);
        else out.replace(t === 'same' ? r.value : t.toUpperCase() + ' ☃');
      }
    },
  });
  const out = run(stage, ['k', 'up', 'x1', 'd', 'same', 'x2']);
  assert.deepEqual(out.verdicts(), [
    Verdict.keep(), Verdict.replace('UP ☃'), Verdict.reject('bad x1'), Verdict.drop(),
    Verdict.replace('same'), Verdict.reject('bad x2'),
  ]);
  assert.deepEqual([...out.raw.replacementLens], [6, 4]);
  assert.deepEqual(out.raw.reasons, ['bad x1', 'bad x2']);
});

test('bad verdict payloads fail the batch', () => {
  const stage = defineStage({
    params: { what: '' },
    process(batch, out, { what }) {
      for (const _ of batch) {
        if (what === 'replace') out.replace(42);
        else out.reject('');
      }
    },
  });
  assert.throws(() => run(stage, ['a'], { what: 'replace' }), { message: 'verdict 0: replace needs a Uint8Array or a string, got number' });
  assert.throws(() => run(stage, ['a'], { what: 'reject' }), { message: 'verdict 0: reject needs a reason (a non-empty string), got string' });
});

test('every column kind, nulls, aggregates and tied sets', () => {
  const stage = defineStage({
    outputs: [
      output('all').column('i', 'int').column('f', 'float').column('t', 'text').column('b', 'bytes')
        .nullableColumn('ts', 'timestamp-ms'),
      output('agg').column('n', 'int'),
    ],
    process(batch, out) {
      out.emit('agg', [2n ** 62n]);
      for (const r of batch) {
        out.keep();
        out.emit(0, [-r.offset, r.offset / 4, `${r.text()} ☃`, r.value, r.offset ? new Date(r.offset) : null], r);
      }
      out.emit(1, [batch.length]);
    },
  });
  const out = run(stage, ['a', 'é\ud800', '']);
  assert.deepEqual(out.rows(), [
    Row(1, null, [2n ** 62n]),
    Row(1, null, [3]),
    Row(0, 0, [0, 0, 'a ☃', enc('a'), null]),
    Row(0, 1, [-1, 0.25, 'é\ufffd ☃', enc('é\ud800'), 1]),
    Row(0, 2, [-2, 0.5, ' ☃', enc(''), 2]),
  ]);
  const [agg, all] = out.raw.rows;
  assert.equal(agg.sources.length, 0);
  assert.deepEqual([...all.sources], [0, 1, 2]);
  assert.deepEqual(all.nulls, [[4, 0]]);
  assert.deepEqual([...all.columns[2].val.lens], [5, 9, 4]);
  assert.equal(checkOutput(out.raw, 3), null);
});

test('int and timestamp columns take numbers, bigints in range and Dates', () => {
  const stage = defineStage({
    params: { v: null },
    outputs: [output('o').column('ts', 'timestamp-ms')],
    process(batch, out, { v }) {
      out.keep();
      out.emit(0, [v === 'big' ? 2n ** 63n : v === 'date' ? new Date(NaN) : v]);
    },
  });
  assert.throws(() => run(stage, ['a'], { v: 2 ** 53 }), { message: /got number 9007199254740992 \(not a safe integer\)/ });
  assert.throws(() => run(stage, ['a'], { v: 'big' }), { message: /got bigint 9223372036854775808 \(out of 64-bit range\)/ });
  assert.throws(() => run(stage, ['a'], { v: 'date' }), { message: /got an invalid Date/ });
  assert.throws(() => run(stage, ['a'], { v: '5' }), { message: /column "ts" is timestamp-ms, got string/ });
});

test('params: defaults, unknown fields, types', () => {
  assert.deepEqual(parseParams({ prefix: 'test-' }, ''), { prefix: 'test-' });
  assert.deepEqual(parseParams({ prefix: 'test-', n: 1 }, ' {"n": 2} '), { prefix: 'test-', n: 2 });
  assert.deepEqual(parseParams(undefined, '{}'), {});
  assert.throws(() => parseParams(undefined, '{"x": 1}'), { message: 'invalid params: unknown field `x` (this stage takes no params)' });
  assert.throws(() => parseParams({ a: 1, b: 2 }, '{"c": 1}'), { message: 'invalid params: unknown field `c` (expected: a, b)' });
  assert.throws(() => parseParams({ a: 1 }, '{"a": "1"}'), { message: 'invalid params: field `a`: expected number, got string' });
  assert.throws(() => parseParams({ a: [] }, '{"a": {}}'), { message: 'invalid params: field `a`: expected array, got table' });
  assert.deepEqual(parseParams({ a: null }, '{"a": {"x": 1}}'), { a: { x: 1 } });
  assert.throws(() => parseParams({}, '[1]'), { message: 'invalid params: expected a table, got array' });
  assert.throws(() => parseParams({}, '{"a": '), { name: 'StageError', message: /^invalid params: / });
  // Defaults are copied, not shared between inits.
  const defaults = { list: [1] };
  parseParams(defaults, '{}').list.push(2);
  assert.deepEqual(defaults.list, [1]);
  // A function gets the table and may refuse it.
  const spec = (raw) => {
    if (typeof raw.limit !== 'number') throw new StageError('limit: a number is required');
    return raw.limit;
  };
  assert.equal(parseParams(spec, '{"limit": 3}'), 3);
  assert.throws(() => parseParams(spec, '{}'), { message: 'limit: a number is required' });
});

test('init errors reach the operator', () => {
  const refuse = defineStage({
    params: { n: 1 },
    init({ n }) {
      if (n < 0) throw new StageError('n must not be negative');
      if (n === 0) null.x;
      return { n };
    },
    outputs: (state) => (state.n === 2 ? [output('a').column('x', 'int'), output('a').column('y', 'int')] : []),
    process() {},
  });
  const init = (params) => refuse.init(JSON.stringify(params));
  assert.deepEqual(init({ n: -1 }), { tag: 'err', val: 'n must not be negative' });
  assert.match(init({ n: 0 }).val, /^init failed: TypeError: .*null/);
  assert.deepEqual(init({ n: 2 }), { tag: 'err', val: 'output "a" is declared twice' });
  assert.deepEqual(init({ m: 2 }), { tag: 'err', val: 'invalid params: unknown field `m` (expected: n)' });
  assert.deepEqual(refuse.process(new Batch().columns()), { tag: 'err', val: 'process called before a successful init' });
  assert.equal(init({}).tag, 'ok');
  assert.equal(refuse.process(new Batch().columns()).tag, 'ok');

  const noColumns = defineStage({ outputs: [output('a')], process() {} });
  assert.deepEqual(noColumns.init(''), { tag: 'err', val: 'output "a" declares no columns' });
  assert.throws(() => output('a').column('x', 'string'), TypeError);
  const asyncInit = defineStage({ async init() {}, process() {} });
  assert.match(asyncInit.init('').val, /Promise/);
});

test('a bug in process is thrown (inside the component: a trap)', () => {
  const buggy = defineStage({
    process(batch, out) {
      for (const r of batch) out.keep(r.json().a.b);
    },
  });
  assert.throws(() => run(buggy, ['{}']), TypeError);
  const asyncProcess = defineStage({ async process() {} });
  assert.throws(() => run(asyncProcess, ['a']), { message: /Promise/ });
});

test('a malformed batch fails the call', () => {
  const c = Batch.fromValues(['abc']).columns();
  const values = new Uint8Array([...c.values, 33]);
  probe.init('{}');
  assert.deepEqual(probe.process({ ...c, values }), {
    tag: 'err',
    val: 'malformed batch: the records declare 3 bytes/entries of values but the batch has 4',
  });
  assert.deepEqual(probe.process({ ...c, keyLens: new Int32Array([-2]) }), {
    tag: 'err',
    val: 'malformed batch: key length -2 (only -1, no key, may be negative)',
  });
  assert.deepEqual(probe.process({ ...c, timestamps: new BigInt64Array(0) }), {
    tag: 'err',
    val: 'malformed batch: 1 records but 0 entries in timestamps',
  });
});
