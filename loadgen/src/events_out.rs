//! `--events-out`: every delivered event as one JSON line, so a test can
//! compare what reached Kafka (or MySQL) with what was sent, record by record:
//!
//! ```text
//! {"seq":17,"session":"session-3","partition":1,"offset":5,"key":"session-3","value":"{\"sessionId\":...}","kind":"valid","event_type":"FOCUS"}
//! {"seq":18,"session":"session-4","partition":0,"offset":9,"key":"session-4","value":"{\"sessionId\":\"sess","kind":"malformed_json"}
//! ```
//!
//! Lines come in delivery order; `seq` is the send order. Values are ASCII,
//! so `value` holds the raw bytes exactly.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::generator::{Event, EventKind};
use super::poison::PoisonKind;
use super::session::EventType;

/// One delivered event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Send order.
    pub seq: u64,
    /// The learner; equals `key` except for `long_session_id` pills.
    pub session: String,
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub value: String,
    /// `"valid"` or the poison kind.
    #[serde(rename = "kind", with = "kind_label")]
    pub poison: Option<PoisonKind>,
    /// For valid events, their type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<EventType>,
}

impl EventRecord {
    pub fn new(event: &Event, partition: i32, offset: i64) -> EventRecord {
        let (poison, event_type) = match event.kind {
            EventKind::Valid(t) => (None, Some(t)),
            EventKind::Poison(k) => (Some(k), None),
        };
        EventRecord {
            seq: event.seq,
            session: event.session.clone(),
            partition,
            offset,
            key: event.key.clone(),
            value: String::from_utf8_lossy(&event.value).into_owned(),
            poison,
            event_type,
        }
    }
}

/// Writes the records of a run.
#[derive(Debug)]
pub struct EventsWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventsWriter {
    pub fn create(path: &Path) -> anyhow::Result<EventsWriter> {
        let file = File::create(path).with_context(|| format!("creating the events file {}", path.display()))?;
        Ok(EventsWriter { path: path.to_path_buf(), out: BufWriter::new(file) })
    }

    pub fn write(&mut self, record: &EventRecord) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.out, record)
            .map_err(anyhow::Error::from)
            .and_then(|()| self.out.write_all(b"\n").map_err(anyhow::Error::from))
            .with_context(|| format!("writing the events file {}", self.path.display()))
    }

    pub fn finish(mut self) -> anyhow::Result<()> {
        self.out.flush().with_context(|| format!("writing the events file {}", self.path.display()))
    }
}

/// Reads an events file back.
pub fn read_events(path: &Path) -> anyhow::Result<Vec<EventRecord>> {
    let file = File::open(path).with_context(|| format!("opening the events file {}", path.display()))?;
    BufReader::new(file)
        .lines()
        .enumerate()
        .map(|(n, line)| {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&line).with_context(|| format!("{}:{}: not an event record", path.display(), n + 1))
        })
        .collect()
}

mod kind_label {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::PoisonKind;

    pub fn serialize<S: Serializer>(kind: &Option<PoisonKind>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.map_or("valid", PoisonKind::as_str))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PoisonKind>, D::Error> {
        let label = String::deserialize(d)?;
        if label == "valid" { Ok(None) } else { label.parse().map(Some).map_err(serde::de::Error::custom) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{EventGenerator, GeneratorConfig};

    #[test]
    fn records_round_trip_through_a_file() {
        let events: Vec<Event> =
            EventGenerator::new(GeneratorConfig { poison_percent: 30.0, ..GeneratorConfig::default() })
                .take(500)
                .collect();
        let path =
            std::env::temp_dir().join(format!("loadgen-events-{}-{}.jsonl", std::process::id(), rand::random::<u32>()));
        let mut writer = EventsWriter::create(&path).expect("create");
        let records: Vec<EventRecord> =
            events.iter().enumerate().map(|(i, e)| EventRecord::new(e, 0, i as i64)).collect();
        for r in &records {
            writer.write(r).expect("write");
        }
        writer.finish().expect("flush");
        let back = read_events(&path).expect("read");
        std::fs::remove_file(&path).ok();
        assert_eq!(back, records);
        for (r, e) in back.iter().zip(&events) {
            assert_eq!(r.value.as_bytes(), e.value.as_slice());
        }
        assert!(back.iter().any(|r| r.poison.is_some()) && back.iter().any(|r| r.poison.is_none()));
        let line = serde_json::to_string(&records[0]).expect("json");
        assert!(line.contains(r#""kind":"valid""#) || line.contains(r#""kind":"#), "{line}");
    }
}
