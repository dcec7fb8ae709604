// What a stage returns: one verdict per record, and side-output rows.
//
// `Output` collects the answer in the shape it crosses the boundary in:
// verdicts in a list, new values and reasons in order, and rows per output
// column by column (one array per column), checked as they are emitted.

import { isBytes } from './batch.js';

/** Kinds of side-output columns (WIT `column-kind`). */
export const ColumnKind = Object.freeze({
  INT: 'int',
  FLOAT: 'float',
  TEXT: 'text',
  BYTES: 'bytes',
  /** Milliseconds since the Unix epoch, UTC (an integer, or a Date). */
  TIMESTAMP_MS: 'timestamp-ms',
});
const KINDS = new Set(Object.values(ColumnKind));

/**
 * A named side output and its columns, in row order:
 * `output('sessions').column('session_id', 'text').nullableColumn('note', 'text')`.
 */
export class OutputDecl {
  constructor(name) {
    this.name = name;
    this.columns = [];
  }

  /** Adds a column that never holds null. */
  column(name, kind, nullable = false) {
    if (!KINDS.has(kind)) {
      throw new TypeError(`column ${JSON.stringify(name)}: kind ${JSON.stringify(kind)} is not one of ${[...KINDS].join(', ')}`);
    }
    this.columns.push({ name, kind, nullable: Boolean(nullable) });
    return this;
  }

  /** Adds a column that may hold null. */
  nullableColumn(name, kind) {
    return this.column(name, kind, true);
  }
}

/** `output(name)`: a new output declaration. */
export function output(name) {
  return new OutputDecl(name);
}

/** Returns the first problem with these declarations (as the host would refuse them), or null. */
export function checkDecls(decls) {
  const names = new Set();
  for (let i = 0; i < decls.length; i++) {
    const d = decls[i];
    if (!(d instanceof OutputDecl)) return `output ${i} is not an output declaration (use output(name).column(...))`;
    if (typeof d.name !== 'string' || d.name === '') return `output ${i} has an empty name`;
    if (names.has(d.name)) return `output ${q(d.name)} is declared twice`;
    names.add(d.name);
    if (d.columns.length === 0) return `output ${q(d.name)} declares no columns`;
    const cols = new Set();
    for (let j = 0; j < d.columns.length; j++) {
      const c = d.columns[j];
      if (typeof c.name !== 'string' || c.name === '') return `output ${q(d.name)}: column ${j} has an empty name`;
      if (cols.has(c.name)) return `output ${q(d.name)}: column ${q(c.name)} is declared twice`;
      cols.add(c.name);
    }
  }
  return null;
}

const ENCODER = new TextEncoder();

// Verdicts as the bindings spell the WIT `verdict` enum.
const KEEP = 'keep', REPLACE = 'replace', REJECT = 'reject', DROP = 'drop';

/** Rows of one output, all tied to records or all aggregates. */
class RowSet {
  constructor(output, decl, tied) {
    this.output = output;
    this.decl = decl;
    this.count = 0;
    this.sources = tied ? [] : null;
    /** One array per declared column. */
    this.columns = decl.columns.map(() => []);
    /** [column, row] of each null. */
    this.nulls = [];
  }
}

/**
 * Collects a stage's answer to one batch. Per record, in order, call one of
 * `keep()`, `replace(value)`, `reject(reason)`, `drop()`; `emit()` adds
 * side-output rows. The answer is checked before it leaves the module.
 */
export class Output {
  constructor(decls = [], records = 0) {
    this._decls = decls;
    this._records = records;
    this._verdicts = [];
    this._replacements = [];
    this._reasons = [];
    this._names = new Map(decls.map((d, i) => [d.name, i]));
    /** Per output: [aggregate set, tied set]. */
    this._sets = decls.map(() => [null, null]);
    this._setList = [];
    this._emitted = 0;
    this._error = null;
  }

  /** Pass the next record on unchanged. */
  keep() {
    this._verdicts.push(KEEP);
  }

  /** Pass the next record on with a new value (a Uint8Array, or a string encoded as UTF-8). */
  replace(value) {
    if (typeof value === 'string') {
      value = ENCODER.encode(value);
    } else if (!isBytes(value)) {
      this._fail(`verdict ${this._verdicts.length}: replace needs a Uint8Array or a string, got ${describe(value)}`);
      value = new Uint8Array(0);
    }
    this._replacements.push(value);
    this._verdicts.push(REPLACE);
  }

  /** Drop the next record and dead-letter it with `reason` (a non-empty string). */
  reject(reason) {
    if (typeof reason !== 'string' || reason === '') {
      this._fail(`verdict ${this._verdicts.length}: reject needs a reason (a non-empty string), got ${describe(reason)}`);
      reason = String(reason) || 'rejected';
    }
    this._reasons.push(reason);
    this._verdicts.push(REJECT);
  }

