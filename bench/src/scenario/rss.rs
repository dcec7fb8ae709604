//! rss: peak resident memory (VmHWM; for Spring, the JVM's) while draining a
//! large backlog, with RSS over time.

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
    cleanup(ctx, &backlog.topic).await?;
    Ok(json!({
        "params": { "events": sent.events, "batch": batch, "rss_poll_ms": consume::RSS_POLL.as_millis() as u64 },
        "fill": sent,
        "systems": runs,
    }))
}
