//! rss: peak resident memory (VmHWM; for Spring, the JVM's) while draining a
//! large backlog, with RSS over time: both consumers at the seed's batch size,
//! then Sluice again at the largest batch size of `batch-sizes` (the target
//! holds whatever the batch settings).

use serde_json::json;

use super::consume::{self, cleanup, fill};
use super::{Ctx, label};
use crate::systems::System;

pub async fn run(ctx: &Ctx) -> anyhow::Result<serde_json::Value> {
    let batch = ctx.sizes.default_batch;
    let (backlog, sent) = fill(ctx, "rss", ctx.sizes.rss_events).await?;
    let mut runs = serde_json::Map::new();
    for system in System::BOTH {
        let run = consume::drain(ctx, system, &backlog, batch, &label("rss", system.name(), "")).await?;
        runs.insert(system.name().to_string(), serde_json::to_value(run)?);
    }
    let large = ctx.sizes.batch_sizes.iter().copied().max().unwrap_or(batch);
    let sluice = System::Sluice;
    let run = consume::drain(ctx, sluice, &backlog, large, &label("rss", sluice.name(), &large.to_string())).await?;
    let large_run = serde_json::to_value(run)?;
    cleanup(ctx, &backlog.topic).await?;
    Ok(json!({
        "params": { "events": sent.events, "batch": batch, "rss_poll_ms": consume::RSS_POLL.as_millis() as u64 },
        "fill": sent,
        "systems": runs,
        "large_batch": { "batch": large, "sluice": large_run },
    }))
}
