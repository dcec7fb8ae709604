//! `[dead_letter]`: where records that cannot be processed go.

use serde::Deserialize;

use super::interpolate::EnvString;
use super::names::SqlIdent;
use super::ranged::Ranged;

/// ```toml
/// [dead_letter]
/// table = "dead_letter"
/// topic = "study-log-events.dlq"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterConfig {
    /// `table = "dead_letter"`: written in the batch's own transaction.
    #[serde(default = "default_table")]
    pub table: SqlIdent,
    /// `topic = "study-log-events.dlq"`: also publish dead letters here,
    /// after the database commit (the table stays the record of truth).
    #[serde(default)]
    pub topic: Option<EnvString>,
    /// `broken_deploy_percent = 50`: when a stage traps on more than this
    /// share of a batch's records, the stage is taken to be broken, not the
    /// data: the partition pauses and the batch is retried with backoff
    /// instead of dead-lettering it.
    #[serde(default = "default_broken_deploy_percent")]
    pub broken_deploy_percent: Ranged<1, 100>,
}

impl Default for DeadLetterConfig {
    fn default() -> Self {
        DeadLetterConfig { table: default_table(), topic: None, broken_deploy_percent: default_broken_deploy_percent() }
    }
}

fn default_table() -> SqlIdent {
    SqlIdent::try_from("dead_letter".to_string()).unwrap_or_else(|e| unreachable!("{e}"))
}
fn default_broken_deploy_percent() -> Ranged<1, 100> {
    Ranged::new(50)
}
