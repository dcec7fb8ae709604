//! The service's metrics: every name, its labels and what it counts, in one
//! place. Recorded through the `metrics` facade; `/metrics` renders them in
//! the Prometheus text format (metrics-exporter-prometheus).
//!
//! Records, dead letters and rows are counted when their batch commits, so
//! after a run the counters equal what landed: a batch retried, split or
//! abandoned is counted once or not at all.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `sluice_stage_records_total` | `stage`, `outcome` = `in`, `kept`, `replaced`, `rejected`, `isolated`, `dropped` | records through each stage (`dropped`: filtered out by a `drop` verdict, no dead letter) |
//! | `sluice_dead_letters_total` | `stage`, `reason_class` = `rejected`, `trapped`, `refused_by_database` | dead letters written |
//! | `sluice_batch_records` | | records per committed batch (histogram) |
//! | `sluice_batch_seconds` | | a batch from closing to commit: transforms and write (histogram) |
//! | `sluice_stage_seconds` | `stage` | time in each stage per batch (histogram) |
//! | `sluice_sink_write_seconds` | | a batch's database write, retries included (histogram) |
//! | `sluice_sink_rows_total` | `table` | rows written per table |
//! | `sluice_retries_total` | `cause` = `database`, `database_refused`, `database_timeout`, `stage_broken`, `fenced` | batches written or transformed again |
//! | `sluice_consumer_lag` | `partition` | records behind the log end (librdkafka's statistics) |
//! | `sluice_partitions_assigned` | | partitions this process works on |
//! | `sluice_module_info` | `stage`, `sha256` | 1 for the module running in each stage, 0 for one replaced |
//! | `sluice_module_reloads_total` | `stage`, `result` = `accepted`, `refused` | module files swapped in or refused |
//! | `sluice_up` | | 1 while the process runs |
//! | `sluice_ready` | | 1 when the last `/readyz` answered ready |

use std::sync::OnceLock;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const STAGE_RECORDS: &str = "sluice_stage_records_total";
pub const DEAD_LETTERS: &str = "sluice_dead_letters_total";
pub const BATCH_RECORDS: &str = "sluice_batch_records";
pub const BATCH_SECONDS: &str = "sluice_batch_seconds";
pub const STAGE_SECONDS: &str = "sluice_stage_seconds";
pub const SINK_WRITE_SECONDS: &str = "sluice_sink_write_seconds";
pub const SINK_ROWS: &str = "sluice_sink_rows_total";
pub const RETRIES: &str = "sluice_retries_total";
pub const CONSUMER_LAG: &str = "sluice_consumer_lag";
pub const PARTITIONS: &str = "sluice_partitions_assigned";
pub const MODULE_INFO: &str = "sluice_module_info";
pub const RELOADS: &str = "sluice_module_reloads_total";
pub const UP: &str = "sluice_up";
pub const READY: &str = "sluice_ready";

/// Buckets of the time histograms, in seconds: 1 ms to 1 min.
const SECONDS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0];
/// Buckets of records per batch.
const RECORDS: [f64; 10] = [1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10000.0, 100000.0];

/// Why a record became a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonClass {
    /// A stage's verdict.
    Rejected,
    /// It made a stage fail on its own (trap, timeout, memory).
    Trapped,
    /// The database refused its row.
    RefusedByDatabase,
}

impl ReasonClass {
    fn label(self) -> &'static str {
        match self {
            ReasonClass::Rejected => "rejected",
            ReasonClass::Trapped => "trapped",
            ReasonClass::RefusedByDatabase => "refused_by_database",
        }
    }
}

/// Why a batch was written or transformed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryCause {
    /// A transient database error (connection, deadlock, server away).
    Database,
    /// The database refused the batch for a reason that needs an operator.
    DatabaseRefused,
    /// A step of the write got no answer in time.
    DatabaseTimeout,
    /// A stage failed on most of the batch.
    StageBroken,
    /// The offset fence: another writer moved the partition.
    Fenced,
}

impl RetryCause {
    fn label(self) -> &'static str {
        match self {
            RetryCause::Database => "database",
            RetryCause::DatabaseRefused => "database_refused",
            RetryCause::DatabaseTimeout => "database_timeout",
            RetryCause::StageBroken => "stage_broken",
            RetryCause::Fenced => "fenced",
        }
    }
}

