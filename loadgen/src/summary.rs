//! What was sent, exactly: the JSON printed at the end of a run, and the
//! [`Tally`] that builds it from delivery reports.
//!
//! Only delivered events count: `sent`, the per-kind, per-session and
//! per-partition numbers all cover messages whose delivery succeeded.
//! `failed` counts the others, by error, and they appear nowhere else.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::generator::{Event, EventKind};
use super::poison::PoisonKind;
use super::session::EventType;

/// The result of a run. Serializes to the summary JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub sink: SinkInfo,
    pub seed: u64,
    /// Learners simulated.
    pub session_count: usize,
    /// Real time between two events of one session; 0 = as fast as possible.
    pub interval_ms: u64,
    /// Simulated time between two events of one session.
    pub clock_step_ms: u64,
    /// Simulated time of the first event (RFC 3339, at the platform offset).
    pub start_time: String,
    pub stopped_by: StopReason,
    pub elapsed_ms: u64,
    /// Delivered events per second of `elapsed_ms`.
    pub events_per_sec: f64,
    /// Handed to the sink: `sent + failed`.
    pub attempted: u64,
    /// Delivered: `valid + poison`.
    pub sent: u64,
    pub valid: u64,
    pub poison: u64,
    pub failed: u64,
    /// Failed deliveries by error message.
    pub failures: BTreeMap<String, u64>,
    /// Delivered pills by kind; every kind is listed, zeros included.
    pub poison_kinds: BTreeMap<PoisonKind, u64>,
    /// Delivered valid events by type; every type is listed.
    pub event_types: BTreeMap<EventType, u64>,
    /// By learner id (a `long_session_id` pill counts for its learner).
    pub sessions: BTreeMap<String, SessionSummary>,
    /// By partition: the offsets delivered (a file sink is partition 0, line numbers as offsets).
    pub partitions: BTreeMap<i32, PartitionRange>,
}

/// Where the events went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkInfo {
    Kafka { brokers: String, topic: String },
    File { path: String },
}

/// Why the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Count,
    Duration,
    Interrupted,
}

/// One learner's delivered events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub valid: u64,
    pub poison: u64,
    /// Valid events by type; every type is listed.
    pub event_types: BTreeMap<EventType, u64>,
}

/// The offsets delivered to one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRange {
    pub first_offset: i64,
    pub last_offset: i64,
    pub count: u64,
}

/// The parts of a summary that describe the run rather than count it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub sink: SinkInfo,
    pub seed: u64,
    pub session_count: usize,
    pub interval_ms: u64,
    pub clock_step_ms: u64,
    pub start_time: String,
}

/// Counts deliveries as they are reported.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    attempted: u64,
    valid: u64,
    poison: u64,
    failed: u64,
    failures: BTreeMap<String, u64>,
    poison_kinds: BTreeMap<PoisonKind, u64>,
    event_types: BTreeMap<EventType, u64>,
    sessions: BTreeMap<String, SessionSummary>,
    partitions: BTreeMap<i32, PartitionRange>,
}

