//! The pure event stream: sessions taking turns, each event valid or, now and
//! then, a poison pill. No I/O, no clock: the same [`GeneratorConfig`] (seed
//! and start included) gives the same events, byte for byte. (The RNG is
//! `rand`'s `StdRng`: reproducible with the same build; a `rand` upgrade may
//! change the stream.)

use anyhow::ensure;
use chrono::{DateTime, FixedOffset};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::poison::PoisonKind;
use super::session::{EventType, Session};
use super::timestamp::{self, TimestampFormat};
use super::wire::WireEvent;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Number of learners; their ids are `{session_prefix}1` ..= `{session_prefix}N`.
    pub sessions: usize,
    pub session_prefix: String,
    /// Seeds the one RNG every choice is drawn from.
    pub seed: u64,
    /// Simulated time of the first event, epoch milliseconds.
    pub start_ms: i64,
    /// Simulated time between two events of one session.
    pub step_ms: u64,
    /// The platform's offset: for `+09:00` timestamps and for local times.
    pub utc_offset: FixedOffset,
    /// Share of events that are poison pills, 0 ..= 100.
    pub poison_percent: f64,
    /// Share of events whose timestamp is epoch milliseconds.
    pub epoch_millis_percent: f64,
    /// Share of events whose timestamp is local ISO without an offset.
    pub local_time_percent: f64,
}

impl Default for GeneratorConfig {
    /// 50 learners, one event every 70 ms each, 2 % poison, 5 % epoch-millis
    /// and 5 % local timestamps, starting 2026-01-28T10:00:00+09:00, seed 0.
    fn default() -> GeneratorConfig {
        GeneratorConfig {
            sessions: 50,
            session_prefix: "session-".to_string(),
            seed: 0,
            start_ms: DateTime::parse_from_rfc3339("2026-01-28T10:00:00+09:00")
                .map(|t| t.timestamp_millis())
                .unwrap_or(0),
            step_ms: 70,
            utc_offset: timestamp::kst(),
            poison_percent: 2.0,
            epoch_millis_percent: 5.0,
            local_time_percent: 5.0,
        }
    }
}

impl GeneratorConfig {
    /// Checks ranges; [`EventGenerator::new`] clamps instead.
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(self.sessions >= 1, "sessions must be at least 1");
        ensure!(self.step_ms >= 1, "the clock step must be at least 1 ms");
        for (name, p) in [
            ("poison-percent", self.poison_percent),
            ("epoch-millis-percent", self.epoch_millis_percent),
            ("local-time-percent", self.local_time_percent),
        ] {
            ensure!((0.0..=100.0).contains(&p), "{name} must be between 0 and 100, got {p}");
        }
        ensure!(
            self.epoch_millis_percent + self.local_time_percent <= 100.0,
            "epoch-millis-percent + local-time-percent must not exceed 100"
        );
        Ok(())
    }
}

/// Valid, or which kind of poison pill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Valid(EventType),
    Poison(PoisonKind),
}

impl EventKind {
    /// The poison kind, if a pill.
    pub fn poison(self) -> Option<PoisonKind> {
        match self {
            EventKind::Poison(kind) => Some(kind),
            EventKind::Valid(_) => None,
        }
    }
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the generated stream, from 0: the send order.
    pub seq: u64,
    /// The learner who sent it (for a `long_session_id` pill, not the key).
    pub session: String,
    /// The Kafka key.
    pub key: String,
    /// The Kafka value, raw.
    pub value: Vec<u8>,
    pub kind: EventKind,
    /// Simulated event time, epoch milliseconds.
    pub time_ms: i64,
}

/// The event stream; also an endless [`Iterator`].
#[derive(Debug, Clone)]
pub struct EventGenerator {
    config: GeneratorConfig,
    rng: StdRng,
    sessions: Vec<Session>,
    cursor: usize,
    seq: u64,
}

