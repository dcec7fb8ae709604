//! Start-up shared by `run` and `check`: database, migrations, modules,
//! table plans, all checked before the first record is consumed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::Pipeline;
use crate::sink::{self, OutputColumns, TablePlan};
use crate::transform::{Chain, ChainSpec, TransformEngine};

/// Everything a pipeline needs besides Kafka, checked.
pub struct Prepared {
    pub pool: crate::db::Pool,
    pub engine: Arc<TransformEngine>,
    pub plans: Vec<TablePlan>,
    pub max_packet: usize,
    /// The chain loaded at start, for the first worker to take: while it
    /// lives, its compiled modules stay in the engine's cache, so the other
    /// workers instantiate them instead of compiling them again.
    pub(super) spare: Mutex<Option<Chain>>,
}

impl Prepared {
    /// The chain loaded at start, once.
    pub(super) fn take_spare(&self) -> Option<Chain> {
        self.spare.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

/// What `prepare` does to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Apply pending migrations (`run`).
    Migrate,
    /// Only look (`check`): a missing table is an error.
    Inspect,
}

/// Connects (waiting for the database while `shutdown` allows; `None` if it
/// was cancelled first), migrates if asked, loads every stage once (which
/// checks the modules and their params), plans the tables and checks that
/// they have the columns the plan writes.
pub async fn prepare(
    pipeline: &Pipeline,
    schema: Schema,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<Prepared>> {
    let kafka_errors = crate::kafka::check_settings(&pipeline.config.source);
    if !kafka_errors.is_empty() {
        return Err(pipeline.errors(kafka_errors).into());
    }
    // `run` creates the source topic when it is missing; `check` creates nothing.
    if schema == Schema::Migrate && crate::kafka::ensure_topic(&pipeline.config.source, shutdown).await?.is_none() {
        return Ok(None);
    }
    let url = pipeline.database_url()?;
    let tls = pipeline.database_tls()?;
    // Compiling the modules takes longest: it runs while the database is
    // reached and migrated.
    let engine = Arc::new(TransformEngine::new()?);
    let loading = {
        let engine = engine.clone();
        let spec = ChainSpec::from_pipeline(pipeline);
        tokio::task::spawn_blocking(move || Chain::load(&engine, &spec))
    };
    let max_connections = u32::try_from(pipeline.config.sink.max_connections.get()).unwrap_or(u32::MAX);
    let mut wait = Duration::from_millis(500);
    let pool = loop {
        match crate::db::connect(url, &tls, max_connections).await {
            Ok(pool) => break pool,
            Err(e) => {
                if e.is_refusal() {
                    tracing::error!(error = %e, "the database refuses Sluice: check the credentials and TLS settings; retrying in {wait:?}");
                } else {
                    tracing::warn!(error = %e, "database not reachable; retrying in {wait:?}");
                }
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(None),
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    };
    let chain = loading.await.context("loading the transforms")??;
    let outputs: Vec<OutputColumns> = chain
        .outputs()
        .map(|(stage, decl)| OutputColumns {
            stage: stage.to_string(),
            output: decl.name.to_string(),
            columns: decl.columns.iter().map(|c| c.name.clone()).collect(),
        })
        .collect();
    let plans = sink::plan_tables(pipeline, &outputs)?;
    // A connection lost on the way (a restart, a cut) is waited out like
    // one that cannot be opened; anything else stops the start.
    let mut wait = Duration::from_millis(500);
    let max_packet = loop {
        match database_ready(&pool, schema, &plans, pipeline).await {
            Ok(max_packet) => break max_packet,
            Err(e) if sink::any_transient(e.chain()) => {
                tracing::warn!(error = %e, "lost the database while setting up; retrying in {wait:?}");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(None),
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
    };
    Ok(Some(Prepared { pool, engine, plans, max_packet, spare: Mutex::new(Some(chain)) }))
}

/// Migrates if asked, checks the tables against the plans, and reads the
/// largest statement the server takes.
async fn database_ready(
    pool: &crate::db::Pool,
    schema: Schema,
    plans: &[TablePlan],
    pipeline: &Pipeline,
) -> anyhow::Result<usize> {
    if schema == Schema::Migrate {
        crate::db::migrate(pool).await?;
    }
    let problems = sink::verify_tables(pool, plans, &pipeline.config.dead_letter.table).await?;
    if !problems.is_empty() {
        anyhow::bail!("the database does not fit the pipeline:\n  {}", problems.join("\n  "));
    }
    Ok(sink::max_packet(pool).await?)
}
