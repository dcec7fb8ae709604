//! `loadgen`: the study platform's AI server, simulated. N learners, each
//! sending a focus event every 70 ms, keyed by session id, with a share of
//! poison pills; then a summary of exactly what was delivered.
//!
//! - [`session`]: one learner: attention state machine and simulated clock.
//! - [`timestamp`]: the three timestamp shapes (+09:00, epoch ms, local) and their parser.
//! - [`wire`]: the event JSON, field by field.
//! - [`poison`]: the kinds of poison pill and how each is made.
//! - [`generator`]: the pure, seeded event stream ([`EventGenerator`]).
//! - [`producer`]: the Kafka sink (idempotent `FutureProducer`).
//! - [`file_sink`]: the `--output` sink (raw values, one per line).
//! - [`summary`]: the end-of-run [`Summary`] and the [`Tally`] that builds it.
//! - [`events_out`]: `--events-out`, one JSON line per delivered event.
//! - [`progress`]: the terminal progress line.
//! - [`run`](mod@run): a run: pace, send, await delivery reports ([`run()`], [`LoadgenConfig`]).
//! - [`cli`]: the `loadgen` command line; `src/bin/loadgen.rs` only calls it.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use loadgen::{LoadgenConfig, run};
//! let config = LoadgenConfig { count: Some(3_000), interval_ms: 0, ..LoadgenConfig::kafka("127.0.0.1:9092", "study-log-events") };
//! let summary = run(config).await?;
//! assert_eq!(summary.sent, 3_000);
//! # Ok(()) }
//! ```

pub mod cli;
pub mod events_out;
pub mod file_sink;
pub mod generator;
pub mod poison;
pub mod producer;
pub mod progress;
pub mod run;
pub mod session;
pub mod summary;
pub mod timestamp;
pub mod wire;

pub use events_out::{EventRecord, read_events};
pub use generator::{Event, EventGenerator, EventKind, GeneratorConfig};
pub use poison::PoisonKind;
pub use run::{LoadgenConfig, SinkConfig, run, run_until};
pub use session::EventType;
pub use summary::{PartitionRange, SessionSummary, SinkInfo, StopReason, Summary, Tally};
