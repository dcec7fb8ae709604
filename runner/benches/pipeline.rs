//! Throughput and memory of `sluice run` on a backlog, end to end against
//! the real stack (`scripts/stack up`): loadgen fills a fresh 3-partition
//! topic, then one `sluice` process (this build's binary) drains it into a
//! fresh database. Prints records/s and the process's peak resident memory.
//!
//!     cargo bench -p sluice --bench pipeline [-- RECORDS [MAX_RECORDS...]]
//!
//! Defaults: 200,000 records (5 % poison pills); batch sizes 500 (the
//! seed's) and 5,000.

#[allow(dead_code)]
#[path = "../tests/it/helpers/mod.rs"]
mod helpers;

use std::time::{Duration, Instant};

use helpers::db::fresh_database;
use helpers::kafka::fresh_topic;
use helpers::sluice::{Load, Sluice, expected_offsets, produce, wait_for_offsets, write_pipeline};

/// Peak resident set size of `pid`, in MiB (VmHWM).
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let records = args.first().copied().unwrap_or(200_000);
    let batch_sizes: Vec<usize> = if args.len() > 1 { args[1..].to_vec() } else { vec![500, 5000] };
    println!(
        "sluice run on a backlog of {records} records (5 % poison pills), 3 partitions, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{:>11}  {:>10}  {:>12}  {:>13}", "max_records", "seconds", "records/s", "peak RSS MiB");
    for max_records in batch_sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = write_pipeline(dir.path());
        let text = std::fs::read_to_string(&config)
            .expect("read")
            .replace("max_records = 500", &format!("max_records = {max_records}"));
        std::fs::write(&config, text).expect("write");
        let (url, pool) = fresh_database("bench").await;
        let topic = fresh_topic("bench", 3).await;
        let events =
            produce(Load { count: records as u64, sessions: 200, ..Load::to(&topic, dir.path().join("events.jsonl")) })
                .await;
        let expected = expected_offsets(&events);

        let started = Instant::now();
        let mut sluice = Sluice::start(
            &config,
            &url,
            &topic.brokers,
            &topic.name,
            &format!("{}-g", topic.name),
            dir.path().join("sluice.log"),
        );
        wait_for_offsets(&pool, &topic.name, &expected, Duration::from_secs(600), &mut [&mut sluice]).await;
        let seconds = started.elapsed().as_secs_f64();
        let rss = peak_rss_mib(sluice.pid()).unwrap_or(f64::NAN);
        assert!(sluice.terminate().success());
        println!("{max_records:>11}  {seconds:>10.2}  {:>12.0}  {rss:>13.1}", records as f64 / seconds);
        topic.delete().await;
    }
}
