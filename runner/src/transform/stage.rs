//! One loaded, initialized stage: a long-lived instance in its own store,
//! called once per batch under the stage's limits.
//!
//! After a contained failure (trap, timeout, memory, stack) the instance is
//! dropped with its store; the next call builds a fresh one from the
//! pre-instantiated module and calls `init` again before processing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::Store;

use super::batch::{Batch, Columnar};
use super::bindings::Transform;
use super::contract::{output_from_wit, outputs_from_wit};
use super::epoch::deadline_ticks;
use super::error::{StageFailure, StartStep, TransformError};
use super::host::HostState;
use super::limits::{MemoryLimitHit, StageLimits};
use super::module::CompiledModule;
use super::output::{Answer, OutputDecl, StageOutput};
use super::params::params_json;
use super::reload::Fingerprint;

/// Where a stage's module came from, to reload it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModuleSource {
    pub path: PathBuf,
    pub params: toml::Table,
    pub fingerprint: Fingerprint,
}

/// Counters over a stage's life, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCounters {
    /// `process` calls made.
    pub calls: u64,
    /// Calls that failed, of any kind.
    pub failures: u64,
    /// Fresh instances built after a contained failure.
    pub restarts: u64,
    /// Log messages dropped over the log budget.
    pub log_dropped: u64,
}

/// A stage ready to process batches. Not `Sync`: one caller at a time.
pub struct Stage {
    name: Arc<str>,
    module: Arc<CompiledModule>,
    source: ModuleSource,
    limits: StageLimits,
    params_json: String,
    outputs: Vec<OutputDecl>,
    live: Option<Live>,
    columnar: Columnar,
    counters: StageCounters,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage")
            .field("name", &self.name)
            .field("module", &self.source.path)
            .field("sha256", &hex::encode(&self.module.hash[..8]))
            .field("limits", &self.limits)
            .field("outputs", &self.outputs)
            .field("live", &self.live.is_some())
            .field("counters", &self.counters)
            .finish()
    }
}

struct Live {
    store: Store<HostState>,
    guest: Transform,
}

/// Why starting an instance failed.
enum StartError {
    Rejected(String),
    Failure(StartStep, StageFailure),
    Outputs(String),
}

/// A stage's compiled module, with its source and limits: starts instances
/// of it without compiling (a module swapped in by the watcher, taken by
/// each partition's chain at a batch boundary).
pub struct Seed {
    name: String,
    module: Arc<CompiledModule>,
    source: ModuleSource,
    limits: StageLimits,
}

impl Seed {
    pub fn stage(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the module's bytes.
    pub fn sha256(&self) -> [u8; 32] {
        self.module.hash
    }

    /// A new instance, `init` run.
    pub fn start(&self) -> Result<Stage, TransformError> {
        Stage::start(&self.name, self.module.clone(), self.source.clone(), self.limits)
    }
}

impl Stage {
    pub(crate) fn start(
        name: &str,
        module: Arc<CompiledModule>,
        source: ModuleSource,
        limits: StageLimits,
    ) -> Result<Stage, TransformError> {
        let params_json = params_json(&source.params)
            .map_err(|message| TransformError::Params { stage: name.to_string(), message })?;
        let mut stage = Stage {
            name: name.into(),
            module,
            source,
            limits,
            params_json,
            outputs: Vec::new(),
            live: None,
            columnar: Columnar::default(),
            counters: StageCounters::default(),
        };
        let (live, outputs) = stage.instantiate().map_err(|e| match e {
            StartError::Rejected(message) => TransformError::InitRejected { stage: name.to_string(), message },
            StartError::Failure(step, failure) => {
                TransformError::StartFailed { stage: name.to_string(), step, failure }
            }
            StartError::Outputs(message) => TransformError::Outputs { stage: name.to_string(), message },
        })?;
        stage.live = Some(live);
        stage.outputs = outputs;
        Ok(stage)
    }

    /// The stage's name from `pipeline.toml`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The side outputs the module declared at init, in its order (a row's
    /// `output` indexes this).
    pub fn outputs(&self) -> &[OutputDecl] {
        &self.outputs
    }

    pub fn limits(&self) -> StageLimits {
        self.limits
    }

    /// The module file it was loaded from.
    pub fn module_path(&self) -> &Path {
        &self.source.path
    }

    /// SHA-256 of the module's bytes, in hex.
    pub fn module_sha256(&self) -> String {
        hex::encode(self.module.hash)
    }

    /// What it takes to start another instance of this stage's module
    /// (compiled already: instantiating and `init` only).
    pub fn seed(&self) -> Seed {
        Seed {
            name: self.name.to_string(),
            module: self.module.clone(),
            source: self.source.clone(),
            limits: self.limits,
        }
    }

    pub fn counters(&self) -> StageCounters {
        self.counters
    }

    pub(crate) fn source(&self) -> &ModuleSource {
        &self.source
    }

    pub(crate) fn set_fingerprint(&mut self, fingerprint: Fingerprint) {
        self.source.fingerprint = fingerprint;
    }

    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.name.clone()
    }

    /// Runs the batch through the stage. On `Ok`, the answer has been checked
    /// against the contract: one verdict per record, rows that fit the
    /// declared outputs.
    pub fn process(&mut self, batch: &Batch) -> Result<StageOutput, StageFailure> {
        self.process_with(&batch.topic, batch.partition, |c| {
            for r in &batch.records {
                c.push(r, &r.value);
            }
            None
        })
        .map(StageOutput::from)
    }

