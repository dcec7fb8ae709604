//! batch-sizes: one backlog drained at each batch size by Sluice
//! (`max_records`), Spring (`max.poll.records`) and the ceiling (records
//! per transaction).

use serde_json::json;

use super::consume::{self, cleanup, fill};
use super::{Ctx, ceiling, label};
use crate::systems::System;

pub async fn run(ctx: &Ctx) -> anyhow::Result<serde_json::Value> {
    let (backlog, sent) = fill(ctx, "batch", ctx.sizes.batch_events).await?;
    let mut rows = Vec::new();
    for &batch in &ctx.sizes.batch_sizes {
        let variant = batch.to_string();
        let mut row = serde_json::Map::new();
        row.insert("batch".to_string(), json!(batch));
        for system in System::BOTH {
            let mut run =
                consume::drain(ctx, system, &backlog, batch, &label("batch", system.name(), &variant)).await?;
            run.rss.clear();
            row.insert(system.name().to_string(), serde_json::to_value(run)?);
        }
        let c = ceiling::run(ctx, &backlog, batch, &label("batch", "ceiling", &variant)).await?;
        row.insert("ceiling".to_string(), c);
        rows.push(serde_json::Value::Object(row));
    }
    cleanup(ctx, &backlog.topic).await?;
    Ok(json!({
        "params": { "events": sent.events, "batch_sizes": ctx.sizes.batch_sizes },
        "fill": sent,
        "runs": rows,
    }))
}
