//! Stages written in other languages run in a real pipeline like the Rust
//! ones: a Python stage (componentize-py, `transforms/templates/python`)
//! between `validate` and `stats`, dropping some sessions and writing a row
//! per record it keeps to a table of its own.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::helpers::db::fresh_database;
use crate::helpers::http::{free_address, get, sample};
use crate::helpers::kafka::fresh_topic;
use crate::helpers::sluice::{
    Load, Sluice, assert_exact, expected_offsets, produce, repo_root, wait_for_offsets, write_pipeline_with_stage,
};

/// The sessions the stage drops: `session-1` and `session-10` …
/// `session-19` of loadgen's 25.
const DROPPED_PREFIX: &str = "session-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_stage_between_validate_and_stats_drops_filters_and_writes_its_rows_exactly() {
    let module = repo_root().join("target/transforms/sessions-py.wasm");
    assert!(
        module.is_file(),
        "{} is missing: build it with `scripts/build-transforms` (needs componentize-py: scripts/setup)",
        module.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let stage = format!(
        "[[transforms]]\nname = \"sessions\"\nmodule = \"{{modules}}/sessions-py.wasm\"\n\
         [transforms.params]\nprefix = \"{DROPPED_PREFIX}\"\n"
    );
    let config = write_pipeline_with_stage(dir.path(), &stage);
    let mut text = std::fs::read_to_string(&config).expect("read the pipeline");
    text.push_str(
        "\n[[sink.tables]]\ntable = \"py_sessions\"\nfrom = \"sessions.sessions\"\nmode = \"insert\"\n\
         [sink.tables.columns]\nsession_id = \"session_id\"\nevent_type = \"event_type\"\n\
         kafka_partition = \"@partition\"\nkafka_offset = \"@offset\"\n",
    );
    std::fs::write(&config, text).expect("write the pipeline");

    let (url, pool) = fresh_database("lang").await;
    sqlx::query(
        "CREATE TABLE py_sessions (session_id VARCHAR(128) NOT NULL, event_type VARCHAR(32) NULL, \
         kafka_partition INT NOT NULL, kafka_offset BIGINT NOT NULL, PRIMARY KEY (kafka_partition, kafka_offset))",
    )
    .execute(&pool)
    .await
    .expect("create py_sessions");
    let topic = fresh_topic("lang", 3).await;
    let http = free_address();
    let mut sluice = Sluice::start_with_env(
        &config,
        &url,
        &topic.brokers,
        &topic.name,
        &format!("{}-group", topic.name),
        dir.path().join("sluice.log"),
        &[("SLUICE_HTTP_LISTEN", &http.to_string())],
    );
    let events = produce(Load {
        count: 3000,
        sessions: 25,
        interval_ms: 0,
        seed: 14,
        ..Load::to(&topic, dir.path().join("events.jsonl"))
    })
    .await;
    wait_for_offsets(&pool, &topic.name, &expected_offsets(&events), Duration::from_secs(180), &mut [&mut sluice])
        .await;

    // Dropped: valid events of the dropped sessions. They leave no row in
    // study_log (validate emitted one, the later drop removed it), no
    // statistics and no dead letter; everything else is exact.
    let dropped = |e: &&loadgen::EventRecord| e.poison.is_none() && e.session.starts_with(DROPPED_PREFIX);
    let n_dropped = events.iter().filter(dropped).count();
    assert!(n_dropped > 300, "the load has sessions to drop: {n_dropped}");
    let kept: Vec<_> = events.iter().filter(|e| !dropped(e)).cloned().collect();
    assert_exact(&pool, &topic.name, &kept).await;

    // The Python stage's own rows: one per record it kept.
    let expected: BTreeSet<(i32, i64, String, String)> = kept
        .iter()
        .filter(|e| e.poison.is_none())
        .map(|e| {
            let kind = e.event_type.map(|t| format!("{t:?}").to_uppercase()).unwrap_or_default();
            (e.partition, e.offset, e.session.clone(), kind)
        })
        .collect();
    let rows: Vec<(i32, i64, String, String)> =
        sqlx::query_as("SELECT kafka_partition, kafka_offset, session_id, event_type FROM py_sessions")
            .fetch_all(&pool)
            .await
            .expect("read py_sessions");
    assert_eq!(rows.len(), expected.len(), "py_sessions has one row per kept record");
    assert_eq!(rows.into_iter().collect::<BTreeSet<_>>(), expected);

    let (status, metrics) = get(http, "/metrics").await.expect("scrape /metrics");
    assert_eq!(status, 200);
    let count = |labels: &str| sample(&metrics, "sluice_stage_records_total", labels);
    assert_eq!(count(r#"stage="sessions",outcome="dropped""#), n_dropped as f64, "{metrics}");
    assert_eq!(count(r#"stage="sessions",outcome="rejected""#), 0.0);
    assert_eq!(count(r#"stage="stats",outcome="in""#), expected.len() as f64);

    let status = sluice.terminate();
    assert!(status.success(), "sluice exited with {status} after SIGTERM");
    topic.delete().await;
}

/// Runs `program` in `dir`, failing the test with its output unless it
/// succeeds; returns its stdout and the wall time.
fn run_in(dir: &std::path::Path, program: &str, args: &[&str], env: &[(&str, String)]) -> (String, Duration) {
    let started = std::time::Instant::now();
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        out.status.success(),
        "`{program} {}` in {} failed ({}):\n{}\n{}",
        args.join(" "),
        dir.display(),
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    (text(&out.stdout), started.elapsed())
}

/// `sluice new` for each language in a folder outside the repository: with
/// no edit, the project's own test passes, its build gives a component, and
/// `sluice try` runs it over the sample with the example's verdicts.
#[test]
fn sluice_new_makes_projects_whose_test_build_and_try_pass_with_no_edit() {
    let sluice = env!("CARGO_BIN_EXE_sluice");
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache"))
        .join("sluice");
    let parent = tempfile::tempdir().expect("temp dir");
    assert!(!parent.path().starts_with(repo_root()), "the projects are made outside the repository");
    let path = format!("{}:{}", cache.join("componentize-py/bin").display(), std::env::var("PATH").unwrap_or_default());
    // The repository's target folder keeps the Rust project's dependencies
    // built from one run to the next.
    let rust_target = repo_root().join("target/sluice-new").display().to_string();
    let cases: [(&str, &[&str], &[&str]); 3] = [
        ("python", &["python3", "-m", "unittest"], &["./build.sh"]),
        ("js", &["npm", "test"], &["npm", "run", "build"]),
        ("rust", &["cargo", "test"], &["./build.sh"]),
    ];
    for (lang, test, build) in cases {
        let name = format!("{lang}-stage");
        let (said, _) = run_in(
            parent.path(),
            sluice,
            &["new", &name, "--lang", lang, "--dir", &parent.path().display().to_string()],
            &[],
        );
        let project = parent.path().join(&name);
        assert!(said.contains(&format!("created {}", project.display())), "{said}");
        if lang == "js" {
            // What `npm install` would bring, from the copy scripts/setup installs.
            let modules = cache.join("componentize-js/node_modules");
            assert!(modules.is_dir(), "{} is missing: run scripts/setup", modules.display());
            std::os::unix::fs::symlink(&modules, project.join("node_modules")).expect("link node_modules");
        }
        let env = [("PATH", path.clone()), ("CARGO_TARGET_DIR", rust_target.clone())];
        run_in(&project, test[0], &test[1..], &env);
        run_in(&project, build[0], &build[1..], &env);
        assert!(project.join(format!("{name}.wasm")).is_file(), "{lang}: the build wrote {name}.wasm");

        let (json, _) = run_in(&project, sluice, &["try", "-c", "pipeline.toml", "-i", "sample.jsonl", "--json"], &[]);
        let summary: serde_json::Value = serde_json::from_str(&json).expect("sluice try --json");
        let counts = ["records", "kept", "rejected", "dropped"].map(|k| summary[k].as_u64());
        assert_eq!(counts, [Some(8), Some(4), Some(2), Some(2)], "{lang}: {summary}");
        let stage = &summary["stages"][0];
        assert_eq!(stage["name"], name.as_str());
        assert_eq!(stage["outputs"][0]["rows"], 4, "{lang}: {summary}");
        let reasons: Vec<&str> =
            stage["rejects"].as_array().into_iter().flatten().filter_map(|r| r["reason"].as_str()).collect();
        assert_eq!(reasons, ["not an event: no string sessionId"; 2], "{lang}");
    }
}
