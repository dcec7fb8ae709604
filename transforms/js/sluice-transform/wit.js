// The WIT adapter: converts between this library's types and the values the
// componentize-js bindings give and take for transforms/wit/transform.wit:
// records are objects with camelCase fields, lists of numbers are typed
// arrays (s64 as BigInt64Array), enums are strings ('keep'), variants are
// {tag, val}, results {tag: 'ok' | 'err', val}, an absent option undefined.
// The reverse direction (verdictsFromWit, rowsFromWit, checkOutput) is for
// native tests.

import { Batch, concat, isBytes } from './batch.js';

const NO_U32 = new Uint32Array(0);
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
const ASCII = /^[\x00-\x7f]*$/;

/** A checked Batch over the WIT `batch` (its buffers are viewed, not copied). */
export function batchFromWit(b) {
  return Batch.fromColumns(b);
}

/** WIT `stage-info` for these declarations. */
export function stageInfoToWit(decls) {
  return {
    outputs: decls.map((d) => ({
      name: d.name,
      columns: d.columns.map((c) => ({ name: c.name, kind: c.kind, nullable: c.nullable })),
    })),
  };
}

/** WIT `batch-output` for a checked Output. */
export function outputToWit(out) {
  const repl = out._replacements;
  const lens = new Uint32Array(repl.length);
  for (let i = 0; i < repl.length; i++) lens[i] = repl[i].length;
  return {
    verdicts: out._verdicts,
    replacements: concat(repl),
    replacementLens: lens,
    reasons: out._reasons,
    rows: out._setList.map(rowsToWit),
  };
}

function rowsToWit(set) {
  const decl = set.decl;
  const columns = new Array(decl.columns.length);
  for (let c = 0; c < columns.length; c++) columns[c] = columnToWit(decl.columns[c].kind, set.columns[c]);
  return {
    output: set.output,
    count: set.count,
    sources: set.sources === null ? NO_U32 : Uint32Array.from(set.sources),
    columns,
    nulls: set.nulls,
  };
}

function columnToWit(kind, values) {
  const n = values.length;
  switch (kind) {
    case 'int':
    case 'timestamp-ms': {
      const a = new BigInt64Array(n);
      for (let i = 0; i < n; i++) a[i] = BigInt(values[i]);
      return { tag: kind, val: a };
    }
    case 'float':
      return { tag: 'float', val: Float64Array.from(values) };
    case 'text': {
      let data = values.join('');
      const lens = new Uint32Array(n);
      if (ASCII.test(data)) {
        for (let i = 0; i < n; i++) lens[i] = values[i].length;
      } else {
        // Byte lengths in UTF-8; lone surrogates become U+FFFD, as they will in `data`.
        let scratch = new Uint8Array(0);
        for (let i = 0; i < n; i++) {
          let v = values[i];
          if (!v.isWellFormed()) values[i] = v = v.toWellFormed();
          if (scratch.length < v.length * 3) scratch = new Uint8Array(v.length * 3);
          lens[i] = ENCODER.encodeInto(v, scratch).written;
        }
        data = values.join('');
      }
      return { tag: 'text', val: { data, lens } };
    }
    case 'bytes': {
      const lens = new Uint32Array(n);
      for (let i = 0; i < n; i++) lens[i] = values[i].length;
      return { tag: 'bytes', val: { data: concat(values), lens } };
    }
  }
  throw new TypeError(`unknown column kind ${kind}`);
}

// --- For native tests: reading an answer back ------------------------------

/** The verdicts of a WIT `batch-output`, one per record: {kind, reason?, value?}. */
export function verdictsFromWit(raw) {
  const out = [];
  let at = 0, r = 0, v = 0;
  for (const kind of raw.verdicts) {
    if (kind === 'replace') {
      const len = raw.replacementLens[v++];
      out.push({ kind, value: toBytes(raw.replacements).subarray(at, at + len) });
      at += len;
    } else if (kind === 'reject') {
      out.push({ kind, reason: raw.reasons[r++] });
    } else {
      out.push({ kind });
    }
  }
  return out;
}

