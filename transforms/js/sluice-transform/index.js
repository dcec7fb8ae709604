// Sluice transforms in JavaScript: a stage gets batches of Kafka records and
// answers one verdict per record (keep, replace, reject, drop) plus typed
// rows for the sink. Same shape as the Rust SDK (transforms/sdk).
//
//   import { defineStage, output } from './sluice-transform/index.js';
//   export const stage = defineStage({ params, init, outputs, process });
//
// Plain JavaScript: stages run natively in tests (`run(stage, [values])`);
// wit.js converts from and to the WIT types, component.js is the entry of
// the component build.

export { Batch, BatchError, NO_KEY, NO_TIMESTAMP, Record } from './batch.js';
export { ColumnKind, Output, OutputDecl, output } from './output.js';
export { StageError, defineStage, parseParams } from './stage.js';
export { log } from './log.js';
export { Result, Row, Verdict, run } from './testing.js';

/** The contract version (WIT package `sluice:transform`) this library implements. */
export const CONTRACT_VERSION = '0.3.0';
