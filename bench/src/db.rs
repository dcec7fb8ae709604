//! The database server: a fresh database per system and run, row counts, and
//! the settings that make commits durable (reported with every result).

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::{Connection, MySqlConnection};

/// Collation of every benchmark database (the stack's server default), so
/// that Sluice's and the yardstick's databases compare strings alike.
const CREATE_OPTIONS: &str = "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci";

/// One connection to `url`, in UTC like Sluice's.
pub async fn connect_one(url: &str) -> anyhow::Result<MySqlConnection> {
    let options: MySqlConnectOptions = url.parse().with_context(|| "parsing a database URL")?;
    let options = options.timezone(Some("+00:00".to_string()));
    MySqlConnection::connect_with(&options).await.with_context(|| format!("connecting to MariaDB at {}", redact(url)))
}

/// A small pool on `url`.
pub async fn pool(url: &str, size: u32) -> anyhow::Result<MySqlPool> {
    let options: MySqlConnectOptions = url.parse().with_context(|| "parsing a database URL")?;
    MySqlPoolOptions::new()
        .max_connections(size)
        .connect_with(options.timezone(Some("+00:00".to_string())))
        .await
        .with_context(|| format!("connecting to MariaDB at {}", redact(url)))
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

/// A database created for one system in one run.
#[derive(Debug, Clone)]
pub struct FreshDb {
    pub name: String,
    pub url: String,
    server: String,
}

impl FreshDb {
    /// Creates `b_<label>_<random>` on `server`.
    pub async fn create(server: &str, label: &str) -> anyhow::Result<FreshDb> {
        let server = server.trim_end_matches('/').to_string();
        let clean: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let name = format!("b_{clean}_{:08x}", rand::random::<u32>());
        let mut admin = connect_one(&server).await?;
        sqlx::raw_sql(&format!("CREATE DATABASE `{name}` {CREATE_OPTIONS}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating database {name}"))?;
        // Without TLS, like the yardstick's MariaDB Connector/J by default: the stack's
        // server offers TLS, which Sluice's client would otherwise take.
        let url = format!("{server}/{name}?ssl-mode=disabled");
        Ok(FreshDb { name, url, server })
    }

    /// Drops it (after a run, unless asked to keep it).
    pub async fn drop_db(&self) -> anyhow::Result<()> {
        let mut admin = connect_one(&self.server).await?;
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{}`", self.name))
            .execute(&mut admin)
            .await
            .with_context(|| format!("dropping database {}", self.name))?;
        Ok(())
    }
}

/// `SELECT COUNT(*)` of a table; once per run, at the end.
pub async fn count(url: &str, table: &str) -> anyhow::Result<i64> {
    let mut conn = connect_one(url).await?;
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM `{table}`"))
        .fetch_one(&mut conn)
        .await
        .with_context(|| format!("counting the rows of {table}"))
}

/// Applies every `*.sql` file of `dir`, in name order (the ceiling's schema:
/// the same as Sluice's).
pub async fn apply_migrations(conn: &mut MySqlConnection, dir: &Path) -> anyhow::Result<()> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    for file in files {
        let sql = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        sqlx::raw_sql(&sql).execute(&mut *conn).await.with_context(|| format!("applying {}", file.display()))?;
    }
    Ok(())
}

/// The server and the settings the figures depend on.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    pub version: String,
    pub innodb_flush_log_at_trx_commit: String,
    pub sync_binlog: String,
    pub log_bin: String,
    pub innodb_buffer_pool_size: String,
    pub innodb_log_file_size: String,
}

pub async fn server_info(server: &str) -> anyhow::Result<ServerInfo> {
    let mut conn = connect_one(server).await?;
    Ok(ServerInfo {
        version: variable(&mut conn, "version").await?,
        innodb_flush_log_at_trx_commit: variable(&mut conn, "innodb_flush_log_at_trx_commit").await?,
        sync_binlog: variable(&mut conn, "sync_binlog").await?,
        log_bin: variable(&mut conn, "log_bin").await?,
        innodb_buffer_pool_size: variable(&mut conn, "innodb_buffer_pool_size").await?,
        innodb_log_file_size: variable(&mut conn, "innodb_log_file_size").await?,
    })
}

async fn variable(conn: &mut MySqlConnection, name: &str) -> anyhow::Result<String> {
    let value: Option<String> = sqlx::query_scalar(&format!("SELECT CAST(@@{name} AS CHAR)"))
        .fetch_one(conn)
        .await
        .with_context(|| format!("reading @@{name}"))?;
    Ok(value.unwrap_or_default())
}

/// The server's `Com_commit` counter: COMMIT statements since it started, from
/// every client. Read before and after a run on an otherwise idle server, the
/// difference is the system's transaction count.
pub async fn commits(server: &str) -> anyhow::Result<i64> {
    let mut conn = connect_one(server).await?;
    let row: (String, String) = sqlx::query_as("SHOW GLOBAL STATUS LIKE 'Com_commit'")
        .fetch_one(&mut conn)
        .await
        .context("reading Com_commit")?;
    row.1.parse().with_context(|| format!("Com_commit is `{}`", row.1))
}
