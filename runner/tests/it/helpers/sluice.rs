//! Running the real `sluice` binary against the stack, and checking what it
//! wrote against what loadgen says it sent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use loadgen::{self, EventRecord, LoadgenConfig};
use sqlx::MySqlPool;

use super::kafka::TestTopic;

/// The repo's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// `scripts/stack ACTION SERVICE`: stops or starts one of the shared
/// services (the restart tests, each a test binary of its own).
#[allow(dead_code, reason = "used by the restart tests, test binaries of their own")]
pub fn stack(action: &str, service: &str) {
    let status =
        Command::new(repo_root().join("scripts/stack")).args([action, service]).status().expect("run scripts/stack");
    assert!(status.success(), "scripts/stack {action} {service} failed");
}

/// The seed pipeline, pointed at `target/transforms/*.wasm` by absolute
/// path, written into `dir`. Panics if the modules are not built.
pub fn write_pipeline(dir: &Path) -> PathBuf {
    write_pipeline_with_dead_letter_topic(dir, None)
}

/// [`write_pipeline`] with one more stage, given as TOML, between `validate`
/// and `stats`. `{modules}` in it stands for `target/transforms`.
pub fn write_pipeline_with_stage(dir: &Path, stage: &str) -> PathBuf {
    let path = write_pipeline(dir);
    let modules = repo_root().join("target/transforms");
    let stage = stage.replace("{modules}", &modules.display().to_string());
    let text = std::fs::read_to_string(&path).expect("read the test pipeline");
    let text =
        text.replacen("[[transforms]]\nname = \"stats\"", &format!("{stage}\n\n[[transforms]]\nname = \"stats\""), 1);
    assert!(text.contains(&stage), "the stage went in");
    std::fs::write(&path, text).expect("write the test pipeline");
    path
}

/// The seed pipeline with `[source.kafka]` set to `kafka` and `sink` lines
/// added to `[sink]`.
#[allow(dead_code, reason = "used by the tests, not by benches/pipeline.rs, which shares these helpers")]
pub fn write_pipeline_with(dir: &Path, kafka: &[(&str, &str)], sink: &str, dead_letter_topic: Option<&str>) -> PathBuf {
    let path = write_pipeline_with_dead_letter_topic(dir, dead_letter_topic);
    let text = std::fs::read_to_string(&path).expect("read the test pipeline");
    let url_line = "database_url = \"${DATABASE_URL}\"";
    assert!(text.contains(url_line), "the seed pipeline sets database_url from DATABASE_URL");
    let mut text = text.replacen(url_line, &format!("{url_line}\n{sink}"), 1);
    text.push_str("\n[source.kafka]\n");
    for (key, value) in kafka {
        text.push_str(&format!("{key:?} = {value:?}\n"));
    }
    std::fs::write(&path, text).expect("write the test pipeline");
    path
}

/// [`write_pipeline`], also publishing dead letters to `topic`.
pub fn write_pipeline_with_dead_letter_topic(dir: &Path, topic: Option<&str>) -> PathBuf {
    let modules = repo_root().join("target/transforms");
    for name in ["validate", "stats"] {
        let path = modules.join(format!("{name}.wasm"));
        assert!(path.exists(), "{} is missing: build the transforms with `scripts/build-transforms`", path.display());
    }
    let text = std::fs::read_to_string(repo_root().join("pipeline.toml"))
        .expect("read pipeline.toml")
        .replace("module = \"target/transforms/", &format!("module = \"{}/", modules.display()));
    let text = match topic {
        Some(topic) => {
            text.replace("table = \"dead_letter\"", &format!("table = \"dead_letter\"\ntopic = \"{topic}\""))
        }
        None => text,
    };
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).expect("write the test pipeline");
    path
}

/// One `sluice run` process; killed on drop.
pub struct Sluice {
    child: Child,
    pub log: PathBuf,
}

