//! The database's ceiling: the rows Sluice's transactions hold, written by a
//! bare loop, no Kafka, no WebAssembly.
//!
//! - [`place`]: events from [`loadgen::EventGenerator`] placed on the
//!   partitions and offsets the topic has them at (librdkafka's CRC-32
//!   partitioner, offsets in send order), checked against the topic.
//! - [`batch`]: a partition's records cut into transactions of N records, and
//!   each transaction's SQL built as text before the clock starts: the
//!   offset-row update, one multi-row INSERT into `study_log`, the per-batch
//!   `study_stats` upsert, the dead letters.
//! - [`sql`]: SQL literals.
//! - [`run`](mod@run): three connections, one per partition, timed.

pub mod batch;
pub mod place;
pub mod run;
pub mod sql;

pub use run::{Outcome, Params, run};
