//! The result files: `<results>/<scenario>.json`, each with the machine,
//! the database's durability settings and the commit it was measured on.

use std::path::Path;

use anyhow::Context;
use serde_json::json;

use crate::db::ServerInfo;

/// What every result file records about where it was measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Machine {
    pub cores: usize,
    pub kernel: String,
    pub git_commit: String,
    pub server: ServerInfo,
}

impl Machine {
    pub async fn probe(db_server: &str, repo: &Path) -> anyhow::Result<Machine> {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
        let git_commit = std::process::Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        // Uncommitted changes to tracked files: the binaries are not that commit's.
        let dirty = std::process::Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["status", "--porcelain", "--untracked-files=no"])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty());
        let git_commit = if dirty { format!("{git_commit}+uncommitted changes") } else { git_commit };
        Ok(Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel,
            git_commit,
            server: crate::db::server_info(db_server).await?,
        })
    }
}

/// Writes `<dir>/<scenario>.json`.
pub fn write(
    dir: &Path,
    scenario: &str,
    quick: bool,
    machine: &Machine,
    started: chrono::DateTime<chrono::Utc>,
    body: serde_json::Value,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let value = json!({
        "scenario": scenario,
        "quick": quick,
        "started_at": started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "finished_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "machine": machine,
        "result": body,
    });
    let path = dir.join(format!("{scenario}.json"));
    let text = serde_json::to_string_pretty(&value).context("serializing a result")?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