/** The rows of a WIT `batch-output`, set after set: {output, source, values}. */
export function rowsFromWit(raw) {
  const rows = [];
  for (const set of raw.rows) {
    const start = rows.length;
    for (let r = 0; r < set.count; r++) {
      rows.push({ output: set.output, source: set.sources.length ? Number(set.sources[r]) : null, values: [] });
    }
    for (const col of set.columns) {
      const values = columnFromWit(col);
      for (let r = 0; r < set.count; r++) rows[start + r].values.push(values[r]);
    }
    for (const [c, r] of set.nulls) rows[start + r].values[c] = null;
  }
  return rows;
}

function columnFromWit({ tag, val }) {
  switch (tag) {
    case 'int':
    case 'timestamp-ms':
      return Array.from(val, (x) => {
        const n = Number(x);
        return Number.isSafeInteger(n) ? n : BigInt(x);
      });
    case 'float':
      return Array.from(val);
    case 'text': {
      const data = ENCODER.encode(val.data);
      return split(data, val.lens).map((b) => DECODER.decode(b));
    }
    case 'bytes':
      return split(toBytes(val.data), val.lens);
  }
  return [];
}

function split(data, lens) {
  const out = [];
  let at = 0;
  for (const len of lens) {
    out.push(data.subarray(at, at + len));
    at += len;
  }
  return out;
}

function toBytes(x) {
  return isBytes(x) ? x : Uint8Array.from(x);
}

const VERDICTS = new Set(['keep', 'replace', 'reject', 'drop']);
const LISTS = { int: 'BigInt64Array', 'timestamp-ms': 'BigInt64Array', float: 'Float64Array' };

function isTyped(v, name) {
  return ArrayBuffer.isView(v) && v[Symbol.toStringTag] === name;
}

/**
 * The first thing in a WIT `batch-output` for `records` records that the
 * bindings could not lower or the host would refuse, or null.
 */
export function checkOutput(raw, records) {
  if (!Array.isArray(raw.verdicts) || raw.verdicts.length !== records) return `${raw.verdicts?.length} verdicts for ${records} records`;
  for (const v of raw.verdicts) if (!VERDICTS.has(v)) return `verdict ${JSON.stringify(v)}`;
  const count = (k) => raw.verdicts.filter((v) => v === k).length;
  if (!isBytes(raw.replacements) || !isTyped(raw.replacementLens, 'Uint32Array')) return 'replacements are not typed arrays';
  if (raw.replacementLens.length !== count('replace')) return 'replacement-lens do not match the replace verdicts';
  if (sum(raw.replacementLens) !== raw.replacements.length) return 'replacement-lens do not add up';
  if (raw.reasons.length !== count('reject') || raw.reasons.some((r) => typeof r !== 'string')) return 'reasons do not match the reject verdicts';
  for (const [i, set] of raw.rows.entries()) {
    const where = `rows ${i}`;
    if (!Number.isInteger(set.output) || !Number.isInteger(set.count)) return `${where}: output/count`;
    if (!isTyped(set.sources, 'Uint32Array')) return `${where}: sources is not a Uint32Array`;
    if (set.sources.length !== 0 && set.sources.length !== set.count) return `${where}: ${set.sources.length} sources for ${set.count} rows`;
    if (set.sources.some((s) => s >= records)) return `${where}: a source past the batch`;
    for (const [c, col] of set.columns.entries()) {
      const { tag, val } = col;
      if (LISTS[tag]) {
        if (!isTyped(val, LISTS[tag]) || val.length !== set.count) return `${where}: column ${c} (${tag})`;
      } else if (tag === 'text' || tag === 'bytes') {
        const data = tag === 'text' ? (typeof val.data === 'string' ? ENCODER.encode(val.data) : null) : val.data;
        if (!isBytes(data) || !isTyped(val.lens, 'Uint32Array')) return `${where}: column ${c} (${tag}) types`;
        if (val.lens.length !== set.count || sum(val.lens) !== data.length) return `${where}: column ${c} (${tag}) lengths`;
      } else {
        return `${where}: column ${c}: tag ${JSON.stringify(tag)}`;
      }
    }
    for (const n of set.nulls) {
      if (!Array.isArray(n) || n.length !== 2 || !(n[0] < set.columns.length) || !(n[1] < set.count)) return `${where}: null ${JSON.stringify(n)}`;
    }
  }
  return null;
}

function sum(a) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}
