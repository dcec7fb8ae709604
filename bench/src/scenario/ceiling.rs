//! The `ceiling` binary on a fresh database, on the events of a backlog.

use anyhow::{Context, bail};
use tokio::process::Command;

use super::Ctx;
use super::consume::Backlog;
use crate::db::FreshDb;

pub async fn run(ctx: &Ctx, backlog: &Backlog, per_tx: usize, label: &str) -> anyhow::Result<serde_json::Value> {
    let env = &ctx.env;
    let db = FreshDb::create(&env.db_server, label).await?;
    let expect: Vec<String> = backlog.ends.iter().map(i64::to_string).collect();
    let out = Command::new(&env.ceiling_bin)
        .arg("--database-url")
        .arg(&db.url)
        .arg("--migrations")
        .arg(env.migrations())
        .args(["--topic", &backlog.topic])
        .args(["--count", &backlog.events().to_string()])
        .args(["--per-tx", &per_tx.to_string()])
        .args(["--sessions", &ctx.load.sessions.to_string()])
        .args(["--poison-percent", &ctx.load.poison_percent.to_string()])
        .args(["--seed", &ctx.load.seed.to_string()])
        .args(["--start-ms", &ctx.load.start_ms.to_string()])
        .args(["--expect", &expect.join(",")])
        .output()
        .await
        .with_context(|| format!("running {}", env.ceiling_bin.display()))?;
    if !env.keep {
        db.drop_db().await?;
    }
    if !out.status.success() {
        bail!("ceiling failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading the ceiling's JSON")?;
    println!(
        "  ceiling rows/tx {per_tx:>5}: {:>8.0} rows/s, {:>8.0} records/s ({:.2} s){}",
        value["rows_per_sec"].as_f64().unwrap_or(0.0),
        value["events_per_sec"].as_f64().unwrap_or(0.0),
        value["seconds"].as_f64().unwrap_or(0.0),
        if value["verified"].as_bool() == Some(true) { "" } else { "  ROW COUNT MISMATCH" }
    );
    Ok(value)
}
