//! The WebAssembly sandbox, and the only part of the runner that knows
//! wasmtime. Everything else uses the few types re-exported here.
//!
//! ```text
//!  TransformEngine ──load_stage──► Stage ──process(&Batch)──► StageOutput | StageFailure
//!   (one per process:               (one long-lived instance,
//!    epoch ticker, module cache)     rebuilt after a trap)
//!
//!  Chain ──run(&Batch)──► ChainOutput { per record: kept/rejected, rows per output }
//!   (stages in order,          | ChainFailure::BrokenDeploy
//!    poison-pill isolation,
//!    reload_changed on the watcher's chain, adopt on the workers')
//! ```
//!
//! Files, one concept each:
//! - `engine`: [`TransformEngine`], the process's one loader of stages.
//! - `module`: wasmtime configuration per stack size, compiling and
//!   contract-checking a module, the compiled-module cache.
//! - `cache`: compiled modules kept on disk between processes
//!   (`SLUICE_MODULE_CACHE`).
//! - `precheck`: the checks on a module's bytes before compiling: a
//!   component at all, and no larger than a transform can be (compile bombs).
//! - `epoch`: the ticker thread behind every time limit.
//! - `stage`: one loaded, initialized stage and its calls.
//! - `limits`: memory, time, stack and log limits.
//! - `host`: what a module can reach: `host.log`, capability-free WASI.
//! - `batch`: host-side records and their columnar form for the boundary.
//! - `output`: verdicts, row sets (columns as they crossed), typed values,
//!   declared outputs.
//! - `contract`: the `sluice:transform@0.3.0` version check and the checks
//!   on what a stage answers.
//! - `chain`: stages in order; `isolate` finds poison pills by splitting.
//! - `reload`: noticing changed module files; `params`: TOML to JSON.
//! - `swap`: [`Swaps`], modules compiled and tried off the batch path,
//!   waiting for each chain's next batch boundary.
//! - `error`: [`TransformError`] (loading) and [`StageFailure`] (a call).
//! - `bindings`: generated from `transforms/wit`; private to this module.

mod batch;
mod bindings;
mod cache;
mod chain;
mod contract;
mod engine;
mod epoch;
mod error;
mod host;
mod isolate;
mod limits;
mod module;
mod output;
mod params;
mod precheck;
mod reload;
mod stage;
mod swap;

pub use batch::{Batch, Record};
pub use chain::{
    BrokenWhy, Chain, ChainFailure, ChainOptions, ChainOutput, ChainSpec, OutputRows, RecordOutcome, Rejection,
    ReloadReport, StageReport, StageSpec,
};
pub use contract::{CONTRACT_PACKAGE, CONTRACT_VERSION, ContractMismatch, check_exports};
pub use engine::TransformEngine;
pub use epoch::EPOCH_TICK;
pub use error::{StageFailure, StartStep, TransformError};
pub use limits::StageLimits;
pub use output::{Column, ColumnKind, OutputDecl, RowRef, RowSet, StageOutput, Value, Verdict};
pub use params::params_json;
pub use precheck::{
    CompileLimits, MAX_CODE_BYTES, MAX_FUNCTION_BYTES, MAX_FUNCTIONS, MAX_LOCALS, MAX_MODULE_BYTES, ModuleShape,
    NotAComponent, TooLarge, check_kind, check_size,
};
pub use stage::{Seed, Stage, StageCounters};
pub use swap::Swaps;

/// Locks `m`; a panic elsewhere while holding it leaves data that is still
/// consistent here (caches and lists), so poisoning is ignored.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
