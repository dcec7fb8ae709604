//! The MySQL side: connecting, and the schema in `migrations/`.

use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::migrate::Migrator;

/// The migrations in the repo's `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Errors of the database boundary.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the database URL is not valid: {0}")]
    BadUrl(#[source] sqlx::Error),
    #[error("cannot connect to MySQL at {host}:{port}: {source}")]
    Connect { host: String, port: u16, source: sqlx::Error },
    #[error("applying migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Opens a pool. Every session runs in UTC, so DATETIME values mean UTC.
pub async fn connect(url: &str, max_connections: u32) -> Result<MySqlPool, DbError> {
    let options: MySqlConnectOptions = url.parse().map_err(DbError::BadUrl)?;
    let options = options.timezone(Some("+00:00".to_string()));
    let host = options.get_host().to_string();
    let port = options.get_port();
    MySqlPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|source| DbError::Connect { host, port, source })
}

/// Applies every pending migration. Safe to run from several processes at
/// once: sqlx takes a database lock.
pub async fn migrate(pool: &MySqlPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}
