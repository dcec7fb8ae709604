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
//! - [`cli`]: the `sluice` command line; `src/bin/sluice.rs` only calls it.
//! - [`telemetry`]: logging setup.
//! - [`loadgen`]: the simulated AI server used by tests, benchmarks and the
//!   demo (`src/bin/loadgen.rs`).
//!
//! The binaries are thin shells over this library.

pub mod cli;
pub mod config;
pub mod db;
pub mod loadgen;
pub mod telemetry;
