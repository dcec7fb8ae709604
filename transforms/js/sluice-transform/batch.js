// Batches: the records of one partition of one topic, in offset order.
//
// A batch keeps the columns the host sends (a list per field, one buffer for
// all keys, one for all values) and makes a `Record` only when iterated; a
// record's key and value are views into those buffers, not copies.

/** `timestamps` entry of a record without a timestamp (Kafka's own value). */
export const NO_TIMESTAMP = -1;
/** `keyLens` entry of a record without a key. */
export const NO_KEY = -1;

// Strict: invalid UTF-8 throws, and a BOM stays (JSON.parse then refuses it, as serde_json does).
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ENCODER = new TextEncoder();
const NO_HEADERS = Object.freeze([]);
const EMPTY = new Uint8Array(0);

/** The host sent (or a test built) a batch whose parts do not fit together. */
export class BatchError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BatchError';
  }
}

/** One input record. `index` is its position in the batch. */
export class Record {
  constructor(index, offset, timestamp, key, value, headers, topic, partition) {
    this.index = index;
    this.offset = offset;
    /** Milliseconds since the Unix epoch, or null. */
    this.timestamp = timestamp;
    /** Uint8Array, or null for a record without a key. */
    this.key = key;
    /** Uint8Array. */
    this.value = value;
    /** [{key: string, value: Uint8Array | null}] */
    this.headers = headers;
    this.topic = topic;
    this.partition = partition;
  }

  /** The value as text; throws a TypeError if it is not valid UTF-8. */
  text() {
    return UTF8.decode(this.value);
  }

  /** The value parsed as JSON; throws if it is not UTF-8 JSON. */
  json() {
    return JSON.parse(UTF8.decode(this.value));
  }

  /** The key as text, null when the record has no key. */
  keyText() {
    return this.key === null ? null : UTF8.decode(this.key);
  }

  /** The value of the first header named `key` that has one, else null. */
  header(key) {
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) {
      if (hs[i].key === key && hs[i].value !== null) return hs[i].value;
    }
    return null;
  }
}

/**
 * The records of one batch: `for (const record of batch)`, or whole columns
 * at once (`batch.values()`). `batch.length` is the number of records.
 *
 * In tests: `Batch.fromValues(['{"a":1}', ...])`, or
 * `new Batch().push(value, { key, offset, timestamp, headers })`.
 */
export class Batch {
  constructor(topic = 'test', partition = 0) {
    this.topic = topic;
    this.partition = partition;
    this.length = 0;
    // The columns, as in the WIT `batch` record (camelCase field names).
    this._c = null;
    // While a test pushes records: growable columns, sealed on first read.
    this._b = null;
  }

  /** Key-less records with these values (string or Uint8Array), offsets 0, 1, ... */
  static fromValues(values, topic = 'test', partition = 0) {
    const batch = new Batch(topic, partition);
    for (const v of values) batch.push(v);
    return batch;
  }

  /**
   * Appends a record (offset: the previous one + 1 by default). `value` and
   * `key` are strings or Uint8Arrays; `headers` is a list of [key, value]
   * pairs (value: string, Uint8Array or null). Returns the batch.
   */
  push(value, { key = null, offset, timestamp = null, headers = [] } = {}) {
    let b = this._b;
    if (b === null) {
      b = this._b = { offsets: [], timestamps: [], keyLens: [], keys: [], valueLens: [], values: [], headerCounts: [], headers: [] };
      if (this._c !== null) appendColumns(b, this._c);
      this._c = null;
    }
    const v = bytes(value, 'value');
    if (offset === undefined) offset = b.offsets.length ? b.offsets[b.offsets.length - 1] + 1 : 0;
    b.offsets.push(offset);
    b.timestamps.push(timestamp === null ? NO_TIMESTAMP : timestamp);
    if (key === null) {
      b.keyLens.push(NO_KEY);
    } else {
      const k = bytes(key, 'key');
      b.keyLens.push(k.length);
      b.keys.push(k);
    }
    b.valueLens.push(v.length);
    b.values.push(v);
    b.headerCounts.push(headers.length);
    for (const [hk, hv] of headers) b.headers.push({ key: hk, value: hv === null ? null : bytes(hv, 'header value') });
    this.length++;
    return this;
  }

  /** Every record's value, in order (sliced column-wise, no Record objects). */
  values() {
    const c = this.columns();
    const out = new Array(this.length);
    const lens = c.valueLens, buf = c.values;
    for (let i = 0, at = 0; i < out.length; i++) {
      const end = at + lens[i];
      out[i] = buf.subarray(at, end);
      at = end;
    }
    return out;
  }

  [Symbol.iterator]() {
    return new Records(this);
  }

  /** The columns in the shape of the WIT `batch` record (typed arrays). */
  columns() {
    if (this._c === null) this._c = sealColumns(this);
    return this._c;
  }

  /** A batch over columns in the shape of the WIT `batch`, checked (not copied). */
  static fromColumns(c) {
    const batch = new Batch(c.topic, c.partition);
    checkColumns(c);
    batch._c = c;
    batch.length = c.offsets.length;
    return batch;
  }
}

