//! Which partition and offset each generated event has in the topic.
//! loadgen's producer is keyed and uses librdkafka's default partitioner
//! (`consistent_random`: CRC-32 of the key modulo the partition count), and
//! one idempotent producer keeps the send order per partition, so offsets
//! count up in generation order.

use loadgen::{Event, EventGenerator, GeneratorConfig};

/// One event at its place in the topic.
#[derive(Debug, Clone)]
pub struct Placed {
    pub partition: i32,
    pub offset: i64,
    pub event: Event,
}

/// The first `count` events of `generator`, by partition, in offset order.
pub fn place(generator: GeneratorConfig, count: u64, partitions: i32) -> Vec<Vec<Placed>> {
    let n = usize::try_from(partitions.max(1)).unwrap_or(1);
    let mut out: Vec<Vec<Placed>> = vec![Vec::new(); n];
    for event in EventGenerator::new(generator).take(usize::try_from(count).unwrap_or(usize::MAX)) {
        let p = crc32fast::hash(event.key.as_bytes()) as usize % n;
        let offset = out[p].len() as i64;
        out[p].push(Placed { partition: p as i32, offset, event });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_placed_once_offsets_dense() {
        let config = GeneratorConfig { sessions: 100, ..GeneratorConfig::default() };
        let placed = place(config, 10_000, 3);
        assert_eq!(placed.iter().map(Vec::len).sum::<usize>(), 10_000);
        for p in &placed {
            assert!(p.iter().enumerate().all(|(i, e)| e.offset == i as i64));
        }
        // librdkafka's consistent partitioner is the IEEE CRC-32.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }
}