/// The process's recorder, installed on first use; its handle renders
/// `/metrics`.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(BATCH_RECORDS.into()), &RECORDS));
        let handle = match builder.map(PrometheusBuilder::install_recorder) {
            Ok(Ok(handle)) => handle,
            // Another recorder is installed (a test's): render what this one
            // would, which is nothing.
            _ => PrometheusBuilder::new().build_recorder().handle(),
        };
        describe();
        gauge!(UP).set(1.0);
        handle
    })
}

fn describe() {
    describe_counter!(STAGE_RECORDS, "Records through each stage, by outcome, counted when their batch commits.");
    describe_counter!(DEAD_LETTERS, "Dead letters written, by stage and reason class.");
    describe_histogram!(BATCH_RECORDS, Unit::Count, "Records per committed batch.");
    describe_histogram!(BATCH_SECONDS, Unit::Seconds, "A batch from closing to commit: transforms and write.");
    describe_histogram!(STAGE_SECONDS, Unit::Seconds, "Time in each stage per batch.");
    describe_histogram!(SINK_WRITE_SECONDS, Unit::Seconds, "A batch's database write, retries included.");
    describe_counter!(SINK_ROWS, "Rows written per table.");
    describe_counter!(RETRIES, "Batches written or transformed again, by cause.");
    describe_gauge!(CONSUMER_LAG, "Records behind the log end, per partition.");
    describe_gauge!(PARTITIONS, "Partitions this process works on.");
    describe_gauge!(MODULE_INFO, "1 for the module (by content hash) running in each stage.");
    describe_counter!(RELOADS, "Module files swapped in or refused, per stage.");
    describe_gauge!(UP, "1 while the process runs.");
    describe_gauge!(READY, "1 when the last readiness check passed.");
}

/// One stage's share of a committed batch.
pub fn stage(stage: &str, counts: StageCounts, seconds: f64) {
    let StageCounts { records_in, kept, replaced, rejected, isolated, dropped } = counts;
    for (outcome, n) in [
        ("in", records_in),
        ("kept", kept),
        ("replaced", replaced),
        ("rejected", rejected),
        ("isolated", isolated),
        ("dropped", dropped),
    ] {
        counter!(STAGE_RECORDS, "stage" => stage.to_string(), "outcome" => outcome).increment(n as u64);
    }
    histogram!(STAGE_SECONDS, "stage" => stage.to_string()).record(seconds);
}

/// What one stage did with one committed batch's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCounts {
    pub records_in: usize,
    pub kept: usize,
    pub replaced: usize,
    pub rejected: usize,
    pub isolated: usize,
    pub dropped: usize,
}

/// A committed dead letter.
pub fn dead_letter(stage: &str, class: ReasonClass) {
    counter!(DEAD_LETTERS, "stage" => stage.to_string(), "reason_class" => class.label()).increment(1);
}

/// A committed batch: its size, its time from closing to commit, and its
/// write's time.
pub fn batch(records: usize, seconds: f64, write_seconds: f64) {
    histogram!(BATCH_RECORDS).record(records as f64);
    histogram!(BATCH_SECONDS).record(seconds);
    histogram!(SINK_WRITE_SECONDS).record(write_seconds);
}

/// Rows committed into `table`.
pub fn rows(table: &str, n: usize) {
    counter!(SINK_ROWS, "table" => table.to_string()).increment(n as u64);
}

pub fn retry(cause: RetryCause) {
    counter!(RETRIES, "cause" => cause.label()).increment(1);
}

pub fn lag(partition: i32, records: i64) {
    gauge!(CONSUMER_LAG, "partition" => partition.to_string()).set(records as f64);
}

pub fn partitions(assigned: usize) {
    gauge!(PARTITIONS).set(assigned as f64);
}

/// `stage` now runs the module with content hash `sha256`; `replaced`, if
/// any, is the one it ran before.
pub fn module(stage: &str, sha256: &str, replaced: Option<&str>) {
    if let Some(old) = replaced.filter(|old| *old != sha256) {
        gauge!(MODULE_INFO, "stage" => stage.to_string(), "sha256" => old.to_string()).set(0.0);
    }
    gauge!(MODULE_INFO, "stage" => stage.to_string(), "sha256" => sha256.to_string()).set(1.0);
}

/// A module file was swapped in (`accepted`) or refused.
pub fn reload(stage: &str, accepted: bool) {
    counter!(RELOADS, "stage" => stage.to_string(), "result" => if accepted { "accepted" } else { "refused" })
        .increment(1);
}

pub fn ready(ready: bool) {
    gauge!(READY).set(if ready { 1.0 } else { 0.0 });
}
