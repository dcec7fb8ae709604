//! The WebAssembly sandbox, end to end, against the real modules in
//! `target/transforms/` (built by `scripts/build-transforms`; these tests
//! build nothing and fail saying so when a module is missing).
//!
//! - every `misbehave` mode is contained with the right kind of failure, and
//!   the same engine then processes a good batch;
//! - the contract version check;
//! - poison-pill isolation and broken-deploy detection in the chain, and the
//!   chain's row bookkeeping;
//! - `validate` and `stats` give the same answers in wasmtime as natively;
//! - hot reload;
//! - `sluice try` on `samples/events.jsonl`.
//!
//! Modules refused at load (not components, compile bombs, missing imports,
//! a loop in `init`) are in `hostile`, which uses the helpers here.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use loadgen::{EventGenerator, GeneratorConfig};
use sluice::transform::{
    Batch, BrokenWhy, Chain, ChainFailure, ChainOptions, RecordOutcome, Stage, StageFailure, StageLimits, StageOutput,
    TransformEngine, TransformError, Value, Verdict, params_json,
};
use sluice_transform::testing::Runtime;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A built module; fails the test with the way to build it.
pub(crate) fn module(name: &str) -> PathBuf {
    let path = repo().join("target/transforms").join(format!("{name}.wasm"));
    assert!(path.is_file(), "{} is missing: run scripts/build-transforms first", path.display());
    path
}

/// One engine for every test here, as in the service. It keeps one stage
/// of each module loaded so that the compiled modules stay cached.
pub(crate) fn engine() -> &'static TransformEngine {
    static ENGINE: OnceLock<TransformEngine> = OnceLock::new();
    static KEEP: OnceLock<Mutex<Vec<Stage>>> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| TransformEngine::new().expect("engine"));
    KEEP.get_or_init(|| {
        Mutex::new(vec![
            engine
                .load_stage("keep", &module("misbehave"), &toml::Table::new(), StageLimits::default())
                .expect("misbehave"),
            engine
                .load_stage("keep", &module("validate"), &validate_params(), StageLimits::default())
                .expect("validate"),
            engine.load_stage("keep", &module("stats"), &toml::Table::new(), StageLimits::default()).expect("stats"),
        ])
    });
    engine
}

pub(crate) fn table(text: &str) -> toml::Table {
    toml::from_str(text).expect("toml")
}

pub(crate) fn validate_params() -> toml::Table {
    table("event_types = [\"FOCUS\", \"DISTRACTED\", \"AWAY\", \"DROWSY\"]\nlocal_offset = \"+09:00\"")
}

/// Small limits so that the misbehaviours hit them fast.
pub(crate) fn tight() -> StageLimits {
    StageLimits { memory_mb: 16, time_ms: 200, stack_kb: 256, log_kb: 4 }
}

/// `tight()` with `memory_mb` and a time limit no busy CI machine reaches, for
/// the tests of memory: writing 10 MiB values in a debug host, with the other
/// tests running, can take longer than 200 ms, and a timeout is not what they test.
fn memory_only(memory_mb: u64) -> StageLimits {
    StageLimits { memory_mb, time_ms: 20_000, ..tight() }
}

pub(crate) fn misbehave(mode: &str, limits: StageLimits) -> Result<Stage, TransformError> {
    engine().load_stage("misbehave", &module("misbehave"), &table(&format!("mode = \"{mode}\"")), limits)
}

fn batch_of(values: &[&str]) -> Batch {
    let mut batch = Batch { topic: "study-log-events".into(), partition: 1, records: Vec::new() };
    for (i, v) in values.iter().enumerate() {
        batch.records.push(sluice::transform::Record {
            key: Some(format!("k{i}").into_bytes()),
            value: v.as_bytes().to_vec(),
            headers: vec![("h".into(), Some(b"v".to_vec()))],
            offset: 100 + i as i64,
            timestamp: Some(1_769_565_600_000 + i as i64),
        });
    }
    batch
}

