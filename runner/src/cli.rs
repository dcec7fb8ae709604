//! The `sluice` command line. `src/bin/sluice.rs` only calls [`main`].

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use tokio_util::sync::CancellationToken;

use crate::config::Pipeline;

#[derive(Debug, Parser)]
#[command(name = "sluice", version, about = "Kafka → WebAssembly transforms → MySQL")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Consume, transform and write until stopped (SIGTERM or Ctrl-C finish
    /// the batches in hand first). The default command.
    Run {
        /// The pipeline file.
        #[arg(long, short, default_value = "pipeline.toml", env = "SLUICE_CONFIG")]
        config: PathBuf,
    },
    /// Check a pipeline fully without consuming anything: the config, every
    /// module loads and accepts its params, the tables have the columns the
    /// pipeline writes.
    Check {
        /// The pipeline file.
        #[arg(long, short, default_value = "pipeline.toml", env = "SLUICE_CONFIG")]
        config: PathBuf,
    },
    /// Run the pipeline's transforms over a local file, one record value per
    /// line, and show what each stage kept, rejected and emitted. No Kafka,
    /// no MySQL.
    Try {
        /// The pipeline file whose transforms to run.
        #[arg(long, short, default_value = "pipeline.toml", env = "SLUICE_CONFIG")]
        config: PathBuf,
        /// The input: each line is one record's value (JSONL for the seed pipeline).
        #[arg(long, short)]
        input: PathBuf,
        /// Print a machine-readable JSON summary instead.
        #[arg(long)]
        json: bool,
    },
    /// Show where a pipeline stands: lag per partition, rows per table, dead
    /// letters by stage and reason.
    Status {
        /// The pipeline file.
        #[arg(long, short, default_value = "pipeline.toml", env = "SLUICE_CONFIG")]
        config: PathBuf,
        /// Print a line every second (records/s, lag, rows, dead letters).
        #[arg(long)]
        watch: bool,
        /// Like --watch, but stop once the lag stays at zero.
        #[arg(long)]
        until_idle: bool,
    },
    /// Watch a running Sluice live from its metrics endpoint, from this or
    /// another host: records/s per stage, lag per partition, dead letters,
    /// batch latency, module versions. q, Esc or Ctrl-C quits.
    Top {
        /// Where Sluice serves its metrics (`/metrics` unless a path is given).
        #[arg(long, default_value = "http://127.0.0.1:9898")]
        url: String,
        /// Time between scrapes, in milliseconds.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..))]
        interval_ms: u64,
        /// Print one frame as plain text (from two scrapes --interval-ms
        /// apart, so that rates exist) and exit.
        #[arg(long)]
        once: bool,
    },
    /// Start a transform project outside this repository: the example
    /// stage, a native test, build.sh for the .wasm component, a sample for
    /// `sluice try` and a pipeline to run or copy it into.
    New {
        /// The project's name (and folder, and stage name): lowercase
        /// letters, digits, '-' or '_', starting with a letter.
        name: String,
        /// The language of the stage.
        #[arg(long, value_enum, default_value = "rust")]
        lang: crate::scaffold::Lang,
        /// The folder to create the project in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The Rust SDK, `transforms/sdk` of a Sluice checkout (default: the
        /// checkout this binary was built from).
        #[arg(long, env = "SLUICE_SDK")]
        sdk: Option<PathBuf>,
    },
    /// Apply the database migrations and exit.
    Migrate {
        /// The pipeline file whose database to migrate.
        #[arg(long, short, default_value = "pipeline.toml", env = "SLUICE_CONFIG")]
        config: PathBuf,
    },
}

/// Parses the command line and runs the command.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    crate::telemetry::init();
    let default_config = || PathBuf::from(std::env::var("SLUICE_CONFIG").unwrap_or_else(|_| "pipeline.toml".into()));
    match cli.command {
        Some(Command::Try { config, input, json }) => crate::dry_run::main(&config, &input, json),
        Some(Command::Top { url, interval_ms, once }) => {
            crate::top::main(&url, std::time::Duration::from_millis(interval_ms), once)
        }
        Some(Command::New { name, lang, dir, sdk }) => {
            crate::scaffold::main(&crate::scaffold::NewProject { name, lang, parent: dir, sdk })
        }
        Some(Command::Migrate { config }) => {
            let pipeline = Pipeline::load(&config)?;
            runtime(&pipeline)?.block_on(migrate(pipeline))
        }
        Some(Command::Check { config }) => {
            let pipeline = Pipeline::load(&config)?;
            runtime(&pipeline)?.block_on(check(pipeline))
        }
        Some(Command::Status { config, watch, until_idle }) => {
            let pipeline = Pipeline::load(&config)?;
            runtime(&pipeline)?.block_on(crate::status::main(pipeline, watch, until_idle))
        }
        Some(Command::Run { config }) => {
            let pipeline = Pipeline::load(&config)?;
            runtime(&pipeline)?.block_on(run(pipeline))
        }
        None => {
            let pipeline = Pipeline::load(&default_config())?;
            runtime(&pipeline)?.block_on(run(pipeline))
        }
    }
}

/// The async runtime, with threads whose stacks hold the deepest stage's
/// WebAssembly stack (stages run on the runtime's blocking threads).
fn runtime(pipeline: &Pipeline) -> anyhow::Result<tokio::runtime::Runtime> {
    let stack = crate::transform::ChainSpec::from_pipeline(pipeline).thread_stack_bytes();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(stack.max(2 << 20))
        .build()
        .context("starting the async runtime")
}

async fn migrate(pipeline: Pipeline) -> anyhow::Result<()> {
    let pool = crate::db::connect(pipeline.database_url()?, &pipeline.database_tls()?, 1).await?;
    crate::db::migrate(&pool).await?;
    tracing::info!("migrations applied");
    Ok(())
}

async fn run(pipeline: Pipeline) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    crate::pipeline::run(pipeline, shutdown).await
}

async fn check(pipeline: Pipeline) -> anyhow::Result<()> {
    // Already cancelled: an unreachable database is an error, not a wait.
    let no_wait = CancellationToken::new();
    no_wait.cancel();
    let prepared = crate::pipeline::prepare(&pipeline, crate::pipeline::Schema::Inspect, &no_wait).await?;
    anyhow::ensure!(prepared.is_some(), "cannot reach the database of {}", pipeline.path.display());
    println!(
        "{}: ok ({} stages, {} tables)",
        pipeline.path.display(),
        pipeline.config.transforms.len(),
        pipeline.config.sink.tables.len()
    );
    Ok(())
}

/// Cancels `token` at the first SIGTERM or SIGINT.
async fn cancel_on_signal(token: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("signal received");
    token.cancel();
}
