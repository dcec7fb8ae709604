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
//! - [`kafka`]: everything that talks to Kafka, the only module that knows
//!   rdkafka: the source (consumer group, rebalances with MySQL-stored
//!   offsets, a queue and fetcher per partition with bounded channels, batching), the
//!   dead-letter topic, log-end offsets; every client built by one function.
//! - [`sink`]: one MySQL transaction per batch: chunked multi-row inserts,
//!   accumulating upserts, dead letters, the fenced offset update; and the
//!   counts `status` reads back. With [`db`], the only modules that know sqlx.
//! - [`pipeline`]: `sluice run`/`check`: wires source, chain and sink; the
//!   per-partition worker owns the retry policy.
//! - [`status`]: `sluice status`: lag, rows and dead letters, once or live,
//!   read through [`kafka`] and [`sink`].
//! - [`top`]: `sluice top`: a live terminal view of a running Sluice from
//!   any host that reaches its `/metrics` (records/s, lag, dead letters,
//!   batch latency, module versions); `--once` prints one frame as text.
//! - [`cli`]: the `sluice` command line; `src/bin/sluice.rs` only calls it.
//! - [`telemetry`]: logging setup.
//! - [`metrics`]: every metric's name, labels and meaning, recorded through
//!   the `metrics` facade, rendered for Prometheus.
//! - [`health`]: liveness (no wedged worker) and readiness (broker and
//!   database answer, partitions assigned, no broken stage).
//! - [`http`]: `/healthz`, `/readyz` and `/metrics` (axum), started by `run`.
//! - [`memory`]: the allocator's settings (fewer arenas, large buffers
//!   returned to the kernel), applied by the binary before any thread starts.
//! - [`transform`]: the WebAssembly sandbox: the checks on a module's bytes
//!   before compiling (not a component, compile bombs), engine, limits, one
//!   stage, the chain with poison-pill isolation; the only module that knows
//!   wasmtime and wasmparser.
//! - [`dry_run`]: `sluice try`: a pipeline's chain over a local JSONL file.
//! - [`scaffold`]: `sluice new`: a transform project in Rust, Python or
//!   JavaScript outside this repository, from `transforms/templates`.
//!
//! The binary is a thin shell over this library. The simulated AI server that
//! tests, benchmarks and the demo use is a crate of its own (`loadgen/`).

pub mod cli;
pub mod config;
pub mod db;
pub mod dry_run;
pub mod health;
pub mod http;
pub mod kafka;
pub mod memory;
pub mod metrics;
pub mod pipeline;
pub mod scaffold;
pub mod sink;
pub mod status;
pub mod telemetry;
pub mod top;
pub mod transform;