fn good_event(i: usize) -> String {
    format!(
        r#"{{"sessionId":"session-{}","eventType":"FOCUS","timestamp":"2026-01-28T10:15:{:02}.120+09:00"}}"#,
        i % 5,
        i % 60
    )
}

pub(crate) fn good_batch(n: usize) -> Batch {
    let values: Vec<String> = (0..n).map(good_event).collect();
    batch_of(&values.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The same engine still runs a real stage correctly.
pub(crate) fn engine_still_works() {
    let mut v =
        engine().load_stage("validate", &module("validate"), &validate_params(), StageLimits::default()).expect("load");
    let out = v.process(&good_batch(10)).expect("process");
    assert_eq!(out.verdicts.len(), 10);
    assert!(out.verdicts.iter().all(|v| matches!(v, Verdict::Replace(_))));
    assert_eq!(out.all_rows().count(), 10);
}

fn fail_with(mode: &str, limits: StageLimits, records: usize) -> StageFailure {
    let mut stage = misbehave(mode, limits).expect("load");
    let failure = stage.process(&good_batch(records)).expect_err("should fail");
    engine_still_works();
    failure
}

// ---- misbehaviours, one by one ------------------------------------------

#[test]
fn loop_times_out() {
    let started = std::time::Instant::now();
    assert_eq!(fail_with("loop", tight(), 3), StageFailure::Timeout { limit_ms: 200 });
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn memory_bomb_is_out_of_memory() {
    assert_eq!(fail_with("memory", memory_only(16), 3), StageFailure::OutOfMemory { limit_mb: 16 });
}

#[test]
fn recursion_overflows_the_stack() {
    // Rust keeps its frames' arrays on its own stack in linear memory, which
    // runs out first at these limits…
    assert_eq!(fail_with("recursion", tight(), 3), StageFailure::StackOverflow { limit_kb: 256 });
    // …and the wasm stack limit first at the smallest one (another engine:
    // stack size is engine-wide in wasmtime).
    let smallest = StageLimits { stack_kb: 64, ..tight() };
    assert_eq!(fail_with("recursion", smallest, 3), StageFailure::StackOverflow { limit_kb: 64 });
}

#[test]
fn trap_is_a_trap() {
    match fail_with("trap", tight(), 3) {
        StageFailure::Trap(message) => assert!(message.contains("unreachable"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn panic_is_a_trap_that_says_panic() {
    match fail_with("panic", tight(), 3) {
        StageFailure::Trap(message) => {
            assert!(message.starts_with("panicked at"), "{message}");
            assert!(message.contains("misbehave: mode panic, batch of 3 records"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn huge_output_runs_out_of_memory() {
    // 10 MiB per record in a 16 MiB memory.
    assert_eq!(fail_with("huge-output", memory_only(16), 3), StageFailure::OutOfMemory { limit_mb: 16 });
}

#[test]
fn wrong_count_breaks_the_contract() {
    assert_eq!(
        fail_with("wrong-count", tight(), 3),
        StageFailure::Contract("2 verdicts for a batch of 3 records".into())
    );
}

#[test]
fn guest_error_is_reported_as_such() {
    assert_eq!(
        fail_with("error", tight(), 3),
        StageFailure::GuestError("misbehave: mode error fails every batch".into())
    );
}

#[test]
fn init_error_fails_the_load_with_the_guests_message() {
    let err = misbehave("init-error", tight()).expect_err("init should refuse");
    assert!(matches!(err, TransformError::InitRejected { .. }), "{err:?}");
    assert!(err.to_string().contains("stage \"misbehave\" refused its params"), "{err}");
    assert!(err.to_string().contains("mode init-error refuses every set of params"), "{err}");
    engine_still_works();
}

#[test]
fn unknown_params_fail_the_load() {
    let err = engine()
        .load_stage("misbehave", &module("misbehave"), &table("mode = \"ok\"\ncolour = 3"), tight())
        .expect_err("unknown field");
    assert!(err.to_string().contains("colour"), "{err}");
}

#[test]
fn log_flood_is_capped_and_the_batch_goes_through() {
    let params = table("mode = \"log-flood\"\nlog_lines = 5000");
    // A generous time limit: 5000 host calls in a debug build on a busy CI.
    let limits = StageLimits { time_ms: 10_000, ..tight() };
    let mut stage = engine().load_stage("flood", &module("misbehave"), &params, limits).expect("load");
    let out = stage.process(&good_batch(4)).expect("process");
    assert_eq!(out.verdicts, vec![Verdict::Keep; 4]);
    // 5000 lines of ~40 bytes against 4 KiB.
    assert!(stage.counters().log_dropped > 4000, "{:?}", stage.counters());
}

#[test]
fn reject_all_rejects_everything() {
    let mut stage = misbehave("reject-all", tight()).expect("load");
    let out = stage.process(&good_batch(5)).expect("process");
    assert!(out.verdicts.iter().all(|v| *v == Verdict::Reject("misbehave: mode reject-all".into())));
}

#[test]
fn a_stage_rebuilds_itself_after_a_trap() {
    let params = table("mode = \"trap-on\"\nneedle = \"POISON\"");
    let mut stage = engine().load_stage("trap-on", &module("misbehave"), &params, tight()).expect("load");
    let mut bad = good_batch(5);
    bad.records[2].value = b"POISON".to_vec();
    assert!(matches!(stage.process(&bad), Err(StageFailure::Trap(_))));
    let out = stage.process(&good_batch(5)).expect("fresh instance");
    assert_eq!(out.verdicts, vec![Verdict::Keep; 5]);
    let c = stage.counters();
    assert_eq!((c.calls, c.failures, c.restarts), (2, 1, 1));
}

#[test]
fn an_empty_batch_is_fine() {
    let mut stage = misbehave("ok", tight()).expect("load");
    assert_eq!(stage.process(&good_batch(0)).expect("empty"), StageOutput::default());
}

// ---- the contract -----------------------------------------------------------

/// `validate.wasm` with every `from` replaced by `to` (same length, so the
/// binary stays well formed).
pub(crate) fn patched_validate(from: &str, to: &str, file: &str) -> PathBuf {
    assert_eq!(from.len(), to.len());
    let bytes = std::fs::read(module("validate")).expect("read");
    let mut out = bytes.clone();
    let mut found = 0;
    let mut i = 0;
    while let Some(pos) = out[i..].windows(from.len()).position(|w| w == from.as_bytes()) {
        out[i + pos..i + pos + from.len()].copy_from_slice(to.as_bytes());
        i += pos + from.len();
        found += 1;
    }
    assert!(found > 0, "{from} not in validate.wasm");
    let dir = tempdir();
    let path = dir.join(file);
    std::fs::write(&path, out).expect("write");
    path
}

pub(crate) fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-sandbox-{}-{:08x}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("tempdir");
    dir
}

#[test]
fn a_module_built_for_another_contract_version_is_refused() {
    let path = patched_validate("sluice:transform/stage@0.3.0", "sluice:transform/stage@0.9.0", "v09.wasm");
    let err = engine().load_stage("validate", &path, &validate_params(), StageLimits::default()).expect_err("refused");
    assert!(matches!(err, TransformError::Contract { .. }), "{err:?}");
    assert!(err.to_string().contains("built for sluice:transform@0.9.0, this host speaks 0.3.0"), "{err}");
}

#[test]
fn a_module_without_the_stage_export_is_refused() {
    let path = patched_validate("sluice:transform/stage@0.3.0", "sluice:transform/other@0.3.0", "other.wasm");
    let err = engine().load_stage("validate", &path, &validate_params(), StageLimits::default()).expect_err("refused");
    assert!(err.to_string().contains("exports no sluice:transform/stage interface"), "{err}");
    assert!(err.to_string().contains("sluice:transform/other@0.3.0"), "{err}");
}

// ---- the chain ----------------------------------------------------------------

pub(crate) fn chain(stages: Vec<Stage>) -> Chain {
    Chain::new(stages, ChainOptions::default())
}

#[test]
fn one_poison_pill_in_a_hundred_is_isolated() {
    let params = table("mode = \"trap-on\"\nneedle = \"POISON\"");
    let stage = engine().load_stage("picky", &module("misbehave"), &params, tight()).expect("load");
    let mut c = chain(vec![stage]);
    let mut batch = good_batch(100);
    batch.records[63].value = br#"{"sessionId":"POISON"}"#.to_vec();
    let out = c.run(&batch).expect("isolated, not broken");
    let kept = (0..out.records.len())
        .filter(|&i| out.records[i] == RecordOutcome::Kept && out.replaced_value(i).is_none())
        .count();
    assert_eq!(kept, 99);
    match &out.records[63] {
        RecordOutcome::Rejected(r) => {
            assert_eq!(&*r.stage, "picky");
            assert!(r.reason.starts_with("stage \"picky\" trapped: "), "{}", r.reason);
            assert!(matches!(r.failure, Some(StageFailure::Trap(_))));
        }
        other => panic!("{other:?}"),
    }
    let report = &out.stages[0];
    assert_eq!((report.records_in, report.kept, report.isolated), (100, 99, 1));
    assert!(report.calls <= 16, "{report:?}");
}

#[test]
fn a_stage_that_always_traps_is_a_broken_deploy() {
    let mut c = chain(vec![misbehave("trap", tight()).expect("load")]);
    match c.run(&good_batch(40)) {
        Err(ChainFailure::BrokenDeploy {
            stage,
            failure: StageFailure::Trap(_),
            why: BrokenWhy::TooManyFailing { failing, records: 40, .. },
        }) => {
            assert_eq!(stage, "misbehave");
            assert!(failing > 20, "{failing}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stage_that_always_loops_is_a_broken_deploy_within_the_budget() {
    let limits = StageLimits { time_ms: 50, ..tight() };
    let options = ChainOptions { isolation_budget: std::time::Duration::from_millis(300), ..ChainOptions::default() };
    let mut c = Chain::new(vec![misbehave("loop", limits).expect("load")], options);
    let started = std::time::Instant::now();
    match c.run(&good_batch(64)) {
        Err(ChainFailure::BrokenDeploy { failure: StageFailure::Timeout { limit_ms: 50 }, why, .. }) => {
            assert!(matches!(why, BrokenWhy::IsolationBudget { .. } | BrokenWhy::TooManyFailing { .. }), "{why:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn a_batch_too_big_for_the_memory_limit_is_split_without_dead_letters() {
    // 10 MiB per record in 32 MiB: one or two records fit, three do not.
    let mut c = chain(vec![misbehave("huge-output", memory_only(32)).expect("load")]);
    let out = c.run(&good_batch(4)).expect("split, not broken");
    let report = &out.stages[0];
    let seen: Vec<_> = (0..4).map(|i| (&out.records[i], out.replaced_value(i).map(<[u8]>::len))).collect();
    assert!(seen.iter().all(|(r, len)| **r == RecordOutcome::Kept && *len == Some(10 << 20)), "{seen:?} {report:?}");
    assert_eq!(report.isolated, 0);
    assert!(report.calls > 1, "{report:?}");
}

#[test]
fn a_guest_error_or_a_contract_breach_is_a_broken_deploy_at_once() {
    let mut c = chain(vec![misbehave("error", tight()).expect("load")]);
    let err = c.run(&good_batch(10)).expect_err("broken");
    assert!(
        matches!(&err, ChainFailure::BrokenDeploy { why: BrokenWhy::Module(StageFailure::GuestError(_)), .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("returned an error: misbehave: mode error fails every batch"), "{err}");
    let mut c = chain(vec![misbehave("wrong-count", tight()).expect("load")]);
    assert!(matches!(
        c.run(&good_batch(10)),
        Err(ChainFailure::BrokenDeploy { failure: StageFailure::Contract(_), .. })
    ));
}

#[test]
fn rows_of_records_rejected_later_are_dropped_and_aggregates_kept() {
    let validate =
        engine().load_stage("validate", &module("validate"), &validate_params(), StageLimits::default()).expect("v");
    let stats = engine().load_stage("stats", &module("stats"), &toml::Table::new(), StageLimits::default()).expect("s");
    let params = table("mode = \"trap-on\"\nneedle = \"session-3\"");
    let picky = engine().load_stage("picky", &module("misbehave"), &params, tight()).expect("p");
    let mut c = chain(vec![validate, stats, picky]);
    let mut batch = good_batch(20);
    batch.records[5].value = b"not json".to_vec();
    let out = c.run(&batch).expect("run");

    // validate rejects record 5; picky traps on the 4 records of session-3
    // (3, 8, 13, 18), which are isolated one by one.
    let rejected: Vec<(usize, &str)> = out
        .records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            RecordOutcome::Rejected(r) => Some((i, &*r.stage)),
            RecordOutcome::Kept | RecordOutcome::Dropped { .. } => None,
        })
        .collect();
    assert_eq!(rejected, vec![(3, "picky"), (5, "validate"), (8, "picky"), (13, "picky"), (18, "picky")]);

    // validate's rows for the records picky rejected are gone…
    let log = out.output("validate", "study_log").expect("study_log");
    let sources: Vec<usize> = log.rows().filter_map(|r| r.source()).collect();
    assert_eq!(sources.len(), 15);
    assert!(!sources.iter().any(|s| [3, 5, 8, 13, 18].contains(s)));
    // …while stats' aggregates (no source) all stay, session-3 included.
    let stats = out.output("stats", "stats").expect("stats");
    assert!(stats.rows().all(|r| r.source().is_none()));
    let counted: i64 = stats.rows().map(|r| if let Value::Int(n) = r.value(3) { n } else { 0 }).sum();
    assert_eq!(counted, 19);
    // Kept records carry validate's normalized value.
    let kept = out.kept_value(0, &batch.records[0].value).expect("kept");
    assert!(std::str::from_utf8(kept).expect("utf8").contains("\"eventTime\":"), "{kept:?}");
}

// ---- wasm and native agree ----------------------------------------------------

/// A verdict or row in a form both sides convert to.
#[derive(Debug, PartialEq)]
enum V {
    Keep,
    Replace(Vec<u8>),
    Reject(String),
    Drop,
}

#[derive(Debug, PartialEq)]
struct R {
    output: u32,
    source: Option<u32>,
    values: Vec<C>,
}

/// A cell in a form both sides convert to.
#[derive(Debug, PartialEq)]
enum C {
    Null,
    Int(i64),
    Float(u64),
    Text(String),
    Bytes(Vec<u8>),
    TimestampMs(i64),
}

fn from_host(out: StageOutput) -> (Vec<V>, Vec<R>) {
    let rows = out
        .all_rows()
        .map(|r| R {
            output: r.output() as u32,
            source: r.source().map(|s| s as u32),
            values: r
                .values()
                .map(|v| match v {
                    Value::Null => C::Null,
                    Value::Int(n) => C::Int(n),
                    Value::Float(x) => C::Float(x.to_bits()),
                    Value::Text(s) => C::Text(s.to_string()),
                    Value::Bytes(b) => C::Bytes(b.to_vec()),
                    Value::TimestampMs(t) => C::TimestampMs(t),
                })
                .collect(),
        })
        .collect();
    let verdicts = out
        .verdicts
        .into_iter()
        .map(|v| match v {
            Verdict::Keep => V::Keep,
            Verdict::Replace(b) => V::Replace(b.to_vec()),
            Verdict::Reject(s) => V::Reject(s),
            Verdict::Drop => V::Drop,
        })
        .collect();
    (verdicts, rows)
}

fn from_native(out: sluice_transform::BatchOutput) -> (Vec<V>, Vec<R>) {
    use sluice_transform::Value as N;
    let verdicts = out
        .to_verdicts()
        .into_iter()
        .map(|v| match v {
            sluice_transform::Verdict::Keep => V::Keep,
            sluice_transform::Verdict::Replace(b) => V::Replace(b),
            sluice_transform::Verdict::Reject(s) => V::Reject(s),
            sluice_transform::Verdict::Drop => V::Drop,
        })
        .collect();
    let rows = out
        .to_rows()
        .into_iter()
        .map(|r| R {
            output: r.output,
            source: r.source,
            values: r
                .values
                .into_iter()
                .map(|v| match v {
                    N::Null => C::Null,
                    N::Int(n) => C::Int(n),
                    N::Float(x) => C::Float(x.to_bits()),
                    N::Text(s) => C::Text(s.into_owned()),
                    N::Bytes(b) => C::Bytes(b.into_owned()),
                    N::TimestampMs(t) => C::TimestampMs(t),
                })
                .collect(),
        })
        .collect();
    (verdicts, rows)
}

fn native_batch(batch: &Batch) -> sluice_transform::OwnedBatch {
    let mut b = sluice_transform::OwnedBatch::new(batch.topic.clone(), batch.partition);
    for r in &batch.records {
        let headers: Vec<sluice_transform::Header> =
            r.headers.iter().map(|(k, v)| sluice_transform::Header { key: k.clone(), value: v.clone() }).collect();
        b.push_record(r.offset, r.timestamp, r.key.as_deref(), &r.value, &headers);
    }
    b
}

/// Generated events, 10 % of them poison pills of every kind.
fn generated(n: usize) -> Batch {
    let config = GeneratorConfig { sessions: 40, poison_percent: 10.0, seed: 7, ..GeneratorConfig::default() };
    let mut events = EventGenerator::new(config);
    Batch {
        topic: "study-log-events".into(),
        partition: 0,
        records: (0..n)
            .map(|i| {
                let e = events.next_event();
                sluice::transform::Record {
                    key: Some(e.key.into_bytes()),
                    value: e.value,
                    headers: Vec::new(),
                    offset: i as i64,
                    timestamp: Some(e.time_ms),
                }
            })
            .collect(),
    }
}

#[test]
fn validate_and_stats_give_the_same_answers_in_wasm_and_natively() {
    let batch = generated(1000);
    let params = params_json(&validate_params()).expect("json");

    let mut wasm =
        engine().load_stage("validate", &module("validate"), &validate_params(), StageLimits::default()).expect("v");
    let mut native = Runtime::<validate::Validate>::new("validate");
    native.init(&params).expect("native init");
    let (wv, wr) = from_host(wasm.process(&batch).expect("wasm"));
    let (nv, nr) = from_native(native.process(&native_batch(&batch)).expect("native"));
    let rejects = wv.iter().filter(|v| matches!(v, V::Reject(_))).count();
    assert!(rejects > 50 && rejects < 200, "{rejects} rejects: the generator should make ~10 % pills");
    assert_eq!(wv, nv);
    assert_eq!(wr, nr);

    // stats on what validate kept, with validate's values.
    let mut kept = Batch { records: Vec::new(), ..batch.clone() };
    for (r, v) in batch.records.iter().zip(&wv) {
        if let V::Replace(value) = v {
            kept.records.push(sluice::transform::Record { value: value.clone(), ..r.clone() });
        }
    }
    let mut wasm =
        engine().load_stage("stats", &module("stats"), &toml::Table::new(), StageLimits::default()).expect("s");
    let mut native = Runtime::<stats::Stats>::new("stats");
    native.init("{}").expect("native init");
    let (wv, wr) = from_host(wasm.process(&kept).expect("wasm"));
    let (nv, nr) = from_native(native.process(&native_batch(&kept)).expect("native"));
    assert!(!wr.is_empty());
    assert_eq!(wv, nv);
    assert_eq!(wr, nr);
}

// ---- reload -------------------------------------------------------------------

#[test]
fn changed_modules_are_swapped_in_only_when_they_work() {
    let dir = tempdir();
    let path = dir.join("validate.wasm");
    let original = std::fs::read(module("validate")).expect("read");
    std::fs::write(&path, &original).expect("write");
    let stage = engine().load_stage("validate", &path, &validate_params(), StageLimits::default()).expect("load");
    let first_sha = stage.module_sha256();
    let mut c = chain(vec![stage]);
    let e = engine();

    // Nothing changed.
    assert!(c.reload_changed(e).reloaded.is_empty());

    // Same bytes again (a new mtime): nothing to reload.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, &original).expect("rewrite");
    let report = c.reload_changed(e);
    assert!(report.reloaded.is_empty() && report.refused.is_empty(), "{report:?}");

    // Garbage: refused, the old module keeps working, not retried.
    std::fs::write(&path, b"garbage").expect("garbage");
    let report = c.reload_changed(e);
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert!(c.run(&good_batch(3)).expect("old module").records.iter().all(|r| matches!(r, RecordOutcome::Kept)));
    assert!(c.reload_changed(e).refused.is_empty(), "the same bad bytes are not tried twice");

    // The same module with a custom section appended: new bytes, swapped in.
    let mut changed = original.clone();
    changed.extend_from_slice(&[0x00, 0x05, 0x04, b't', b'e', b's', b't']);
    std::fs::write(&path, &changed).expect("write");
    let report = c.reload_changed(e);
    assert_eq!(report.reloaded, vec!["validate".to_string()], "{report:?}");
    let now = c.stages().next().expect("stage").module_sha256();
    assert_ne!(now, first_sha);
    assert_eq!(c.run(&good_batch(3)).expect("new module").stages[0].kept, 3);

    // A module that loads but declares other outputs: refused, since the
    // sink was planned against the old ones.
    let stats_path = dir.join("stats.wasm");
    std::fs::copy(module("stats"), &stats_path).expect("copy");
    let stats = engine().load_stage("stats", &stats_path, &toml::Table::new(), StageLimits::default()).expect("load");
    let mut c = chain(vec![stats]);
    std::fs::copy(module("misbehave"), &stats_path).expect("copy");
    let report = c.reload_changed(e);
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert!(report.refused[0].to_string().contains("other outputs"), "{}", report.refused[0]);
    assert_eq!(c.stages().next().expect("stage").outputs()[0].name.as_ref(), "stats");
}

// ---- sluice try ---------------------------------------------------------------

#[test]
fn sluice_try_shows_every_reject_and_its_reason() {
    module("validate");
    module("stats");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .current_dir(repo())
        .args(["try", "--config", "pipeline.toml", "--input", "samples/events.jsonl"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run sluice try");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for expected in [
        "line 5 (offset 4): invalid JSON",
        "line 8 (offset 7): missing field eventType",
        "line 11 (offset 10): sessionId is not a string",
        "line 14 (offset 13): eventType \"SLEEPING\" is not one of",
        "line 16 (offset 15): empty value",
        "line 19 (offset 18): sessionId is 65 characters long",
        "line 22 (offset 21): timestamp \"yesterday at noon\"",
        "output \"study_log\": 23 rows",
        "total: 30 records, 23 kept, 7 rejected",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .current_dir(repo())
        .args(["try", "--config", "pipeline.toml", "--input", "samples/events.jsonl", "--json"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run sluice try --json");
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["records"], 30);
    assert_eq!(json["rejected"], 7);
    assert_eq!(json["stages"][0]["rejects"].as_array().map(Vec::len), Some(7));
    // 12 (session, hour, type) groups: the sample crosses 11:00 KST.
    assert_eq!(json["stages"][1]["outputs"][0]["rows"], 12);
}
