//! The one [`TransformEngine`] of a process: wasmtime configuration, the
//! epoch ticker behind every time limit, and the compiled-module cache.
//!
//! Policy fixed here:
//! - Cranelift at `speed`, parallel compilation, epoch interruption on.
//! - One epoch tick every [`EPOCH_TICK`] on a thread of its own; a call may
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
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, OptLevel};

use super::bindings::TransformPre;
use super::contract::check_exports;
use super::error::TransformError;
use super::host::HostState;
use super::limits::StageLimits;
use super::stage::{ModuleSource, Stage};

/// How often the epoch advances; the granularity of `time_ms`.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Loads stages. One per process; cheap to clone (clones share everything).
#[derive(Clone)]
pub struct TransformEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    ticker: Arc<Ticker>,
    groups: Mutex<HashMap<u64, Arc<EngineGroup>>>,
}

/// The engines the ticker thread advances. The thread holds it weakly and
/// stops once the last engine, stage and module are gone.
struct Ticker {
    engines: Mutex<Vec<Engine>>,
}

/// A wasmtime engine for one stack size, with its linker and module cache.
pub(crate) struct EngineGroup {
    pub(crate) engine: Engine,
    linker: Linker<HostState>,
    /// Held while looking up and compiling, so that stages loading the
    /// same module at once compile it once.
    cache: Mutex<HashMap<[u8; 32], Weak<CompiledModule>>>,
    _ticker: Arc<Ticker>,
}

/// A compiled, linked, contract-checked module, shared by every stage that
/// loads the same bytes with the same stack size.
pub(crate) struct CompiledModule {
    pub(crate) hash: [u8; 32],
    pub(crate) pre: TransformPre<HostState>,
    pub(crate) group: Arc<EngineGroup>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TransformEngine {
    /// Sets up the engine for the default stack size and starts the ticker.
    pub fn new() -> Result<TransformEngine, TransformError> {
        let ticker = Arc::new(Ticker { engines: Mutex::new(Vec::new()) });
        let weak = Arc::downgrade(&ticker);
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || tick(weak))
            .map_err(|e| TransformError::Engine(format!("cannot start the epoch thread: {e}")))?;
        let engine = TransformEngine { inner: Arc::new(EngineInner { ticker, groups: Mutex::new(HashMap::new()) }) };
        engine.group(StageLimits::default().stack_kb)?;
        Ok(engine)
    }

    /// Loads `path` as stage `name`: reads and compiles it (or takes it from
    /// the cache), checks that it exports `sluice:transform/stage@0.2.0`,
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
        lock(&self.inner.ticker.engines).push(group.engine.clone());
        groups.insert(stack_kb, group.clone());
        Ok(group)
    }
}

fn tick(ticker: Weak<Ticker>) {
    loop {
        std::thread::sleep(EPOCH_TICK);
        let Some(ticker) = ticker.upgrade() else { return };
        for engine in lock(&ticker.engines).iter() {
            engine.increment_epoch();
        }
    }
}

/// Ticks to allow for a call of `time_ms`: rounded up, plus one because the
/// first tick may come at once.
pub(crate) fn deadline_ticks(time_ms: u64) -> u64 {
    let tick_ms = EPOCH_TICK.as_millis() as u64;
    time_ms.div_ceil(tick_ms) + 1
}

impl EngineGroup {
    fn new(stack_kb: u64, ticker: Arc<Ticker>) -> Result<EngineGroup, TransformError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .cranelift_opt_level(OptLevel::Speed)
            .parallel_compilation(true)
            .max_wasm_stack(usize::try_from(stack_kb << 10).unwrap_or(usize::MAX));
        if std::env::var_os("SLUICE_WASM_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| TransformError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        super::host::add_to_linker(&mut linker)
            .map_err(|e| TransformError::Engine(format!("cannot link the host interfaces: {e:#}")))?;
        Ok(EngineGroup { engine, linker, cache: Mutex::new(HashMap::new()), _ticker: ticker })
    }

