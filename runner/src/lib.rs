//! Sluice moves events from Kafka into MySQL through WebAssembly transforms.
//!
//! ```text
//!  Kafka ─► source ─► transform chain ─► sink ─► MySQL (rows + stats + dead letters + offsets,
//!           (batches     (one wasm call      one transaction per batch)
//!            per          per batch
//!            partition)   per stage)
//! ```
//!
//! Where things live:
//!
//! - [`config`]: `pipeline.toml`: schema, `${VAR}` expansion, strict parsing
//!   with errors that name file, line and field, cross-field checks.
//! - [`db`]: the MySQL side: migrations (`migrations/` at the repo root,
//!   embedded), connection pool.
//! - [`source`]: the Kafka consumer: rebalances with MySQL-stored offsets,
//!   per-partition bounded queues with pause/resume, batching.
//! - [`sink`]: one MySQL transaction per batch: chunked multi-row inserts,
//!   accumulating upserts, dead letters, the fenced offset update.
//! - [`pipeline`]: `sluice run`/`check`: wires source, chain and sink; the
//!   per-partition worker owns the retry policy.
//! - [`status`]: `sluice status`: lag, rows and dead letters, once or live.
//! - [`cli`]: the `sluice` command line; `src/bin/sluice.rs` only calls it.
//! - [`telemetry`]: logging setup.
//! - [`transform`]: the WebAssembly sandbox: engine, limits, one stage, the
//!   chain with poison-pill isolation; the only module that knows wasmtime.
//! - [`dry_run`]: `sluice try`: a pipeline's chain over a local JSONL file.
//! - [`loadgen`]: the simulated AI server used by tests, benchmarks and the
//!   demo (`src/bin/loadgen.rs`).
//!
//! The binaries are thin shells over this library.

pub mod cli;
pub mod config;
pub mod db;
pub mod dry_run;
pub mod loadgen;
pub mod pipeline;
pub mod sink;
pub mod source;
pub mod status;
pub mod telemetry;
pub mod transform;
