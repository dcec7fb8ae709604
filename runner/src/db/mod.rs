//! The MySQL side: connecting, and the schema in `migrations/`.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError, MySqlPool, MySqlPoolOptions, MySqlSslMode};

use crate::config::{DatabaseTls, SslMode};

/// How long a process waits for another one's migrations.
const MIGRATE_LOCK_WAIT: Duration = Duration::from_secs(120);

/// A pool of MySQL connections, as the rest of the runner names it.
pub type Pool = MySqlPool;

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
    #[error("taking the migration lock: {0}")]
    Lock(#[source] sqlx::Error),
    #[error("another process held the migration lock for {0:?}")]
    LockTimeout(Duration),
}

/// `host:port` of a database URL, for messages (never the credentials).
pub fn address(url: &str) -> Option<String> {
    let options: MySqlConnectOptions = url.parse().ok()?;
    Some(format!("{}:{}", options.get_host(), options.get_port()))
}

/// Server errors that refuse a login: access denied (1044, 1045, 1698), a
/// password to change (1820, 1862), TLS required (3159), too many
/// connections for the user (1226 is a limit, not a refusal, and retries).
const LOGIN_REFUSED: [u16; 6] = [1044, 1045, 1698, 1820, 1862, 3159];

impl DbError {
    /// The server answered and refused Sluice (credentials, privileges, TLS
    /// handshake or verification): the configuration must change, unlike a
    /// database that is down.
    pub fn is_refusal(&self) -> bool {
        let DbError::Connect { source, .. } = self else { return false };
        match source {
            sqlx::Error::Tls(_) => true,
            sqlx::Error::Database(db) => {
                db.try_downcast_ref::<MySqlDatabaseError>().is_some_and(|e| LOGIN_REFUSED.contains(&e.number()))
            }
            _ => false,
        }
    }
}

/// Opens a pool, over TLS as `tls` says (its settings override the URL's).
/// Every session runs in UTC, so DATETIME values mean UTC.
pub async fn connect(url: &str, tls: &DatabaseTls, max_connections: u32) -> Result<MySqlPool, DbError> {
    let mut options: MySqlConnectOptions = url.parse().map_err(DbError::BadUrl)?;
    options = options.timezone(Some("+00:00".to_string()));
    if let Some(mode) = tls.mode {
        options = options.ssl_mode(match mode {
            SslMode::Disabled => MySqlSslMode::Disabled,
            SslMode::Preferred => MySqlSslMode::Preferred,
            SslMode::Required => MySqlSslMode::Required,
            SslMode::VerifyCa => MySqlSslMode::VerifyCa,
            SslMode::VerifyIdentity => MySqlSslMode::VerifyIdentity,
        });
    }
    if let Some(ca) = &tls.ca {
        options = options.ssl_ca(ca);
    }
    if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
        options = options.ssl_client_cert(cert).ssl_client_key(key);
    }
    let host = options.get_host().to_string();
    let port = options.get_port();
    MySqlPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|source| DbError::Connect { host, port, source })
}

/// `SELECT 1` on a connection of the pool.
pub async fn ping(pool: &MySqlPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(drop)
}

/// Applies every pending migration. Safe to run from several processes at
/// once: they queue on a named lock. (sqlx's own lock asks MySQL for an
/// infinite wait with a timeout of -1, which MariaDB reads as no wait at all,
/// so two processes starting together could both apply the first migration.)
pub async fn migrate(pool: &MySqlPool) -> Result<(), DbError> {
    let mut conn = pool.acquire().await.map_err(DbError::Lock)?;
    let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(CONCAT(DATABASE(), '.sluice_migrate'), ?)")
        .bind(MIGRATE_LOCK_WAIT.as_secs())
        .fetch_one(&mut *conn)
        .await
        .map_err(DbError::Lock)?;
    if locked != Some(1) {
        return Err(DbError::LockTimeout(MIGRATE_LOCK_WAIT));
    }
    let result = MIGRATOR.run_direct(&mut *conn).await;
    let released = sqlx::query("SELECT RELEASE_LOCK(CONCAT(DATABASE(), '.sluice_migrate'))").execute(&mut *conn).await;
    result?;
    released.map_err(DbError::Lock)?;
    Ok(())
}
