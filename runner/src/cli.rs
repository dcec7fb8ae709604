//! The `sluice` command line. `src/bin/sluice.rs` only calls [`main`].

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Pipeline;

#[derive(Debug, Parser)]
#[command(name = "sluice", version, about = "Kafka → WebAssembly transforms → MySQL")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    match cli.command {
        Some(Command::Migrate { config }) => runtime.block_on(migrate(config)),
        None => anyhow::bail!("no command given; try `sluice --help`"),
    }
}

async fn migrate(config: PathBuf) -> anyhow::Result<()> {
    let pipeline = Pipeline::load(&config)?;
    let pool = crate::db::connect(pipeline.database_url()?, 1).await?;
    crate::db::migrate(&pool).await?;
    tracing::info!("migrations applied");
    Ok(())
}
