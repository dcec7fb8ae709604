//! The two consumers under test, started the same way: a topic, a fresh
//! group, a fresh database and a batch size.
//!
//! - Sluice: `sluice run --config <copy of pipeline.toml>` with the module
//!   paths made absolute and `max_records` set; env `KAFKA_BROKERS`,
//!   `DATABASE_URL`, `SLUICE_TOPIC`, `SLUICE_GROUP`.
//! - Spring: `java -jar yardstick.jar` with its `YARDSTICK_*` env; JVM options
//!   are the JVM's defaults, as the team ran it.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::env::Env;
use crate::process::Proc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    Sluice,
    Spring,
}

impl System {
    pub const BOTH: [System; 2] = [System::Sluice, System::Spring];

    pub fn name(self) -> &'static str {
        match self {
            System::Sluice => "sluice",
            System::Spring => "spring",
        }
    }
}

/// Where one run of a system reads and writes.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub topic: &'a str,
    pub group: &'a str,
    /// The fresh database's name and URL.
    pub db_name: &'a str,
    pub db_url: &'a str,
    /// Records per batch (Sluice `max_records`, Spring `max.poll.records`).
    pub batch: usize,
    /// Names the log file and the config copy.
    pub label: &'a str,
}

pub fn start(system: System, env: &Env, target: &Target<'_>) -> anyhow::Result<Proc> {
    match system {
        System::Sluice => start_sluice(env, target),
        System::Spring => start_spring(env, target),
    }
}

fn start_sluice(env: &Env, target: &Target<'_>) -> anyhow::Result<Proc> {
    let config = write_pipeline(env, target)?;
    let mut command = Command::new(&env.sluice_bin);
    command
        .args(["run", "--config"])
        .arg(&config)
        .env("KAFKA_BROKERS", &env.brokers)
        .env("DATABASE_URL", target.db_url)
        .env("SLUICE_TOPIC", target.topic)
        .env("SLUICE_GROUP", target.group)
        .env("RUST_LOG", std::env::var("BENCH_SLUICE_LOG").unwrap_or_else(|_| "info".to_string()));
    Proc::spawn("sluice", command, &env.log(target.label))
}

/// A copy of `pipeline.toml` with absolute module paths and `max_records`.
fn write_pipeline(env: &Env, target: &Target<'_>) -> anyhow::Result<PathBuf> {
    let source = env.repo.join("pipeline.toml");
    let text = std::fs::read_to_string(&source).with_context(|| format!("reading {}", source.display()))?;
    let modules = env.repo.join("target/transforms");
    let absolute = text.replace("module = \"target/transforms/", &format!("module = \"{}/", modules.display()));
    let sized = absolute.replace("max_records = 500", &format!("max_records = {}", target.batch));
    if target.batch != 500 && sized == absolute {
        bail!("{} has no `max_records = 500` line to change", source.display());
    }
    let path = env.run_dir.join(format!("{}-pipeline.toml", target.label));
    std::fs::write(&path, sized).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn start_spring(env: &Env, target: &Target<'_>) -> anyhow::Result<Proc> {
    let db = env.db_parts()?;
    let mut command = Command::new("java");
    command
        .arg("-jar")
        .arg(&env.yardstick_jar)
        .env("KAFKA_BROKERS", &env.brokers)
        .env("YARDSTICK_TOPIC", target.topic)
        .env("YARDSTICK_GROUP", target.group)
        .env("YARDSTICK_MAX_POLL_RECORDS", target.batch.to_string())
        .env("YARDSTICK_DB_HOST", &db.host)
        .env("YARDSTICK_DB_PORT", db.port.to_string())
        .env("YARDSTICK_DATABASE", target.db_name)
        .env("YARDSTICK_DB_USER", &db.user)
        .env("YARDSTICK_DB_PASSWORD", &db.password);
    Proc::spawn("spring", command, &env.log(target.label))
}