  /** Drop the next record without a dead letter: not for this pipeline. */
  drop() {
    this._verdicts.push(DROP);
  }

  /**
   * Emit a row on `output` (its index in the stage's outputs, or its name):
   * `values` has one value per declared column, in order (null for null).
   * With `record` (a Record, or its index) the row belongs to that record:
   * the sink can bind its partition and offset, and drops the row if a later
   * stage rejects the record. Without it, the row is an aggregate.
   */
  emit(output, values, record) {
    const row = this._emitted++;
    if (this._error !== null) return;
    const o = typeof output === 'string' ? this._names.get(output) : output;
    const decl = Number.isInteger(o) ? this._decls[o] : undefined;
    if (decl === undefined) {
      const declared = this._decls.map((d, i) => `${i} = ${q(d.name)}`).join(', ') || 'none';
      return this._fail(`row ${row}: output ${typeof output === 'string' ? q(output) : String(output)} is not declared (declared: ${declared})`);
    }
    let source = -1;
    if (record !== undefined && record !== null) {
      source = typeof record === 'number' ? record : record.index;
      if (!(Number.isInteger(source) && source >= 0 && source < this._records)) {
        return this._fail(`row ${row}: on output ${q(decl.name)}: record ${String(source)} is not in this batch of ${this._records}`);
      }
    }
    const cols = decl.columns;
    if (!Array.isArray(values) || values.length !== cols.length) {
      const n = Array.isArray(values) ? `${values.length} values` : `values ${describe(values)} (not an array)`;
      return this._fail(`row ${row}: on output ${q(decl.name)}: ${n} for ${cols.length} columns`);
    }
    // Check the whole row before adding any of it.
    for (let c = 0; c < cols.length; c++) {
      const v = values[c];
      if (v === null ? !cols[c].nullable : !fits(cols[c].kind, v)) {
        const col = cols[c];
        return this._fail(`row ${row}: on output ${q(decl.name)}: column ${q(col.name)} is ${col.kind}${col.nullable ? ' (nullable)' : ''}, got ${describeFor(col.kind, v)}`);
      }
    }
    const pair = this._sets[o];
    const slot = source >= 0 ? 1 : 0;
    let set = pair[slot];
    if (set === null) {
      set = pair[slot] = new RowSet(o, decl, source >= 0);
      this._setList.push(set);
    }
    const r = set.count;
    for (let c = 0; c < cols.length; c++) {
      let v = values[c];
      if (v === null) {
        set.nulls.push([c, r]);
        v = PLACEHOLDER[cols[c].kind];
      } else if (isDate(v)) {
        v = v.getTime();
      }
      set.columns[c].push(v);
    }
    if (source >= 0) set.sources.push(source);
    set.count = r + 1;
  }

  /** Number of verdicts so far. */
  get verdictCount() {
    return this._verdicts.length;
  }

  /** Number of rows emitted so far. */
  get rowCount() {
    return this._emitted;
  }

  /** The first problem with the answer for a batch of `records` records, or null. */
  check(records) {
    if (this._error !== null) return this._error;
    const n = this._verdicts.length;
    if (n !== records) return `process gave ${n} verdicts for ${records} records (one per record is required)`;
    return null;
  }

  _fail(message) {
    if (this._error === null) this._error = message;
  }
}

const PLACEHOLDER = { int: 0, float: 0, text: '', bytes: new Uint8Array(0), 'timestamp-ms': 0 };
const I64_MIN = -(2n ** 63n), I64_MAX = 2n ** 63n - 1n;

function fits(kind, v) {
  switch (kind) {
    case 'text': return typeof v === 'string';
    case 'float': return typeof v === 'number';
    case 'bytes': return isBytes(v);
    case 'timestamp-ms':
      if (isDate(v)) return Number.isSafeInteger(v.getTime());
    // falls through
    case 'int':
      return typeof v === 'number' ? Number.isSafeInteger(v) : typeof v === 'bigint' && v >= I64_MIN && v <= I64_MAX;
  }
  return false;
}

function isDate(v) {
  return Object.prototype.toString.call(v) === '[object Date]';
}

function describe(v) {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  if (Array.isArray(v)) return 'array';
  return v.constructor?.name ?? 'object';
}

function describeFor(kind, v) {
  if (kind === 'int' || kind === 'timestamp-ms') {
    if (typeof v === 'number') return `number ${v} (${Number.isInteger(v) ? 'not a safe integer' : 'not an integer'})`;
    if (typeof v === 'bigint') return `bigint ${v} (out of 64-bit range)`;
    if (isDate(v)) return 'an invalid Date';
  }
  return describe(v);
}

function q(s) {
  return JSON.stringify(s);
}