    /// The compiled module for `bytes`, from the cache or compiled now.
    fn module(self: &Arc<Self>, stage: &str, path: &Path, bytes: &[u8]) -> Result<Arc<CompiledModule>, TransformError> {
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        let mut cache = lock(&self.cache);
        if let Some(module) = cache.get(&hash).and_then(Weak::upgrade) {
            return Ok(module);
        }
        let compile_err =
            |message: String| TransformError::Compile { stage: stage.to_string(), path: path.to_path_buf(), message };
        if let Some(message) = not_a_component(bytes) {
            return Err(compile_err(message));
        }
        let started = std::time::Instant::now();
        let component = Component::new(&self.engine, bytes).map_err(|e| compile_err(format!("{e:#}")))?;
        let ty = component.component_type();
        check_exports(ty.exports(&self.engine).map(|(name, _)| name)).map_err(|mismatch| TransformError::Contract {
            stage: stage.to_string(),
            path: path.to_path_buf(),
            mismatch,
        })?;
        let instance_pre = self.linker.instantiate_pre(&component).map_err(|e| TransformError::Link {
            stage: stage.to_string(),
            path: path.to_path_buf(),
            message: format!("{e:#}"),
        })?;
        let pre = TransformPre::new(instance_pre).map_err(|e| compile_err(format!("{e:#}")))?;
        tracing::info!(
            stage,
            module = %path.display(),
            sha256 = %hex::encode(&hash[..8]),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled transform module"
        );
        let module = Arc::new(CompiledModule { hash, pre, group: self.clone() });
        cache.retain(|_, m| m.strong_count() > 0);
        cache.insert(hash, Arc::downgrade(&module));
        Ok(module)
    }
}

/// A friendlier word than the parser's for the usual mistakes: a core
/// module (built for `wasm32-unknown-unknown`, or `wasip1` without the
/// component adapter) or not WebAssembly at all.
fn not_a_component(bytes: &[u8]) -> Option<String> {
    match bytes {
        [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => Some(
            "it is a core WebAssembly module, not a component; build it for wasm32-wasip2 \
             (scripts/build-transforms)"
                .to_string(),
        ),
        [0, b'a', b's', b'm', ..] => None,
        _ => Some("it is not WebAssembly (no \\0asm header)".to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn deadline_rounds_up_and_adds_a_tick() {
        assert_eq!(deadline_ticks(1), 2);
        assert_eq!(deadline_ticks(10), 2);
        assert_eq!(deadline_ticks(11), 3);
        assert_eq!(deadline_ticks(5000), 501);
    }

    #[test]
    fn header_check() {
        assert!(not_a_component(b"\0asm\x01\0\0\0rest").unwrap().contains("core WebAssembly module"));
        assert!(not_a_component(b"hello").unwrap().contains("not WebAssembly"));
        assert_eq!(not_a_component(b"\0asm\x0d\0\x01\0"), None);
    }

    #[test]
    fn stack_room() {
        let small = StageLimits { stack_kb: 64, ..StageLimits::default() };
        let big = StageLimits { stack_kb: 8192, ..StageLimits::default() };
        assert_eq!(TransformEngine::thread_stack_bytes([&small]), (512 << 10) + (2 << 20));
        assert_eq!(TransformEngine::thread_stack_bytes([&small, &big]), (8192 << 10) + (2 << 20));
    }

    #[test]
    fn garbage_is_a_compile_error_naming_the_stage() {
        let engine = TransformEngine::new().unwrap();
        let source =
            ModuleSource { path: "x.wasm".into(), params: toml::Table::new(), fingerprint: Default::default() };
        let err = engine.load_bytes("s", b"nope", source, StageLimits::default()).unwrap_err();
        assert!(err.to_string().starts_with("stage \"s\": x.wasm is not a usable WebAssembly component"), "{err}");
    }
}
