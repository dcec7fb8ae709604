//! A compiled transform module, and the wasmtime engine it was compiled
//! for: one engine per stack size, with its linker and module cache.
//!
//! Loading a module, in order: the cache; the checks on its bytes
//! ([`precheck`](super::precheck): a component, of a size a transform can
//! have); compiling; the contract version; linking its imports.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, OptLevel};

use super::bindings::TransformPre;
use super::contract::check_exports;
use super::epoch::Ticker;
use super::error::TransformError;
use super::host::HostState;
use super::lock;
use super::precheck::{CompileLimits, check_kind, check_size};

/// A wasmtime engine for one stack size, with its linker and module cache.
pub(crate) struct EngineGroup {
    pub(crate) engine: Engine,
    linker: Linker<HostState>,
    /// Held while looking up and compiling, so that stages loading the
    /// same module at once compile it once.
    cache: Mutex<HashMap<[u8; 32], Weak<CompiledModule>>>,
    /// Keeps the ticker running while a module of this engine lives.
    _ticker: Arc<Ticker>,
}

/// A compiled, linked, contract-checked module, shared by every stage that
/// loads the same bytes with the same stack size.
pub(crate) struct CompiledModule {
    pub(crate) hash: [u8; 32],
    pub(crate) pre: TransformPre<HostState>,
    pub(crate) group: Arc<EngineGroup>,
}

impl EngineGroup {
    pub(super) fn new(stack_kb: u64, ticker: Arc<Ticker>) -> Result<EngineGroup, TransformError> {
        let stack = usize::try_from(stack_kb << 10).unwrap_or(usize::MAX);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .cranelift_opt_level(OptLevel::Speed)
            .parallel_compilation(true)
            .max_wasm_stack(stack)
            // wasmtime refuses a wasm stack larger than the stack it would
            // give an async call (2 MiB by default), async calls or not.
            .async_stack_size(stack.max(2 << 20))
            .cache(super::cache::shared());
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
    pub(super) fn module(
        self: &Arc<Self>,
        stage: &str,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Arc<CompiledModule>, TransformError> {
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        let mut cache = lock(&self.cache);
        if let Some(module) = cache.get(&hash).and_then(Weak::upgrade) {
            return Ok(module);
        }
        let compile_err =
            |message: String| TransformError::Compile { stage: stage.to_string(), path: path.to_path_buf(), message };
        check_kind(bytes).map_err(|found| TransformError::NotAComponent {
            stage: stage.to_string(),
            path: path.to_path_buf(),
            found,
        })?;
        let started = std::time::Instant::now();
        let shape = check_size(bytes, &CompileLimits::DEFAULT).map_err(|what| TransformError::TooLarge {
            stage: stage.to_string(),
            path: path.to_path_buf(),
            what,
        })?;
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
            functions = shape.functions,
            code_bytes = shape.code_bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled transform module"
        );
        let module = Arc::new(CompiledModule { hash, pre, group: self.clone() });
        cache.retain(|_, m| m.strong_count() > 0);
        cache.insert(hash, Arc::downgrade(&module));
        Ok(module)
    }
}
