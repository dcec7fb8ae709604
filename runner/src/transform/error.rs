//! What can go wrong: loading a stage ([`TransformError`]) and running one
//! call ([`StageFailure`]).

use std::path::PathBuf;

use super::contract::ContractMismatch;
use super::precheck::{NotAComponent, TooLarge};

/// A stage could not be loaded or started. Raised by
/// [`TransformEngine::load_stage`](super::TransformEngine::load_stage), so at
/// start-up or on a reload; the message names the stage and the module.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),

    #[error("stage \"{stage}\": cannot read module {}: {source}", path.display())]
    Read {
        stage: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file is not a component: empty, not WebAssembly, or a core module.
    #[error("stage \"{stage}\": {} is not a WebAssembly component: {found}", path.display())]
    NotAComponent { stage: String, path: PathBuf, found: NotAComponent },

    /// Refused before compiling: larger than a transform can be (see
    /// [`precheck`](super::precheck)), as a compile bomb is.
    #[error("stage \"{stage}\": {} is too large to compile: {what}", path.display())]
    TooLarge { stage: String, path: PathBuf, what: TooLarge },

    /// wasmtime refused it: invalid, or a component of another version.
    #[error("stage \"{stage}\": {} is not a usable WebAssembly component: {message}", path.display())]
    Compile { stage: String, path: PathBuf, message: String },

    #[error("stage \"{stage}\": {}: {mismatch}", path.display())]
    Contract { stage: String, path: PathBuf, mismatch: ContractMismatch },

    #[error("stage \"{stage}\": {} needs imports this host does not provide \
             (transforms get only sluice:transform/host and WASI without any capability): {message}",
            path.display())]
    Link { stage: String, path: PathBuf, message: String },

    #[error("stage \"{stage}\": params cannot be handed to the module: {message}")]
    Params { stage: String, message: String },

    #[error("stage \"{stage}\" refused its params: {message}")]
    InitRejected { stage: String, message: String },

    /// Instantiating the module or its `init` failed: trapped, or went over
    /// a limit (`time_ms` applies to `init` as to each batch).
    #[error("stage \"{stage}\" failed in {step}: {failure}")]
    StartFailed { stage: String, step: StartStep, failure: StageFailure },

    #[error("stage \"{stage}\" declared unusable outputs: {message}")]
    Outputs { stage: String, message: String },
}

/// Which step of starting a stage failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartStep {
    /// Instantiating the component (its core modules' start functions).
    Instantiate,
    /// The module's `init`.
    Init,
}

impl std::fmt::Display for StartStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StartStep::Instantiate => "instantiation",
            StartStep::Init => "init",
        })
    }
}

/// Why one call into a stage failed.
///
/// The first four are the sandbox containing the module (the instance is
/// then thrown away and rebuilt before the next call); the chain isolates the
/// records that cause them. The others are the module saying or showing it is
/// broken, which the chain treats as a broken deploy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StageFailure {
    /// The guest trapped. A Rust panic is a trap too; the message then starts
    /// with `panicked at`.
    #[error("trapped: {0}")]
    Trap(String),
    /// The call ran past `limits.time_ms`.
    #[error("timed out after {limit_ms} ms")]
    Timeout { limit_ms: u64 },
    /// The module tried to grow its memory past `limits.memory_mb`.
    #[error("ran out of memory (limit {limit_mb} MiB)")]
    OutOfMemory { limit_mb: u64 },
    /// The module's stack went past `limits.stack_kb`, or it recursed until
    /// its own stack in linear memory ran out (reported alike).
    #[error("overflowed its stack (limit {limit_kb} KiB)")]
    StackOverflow { limit_kb: u64 },
    /// `process` returned an error: the module refuses the whole batch.
    #[error("returned an error: {0}")]
    GuestError(String),
    /// The module's answer breaks the contract (verdict count, outputs,
    /// column kinds, source indices).
    #[error("broke the contract: {0}")]
    Contract(String),
    /// After an earlier failure the stage could not be started again.
    #[error("could not be restarted: {0}")]
    Restart(String),
}

impl StageFailure {
    /// True for the failures the sandbox contained (trap, timeout, memory,
    /// stack): the instance is discarded, and the records that cause them can
    /// be found by splitting the batch. False for failures that are about the
    /// module rather than the data.
    pub fn is_contained(&self) -> bool {
        matches!(
            self,
            StageFailure::Trap(_)
                | StageFailure::Timeout { .. }
                | StageFailure::OutOfMemory { .. }
                | StageFailure::StackOverflow { .. }
        )
    }

    /// A short word for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            StageFailure::Trap(_) => "trap",
            StageFailure::Timeout { .. } => "timeout",
            StageFailure::OutOfMemory { .. } => "out_of_memory",
            StageFailure::StackOverflow { .. } => "stack_overflow",
            StageFailure::GuestError(_) => "guest_error",
            StageFailure::Contract(_) => "contract",
            StageFailure::Restart(_) => "restart",
        }
    }
}
