//! `[sink]`: the MySQL database and how side outputs map onto tables.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};

use super::interpolate::{EnvString, Secret};
use super::names::{Name, SqlIdent};
use super::ranged::Ranged;

/// ```toml
/// [sink]
/// database_url = "${DATABASE_URL}"
/// ssl_mode = "verify_identity"
/// ssl_ca = "certs/mysql-ca.pem"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// `database_url = "${DATABASE_URL}"`: `mysql://user:password@host:3306/db`.
    /// Keep the password in the environment; it is never logged.
    pub database_url: toml::Spanned<Secret>,
    /// `ssl_mode = "verify_identity"`: TLS to MySQL, as the `mysql` client's
    /// `--ssl-mode`: `disabled`, `preferred` (TLS when the server offers it),
    /// `required`, `verify_ca` (and the server's certificate is signed by a
    /// trusted CA), `verify_identity` (and it names the host). Unset: the
    /// URL's `?ssl-mode=`, else `verify_ca` when `ssl_ca` is set, else
    /// `preferred`.
    #[serde(default)]
    pub ssl_mode: Option<toml::Spanned<SslMode>>,
    /// `ssl_ca = "certs/ca.pem"`: the CA certificates (PEM) that the server's
    /// certificate must chain to; without it, the system's. Relative paths
    /// are taken from the pipeline file's directory.
    #[serde(default)]
    pub ssl_ca: Option<toml::Spanned<EnvString>>,
    /// `ssl_cert = "certs/client.pem"` and `ssl_key = "certs/client.key"`: a
    /// client certificate and its key (PEM), for servers that ask for one.
    #[serde(default)]
    pub ssl_cert: Option<toml::Spanned<EnvString>>,
    #[serde(default)]
    pub ssl_key: Option<toml::Spanned<EnvString>>,
    /// `max_connections = 4`: the pool size (about one per partition in flight).
    #[serde(default = "default_max_connections")]
    pub max_connections: Ranged<1, 256>,
    /// `max_retry_backoff_ms = 30000`: the longest wait between retries of a
    /// batch after a transient database error (the batch is retried forever).
    #[serde(default = "default_max_retry_backoff_ms")]
    pub max_retry_backoff_ms: Ranged<10, 3_600_000>,
    /// `write_timeout_ms = 30000`: how long one step of a batch's write
    /// (begin, a multi-row INSERT, commit) may wait for the database. Past
    /// it the connection is closed, the transaction rolls back, and the
    /// batch is written again on a new connection.
    #[serde(default = "default_write_timeout_ms")]
    pub write_timeout_ms: Ranged<100, 3_600_000>,
    /// `[[sink.tables]]`: one entry per table a side output fills.
    #[serde(default)]
    pub tables: Vec<TableConfig>,
}

/// ```toml
/// [[sink.tables]]
/// table = "study_stats"
/// from = "stats.stats"
/// mode = "accumulate"
/// key = ["session_id", "bucket_start", "event_type"]
/// [sink.tables.columns]
/// session_id = "session_id"
/// event_count = "event_count"
/// [sink.tables.accumulate]
/// event_count = "add"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// `table = "study_log"`
    pub table: toml::Spanned<SqlIdent>,
    /// `from = "validate.study_log"`: `<stage>.<output>`, the side output
    /// whose rows fill this table.
    pub from: toml::Spanned<OutputRef>,
    /// `mode = "insert"` (plain rows) or `"accumulate"` (upsert on `key`,
    /// combining with `[sink.tables.accumulate]`).
    #[serde(default)]
    pub mode: TableMode,
    /// `[sink.tables.columns]`: `table_column = "output_column"`, or one of
    /// the record's metadata: `"@topic"`, `"@partition"`, `"@offset"`,
    /// `"@key"`, `"@timestamp"` (only for rows tied to a record).
    pub columns: BTreeMap<SqlIdent, ColumnSource>,
    /// `key = ["session_id", "bucket_start"]`: the unique key that
    /// `accumulate` upserts on.
    #[serde(default)]
    pub key: Option<toml::Spanned<Vec<SqlIdent>>>,
    /// `[sink.tables.accumulate]`: `column = "add" | "min" | "max" | "replace"`
    /// for the non-key columns of an `accumulate` table (default `replace`).
    #[serde(default)]
    pub accumulate: BTreeMap<SqlIdent, Accumulate>,
}

/// `ssl_mode`: how the connection to MySQL uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

/// How a table takes rows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableMode {
    /// One INSERT per row.
    #[default]
    Insert,
    /// INSERT … ON DUPLICATE KEY UPDATE, combining columns as configured.
    Accumulate,
}

/// How an `accumulate` column combines an existing value with a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accumulate {
    Add,
    Min,
    Max,
    Replace,
}

/// `<stage>.<output>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRef {
    pub stage: Name,
    pub output: String,
}

impl fmt::Display for OutputRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.stage, self.output)
    }
}

impl<'de> Deserialize<'de> for OutputRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        let Some((stage, output)) = raw.split_once('.') else {
            return Err(serde::de::Error::custom(format!(
                "{raw:?} should be `<stage>.<output>`, for example \"stats.stats\""
            )));
        };
        if output.is_empty() {
            return Err(serde::de::Error::custom(format!("{raw:?} names no output after the dot")));
        }
        let stage = Name::try_from(stage.to_string()).map_err(serde::de::Error::custom)?;
        Ok(OutputRef { stage, output: output.to_string() })
    }
}

/// Where a table column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnSource {
    /// A column of the side output's rows.
    Field(String),
    /// Metadata of the record the row belongs to.
    Meta(RecordMeta),
}

/// A record's metadata a row can bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordMeta {
    Topic,
    Partition,
    Offset,
    Key,
    Timestamp,
}

impl<'de> Deserialize<'de> for ColumnSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        let Some(meta) = raw.strip_prefix('@') else {
            if raw.is_empty() {
                return Err(serde::de::Error::custom("the output column name is empty"));
            }
            return Ok(ColumnSource::Field(raw));
        };
        let meta = match meta {
            "topic" => RecordMeta::Topic,
            "partition" => RecordMeta::Partition,
            "offset" => RecordMeta::Offset,
            "key" => RecordMeta::Key,
            "timestamp" => RecordMeta::Timestamp,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "unknown record field \"@{other}\": expected @topic, @partition, @offset, @key or @timestamp"
                )));
            }
        };
        Ok(ColumnSource::Meta(meta))
    }
}

fn default_max_connections() -> Ranged<1, 256> {
    Ranged::new(4)
}
fn default_max_retry_backoff_ms() -> Ranged<10, 3_600_000> {
    Ranged::new(30_000)
}
fn default_write_timeout_ms() -> Ranged<100, 3_600_000> {
    Ranged::new(30_000)
}
