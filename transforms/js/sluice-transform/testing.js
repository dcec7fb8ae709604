// Running a stage natively in tests, as the host would: init with params,
// process a batch, and read the answer back one record and one row at a
// time. Goes through the WIT adapter, so the answer is the one the
// component would send.

import { Batch } from './batch.js';
import { StageError } from './stage.js';
import * as wit from './wit.js';

const ENCODER = new TextEncoder();

/** Expected verdicts, for tests: Verdict.keep(), .drop(), .reject('why'), .replace('new value'). */
export const Verdict = Object.freeze({
  keep: () => ({ kind: 'keep' }),
  drop: () => ({ kind: 'drop' }),
  reject: (reason) => ({ kind: 'reject', reason }),
  replace: (value) => ({ kind: 'replace', value: typeof value === 'string' ? ENCODER.encode(value) : value }),
});

/** An expected row: output index, source record index (null for an aggregate), values. */
export function Row(output, source, values) {
  return { output, source, values };
}

/** The answer to one batch. */
export class Result {
  constructor(raw) {
    /** The WIT `batch-output` as the component would return it. */
    this.raw = raw;
  }

  /** One verdict per record: {kind: 'keep' | 'drop'} | {kind: 'reject', reason} | {kind: 'replace', value}. */
  verdicts() {
    return wit.verdictsFromWit(this.raw);
  }

  /** Every row, output set after set: {output, source, values}. */
  rows() {
    return wit.rowsFromWit(this.raw);
  }
}

/**
 * Runs `stage` (from defineStage) on `batch` (a Batch, or a list of values)
 * as the host would: init with `params` (an object or JSON text), process,
 * check. Throws StageError with the message the host would get.
 */
export function run(stage, batch, params = {}) {
  if (!(batch instanceof Batch)) batch = Batch.fromValues(batch);
  const init = stage.init(typeof params === 'string' ? params : JSON.stringify(params));
  if (init.tag !== 'ok') throw new StageError(init.val);
  const out = stage.process(batch.columns());
  if (out.tag !== 'ok') throw new StageError(out.val);
  const problem = wit.checkOutput(out.val, batch.length);
  if (problem !== null) throw new Error(`the answer would not cross the boundary: ${problem}`);
  return new Result(out.val);
}
