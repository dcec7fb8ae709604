//! `sluice-bench`: runs the side-by-side scenarios (Sluice, the Spring Boot
//! yardstick, the database ceiling) against a running stack and writes one
//! JSON file per scenario. `bench/run` builds everything and calls it.
//!
//!     sluice-bench [--quick] [--results DIR] [--keep] [SCENARIO...]
//!
//! Map of the crate (library `sluice_bench`):
//! - `env`, `db`, `kafka`: the stack: endpoints, fresh databases, topics,
//!   watermarks and committed offsets.
//! - `load`: one generator config for the topic and the ceiling.
//! - `process`, `systems`: starting and stopping Sluice and the yardstick.
//! - `watch`: samplers (committed offsets, RSS, the database's max offsets).
//! - `verify`: row counts against what loadgen delivered.
//! - `ceiling` (and `src/bin/ceiling.rs`): the bare INSERT loop.
//! - `scenario`: drain, catchup, latency, batch-sizes, rss.
//! - `results`: the JSON files.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use sluice_bench::env::{self, Env};
use sluice_bench::load::Load;
use sluice_bench::results::{self, Machine};
use sluice_bench::scenario::{self, Ctx, Sizes};

#[derive(Debug, Parser)]
#[command(name = "sluice-bench")]
struct Args {
    /// Small sizes for a smoke run (results go to `<results>/quick/`).
    #[arg(long)]
    quick: bool,
    /// Scenarios to run [default: all]: drain, catchup, latency, batch-sizes, rss.
    scenarios: Vec<String>,
    /// Where the JSON goes.
    #[arg(long, default_value = "bench/results")]
    results: PathBuf,
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    brokers: String,
    /// The database server, without a database: every run creates its own.
    #[arg(long, env = "BENCH_DB_SERVER", default_value = "mysql://sluice:sluice@127.0.0.1:3306")]
    db_server: String,
    /// The repository root.
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// [default: `sluice` next to this binary]
    #[arg(long)]
    sluice_bin: Option<PathBuf>,
    #[arg(long, default_value = "bench/spring/target/yardstick.jar")]
    yardstick_jar: PathBuf,
    /// Logs of every process started [default: target/bench-runs/<time>].
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Keep the topics and databases afterwards.
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let repo = std::fs::canonicalize(&args.repo).with_context(|| format!("{}", args.repo.display()))?;
    let own = env::own_dir()?;
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
    let env = Env {
        brokers: args.brokers.clone(),
        db_server: args.db_server.trim_end_matches('/').to_string(),
        sluice_bin: args.sluice_bin.clone().unwrap_or_else(|| own.join("sluice")),
        ceiling_bin: own.join("ceiling"),
        yardstick_jar: repo.join(&args.yardstick_jar),
        run_dir: args.run_dir.clone().unwrap_or_else(|| repo.join("target/bench-runs").join(&stamp)),
        repo: repo.clone(),
        keep: args.keep,
    };
    env.check()?;
    let names: Vec<String> = if args.scenarios.is_empty() {
        scenario::ALL.iter().map(|s| s.to_string()).collect()
    } else {
        args.scenarios.clone()
    };
    for name in &names {
        anyhow::ensure!(
            scenario::ALL.contains(&name.as_str()),
            "no scenario `{name}` (one of: {})",
            scenario::ALL.join(", ")
        );
    }
    let results_dir = if args.quick { repo.join(&args.results).join("quick") } else { repo.join(&args.results) };
    let machine = Machine::probe(&env.db_server, &repo).await?;
    if machine.server.innodb_flush_log_at_trx_commit != "1" {
        eprintln!(
            "!! innodb_flush_log_at_trx_commit = {}: commits are not durable",
            machine.server.innodb_flush_log_at_trx_commit
        );
    }
    println!("logs in {}; results to {}", env.run_dir.display(), results_dir.display());
    let ctx = Ctx {
        env,
        sizes: if args.quick { Sizes::quick() } else { Sizes::full() },
        load: Load::standard(),
        quick: args.quick,
    };

    let mut failed = Vec::new();
    for name in &names {
        println!("== {name}");
        let started = chrono::Utc::now();
        match scenario::run(name, &ctx).await {
            Ok(body) => results::write(&results_dir, name, ctx.quick, &machine, started, body)?,
            Err(e) => {
                eprintln!("!! scenario {name} failed: {e:#}");
                failed.push(name.clone());
            }
        }
    }
    anyhow::ensure!(failed.is_empty(), "scenarios failed: {}", failed.join(", "));
    Ok(())
}
