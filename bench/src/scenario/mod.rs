//! The scenarios, each a function from the context to its JSON result.
//!
//! - [`sizes`]: how big each one is, full or `--quick`.
//! - [`consume`]: one system draining a filled topic into a fresh database,
//!   watched through its committed offsets (shared by drain, rss, batch-sizes).
//! - [`ceiling`](mod@ceiling): the `ceiling` binary on a fresh database.
//! - [`drain`], [`catchup`], [`latency`], [`rss`], [`batch_sizes`]: the five.

pub mod batch_sizes;
pub mod catchup;
pub mod ceiling;
pub mod consume;
pub mod drain;
pub mod latency;
pub mod rss;
pub mod sizes;

use anyhow::bail;

use crate::env::Env;
use crate::load::Load;
pub use sizes::Sizes;

/// What every scenario gets.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub env: Env,
    pub sizes: Sizes,
    pub load: Load,
    pub quick: bool,
}

/// The scenarios, in the order a full run takes them.
pub const ALL: [&str; 5] = ["drain", "catchup", "latency", "batch-sizes", "rss"];

/// Runs one scenario by name.
pub async fn run(name: &str, ctx: &Ctx) -> anyhow::Result<serde_json::Value> {
    match name {
        "drain" => drain::run(ctx).await,
        "catchup" => catchup::run(ctx).await,
        "latency" => latency::run(ctx).await,
        "rss" => rss::run(ctx).await,
        "batch-sizes" => batch_sizes::run(ctx).await,
        other => bail!("no scenario `{other}` (one of: {})", ALL.join(", ")),
    }
}

/// A group or database label unique to this scenario, system and variant.
pub fn label(scenario: &str, system: &str, variant: &str) -> String {
    if variant.is_empty() { format!("{scenario}-{system}") } else { format!("{scenario}-{system}-{variant}") }
}
