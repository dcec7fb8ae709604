//! A throwaway database per test on the stack's MariaDB.

use sqlx::mysql::MySqlPool;
use sqlx::{Connection, MySqlConnection};

/// The server the tests use; `scripts/stack up` starts it.
pub fn server_url() -> String {
    std::env::var("SLUICE_TEST_DATABASE_URL").unwrap_or_else(|_| "mysql://sluice:sluice@127.0.0.1:3306".to_string())
}

/// A fresh, empty database with a unique name, and its URL. Panics with the
/// way to start MariaDB when the server cannot be reached.
pub async fn fresh_database(prefix: &str) -> (String, MySqlPool) {
    let server = server_url();
    let mut admin = MySqlConnection::connect(&server).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach MariaDB at {server} ({e}); start it with `scripts/stack up` or set SLUICE_TEST_DATABASE_URL"
        )
    });
    let name = format!("t_{prefix}_{}", std::process::id()) + &format!("_{:08x}", rand::random::<u32>());
    sqlx::query(&format!("CREATE DATABASE `{name}`")).execute(&mut admin).await.expect("create test database");
    let url = format!("{server}/{name}");
    let pool = sluice::db::connect(&url, &Default::default(), 4).await.expect("connect to the test database");
    (url, pool)
}
