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
