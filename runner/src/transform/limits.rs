//! What one stage may use, and the memory cap that enforces `memory_mb`.
//!
//! - memory: [`MemoryCap`], a `ResourceLimiter` on the stage's store; growing
//!   past the cap traps at once (rather than letting the guest's allocator
//!   see a failed `memory.grow` and abort with a less telling trap), so the
//!   failure is reported as [`StageFailure::OutOfMemory`](super::StageFailure).
//! - time: an epoch deadline per call (init or one batch), see
//!   [`engine`](super::engine).
//! - stack: `Config::max_wasm_stack`, engine-wide in wasmtime, so the engine
//!   keeps one wasmtime engine per distinct `stack_kb`.
//! - logs: `log_kb` per call, see [`host`](super::host).

use std::time::Duration;

use crate::config::Limits;

/// Limits of one stage, in the units the sandbox needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageLimits {
    pub memory_mb: u64,
    pub time_ms: u64,
    pub stack_kb: u64,
    pub log_kb: u64,
}

impl From<Limits> for StageLimits {
    fn from(l: Limits) -> Self {
        StageLimits {
            memory_mb: l.memory_mb.get(),
            time_ms: l.time_ms.get(),
            stack_kb: l.stack_kb.get(),
            log_kb: l.log_kb.get(),
        }
    }
}

impl Default for StageLimits {
    fn default() -> Self {
        Limits::default().into()
    }
}

impl StageLimits {
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    pub fn stack_bytes(&self) -> usize {
        usize::try_from(self.stack_kb.saturating_mul(1 << 10)).unwrap_or(usize::MAX)
    }

    pub fn log_bytes(&self) -> usize {
        usize::try_from(self.log_kb.saturating_mul(1 << 10)).unwrap_or(usize::MAX)
    }

    pub fn time(&self) -> Duration {
        Duration::from_millis(self.time_ms)
    }
}

/// The error a denied `memory.grow` traps with; found again when the call's
/// error is classified.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit_mb} MiB reached (the module asked for {desired_bytes} bytes)")]
pub(crate) struct MemoryLimitHit {
    pub limit_mb: u64,
    pub desired_bytes: usize,
}

/// Caps every linear memory of an instance at `max_bytes`, and tables and
/// instance counts at sizes no sane transform comes near.
#[derive(Debug)]
pub(crate) struct MemoryCap {
    pub max_bytes: usize,
    pub limit_mb: u64,
    /// Set when a growth was denied, in case the guest's error hides ours.
    pub hit: bool,
}

const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Err(MemoryLimitHit { limit_mb: self.limit_mb, desired_bytes: desired }.into());
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use wasmtime::ResourceLimiter;

    use super::*;

    #[test]
    fn units() {
        let l = StageLimits { memory_mb: 2, time_ms: 30, stack_kb: 64, log_kb: 1 };
        assert_eq!(l.memory_bytes(), 2 << 20);
        assert_eq!(l.stack_bytes(), 64 << 10);
        assert_eq!(l.log_bytes(), 1024);
        assert_eq!(l.time(), Duration::from_millis(30));
        assert_eq!(StageLimits::default().memory_mb, 64);
    }

    #[test]
    fn cap_denies_growth_past_the_limit() {
        let mut cap = MemoryCap { max_bytes: 1 << 20, limit_mb: 1, hit: false };
        assert!(cap.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!cap.hit);
        let err = cap.memory_growing(1 << 20, 2 << 20, None).unwrap_err();
        assert!(err.downcast_ref::<MemoryLimitHit>().is_some());
        assert!(cap.hit);
    }
}