impl Sluice {
    /// Starts `sluice run` on `config` for `topic`/`group`, logging to
    /// `<dir>/sluice-<n>.log`.
    pub fn start(config: &Path, database_url: &str, brokers: &str, topic: &str, group: &str, log: PathBuf) -> Sluice {
        Sluice::start_with_env(config, database_url, brokers, topic, group, log, &[])
    }

    /// [`Sluice::start`] with more environment variables (secrets the
    /// pipeline file refers to).
    pub fn start_with_env(
        config: &Path,
        database_url: &str,
        brokers: &str,
        topic: &str,
        group: &str,
        log: PathBuf,
        env: &[(&str, &str)],
    ) -> Sluice {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("open the sluice log");
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            // Any free port for /metrics and the probes, unless the test names one.
            .env("SLUICE_HTTP_LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied())
            .args(["run", "--config"])
            .arg(config)
            .env("DATABASE_URL", database_url)
            .env("KAFKA_BROKERS", brokers)
            .env("SLUICE_TOPIC", topic)
            .env("SLUICE_GROUP", group)
            .env("RUST_LOG", "info,sluice=debug")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log handle"))
            .stderr(file)
            .spawn()
            .expect("start sluice");
        Sluice { child, log }
    }

    #[allow(dead_code, reason = "used by benches/pipeline.rs, which shares these helpers")]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, no goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the graceful exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for sluice") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "sluice did not exit within 60 s of SIGTERM; log: {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Panics with the log's tail if the process already exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("poll sluice") {
            panic!("sluice exited early with {status}:\n{}", tail(&self.log));
        }
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last 60 lines of a log file, backtrace frames left out.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let frame = |l: &&str| {
        let t = l.trim_start();
        t.starts_with("at ")
            || t.split_once(':').is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    let lines: Vec<&str> = text.lines().filter(|l| !frame(l)).collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// What [`produce`] sends: `count` events from `sessions` learners,
/// `interval_ms` apart per learner (0: as fast as possible), 5 % poison pills.
#[derive(Debug, Clone)]
pub struct Load {
    pub brokers: String,
    pub topic: String,
    /// Where loadgen writes every delivered event.
    pub events: PathBuf,
    pub count: u64,
    pub sessions: usize,
    pub interval_ms: u64,
    pub seed: u64,
}

impl Load {
    pub fn to(topic: &TestTopic, events: PathBuf) -> Load {
        Load {
            brokers: topic.brokers.clone(),
            topic: topic.name.clone(),
            events,
            count: 1000,
            sessions: 10,
            interval_ms: 0,
            seed: 1,
        }
    }
}

/// Runs loadgen; returns every delivered event, each checked delivered.
pub async fn produce(load: Load) -> Vec<EventRecord> {
    let mut config = LoadgenConfig::kafka(&load.brokers, &load.topic);
    config.count = Some(load.count);
    config.interval_ms = load.interval_ms;
    config.generator.sessions = load.sessions;
    config.generator.seed = load.seed;
    config.generator.poison_percent = 5.0;
    config.events_out = Some(load.events.clone());
    let summary = loadgen::run(config).await.expect("loadgen");
    assert_eq!(summary.sent, load.count, "every event delivered");
    loadgen::read_events(&load.events).expect("read the events file")
}

/// The next offset each partition should reach: one past the last delivered.
pub fn expected_offsets(events: &[EventRecord]) -> BTreeMap<i32, i64> {
    let mut next = BTreeMap::new();
    for e in events {
        let n = next.entry(e.partition).or_insert(0);
        *n = (*n).max(e.offset + 1);
    }
    next
}

/// Waits until the stored offsets of `topic` reach `expected`, checking that
/// the processes stay up. Panics with the logs after `timeout`.
pub async fn wait_for_offsets(
    pool: &MySqlPool,
    topic: &str,
    expected: &BTreeMap<i32, i64>,
    timeout: Duration,
    running: &mut [&mut Sluice],
) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let stored: BTreeMap<i32, i64> =
            sluice::sink::load_offsets(pool, "study-log", topic).await.unwrap_or_default().into_iter().collect();
        if expected.iter().all(|(p, n)| stored.get(p).is_some_and(|s| s >= n)) {
            return;
        }
        for s in running.iter_mut() {
            s.assert_running();
        }
        if tokio::time::Instant::now() > deadline {
            let logs: Vec<String> =
                running.iter().map(|s| format!("--- {}\n{}", s.log.display(), tail(&s.log))).collect();
            panic!("stored offsets {stored:?} did not reach {expected:?} within {timeout:?}\n{}", logs.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `study_log` holds exactly the valid events once each, `dead_letter` every
/// poison pill once with a reason, and `study_stats` equals a recomputation
/// from `study_log`.
pub async fn assert_exact(pool: &MySqlPool, topic: &str, events: &[EventRecord]) {
    let valid: BTreeSet<(i32, i64, String, String)> = events
        .iter()
        .filter(|e| e.poison.is_none())
        .map(|e| {
            (
                e.partition,
                e.offset,
                e.session.clone(),
                e.event_type.map(|t| format!("{t:?}").to_uppercase()).unwrap_or_default(),
            )
        })
        .collect();
    let rows: Vec<(i32, i64, String, String)> =
        sqlx::query_as("SELECT kafka_partition, kafka_offset, session_id, event_type FROM study_log")
            .fetch_all(pool)
            .await
            .expect("read study_log");
    let landed: BTreeSet<_> = rows.iter().cloned().collect();
    assert_eq!(rows.len(), landed.len(), "study_log has duplicate rows");
    let missing: Vec<_> = valid.difference(&landed).take(5).collect();
    let extra: Vec<_> = landed.difference(&valid).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "study_log differs from the valid events sent: missing {missing:?}, extra {extra:?} ({} sent, {} landed)",
        valid.len(),
        landed.len()
    );

    let poison: BTreeSet<(i32, i64)> =
        events.iter().filter(|e| e.poison.is_some()).map(|e| (e.partition, e.offset)).collect();
    let dead: Vec<(i32, i64, String, String, String)> = sqlx::query_as(
        "SELECT kafka_partition, kafka_offset, CAST(stage AS CHAR), CAST(reason AS CHAR), CAST(topic AS CHAR) FROM dead_letter",
    )
    .fetch_all(pool)
    .await
    .expect("read dead_letter");
    let dead_set: BTreeSet<(i32, i64)> = dead.iter().map(|d| (d.0, d.1)).collect();
    assert_eq!(dead.len(), dead_set.len(), "dead_letter has duplicates");
    assert_eq!(dead_set, poison, "dead_letter differs from the poison pills sent");
    for d in &dead {
        assert!(
            !d.3.is_empty() && d.2 == "validate" && d.4 == topic,
            "dead letter without reason, stage or topic: {d:?}"
        );
    }

    let stats: Vec<(String, String, String, i64, String, String)> = sqlx::query_as(
        "SELECT session_id, CAST(bucket_start AS CHAR), event_type, event_count, CAST(first_event_at AS CHAR), CAST(last_event_at AS CHAR) \
         FROM study_stats ORDER BY 1, 2, 3",
    )
    .fetch_all(pool)
    .await
    .expect("read study_stats");
    let recomputed: Vec<(String, String, String, i64, String, String)> = sqlx::query_as(
        "SELECT session_id, DATE_FORMAT(event_time, '%Y-%m-%d %H:00:00'), event_type, COUNT(*), CAST(MIN(event_time) AS CHAR), CAST(MAX(event_time) AS CHAR) \
         FROM study_log GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    .fetch_all(pool)
    .await
    .expect("recompute stats");
    assert!(!stats.is_empty(), "study_stats is empty");
    assert_eq!(stats, recomputed, "study_stats differs from a recomputation from study_log");
}
