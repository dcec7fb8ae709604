// Native tests: npm test (node --test), no wasm needed.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { stage } from './app.js';
import { Batch, Row, StageError, Verdict, run } from './sluice-transform/index.js';

const FOCUS = '{"sessionId":"session-42","eventType":"FOCUS"}';

test('drops test sessions', () => {
  const out = run(stage, ['{"sessionId":"test-1","eventType":"FOCUS"}']);
  assert.deepEqual(out.verdicts(), [Verdict.drop()]);
  assert.deepEqual(out.rows(), []);
});

test('rejects what is not an event', () => {
  const out = run(stage, ['not json', '[1]', '{"sessionId":7}', '{"eventType":"FOCUS"}', new Uint8Array([0xff])]);
  assert.deepEqual(out.verdicts(), Array(5).fill(Verdict.reject('not an event: no string sessionId')));
});

test('keeps events with a row each', () => {
  const out = run(stage, Batch.fromValues([FOCUS, '{"sessionId":"test-9"}', '{"sessionId":"s-7","eventType":3}']));
  assert.deepEqual(out.verdicts(), [Verdict.keep(), Verdict.drop(), Verdict.keep()]);
  assert.deepEqual(out.rows(), [Row(0, 0, ['session-42', 'FOCUS']), Row(0, 2, ['s-7', null])]);
});

test('prefix param', () => {
  const out = run(stage, [FOCUS], { prefix: 'session-' });
  assert.deepEqual(out.verdicts(), [Verdict.drop()]);
});

test('unknown param is refused', () => {
  assert.throws(() => run(stage, [], { prefx: 'qa-' }), {
    name: 'StageError',
    message: 'invalid params: unknown field `prefx` (expected: prefix)',
  });
  assert.throws(() => run(stage, [], { prefix: 3 }), StageError);
});