    /// Like [`process`](Self::process) with the batch built by `fill`, which
    /// lets the chain pass a subset of records with replaced values; the
    /// answer as it crossed. `fill` returns the buffer that holds the
    /// values when it pushed them with [`Columnar::push_shared`].
    pub(crate) fn process_with<'v>(
        &mut self,
        topic: &str,
        partition: i32,
        fill: impl FnOnce(&mut Columnar) -> Option<&'v [u8]>,
    ) -> Result<Answer, StageFailure> {
        let live = match &mut self.live {
            Some(live) => live,
            None => {
                let (live, outputs) = self.instantiate().map_err(|e| {
                    self.counters.failures += 1;
                    StageFailure::Restart(match e {
                        StartError::Rejected(m) => format!("init returned an error: {m}"),
                        StartError::Failure(step, f) => format!("{step} {f}"),
                        StartError::Outputs(m) => m,
                    })
                })?;
                if outputs != self.outputs {
                    self.counters.failures += 1;
                    return Err(StageFailure::Restart("init declared other outputs than the first time".into()));
                }
                self.counters.restarts += 1;
                self.live.insert(live)
            }
        };
        self.columnar.start(topic, partition);
        let shared = fill(&mut self.columnar);
        let records = self.columnar.len();
        let headers = self.columnar.headers();
        let batch = self.columnar.batch(&headers, shared);

        live.store.set_epoch_deadline(deadline_ticks(self.limits.time_ms));
        live.store.data_mut().begin_call();
        let result = live.guest.sluice_transform_stage().call_process(&mut live.store, batch);
        let panic = live.store.data_mut().end_call();
        self.counters.calls += 1;
        self.counters.log_dropped = live.store.data().log.dropped_total;
        let outcome = match result {
            Ok(Ok(out)) => output_from_wit(out, records, &self.outputs).map_err(StageFailure::Contract),
            Ok(Err(message)) => Err(StageFailure::GuestError(message)),
            Err(error) => {
                let failure = classify(&error, panic, live.store.data().memory.hit, &self.limits);
                // The instance may be in any state now: never call it again.
                self.live = None;
                Err(failure)
            }
        };
        if outcome.is_err() {
            self.counters.failures += 1;
        }
        outcome
    }

    /// A fresh store and instance, initialized.
    fn instantiate(&self) -> Result<(Live, Vec<OutputDecl>), StartError> {
        let engine = &self.module.group.engine;
        let mut store = Store::new(engine, HostState::new(self.name.clone(), &self.limits));
        store.limiter(|s| &mut s.memory);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(deadline_ticks(self.limits.time_ms));
        store.data_mut().begin_call();
        let guest = match self.module.pre.instantiate(&mut store) {
            Ok(guest) => guest,
            Err(error) => {
                let panic = store.data_mut().end_call();
                let failure = classify(&error, panic, store.data().memory.hit, &self.limits);
                return Err(StartError::Failure(StartStep::Instantiate, failure));
            }
        };
        let result = guest.sluice_transform_stage().call_init(&mut store, &self.params_json);
        let panic = store.data_mut().end_call();
        match result {
            Ok(Ok(info)) => {
                let outputs = outputs_from_wit(info).map_err(StartError::Outputs)?;
                Ok((Live { store, guest }, outputs))
            }
            Ok(Err(message)) => Err(StartError::Rejected(message)),
            Err(error) => Err(StartError::Failure(
                StartStep::Init,
                classify(&error, panic, store.data().memory.hit, &self.limits),
            )),
        }
    }
}

/// Frames of the trap's backtrace looked at for recursion (wasmtime keeps
/// the innermost 20 by default).
const RECURSION_FRAMES: usize = 16;

/// True when the innermost frames are a few functions calling each other
/// over and over: the shape of a stack overflow.
fn looks_recursive(backtrace: &wasmtime::WasmBacktrace) -> bool {
    let frames = backtrace.frames();
    if frames.len() < RECURSION_FRAMES {
        return false;
    }
    let mut distinct: Vec<u32> = frames[..RECURSION_FRAMES].iter().map(|f| f.func_index()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len() <= 3
}

/// Sorts a failed call's error into a [`StageFailure`].
fn classify(error: &wasmtime::Error, panic: Option<String>, memory_hit: bool, limits: &StageLimits) -> StageFailure {
    if memory_hit || error.chain().any(|e| e.is::<MemoryLimitHit>()) {
        return StageFailure::OutOfMemory { limit_mb: limits.memory_mb };
    }
    let backtrace = error.downcast_ref::<wasmtime::WasmBacktrace>();
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => StageFailure::Timeout { limit_ms: limits.time_ms },
        Some(wasmtime::Trap::StackOverflow) => StageFailure::StackOverflow { limit_kb: limits.stack_kb },
        Some(wasmtime::Trap::MemoryOutOfBounds) if panic.is_none() && backtrace.is_some_and(looks_recursive) => {
            // Compilers to wasm keep most of a function's frame on a stack
            // in linear memory, placed first so that overflowing it runs
            // below address 0: deep recursion then ends in an out-of-bounds
            // access before the wasm stack limit is reached.
            StageFailure::StackOverflow { limit_kb: limits.stack_kb }
        }
        Some(trap) => StageFailure::Trap(panic.unwrap_or_else(|| {
            let place = backtrace.and_then(|bt| bt.frames().iter().find_map(|f| f.func_name().map(str::to_string)));
            match place {
                Some(func) => format!("{trap} in {func}"),
                None => trap.to_string(),
            }
        })),
        // Not a wasm trap: a host function or the boundary itself failed
        // (for instance a string that is not valid UTF-8 on the way back).
        None => StageFailure::Trap(panic.unwrap_or_else(|| format!("{error:#}"))),
    }
}
