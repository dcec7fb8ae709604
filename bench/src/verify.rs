//! The end-of-run check: `study_log` holds the valid events and
//! `dead_letter` the poison pills, as loadgen counted them. A mismatch is a
//! bug in the system under test; it is printed loudly and recorded.

use serde::Serialize;

use crate::db;

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub study_log: i64,
    pub expected_study_log: u64,
    pub dead_letter: i64,
    pub expected_dead_letter: u64,
    pub ok: bool,
}

/// Counts the two tables of `url` against the expected numbers.
pub async fn check(label: &str, url: &str, valid: u64, poison: u64) -> anyhow::Result<Verification> {
    let study_log = db::count(url, "study_log").await?;
    let dead_letter = db::count(url, "dead_letter").await?;
    let ok = u64::try_from(study_log).ok() == Some(valid) && u64::try_from(dead_letter).ok() == Some(poison);
    if !ok {
        eprintln!(
            "\n!!!!!!!! MISMATCH in {label}: study_log {study_log} rows (expected {valid}), dead_letter {dead_letter} rows (expected {poison}) !!!!!!!!\n"
        );
    }
    Ok(Verification { study_log, expected_study_log: valid, dead_letter, expected_dead_letter: poison, ok })
}
