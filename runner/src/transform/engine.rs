//! The one [`TransformEngine`] of a process: wasmtime configuration, the
//! epoch ticker behind every time limit, and the compiled-module cache.
//!
//! Policy fixed here:
//! - Cranelift at `speed`, parallel compilation, epoch interruption on.
//! - One epoch tick every [`EPOCH_TICK`](super::EPOCH_TICK) on a thread of its own; a call may
//!   run `time_ms` rounded up to whole ticks, plus one.
//! - `max_wasm_stack` is engine-wide in wasmtime, so there is one wasmtime
//!   engine per distinct `stack_kb` (normally one: every stage keeps the
//!   default). Wasm runs on the calling thread's stack: call stages from a
//!   thread with at least `stack_kb` + 1 MiB of stack (see
//!   [`TransformEngine::thread_stack_bytes`]).
//! - Modules are compiled when a stage is loaded, never on the batch path,
//!   and cached in memory by the SHA-256 of their bytes for as long as a
//!   stage uses them. Nothing is ever deserialized from disk: the host only
//!   runs code it compiled itself in this process.
//! - `SLUICE_WASM_PERFMAP=1` in the environment makes wasmtime write
//!   `/tmp/perf-<pid>.map`, so that `perf` can name the modules' functions.
//! - No pooling allocator: instances are long-lived (one per stage, rebuilt
//!   only after a trap), so instantiation speed is off the hot path and the
//!   on-demand allocator's lazily committed memory suits a few stages better
//!   than reserved slots.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::epoch::Ticker;
use super::error::TransformError;
use super::limits::StageLimits;
use super::lock;
use super::module::EngineGroup;
use super::stage::{ModuleSource, Stage};

/// Loads stages. One per process; cheap to clone (clones share everything).
#[derive(Clone)]
pub struct TransformEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    ticker: Arc<Ticker>,
    groups: Mutex<HashMap<u64, Arc<EngineGroup>>>,
}

impl TransformEngine {
    /// Sets up the engine for the default stack size and starts the ticker.
    pub fn new() -> Result<TransformEngine, TransformError> {
        let ticker =
            Ticker::start().map_err(|e| TransformError::Engine(format!("cannot start the epoch thread: {e}")))?;
        let engine = TransformEngine { inner: Arc::new(EngineInner { ticker, groups: Mutex::new(HashMap::new()) }) };
        engine.group(StageLimits::default().stack_kb)?;
        Ok(engine)
    }

    /// Loads `path` as stage `name`: reads and compiles it (or takes it from
    /// the cache), checks that it exports `sluice:transform/stage@0.3.0`,
    /// instantiates it and calls `init` with `params` as JSON, under
    /// `limits`. The stage is ready for [`Stage::process`].
    pub fn load_stage(
        &self,
        name: &str,
        path: &Path,
        params: &toml::Table,
        limits: impl Into<StageLimits>,
    ) -> Result<Stage, TransformError> {
        let (bytes, fingerprint) = super::reload::read_module(path).map_err(|source| TransformError::Read {
            stage: name.to_string(),
            path: path.to_path_buf(),
            source,
        })?;
        let source = ModuleSource { path: path.to_path_buf(), params: params.clone(), fingerprint };
        self.load_bytes(name, &bytes, source, limits.into())
    }

    /// The smallest thread stack that can run stages with these limits: the
    /// wasm stack limit plus room for the host's own frames.
    pub fn thread_stack_bytes<'a>(limits: impl IntoIterator<Item = &'a StageLimits>) -> usize {
        let wasm = limits.into_iter().map(StageLimits::stack_bytes).max().unwrap_or(0);
        wasm.max(StageLimits::default().stack_bytes()) + (2 << 20)
    }

    pub(crate) fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
        source: ModuleSource,
        limits: StageLimits,
    ) -> Result<Stage, TransformError> {
        let group = self.group(limits.stack_kb)?;
        let module = group.module(name, &source.path, bytes)?;
        Stage::start(name, module, source, limits)
    }

    fn group(&self, stack_kb: u64) -> Result<Arc<EngineGroup>, TransformError> {
        let mut groups = lock(&self.inner.groups);
        if let Some(g) = groups.get(&stack_kb) {
            return Ok(g.clone());
        }
        let group = Arc::new(EngineGroup::new(stack_kb, self.inner.ticker.clone())?);
        self.inner.ticker.add(group.engine.clone());
        groups.insert(stack_kb, group.clone());
        Ok(group)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stack_room() {
        let small = StageLimits { stack_kb: 64, ..StageLimits::default() };
        let big = StageLimits { stack_kb: 8192, ..StageLimits::default() };
        assert_eq!(TransformEngine::thread_stack_bytes([&small]), (512 << 10) + (2 << 20));
        assert_eq!(TransformEngine::thread_stack_bytes([&small, &big]), (8192 << 10) + (2 << 20));
    }

    #[test]
    fn every_stack_size_the_config_allows_makes_an_engine() {
        let engine = TransformEngine::new().unwrap();
        for stack_kb in [64, 2048, 4096, 16_384] {
            engine.group(stack_kb).unwrap_or_else(|e| panic!("stack_kb = {stack_kb}: {e}"));
        }
    }

    #[test]
    fn garbage_is_a_compile_error_naming_the_stage() {
        let engine = TransformEngine::new().unwrap();
        let source =
            ModuleSource { path: "x.wasm".into(), params: toml::Table::new(), fingerprint: Default::default() };
        let err = engine.load_bytes("s", b"nope", source.clone(), StageLimits::default()).unwrap_err();
        assert!(err.to_string().starts_with("stage \"s\": x.wasm is not a WebAssembly component"), "{err}");
        // A component header with nothing valid after it: wasmtime's words.
        let err = engine.load_bytes("s", b"\0asm\x0d\0\x01\0\xff", source, StageLimits::default()).unwrap_err();
        assert!(matches!(err, TransformError::Compile { .. }), "{err:?}");
        assert!(err.to_string().starts_with("stage \"s\": x.wasm is not a usable WebAssembly component"), "{err}");
    }
}
