//! The benchmark suite's library: what `sluice-bench` (the scenarios) and
//! `ceiling` (the database's own bulk-insert limit) share.
//!
//! - [`env`]: where things are: brokers, database server, binaries, run directory.
//! - [`db`]: fresh databases, row counts, the server's durability settings.
//! - [`kafka`]: topics, watermarks, a group's committed offsets, reading timestamps back.
//! - [`load`]: filling a topic and live load through `loadgen`, with one generator config.
//! - [`process`]: a child process: SIGTERM, liveness, resident memory from /proc.
//! - [`systems`]: starting Sluice or the Spring yardstick on a topic, a group and a database.
//! - [`watch`]: samplers in the background: committed offsets, RSS, the database's max offsets.
//! - [`verify`]: each system's row counts against what loadgen delivered.
//! - [`stats`]: percentiles and rates.
//! - [`ceiling`]: events → the rows of Sluice's transactions → a timed INSERT loop.
//! - [`scenario`]: drain, catchup, latency, rss, batch-sizes.
//! - [`results`]: the JSON files in `bench/results/`.

pub mod ceiling;
pub mod db;
pub mod env;
pub mod kafka;
pub mod load;
pub mod process;
pub mod results;
pub mod scenario;
pub mod stats;
pub mod systems;
pub mod verify;
pub mod watch;