/** Iterator over a batch: walks the columns side by side. */
class Records {
  constructor(batch) {
    const c = batch.columns();
    this._c = c;
    this._n = batch.length;
    this._i = 0;
    this._k = 0;
    this._v = 0;
    this._h = 0;
    this._topic = batch.topic;
    this._partition = batch.partition;
    this._headers = c.headers.length === 0 ? null : normalizeHeaders(c.headers);
  }

  [Symbol.iterator]() {
    return this;
  }

  next() {
    const i = this._i;
    if (i >= this._n) return { done: true, value: undefined };
    const c = this._c;
    this._i = i + 1;
    const kl = c.keyLens[i];
    let key = null;
    if (kl >= 0) {
      key = c.keys.subarray(this._k, this._k + kl);
      this._k += kl;
    }
    const v = this._v, vl = c.valueLens[i];
    this._v = v + vl;
    let headers = NO_HEADERS;
    const hc = c.headerCounts[i];
    if (hc > 0) {
      headers = this._headers.slice(this._h, this._h + hc);
      this._h += hc;
    }
    const ts = Number(c.timestamps[i]);
    const record = new Record(i, Number(c.offsets[i]), ts < 0 ? null : ts, key, c.values.subarray(v, v + vl),
      headers, this._topic, this._partition);
    return { done: false, value: record };
  }
}

function normalizeHeaders(hs) {
  // The bindings give `undefined` for a header without a value.
  const out = new Array(hs.length);
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i];
    out[i] = { key: h.key, value: h.value === undefined ? null : h.value };
  }
  return out;
}

/** Checks that the per-record lists have an entry per record and that the lengths add up. */
function checkColumns(c) {
  const n = c.offsets.length;
  for (const part of ['timestamps', 'keyLens', 'valueLens', 'headerCounts']) {
    if (c[part].length !== n) {
      throw new BatchError(`malformed batch: ${n} records but ${c[part].length} entries in ${kebab(part)}`);
    }
  }
  let keys = 0, values = 0, headers = 0, badKey = 0;
  const kls = c.keyLens, vls = c.valueLens, hcs = c.headerCounts;
  for (let i = 0; i < n; i++) {
    const k = kls[i];
    if (k < NO_KEY) badKey = badKey || k;
    if (k > 0) keys += k;
    values += vls[i];
    headers += hcs[i];
  }
  if (badKey) throw new BatchError(`malformed batch: key length ${badKey} (only -1, no key, may be negative)`);
  for (const [part, declared, actual] of [
    ['keys', keys, c.keys.length],
    ['values', values, c.values.length],
    ['headers', headers, c.headers.length],
  ]) {
    if (declared !== actual) {
      throw new BatchError(`malformed batch: the records declare ${declared} bytes/entries of ${part} but the batch has ${actual}`);
    }
  }
}

function sealColumns(batch) {
  const b = batch._b ?? { offsets: [], timestamps: [], keyLens: [], keys: [], valueLens: [], values: [], headerCounts: [], headers: [] };
  return {
    topic: batch.topic,
    partition: batch.partition,
    offsets: BigInt64Array.from(b.offsets, BigInt),
    timestamps: BigInt64Array.from(b.timestamps, BigInt),
    keyLens: Int32Array.from(b.keyLens),
    keys: concat(b.keys),
    valueLens: Uint32Array.from(b.valueLens),
    values: concat(b.values),
    headerCounts: Uint32Array.from(b.headerCounts),
    headers: b.headers.slice(),
  };
}

function appendColumns(b, c) {
  // Pushing onto a sealed batch: unseal it.
  for (const x of c.offsets) b.offsets.push(Number(x));
  for (const x of c.timestamps) b.timestamps.push(Number(x));
  b.keyLens.push(...c.keyLens);
  b.keys.push(c.keys);
  b.valueLens.push(...c.valueLens);
  b.values.push(c.values);
  b.headerCounts.push(...c.headerCounts);
  b.headers.push(...c.headers);
}

/** Concatenates Uint8Arrays. */
export function concat(parts) {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (let i = 0; i < parts.length; i++) n += parts[i].length;
  if (n === 0) return EMPTY;
  const out = new Uint8Array(n);
  for (let i = 0, at = 0; i < parts.length; i++) {
    out.set(parts[i], at);
    at += parts[i].length;
  }
  return out;
}

/**
 * Whether `v` is a Uint8Array. Inside the component the bindings' arrays
 * (record values among them) come from another realm, where `instanceof`
 * is false: check the tag instead.
 */
export function isBytes(v) {
  return ArrayBuffer.isView(v) && v[Symbol.toStringTag] === 'Uint8Array';
}

function bytes(v, what) {
  if (typeof v === 'string') return ENCODER.encode(v);
  if (isBytes(v)) return v;
  throw new TypeError(`a record's ${what} must be a string or a Uint8Array, got ${typeof v}`);
}

function kebab(s) {
  return s.replace(/[A-Z]/g, (m) => '-' + m.toLowerCase());
}
