//! The WebAssembly sandbox (WIP).
mod batch;
pub(crate) mod bindings;
mod contract;
mod engine;
mod error;
mod host;
mod limits;
mod output;
mod params;
mod reload;
mod stage;

pub use batch::{Batch, Record};
pub use contract::{CONTRACT_PACKAGE, CONTRACT_VERSION, ContractMismatch, check_exports};
pub use engine::{EPOCH_TICK, TransformEngine};
pub use error::{StageFailure, TransformError};
pub use limits::StageLimits;
pub use output::{Column, ColumnKind, OutputDecl, Row, StageOutput, Value, Verdict};
pub use params::params_json;
pub use stage::{Stage, StageCounters};
