//! One simulated learner: a state machine over the four attention states and
//! a simulated clock.
//!
//! A learner mostly focuses. Focus runs are broken by episodes (distracted,
//! drowsy, away), each a run of several events, after which the learner
//! usually returns to focus. Run lengths are counted in events (one event per
//! clock step, 70 ms by default):
//!
//! | state        | run length (events) | at 70 ms    |
//! |--------------|---------------------|-------------|
//! | `FOCUS`      | 15 ..= 120          | 1 – 8.4 s   |
//! | `DISTRACTED` | 3 ..= 20            | 0.2 – 1.4 s |
//! | `DROWSY`     | 8 ..= 40            | 0.6 – 2.8 s |
//! | `AWAY`       | 20 ..= 80           | 1.4 – 5.6 s |
//!
//! The clock is simulated: event `n` of a session happens at
//! `start + phase + n × step + jitter`, where `phase` spreads the sessions
//! over one step and `jitter` is smaller than a quarter step, so a session's
//! times strictly increase whatever the real sending rate.

use std::fmt;
use std::ops::RangeInclusive;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// What the AI server saw on the webcam: the `eventType` of a valid event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    Focus,
    Distracted,
    Away,
    Drowsy,
}

impl EventType {
    /// Every event type, in the order the validate stage lists them.
    pub const ALL: [EventType; 4] = [EventType::Focus, EventType::Distracted, EventType::Away, EventType::Drowsy];

    /// The wire name, e.g. `"FOCUS"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Focus => "FOCUS",
            EventType::Distracted => "DISTRACTED",
            EventType::Away => "AWAY",
            EventType::Drowsy => "DROWSY",
        }
    }

    /// The inverse of [`EventType::as_str`].
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// How many consecutive events a run of this state lasts.
    fn run_length(self) -> RangeInclusive<u32> {
        match self {
            EventType::Focus => 15..=120,
            EventType::Distracted => 3..=20,
            EventType::Drowsy => 8..=40,
            EventType::Away => 20..=80,
        }
    }

    /// The state after a run of `self` ends.
    fn successor(self, rng: &mut impl Rng) -> EventType {
        let roll = rng.random_range(0..100u32);
        match self {
            EventType::Focus => match roll {
                0..60 => EventType::Distracted,
                60..85 => EventType::Drowsy,
                _ => EventType::Away,
            },
            // A distracted learner sometimes wanders off.
            EventType::Distracted if roll >= 85 => EventType::Away,
            // A drowsy one sometimes drifts into distraction first.
            EventType::Drowsy if roll >= 85 => EventType::Distracted,
            // Coming back from the desk, some take a moment to settle.
            EventType::Away if roll >= 80 => EventType::Distracted,
            _ => EventType::Focus,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One learner: its id, attention state and clock.
#[derive(Debug, Clone)]
pub struct Session {
    id: String,
    state: EventType,
    remaining: u32,
    /// Events emitted so far (the clock's tick count).
    ticks: u64,
    /// Event time of tick 0, in epoch milliseconds (start + phase).
    origin_ms: i64,
    step_ms: i64,
    last_ms: Option<i64>,
}

impl Session {
    /// A learner in the middle of a focus run, whose first event happens at
    /// `origin_ms`, then every `step_ms`.
    pub fn new(id: String, origin_ms: i64, step_ms: u64, rng: &mut impl Rng) -> Session {
        let state = EventType::Focus;
        // Start somewhere inside a run so that sessions do not switch in lockstep.
        let remaining = rng.random_range(1..=*state.run_length().end());
        Session {
            id,
            state,
            remaining,
            ticks: 0,
            origin_ms,
            step_ms: i64::try_from(step_ms.max(1)).unwrap_or(i64::MAX),
            last_ms: None,
        }
    }

    /// The session id, also the Kafka key.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Advances one event: the attention state and event time (epoch ms) of
    /// the next event.
    pub fn advance(&mut self, rng: &mut impl Rng) -> (EventType, i64) {
        if self.remaining == 0 {
            self.state = self.state.successor(rng);
            self.remaining = rng.random_range(self.state.run_length());
        }
        self.remaining -= 1;

        let max_jitter = (self.step_ms / 4).min(8);
        let jitter = if max_jitter > 0 { rng.random_range(0..max_jitter) } else { 0 };
        let tick = i64::try_from(self.ticks).unwrap_or(i64::MAX);
        let mut at = self.origin_ms.saturating_add(tick.saturating_mul(self.step_ms)).saturating_add(jitter);
        // Jitter is below a step, so this only matters for degenerate steps.
        if let Some(last) = self.last_ms
            && at <= last
        {
            at = last + 1;
        }
        self.ticks += 1;
        self.last_ms = Some(at);
        (self.state, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_string(&t).expect("serialize"), format!("\"{t}\""));
        }
        assert_eq!(EventType::parse("SLEEPING"), None);
    }

    #[test]
    fn runs_last_several_events_and_every_state_occurs() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut s = Session::new("session-1".into(), 0, 70, &mut rng);
        let states: Vec<EventType> = (0..20_000).map(|_| s.advance(&mut rng).0).collect();
        for t in EventType::ALL {
            assert!(states.contains(&t), "{t} never occurs");
        }
        let runs = 1 + states.windows(2).filter(|w| w[0] != w[1]).count();
        let mean = states.len() as f64 / runs as f64;
        assert!(mean > 10.0, "runs too short: mean {mean}");
        let focus = states.iter().filter(|t| **t == EventType::Focus).count();
        assert!(focus * 2 > states.len(), "focus should dominate: {focus}");
    }

    #[test]
    fn clock_advances_by_the_step() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut s = Session::new("session-1".into(), 1_000, 70, &mut rng);
        let times: Vec<i64> = (0..1000).map(|_| s.advance(&mut rng).1).collect();
        for (n, t) in times.iter().enumerate() {
            let base = 1_000 + 70 * n as i64;
            assert!((base..base + 8).contains(t), "tick {n} at {t}");
        }
        assert!(times.windows(2).all(|w| w[0] < w[1]));
    }
}