impl Tally {
    /// A tally listing every learner, kind and type, all at zero.
    pub fn new<'a>(session_ids: impl IntoIterator<Item = &'a str>) -> Tally {
        let types = || EventType::ALL.into_iter().map(|t| (t, 0)).collect::<BTreeMap<_, _>>();
        Tally {
            poison_kinds: PoisonKind::ALL.into_iter().map(|k| (k, 0)).collect(),
            event_types: types(),
            sessions: session_ids
                .into_iter()
                .map(|id| (id.to_string(), SessionSummary { event_types: types(), ..SessionSummary::default() }))
                .collect(),
            ..Tally::default()
        }
    }

    /// `event` was delivered at `partition`/`offset`.
    pub fn delivered(&mut self, event: &Event, partition: i32, offset: i64) {
        self.attempted += 1;
        let session = self.sessions.entry(event.session.clone()).or_default();
        match event.kind {
            EventKind::Valid(t) => {
                self.valid += 1;
                *self.event_types.entry(t).or_default() += 1;
                session.valid += 1;
                *session.event_types.entry(t).or_default() += 1;
            }
            EventKind::Poison(kind) => {
                self.poison += 1;
                *self.poison_kinds.entry(kind).or_default() += 1;
                session.poison += 1;
            }
        }
        self.partitions
            .entry(partition)
            .and_modify(|r| {
                r.first_offset = r.first_offset.min(offset);
                r.last_offset = r.last_offset.max(offset);
                r.count += 1;
            })
            .or_insert(PartitionRange { first_offset: offset, last_offset: offset, count: 1 });
    }

    /// `event` could not be delivered.
    pub fn failed(&mut self, error: String) {
        self.attempted += 1;
        self.failed += 1;
        *self.failures.entry(error).or_default() += 1;
    }

    pub fn attempted(&self) -> u64 {
        self.attempted
    }

    pub fn sent(&self) -> u64 {
        self.valid + self.poison
    }

    pub fn poison(&self) -> u64 {
        self.poison
    }

    pub fn failed_count(&self) -> u64 {
        self.failed
    }

    /// The final summary.
    pub fn finish(self, info: RunInfo, stopped_by: StopReason, elapsed: Duration) -> Summary {
        let sent = self.sent();
        let secs = elapsed.as_secs_f64();
        Summary {
            sink: info.sink,
            seed: info.seed,
            session_count: info.session_count,
            interval_ms: info.interval_ms,
            clock_step_ms: info.clock_step_ms,
            start_time: info.start_time,
            stopped_by,
            elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            events_per_sec: if secs > 0.0 { (sent as f64 / secs * 10.0).round() / 10.0 } else { 0.0 },
            attempted: self.attempted,
            sent,
            valid: self.valid,
            poison: self.poison,
            failed: self.failed,
            failures: self.failures,
            poison_kinds: self.poison_kinds,
            event_types: self.event_types,
            sessions: self.sessions,
            partitions: self.partitions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{EventGenerator, GeneratorConfig};

    #[test]
    fn counts_add_up_and_round_trip_through_json() {
        let mut generator =
            EventGenerator::new(GeneratorConfig { sessions: 4, poison_percent: 20.0, ..GeneratorConfig::default() });
        let mut tally = Tally::new(generator.session_ids());
        for i in 0..1_000 {
            let e = generator.next_event();
            tally.delivered(&e, (i % 3) as i32, i / 3);
        }
        tally.failed("Message timed out".into());
        let info = RunInfo {
            sink: SinkInfo::Kafka { brokers: "127.0.0.1:9092".into(), topic: "t".into() },
            seed: 0,
            session_count: 4,
            interval_ms: 0,
            clock_step_ms: 70,
            start_time: "2026-01-28T10:00:00.000+09:00".into(),
        };
        let summary = tally.finish(info, StopReason::Count, Duration::from_secs(2));
        assert_eq!((summary.attempted, summary.sent, summary.failed), (1_001, 1_000, 1));
        assert_eq!(summary.valid + summary.poison, summary.sent);
        assert_eq!(summary.poison_kinds.values().sum::<u64>(), summary.poison);
        assert_eq!(summary.event_types.values().sum::<u64>(), summary.valid);
        assert_eq!(summary.sessions.len(), 4);
        assert_eq!(summary.sessions.values().map(|s| s.valid + s.poison).sum::<u64>(), 1_000);
        assert_eq!(summary.partitions[&0], PartitionRange { first_offset: 0, last_offset: 333, count: 334 });
        assert_eq!(summary.events_per_sec, 500.0);

        let json = serde_json::to_string_pretty(&summary).expect("serialize");
        assert!(json.contains(r#""malformed_json""#) && json.contains(r#""FOCUS""#), "{json}");
        let back: Summary = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, summary);
    }
}
