//! Where things are: the stack's endpoints, the binaries and jar under test,
//! and the directory a run writes its logs to.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Everything a scenario needs to find.
#[derive(Debug, Clone)]
pub struct Env {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// `mysql://user:password@host:port`, no database.
    pub db_server: String,
    /// The repository root (for `pipeline.toml`, `migrations/`, `target/transforms/`).
    pub repo: PathBuf,
    pub sluice_bin: PathBuf,
    pub ceiling_bin: PathBuf,
    pub yardstick_jar: PathBuf,
    /// Logs of every process started, one file each.
    pub run_dir: PathBuf,
    /// Keep topics and databases after each scenario (for inspection).
    pub keep: bool,
}

impl Env {
    /// Checks that every file exists, naming the one that does not.
    pub fn check(&self) -> anyhow::Result<()> {
        for (what, path) in [
            ("the sluice binary", &self.sluice_bin),
            ("the ceiling binary", &self.ceiling_bin),
            ("the yardstick jar", &self.yardstick_jar),
            ("the validate module", &self.repo.join("target/transforms/validate.wasm")),
            ("the stats module", &self.repo.join("target/transforms/stats.wasm")),
            ("pipeline.toml", &self.repo.join("pipeline.toml")),
        ] {
            if !path.exists() {
                bail!("{what} is missing at {} (bench/run builds it)", path.display());
            }
        }
        std::fs::create_dir_all(&self.run_dir)
            .with_context(|| format!("creating the run directory {}", self.run_dir.display()))
    }

    /// A log file path in the run directory.
    pub fn log(&self, name: &str) -> PathBuf {
        self.run_dir.join(format!("{name}.log"))
    }

    /// Host, port, user and password of [`Env::db_server`].
    pub fn db_parts(&self) -> anyhow::Result<DbParts> {
        DbParts::parse(&self.db_server)
    }

    pub fn migrations(&self) -> PathBuf {
        self.repo.join("migrations")
    }
}

/// The pieces of a `mysql://user:password@host:port` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbParts {
    pub user: String,
    pub password: String,
    pub host: String,
    pub port: u16,
}

impl DbParts {
    pub fn parse(url: &str) -> anyhow::Result<DbParts> {
        let rest = url.strip_prefix("mysql://").with_context(|| format!("`{url}` does not start with mysql://"))?;
        let (auth, host_port) = rest.rsplit_once('@').with_context(|| format!("`{url}` has no user@"))?;
        let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
        let host_port = host_port.trim_end_matches('/');
        let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "3306"));
        let port = port.parse().with_context(|| format!("the port in `{url}`"))?;
        Ok(DbParts { user: user.to_string(), password: password.to_string(), host: host.to_string(), port })
    }
}

/// The `release` directory next to this executable (where `cargo build
/// --release` put it and its siblings).
pub fn own_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this executable's path")?;
    exe.parent().map(Path::to_path_buf).context("this executable has no parent directory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_urls() {
        let p = DbParts::parse("mysql://sluice:pw@127.0.0.1:23306").unwrap();
        assert_eq!(p, DbParts { user: "sluice".into(), password: "pw".into(), host: "127.0.0.1".into(), port: 23306 });
        assert_eq!(DbParts::parse("mysql://u:p@h/").unwrap().port, 3306);
        assert!(DbParts::parse("postgres://x").is_err());
    }
}