impl EventGenerator {
    pub fn new(mut config: GeneratorConfig) -> EventGenerator {
        config.sessions = config.sessions.max(1);
        config.step_ms = config.step_ms.max(1);
        let mut rng = StdRng::seed_from_u64(config.seed);
        let n = config.sessions as u64;
        let sessions = (0..n)
            .map(|i| {
                // Spread the learners over one step, so that their events interleave.
                let phase = i64::try_from(i * config.step_ms / n).unwrap_or(0);
                Session::new(
                    format!("{}{}", config.session_prefix, i + 1),
                    config.start_ms + phase,
                    config.step_ms,
                    &mut rng,
                )
            })
            .collect();
        EventGenerator { config, rng, sessions, cursor: 0, seq: 0 }
    }

    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// The session ids, in turn order.
    pub fn session_ids(&self) -> impl Iterator<Item = &str> {
        self.sessions.iter().map(Session::id)
    }

    /// The next event: sessions take turns, one event each per clock step.
    pub fn next_event(&mut self) -> Event {
        let turns = self.sessions.len();
        let rng = &mut self.rng;
        let session = &mut self.sessions[self.cursor];
        self.cursor = (self.cursor + 1) % turns;
        let seq = self.seq;
        self.seq += 1;

        let (event_type, time_ms) = session.advance(rng);
        let format = pick_format(rng, self.config.epoch_millis_percent, self.config.local_time_percent);
        let wire = WireEvent::new(
            session.id(),
            event_type.as_str(),
            timestamp::render(time_ms, format, self.config.utc_offset),
        );
        let poison = rng.random_bool((self.config.poison_percent / 100.0).clamp(0.0, 1.0));
        let id = session.id().to_string();
        if poison {
            let kind = PoisonKind::pick(rng);
            let pill = kind.make(&id, wire, rng);
            Event { seq, session: id, key: pill.key, value: pill.value, kind: EventKind::Poison(kind), time_ms }
        } else {
            Event {
                seq,
                key: id.clone(),
                session: id,
                value: wire.to_bytes(),
                kind: EventKind::Valid(event_type),
                time_ms,
            }
        }
    }
}

impl Iterator for EventGenerator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        Some(self.next_event())
    }
}

