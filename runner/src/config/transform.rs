//! `[[transforms]]`: the chain of WebAssembly stages.

use std::path::PathBuf;

use serde::Deserialize;

use super::names::Name;
use super::ranged::Ranged;

/// ```toml
/// [[transforms]]
/// name = "validate"
/// module = "target/transforms/validate.wasm"
/// [transforms.params]
/// event_types = ["FOCUS", "DISTRACTED", "AWAY", "DROWSY"]
/// [transforms.limits]
/// memory_mb = 64
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    /// `name = "validate"`: the stage's name in logs, metrics and dead letters.
    pub name: toml::Spanned<Name>,
    /// `module = "target/transforms/validate.wasm"`: a component built
    /// against `sluice:transform`; relative paths start at the pipeline
    /// file's directory.
    pub module: PathBuf,
    /// `[transforms.params]`: handed to the module's `init` as JSON.
    #[serde(default)]
    pub params: toml::Table,
    /// `[transforms.limits]`: what the stage may use.
    #[serde(default)]
    pub limits: Limits,
}

/// Per-stage sandbox limits. The defaults suit small record transforms.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// `memory_mb = 64`: linear memory cap.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: Ranged<1, 4096>,
    /// `time_ms = 5000`: wall-clock budget for one call (init or one batch).
    #[serde(default = "default_time_ms")]
    pub time_ms: Ranged<1, 600_000>,
    /// `stack_kb = 512`: WebAssembly stack cap.
    #[serde(default = "default_stack_kb")]
    pub stack_kb: Ranged<64, 16_384>,
    /// `log_kb = 64`: how much a stage may log per call; the rest is dropped
    /// and counted.
    #[serde(default = "default_log_kb")]
    pub log_kb: Ranged<0, 16_384>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: default_memory_mb(),
            time_ms: default_time_ms(),
            stack_kb: default_stack_kb(),
            log_kb: default_log_kb(),
        }
    }
}

fn default_memory_mb() -> Ranged<1, 4096> {
    Ranged::new(64)
}
fn default_time_ms() -> Ranged<1, 600_000> {
    Ranged::new(5000)
}
fn default_stack_kb() -> Ranged<64, 16_384> {
    Ranged::new(512)
}
fn default_log_kb() -> Ranged<0, 16_384> {
    Ranged::new(64)
}
