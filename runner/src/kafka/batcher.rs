//! Closing batches: at `max_records`, at `max_bytes`, `max_wait` after the
//! first record, or as soon as the sink is free and nothing more is waiting,
//! whichever comes first. So batches are full while there is a backlog and
//! small when the partition is caught up: latency is about one write, not
//! `max_wait`.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::transform::Record;

/// When a batch closes.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_records: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
}

/// A record as the poller hands it over: tagged with the partition's seek
/// epoch, so that records fetched before a seek can be told apart.
#[derive(Debug)]
pub struct Routed {
    pub epoch: u32,
    pub record: Record,
}

/// Where a worker is in its partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Records of older epochs were fetched before the last seek.
    pub epoch: u32,
    /// The next offset wanted; earlier ones are re-deliveries.
    pub position: Option<i64>,
}

fn record_bytes(record: &Record) -> usize {
    record.value.len() + record.key.as_ref().map_or(0, Vec::len)
}

/// Collects the next batch from `records`, skipping records from before the
/// cursor (fetched before a seek, or re-delivered) and advancing it. Waits for a
/// first record as long as it takes. Once `sink_free` has resolved (the
/// previous batch is written), the batch closes as soon as no record is
/// waiting. Returns an empty batch when `stop` is cancelled or the channel
/// closes before any record came.
pub async fn next_batch(
    records: &mut mpsc::Receiver<Routed>,
    limits: BatchLimits,
    cursor: &mut Cursor,
    stop: &CancellationToken,
    sink_free: impl Future<Output = ()>,
) -> Vec<Record> {
    let mut sink_free = std::pin::pin!(sink_free);
    let mut free = false;
    let mut batch = Vec::new();
    let mut bytes = 0;
    let mut accept = |Routed { epoch, record }: Routed, batch: &mut Vec<Record>, bytes: &mut usize| {
        if epoch < cursor.epoch || cursor.position.is_some_and(|p| record.offset < p) {
            return;
        }
        cursor.position = Some(record.offset + 1);
        *bytes += record_bytes(&record);
        batch.push(record);
    };
    while batch.is_empty() {
        let record = tokio::select! {
            biased;
            () = stop.cancelled() => return batch,
            r = records.recv() => r,
        };
        match record {
            Some(record) => accept(record, &mut batch, &mut bytes),
            None => return batch,
        }
    }
    let deadline = tokio::time::Instant::now() + limits.max_wait;
    while batch.len() < limits.max_records && bytes < limits.max_bytes {
        // Take what is already there without waking the timer.
        let record = match records.try_recv() {
            Ok(record) => Some(record),
            Err(mpsc::error::TryRecvError::Disconnected) => None,
            Err(mpsc::error::TryRecvError::Empty) if free => None,
            Err(mpsc::error::TryRecvError::Empty) => tokio::select! {
                biased;
                () = stop.cancelled() => None,
                () = tokio::time::sleep_until(deadline) => None,
                () = &mut sink_free => {
                    free = true;
                    continue;
                }
                r = records.recv() => r,
            },
        };
        match record {
            Some(record) => accept(record, &mut batch, &mut bytes),
            None => break,
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    use super::{BatchLimits, Cursor, Routed, next_batch};
    use crate::transform::Record;

    fn record(offset: i64, size: usize) -> Routed {
        Routed { epoch: 0, record: Record { value: vec![b'x'; size], offset, ..Record::default() } }
    }

    fn limits(records: usize, bytes: usize, wait_ms: u64) -> BatchLimits {
        BatchLimits { max_records: records, max_bytes: bytes, max_wait: Duration::from_millis(wait_ms) }
    }

    /// A sink that stays busy: only the limits close a batch.
    fn busy() -> std::future::Pending<()> {
        std::future::pending()
    }

    #[tokio::test(start_paused = true)]
    async fn closes_once_the_sink_is_free_and_nothing_waits() {
        let (tx, mut rx) = mpsc::channel(100);
        let stop = CancellationToken::new();
        let mut pos = Cursor::default();
        for i in 0..2 {
            tx.send(record(i, 1)).await.expect("send");
        }
        // Free from the start: what is there goes at once.
        let started = tokio::time::Instant::now();
        let batch = next_batch(&mut rx, limits(100, 1 << 20, 100), &mut pos, &stop, async {}).await;
        assert_eq!(batch.len(), 2);
        assert_eq!(started.elapsed(), Duration::ZERO);
        // Free after 30 ms, with records arriving every 10 ms: closes then.
        let sender = tokio::spawn(async move {
            for i in 2..20 {
                tx.send(record(i, 1)).await.expect("send");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let started = tokio::time::Instant::now();
        let free = tokio::time::sleep(Duration::from_millis(35));
        let batch = next_batch(&mut rx, limits(100, 1 << 20, 100), &mut pos, &stop, free).await;
        assert_eq!(started.elapsed(), Duration::from_millis(35));
        assert_eq!(batch.iter().map(|r| r.offset).collect::<Vec<_>>(), [2, 3, 4, 5]);
        sender.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn closes_at_the_record_count() {
        let (tx, mut rx) = mpsc::channel(100);
        for i in 0..7 {
            tx.send(record(i, 1)).await.expect("send");
        }
        let stop = CancellationToken::new();
        let mut pos = Cursor::default();
        let batch = next_batch(&mut rx, limits(3, 1 << 20, 100), &mut pos, &stop, busy()).await;
        assert_eq!(batch.iter().map(|r| r.offset).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(pos.position, Some(3));
        let batch = next_batch(&mut rx, limits(3, 1 << 20, 100), &mut pos, &stop, busy()).await;
        assert_eq!(batch.iter().map(|r| r.offset).collect::<Vec<_>>(), [3, 4, 5]);
    }

    #[tokio::test(start_paused = true)]
    async fn closes_at_the_byte_count_and_the_deadline() {
        let (tx, mut rx) = mpsc::channel(100);
        for i in 0..4 {
            tx.send(record(i, 400)).await.expect("send");
        }
        let stop = CancellationToken::new();
        let mut pos = Cursor::default();
        let batch = next_batch(&mut rx, limits(100, 1000, 100), &mut pos, &stop, busy()).await;
        assert_eq!(batch.len(), 3, "closes once 1000 bytes are reached");
        let started = tokio::time::Instant::now();
        let batch = next_batch(&mut rx, limits(100, 1 << 20, 100), &mut pos, &stop, busy()).await;
        assert_eq!(batch.len(), 1);
        assert_eq!(started.elapsed(), Duration::from_millis(100), "waits max_wait after the first record");
    }

    #[tokio::test(start_paused = true)]
    async fn skips_redeliveries_and_records_fetched_before_a_seek() {
        let (tx, mut rx) = mpsc::channel(100);
        // Epoch 0: fetched before the worker's seek; all dropped.
        for i in [9, 10, 11] {
            tx.send(record(i, 1)).await.expect("send");
        }
        // Epoch 1: from the seek on; re-deliveries before the position dropped.
        for i in [5, 3, 6, 6, 7] {
            tx.send(Routed { epoch: 1, ..record(i, 1) }).await.expect("send");
        }
        let stop = CancellationToken::new();
        let mut cursor = Cursor { epoch: 1, position: Some(5) };
        let batch = next_batch(&mut rx, limits(100, 1 << 20, 10), &mut cursor, &stop, busy()).await;
        assert_eq!(batch.iter().map(|r| r.offset).collect::<Vec<_>>(), [5, 6, 7]);
        assert_eq!(cursor, Cursor { epoch: 1, position: Some(8) });
        stop.cancel();
        assert!(next_batch(&mut rx, limits(100, 1 << 20, 10), &mut cursor, &stop, busy()).await.is_empty());
        drop(tx);
    }

    /// The cursor against a model of the partition: whatever re-deliveries
    /// and records fetched before a seek sit in the queue, the worker takes
    /// each offset once, in order, from its start and from every seek on.
    mod model {
        use std::time::Duration;

        use proptest::prelude::*;
        use tokio::sync::mpsc;
        use tokio_util::sync::CancellationToken;

        use super::super::{BatchLimits, Cursor, Routed, next_batch};
        use crate::transform::Record;

        #[derive(Debug, Clone)]
        struct Seek {
            /// After this many batches…
            after_batch: usize,
            /// …move to this offset (back, like a fence to a smaller stored
            /// offset, or ahead, like one to a larger)…
            to: i64,
            /// …with this many records of the old epoch still queued.
            stale: usize,
        }

        fn scenario() -> impl Strategy<Value = (i64, i64, usize, usize, Vec<Seek>)> {
            (20i64..300).prop_flat_map(|len| {
                (
                    Just(len),
                    0..len,     // the stored offset the worker starts from
                    0usize..20, // re-deliveries before it
                    1usize..40, // max_records
                    prop::collection::vec(
                        (0usize..12, 0..len, 0usize..30).prop_map(|(after_batch, to, stale)| Seek {
                            after_batch,
                            to,
                            stale,
                        }),
                        0..4,
                    ),
                )
            })
        }

        proptest! {
            #[test]
            fn each_offset_once_in_order((len, start, redeliveries, max_records, mut seeks) in scenario()) {
                seeks.sort_by_key(|s| s.after_batch);
                let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("runtime");
                let (accepted, expected) = runtime.block_on(async move {
                    let (tx, mut rx) = mpsc::channel(10_000);
                    let stop = CancellationToken::new();
                    let limits = BatchLimits { max_records, max_bytes: usize::MAX, max_wait: Duration::from_millis(1) };
                    let mut cursor = Cursor { epoch: 0, position: Some(start) };
                    // The poller: fetches from `fetch` with its epoch.
                    let mut fetch = (start - i64::try_from(redeliveries).expect("small")).max(0);
                    let mut epoch = 0;
                    let send = |tx: &mpsc::Sender<Routed>, offset: i64, epoch: u32| {
                        tx.try_send(Routed { epoch, record: Record { offset, value: vec![1], ..Record::default() } }).expect("room");
                    };
                    let mut expected: Vec<i64> = Vec::new();
                    let mut want = start;
                    let mut accepted = Vec::new();
                    let mut seeks = seeks.into_iter().peekable();
                    for batch_no in 0.. {
                        // The poller hands over what it fetched so far.
                        for _ in 0..max_records * 2 {
                            if fetch < len {
                                send(&tx, fetch, epoch);
                                fetch += 1;
                            }
                        }
                        // Nothing left to take waits forever: give up after a (paused-clock) second.
                        // It can only time out before the first record is accepted, so nothing is lost.
                        let batch = tokio::time::timeout(Duration::from_secs(1), next_batch(&mut rx, limits, &mut cursor, &stop, std::future::pending()))
                            .await
                            .unwrap_or_default();
                        accepted.extend(batch.iter().map(|r| r.offset));
                        while let Some(seek) = seeks.next_if(|s| s.after_batch == batch_no) {
                            // Everything wanted up to the worker's position was taken.
                            let reached = cursor.position.unwrap_or(start).max(want);
                            expected.extend(want..reached);
                            // Records fetched before the seek reach the queue after it.
                            for _ in 0..seek.stale {
                                if fetch < len {
                                    send(&tx, fetch, epoch);
                                    fetch += 1;
                                }
                            }
                            cursor.epoch += 1;
                            cursor.position = Some(seek.to);
                            epoch += 1;
                            fetch = seek.to;
                            want = seek.to;
                        }
                        if seeks.peek().is_none() && fetch >= len && rx.is_empty() {
                            break;
                        }
                    }
                    expected.extend(want..len);
                    (accepted, expected)
                });
                prop_assert_eq!(accepted, expected);
            }
        }
    }
}