fn pick_format(rng: &mut impl Rng, epoch_percent: f64, local_percent: f64) -> TimestampFormat {
    let roll = rng.random_range(0.0..100.0);
    if roll < epoch_percent {
        TimestampFormat::EpochMillis
    } else if roll < epoch_percent + local_percent {
        TimestampFormat::Local
    } else {
        TimestampFormat::Offset
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use serde_json::Value;

    use super::*;

    fn generate(config: GeneratorConfig, n: usize) -> Vec<Event> {
        EventGenerator::new(config).take(n).collect()
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let config = GeneratorConfig { seed: 42, poison_percent: 10.0, ..GeneratorConfig::default() };
        let a = generate(config.clone(), 5_000);
        assert_eq!(a, generate(config.clone(), 5_000));
        let b = generate(GeneratorConfig { seed: 43, ..config }, 5_000);
        assert_ne!(a.iter().map(|e| &e.value).collect::<Vec<_>>(), b.iter().map(|e| &e.value).collect::<Vec<_>>());
    }

    #[test]
    fn sessions_take_turns_and_seq_counts_up() {
        let events = generate(GeneratorConfig { sessions: 3, ..GeneratorConfig::default() }, 9);
        let sessions: Vec<&str> = events.iter().map(|e| e.session.as_str()).collect();
        assert_eq!(sessions, ["session-1", "session-2", "session-3"].repeat(3));
        assert!(events.iter().enumerate().all(|(i, e)| e.seq == i as u64));
    }

    #[test]
    fn valid_events_are_json_with_the_three_fields() {
        let config = GeneratorConfig::default();
        let offset = config.utc_offset;
        let mut formats = BTreeMap::<&str, usize>::new();
        let mut types = BTreeSet::new();
        for e in generate(config, 20_000) {
            let EventKind::Valid(event_type) = e.kind else { continue };
            let v: Value = serde_json::from_slice(&e.value).expect("valid JSON");
            let obj = v.as_object().expect("object");
            assert_eq!(obj.len(), 3, "{v}");
            assert_eq!(obj["sessionId"], Value::from(e.key.as_str()));
            assert_eq!(e.key, e.session);
            assert_eq!(obj["eventType"], event_type.as_str());
            assert_eq!(timestamp::parse(&obj["timestamp"], offset), Some(e.time_ms), "{v}");
            types.insert(event_type);
            let shape = match &obj["timestamp"] {
                Value::Number(_) => "epoch",
                Value::String(s) if s.ends_with("+09:00") => "offset",
                _ => "local",
            };
            *formats.entry(shape).or_default() += 1;
        }
        assert_eq!(types.len(), 4, "{types:?}");
        let total: usize = formats.values().sum();
        for (shape, expected) in [("epoch", 0.05), ("local", 0.05), ("offset", 0.90)] {
            let share = formats[shape] as f64 / total as f64;
            assert!((share - expected).abs() < 0.01, "{shape}: {share}");
        }
    }

    #[test]
    fn timestamps_increase_per_session_by_about_one_step() {
        let config = GeneratorConfig { sessions: 7, poison_percent: 5.0, ..GeneratorConfig::default() };
        let offset = config.utc_offset;
        let start = config.start_ms;
        let mut last: HashMap<String, i64> = HashMap::new();
        for e in generate(config, 7_000) {
            if let EventKind::Valid(_) = e.kind {
                let v: Value = serde_json::from_slice(&e.value).expect("JSON");
                assert_eq!(timestamp::parse(&v["timestamp"], offset), Some(e.time_ms));
            }
            assert!(e.time_ms >= start);
            if let Some(prev) = last.insert(e.session.clone(), e.time_ms) {
                assert!(e.time_ms > prev, "{}: {} after {prev}", e.session, e.time_ms);
                assert!((e.time_ms - prev - 70).abs() < 10, "{}: step {}", e.session, e.time_ms - prev);
            }
        }
    }

    #[test]
    fn poison_share_is_within_tolerance_and_every_kind_occurs() {
        let events = generate(GeneratorConfig { seed: 9, ..GeneratorConfig::default() }, 100_000);
        let mut kinds = BTreeMap::<PoisonKind, usize>::new();
        for e in &events {
            if let Some(kind) = e.kind.poison() {
                *kinds.entry(kind).or_default() += 1;
            }
        }
        let poison: usize = kinds.values().sum();
        let share = poison as f64 / events.len() as f64;
        assert!((0.017..=0.023).contains(&share), "poison share {share}");
        for kind in PoisonKind::ALL {
            let n = kinds.get(&kind).copied().unwrap_or(0);
            // 2000 pills over 7 kinds: about 285 each.
            assert!(n > 200, "{kind}: {n}");
        }
    }

    #[test]
    fn no_poison_when_the_share_is_zero() {
        let events = generate(GeneratorConfig { poison_percent: 0.0, ..GeneratorConfig::default() }, 10_000);
        assert!(events.iter().all(|e| matches!(e.kind, EventKind::Valid(_))));
    }

    #[test]
    fn pills_keep_the_session_key_except_the_long_id() {
        for e in generate(GeneratorConfig { poison_percent: 50.0, ..GeneratorConfig::default() }, 5_000) {
            match e.kind {
                EventKind::Poison(PoisonKind::LongSessionId) => {
                    assert!(e.key.len() > 64 && e.key.starts_with(&e.session));
                }
                _ => assert_eq!(e.key, e.session),
            }
        }
    }

    #[test]
    fn validate_rejects_out_of_range_shares() {
        assert!(GeneratorConfig::default().validate().is_ok());
        assert!(GeneratorConfig { poison_percent: 101.0, ..GeneratorConfig::default() }.validate().is_err());
        assert!(GeneratorConfig { sessions: 0, ..GeneratorConfig::default() }.validate().is_err());
        assert!(
            GeneratorConfig { epoch_millis_percent: 60.0, local_time_percent: 50.0, ..GeneratorConfig::default() }
                .validate()
                .is_err()
        );
    }
}
