//! loadgen against the real broker: what the summary and the events file say
//! was sent is exactly what a consumer reads back, keyed and ordered per
//! learner.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use loadgen::{EventRecord, EventType, LoadgenConfig, PoisonKind, StopReason, read_events, run, timestamp};
use serde_json::Value;

use crate::helpers::kafka::{Received, consume_all, fresh_topic};

const EVENTS: u64 = 3_000;
const SESSIONS: usize = 20;

/// What a value is, judged from its bytes alone (the validate stage's rules):
/// `Ok(event type)` for a valid event, `Err(kind)` for a pill.
fn classify(value: &[u8], offset: chrono::FixedOffset) -> Result<EventType, PoisonKind> {
    if value.is_empty() {
        return Err(PoisonKind::EmptyValue);
    }
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(value) else {
        return Err(PoisonKind::MalformedJson);
    };
    let (Some(id), Some(event_type), Some(ts)) = (obj.get("sessionId"), obj.get("eventType"), obj.get("timestamp"))
    else {
        return Err(PoisonKind::MissingField);
    };
    let (Some(id), Some(event_type)) = (id.as_str(), event_type.as_str()) else {
        return Err(PoisonKind::WrongType);
    };
    if !(ts.is_string() || ts.is_i64()) {
        return Err(PoisonKind::WrongType);
    }
    let Some(event_type) = EventType::parse(event_type) else {
        return Err(PoisonKind::UnknownEventType);
    };
    if id.is_empty() || id.len() > 64 {
        return Err(PoisonKind::LongSessionId);
    }
    if timestamp::parse(ts, offset).is_none() {
        return Err(PoisonKind::BadTimestamp);
    }
    Ok(event_type)
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("sluice-it-{name}-{}-{:08x}", std::process::id(), rand::random::<u32>()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_keyed_and_in_order_per_learner() {
    let topic = fresh_topic("roundtrip", 3).await;
    let events_path = temp_path("events.jsonl");

    let mut config = LoadgenConfig::kafka(topic.brokers.clone(), topic.name.clone());
    config.interval_ms = 0;
    config.count = Some(EVENTS);
    config.events_out = Some(events_path.clone());
    config.generator.sessions = SESSIONS;
    config.generator.seed = 2026;
    config.generator.poison_percent = 5.0;
    let utc_offset = config.generator.utc_offset;
    let summary = run(config).await.expect("loadgen run");
    let sent: Vec<EventRecord> = read_events(&events_path).expect("read the events file");
    std::fs::remove_file(&events_path).ok();

    // The summary: everything delivered, every poison kind among it.
    assert_eq!(summary.stopped_by, StopReason::Count);
    assert_eq!(
        (summary.attempted, summary.sent, summary.failed),
        (EVENTS, EVENTS, 0),
        "failures: {:?}",
        summary.failures
    );
    assert_eq!(summary.valid + summary.poison, EVENTS);
    assert_eq!(summary.sessions.len(), SESSIONS);
    for (kind, n) in &summary.poison_kinds {
        assert!(*n > 0, "no {kind} pill among {} (seed 2026)", summary.poison);
    }
    assert_eq!(sent.len() as u64, EVENTS);
    assert_eq!(sent.iter().map(|r| r.seq).collect::<BTreeSet<_>>().len() as u64, EVENTS, "seq repeats");

    let (received, watermarks) = consume_all(&topic.brokers, &topic.name, sent.len(), Duration::from_secs(90)).await;

    // Exactly the delivered set: same (partition, offset, key, value), nothing more.
    let expected: Vec<Received> = {
        let mut v: Vec<Received> = sent
            .iter()
            .map(|r| Received {
                partition: r.partition,
                offset: r.offset,
                key: Some(r.key.clone().into_bytes()),
                value: r.value.clone().into_bytes(),
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(received.len(), expected.len());
    for (got, want) in received.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    let per_partition: BTreeMap<i32, (i64, i64, u64)> = received.iter().fold(BTreeMap::new(), |mut m, r| {
        let e = m.entry(r.partition).or_insert((r.offset, r.offset, 0));
        e.0 = e.0.min(r.offset);
        e.1 = e.1.max(r.offset);
        e.2 += 1;
        m
    });
    assert!(per_partition.len() > 1, "20 learners all on one partition: {per_partition:?}");
    for (partition, (first, last, count)) in &per_partition {
        let range = summary.partitions[partition];
        assert_eq!(
            (range.first_offset, range.last_offset, range.count),
            (*first, *last, *count),
            "partition {partition}"
        );
        assert_eq!(watermarks[partition], last + 1, "partition {partition} holds more than was sent");
    }
    assert_eq!(summary.partitions.len(), per_partition.len());

    // One key, one partition; per key, offset order is send order.
    let by_position: BTreeMap<(i32, i64), &EventRecord> = sent.iter().map(|r| ((r.partition, r.offset), r)).collect();
    let mut keys: BTreeMap<&[u8], Vec<&Received>> = BTreeMap::new();
    for r in &received {
        keys.entry(r.key.as_deref().expect("every message has a key")).or_default().push(r);
    }
    for (key, messages) in &keys {
        let partitions: BTreeSet<i32> = messages.iter().map(|m| m.partition).collect();
        assert_eq!(partitions.len(), 1, "key {} on partitions {partitions:?}", String::from_utf8_lossy(key));
        let seqs: Vec<u64> = messages.iter().map(|m| by_position[&(m.partition, m.offset)].seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "key {}: offsets out of send order",
            String::from_utf8_lossy(key)
        );
    }

    // Per learner, valid events' times strictly increase in offset order.
    for id in summary.sessions.keys() {
        let times: Vec<i64> = keys[id.as_bytes()]
            .iter()
            .filter_map(|m| {
                let v: Value = serde_json::from_slice(&m.value).ok()?;
                classify(&m.value, utc_offset).ok()?;
                timestamp::parse(&v["timestamp"], utc_offset)
            })
            .collect();
        assert!(times.len() > 100, "{id}: only {} valid events", times.len());
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{id}: times go backwards");
    }

    // The summary's counts equal what was read, judged from the bytes read.
    let mut kinds: BTreeMap<PoisonKind, u64> = PoisonKind::ALL.into_iter().map(|k| (k, 0)).collect();
    let mut types: BTreeMap<EventType, u64> = EventType::ALL.into_iter().map(|t| (t, 0)).collect();
    let mut sessions: BTreeMap<String, (u64, u64, BTreeMap<EventType, u64>)> = BTreeMap::new();
    for m in &received {
        let record = by_position[&(m.partition, m.offset)];
        let session = sessions.entry(record.session.clone()).or_default();
        match classify(&m.value, utc_offset) {
            Ok(t) => {
                assert_eq!(record.poison, None, "{record:?}");
                assert_eq!(record.event_type, Some(t));
                *types.entry(t).or_default() += 1;
                session.0 += 1;
                *session.2.entry(t).or_default() += 1;
            }
            Err(kind) => {
                assert_eq!(record.poison, Some(kind), "{record:?}");
                *kinds.entry(kind).or_default() += 1;
                session.1 += 1;
            }
        }
    }
    assert_eq!(summary.poison_kinds, kinds);
    assert_eq!(summary.event_types, types);
    assert_eq!(summary.sessions.len(), sessions.len());
    for (id, s) in &summary.sessions {
        let (valid, poison, by_type) = &sessions[id];
        assert_eq!((s.valid, s.poison), (*valid, *poison), "{id}");
        let nonzero: BTreeMap<EventType, u64> =
            s.event_types.iter().filter(|(_, n)| **n > 0).map(|(t, n)| (*t, *n)).collect();
        assert_eq!(&nonzero, by_type, "{id}");
    }

    topic.delete().await;
}

#[tokio::test]
async fn a_missing_topic_is_one_clear_error() {
    let brokers = crate::helpers::kafka::brokers();
    crate::helpers::kafka::require_broker(&brokers);
    let mut config = LoadgenConfig::kafka(brokers, format!("sluice-test-absent-{:08x}", rand::random::<u32>()));
    config.count = Some(1);
    let error = run(config).await.expect_err("no such topic").to_string();
    assert!(error.contains("is not usable"), "{error}");
}
