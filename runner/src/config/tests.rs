//! Parsing tests, including the golden files in `runner/tests/config/`.

use std::path::{Path, PathBuf};

use super::{ColumnSource, Pipeline, RecordMeta, TableMode};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

#[test]
fn the_seed_pipeline_parses() {
    let pipeline = Pipeline::load(&repo_root().join("pipeline.toml")).expect("seed pipeline.toml");
    let config = &pipeline.config;
    assert_eq!(config.name.as_str(), "study-log");
    assert_eq!(config.source.max_records.get(), 500);
    assert_eq!(config.source.max_wait_ms.get(), 100);
    let stages: Vec<_> = config.transforms.iter().map(|t| t.name.get_ref().as_str()).collect();
    assert_eq!(stages, ["validate", "stats"]);
    assert_eq!(config.sink.tables[1].mode, TableMode::Accumulate);
    assert_eq!(
        config.sink.tables[0].columns.iter().find(|(k, _)| k.as_str() == "kafka_offset").map(|(_, v)| v),
        Some(&ColumnSource::Meta(RecordMeta::Offset))
    );
    assert!(pipeline.module_path(&config.transforms[0]).ends_with("target/transforms/validate.wasm"));
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let text = std::fs::read_to_string(repo_root().join("runner/tests/config/valid/minimal.toml")).expect("read");
    let text = text.replace("${DATABASE_URL}", "mysql://u:hunter2@db/x");
    let pipeline = Pipeline::from_text(Path::new("minimal.toml"), text).expect("parse");
    assert_eq!(pipeline.database_url().expect("url"), "mysql://u:hunter2@db/x");
    assert!(!format!("{pipeline:?}").contains("hunter2"));
}

#[test]
fn an_unset_database_url_is_reported_only_when_needed() {
    let text = std::fs::read_to_string(repo_root().join("runner/tests/config/valid/minimal.toml")).expect("read");
    let text = text.replace("${DATABASE_URL}", "${SLUICE_TEST_SURELY_UNSET_VAR}");
    let pipeline = Pipeline::from_text(Path::new("minimal.toml"), text).expect("parses without the variable");
    let err = pipeline.database_url().expect_err("unset").to_string();
    assert!(err.starts_with("minimal.toml:"), "{err}");
    assert!(err.contains("sink.database_url: environment variable SLUICE_TEST_SURELY_UNSET_VAR is not set"), "{err}");
}

/// Every `tests/config/invalid/*.toml` fails with exactly the text of the
/// `.err` file beside it. `SLUICE_BLESS=1` rewrites the `.err` files.
#[test]
fn invalid_configs_fail_with_the_expected_messages() {
    let dir = repo_root().join("runner/tests/config/invalid");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("read invalid dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "expected the golden cases in {}", dir.display());
    let bless = std::env::var("SLUICE_BLESS").is_ok();
    let mut failures = Vec::new();
    for case in cases {
        let name = case.file_name().expect("name").to_string_lossy().to_string();
        let text = std::fs::read_to_string(&case).expect("read case");
        let got = match Pipeline::from_text(Path::new(&name), text) {
            Ok(_) => "(parsed without error)".to_string(),
            Err(e) => e.to_string(),
        };
        let expected_path = case.with_extension("err");
        if bless {
            std::fs::write(&expected_path, format!("{got}\n")).expect("bless");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected.trim_end() != got.trim_end() {
            failures.push(format!("--- {name}\nexpected:\n{expected}\ngot:\n{got}\n"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `partitions` and `replication_factor` default to 3 and 1, take any value
/// within their bounds, and refuse one outside at its line, naming the field
/// and the bounds.
#[test]
fn topic_creation_settings_default_and_are_bounded() {
    let minimal = std::fs::read_to_string(repo_root().join("runner/tests/config/valid/minimal.toml")).expect("read");
    let with = |lines: &str| minimal.replace("group_id = \"g\"", &format!("group_id = \"g\"\n{lines}"));

    let pipeline = Pipeline::from_text(Path::new("minimal.toml"), minimal.clone()).expect("parse");
    assert_eq!(pipeline.config.source.partitions.get(), 3);
    assert_eq!(pipeline.config.source.replication_factor.get(), 1);

    for (partitions, replication_factor) in [(1, 1), (12, 3), (4096, 16)] {
        let text = with(&format!("partitions = {partitions}\nreplication_factor = {replication_factor}"));
        let pipeline = Pipeline::from_text(Path::new("minimal.toml"), text).expect("in range");
        assert_eq!(pipeline.config.source.partitions.get(), partitions);
        assert_eq!(pipeline.config.source.replication_factor.get(), replication_factor);
    }

    // The key goes on line 7, after `group_id`.
    let refused = [
        ("partitions = 0", "source.partitions: 0 is out of range: expected 1 to 4096"),
        ("partitions = 4097", "source.partitions: 4097 is out of range: expected 1 to 4096"),
        ("partitions = -3", "source.partitions: -3 is out of range: expected 1 to 4096"),
        ("replication_factor = 0", "source.replication_factor: 0 is out of range: expected 1 to 16"),
        ("replication_factor = 17", "source.replication_factor: 17 is out of range: expected 1 to 16"),
        ("replication_factor = \"3\"", "source.replication_factor: invalid type: string \"3\", expected i64"),
    ];
    for (line, message) in refused {
        let err = Pipeline::from_text(Path::new("minimal.toml"), with(line)).expect_err(line).to_string();
        let column = line.find(" = ").expect("a key and a value") + 4;
        assert!(err.starts_with(&format!("minimal.toml:7:{column}: {message}")), "{line}: {err}");
        assert!(err.contains(line), "{line}: the error shows the line: {err}");
    }
}
