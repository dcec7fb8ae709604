//! `ceiling`: the database's own bulk-insert limit for the rows Sluice's
//! transactions hold. Regenerates the topic's events with loadgen's
//! generator (same config), builds every transaction's SQL, then times a
//! bare loop: 3 connections (one per partition), one transaction per N
//! records. Prints the result as JSON on stdout.
//!
//!     ceiling --database-url mysql://sluice:sluice@127.0.0.1:3306/fresh_db \
//!       --migrations migrations --topic T --count 1000000 --per-tx 500 \
//!       [--sessions 1000 --poison-percent 1 --seed 11 --start-ms ...] [--expect 333000,334000,333000]

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use sluice_bench::ceiling::{self, Params};
use sluice_bench::load::Load;

#[derive(Debug, Parser)]
#[command(name = "ceiling")]
struct Args {
    /// A fresh, empty database.
    #[arg(long)]
    database_url: String,
    /// The schema to apply (the repo's `migrations/`).
    #[arg(long, default_value = "migrations")]
    migrations: PathBuf,
    /// The topic the events were sent to (named in offset rows and dead letters).
    #[arg(long, default_value = "study-log-events")]
    topic: String,
    #[arg(long)]
    count: u64,
    /// Records per transaction.
    #[arg(long, default_value_t = 500)]
    per_tx: usize,
    #[arg(long, default_value_t = 3)]
    partitions: i32,
    #[arg(long, default_value_t = Load::standard().sessions)]
    sessions: usize,
    #[arg(long, default_value_t = Load::standard().poison_percent)]
    poison_percent: f64,
    #[arg(long, default_value_t = Load::standard().seed)]
    seed: u64,
    #[arg(long, default_value_t = Load::standard().start_ms)]
    start_ms: i64,
    /// Records per partition in the topic, comma-separated: checked against the placement.
    #[arg(long, value_delimiter = ',')]
    expect: Option<Vec<i64>>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let params = Params {
        database_url: args.database_url,
        migrations: args.migrations,
        topic: args.topic,
        load: Load {
            sessions: args.sessions,
            poison_percent: args.poison_percent,
            seed: args.seed,
            start_ms: args.start_ms,
        },
        count: args.count,
        per_tx: args.per_tx,
        partitions: args.partitions,
        expect: args.expect,
    };
    let outcome = ceiling::run(params).await?;
    println!("{}", serde_json::to_string_pretty(&outcome).context("serializing the result")?);
    Ok(())
}
