//! The stack's secured endpoints: Kafka's SSL, SASL_PLAINTEXT and SASL_SSL
//! listeners and MariaDB's TLS-only user, with the CA `scripts/stack up`
//! made. The names and defaults are those of `.stack/env`.

use std::path::PathBuf;

use super::sluice::repo_root;

/// Where the secured listeners are and who may use them.
pub struct SecureStack {
    /// The CA that signed the broker's and MariaDB's certificates.
    pub ca: PathBuf,
    pub ssl: String,
    pub sasl_plaintext: String,
    pub sasl_ssl: String,
    pub user: String,
    pub password: String,
    /// `mysql://sluice_tls:…@127.0.0.1:3306`, a user MariaDB refuses
    /// without TLS; no database.
    pub db_server: String,
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The secured endpoints; panics with how to make them when the CA is missing.
pub fn secure_stack() -> SecureStack {
    let stack = std::env::var("SLUICE_STACK_DIR").map_or_else(|_| repo_root().join(".stack"), PathBuf::from);
    let ca = std::env::var("SLUICE_STACK_CA").map_or_else(|_| stack.join("tls/ca.pem"), PathBuf::from);
    assert!(
        ca.exists(),
        "{} is missing: `scripts/stack up` makes the certificates and starts the TLS and SASL listeners",
        ca.display()
    );
    let db_tls = var("DATABASE_TLS_URL", "mysql://sluice_tls:sluice-tls-5b81d0@127.0.0.1:3306/sluice");
    let db_server = db_tls.rsplit_once('/').map_or(db_tls.clone(), |(server, _)| server.to_string());
    SecureStack {
        ca,
        ssl: var("KAFKA_SSL_BROKERS", "127.0.0.1:9094"),
        sasl_plaintext: var("KAFKA_SASL_PLAINTEXT_BROKERS", "127.0.0.1:9095"),
        sasl_ssl: var("KAFKA_SASL_SSL_BROKERS", "127.0.0.1:9096"),
        user: var("KAFKA_SASL_USERNAME", "sluice"),
        password: var("KAFKA_SASL_PASSWORD", "sluice-sasl-9f3c2e"),
        db_server,
    }
}
