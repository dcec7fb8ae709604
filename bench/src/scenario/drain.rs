//! drain: a topic filled before any consumer starts; Sluice and Spring each
//! drain it (own group, own database), then the ceiling writes the same
//! records at the same rows per transaction.

use serde_json::json;

use super::consume::{self, cleanup, fill};
use super::{Ctx, ceiling, label};
use crate::systems::System;

pub async fn run(ctx: &Ctx) -> anyhow::Result<serde_json::Value> {
    let batch = ctx.sizes.default_batch;
    let (backlog, sent) = fill(ctx, "drain", ctx.sizes.drain_events).await?;
    let mut runs = serde_json::Map::new();
    for system in System::BOTH {
        let run = consume::drain(ctx, system, &backlog, batch, &label("drain", system.name(), "")).await?;
        runs.insert(system.name().to_string(), serde_json::to_value(run)?);
    }
    let ceiling = ceiling::run(ctx, &backlog, batch, "drain-ceiling").await?;
    runs.insert("ceiling".to_string(), ceiling);
    cleanup(ctx, &backlog.topic).await?;
    Ok(json!({
        "params": { "events": sent.events, "batch": batch, "sessions": ctx.load.sessions,
                    "poison_percent": ctx.load.poison_percent, "partitions": crate::kafka::PARTITIONS },
        "fill": sent,
        "systems": runs,
    }))
}
