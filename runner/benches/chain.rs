//! The seed chain (validate → stats) in wasmtime against the same crates run
//! natively, per record, on generated events (2 % poison pills) in batches
//! of 100, 500 and 5,000.
//!
//! ```text
//! scripts/build-transforms && SLUICE_MODULE_CACHE=off cargo bench -p sluice --bench chain
//! ```
//!
//! Columns:
//! - native: `validate` then `stats` through the SDK's native runtime, from
//!   the same host records: building the columnar batch for each stage (as
//!   the host does for a module; both sides reuse their buffers), the
//!   logic, and each stage's part (validate's includes building the batch
//!   for stats);
//! - wasm: `Chain::run` on host records, everything included (building the
//!   columnar batch, copying in, the two calls, lifting verdicts and rows,
//!   the bookkeeping between stages), and each stage's part; the ratio of
//!   the whole and of each stage;
//! - crossing: the same batch through a stage that only keeps every record
//!   (`misbehave`, mode `ok`), once per stage: what passing a batch in and
//!   verdicts out costs, with no work inside. Its share is of the wasm time.
//!
//! A second table compares languages: the example stage of `sluice new`
//! (`transforms/sessions`, and the same stage built from
//! `transforms/templates/python` and `…/js`), each module's size, the time to
//! compile it (a fresh engine: compile, instantiate, `init`), to load it
//! again (compiled already: instantiate and `init`), and per record at a
//! batch of 500, next to the Rust crate run natively.
//! `SLUICE_BENCH_PART=chain` or `=languages` runs only one table; the
//! languages table needs `SLUICE_MODULE_CACHE=off`, so that a compile is not
//! a load from the disk cache.
//!
//! Numbers are medians over repeated runs. The target is wasm ≤ 1.5 × native.
//! `SLUICE_BENCH_MODULES=<dir>` takes the `.wasm` files from another
//! directory (to compare builds of the modules); `SLUICE_BENCH_MS=<ms>`
//! sets the time per cell (default 1500); `SLUICE_BENCH_STAT=min` reports
//! the fastest run instead of the median (the least disturbed one, to
//! compare two builds on a busy machine); `SLUICE_BENCH_SIZES=100,500`
//! measures only those batch sizes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use loadgen::{EventGenerator, GeneratorConfig};
use sluice::transform::{Batch, Chain, ChainOptions, Record, Stage, StageLimits, TransformEngine, params_json};
use sluice_transform::testing::Runtime;
use sluice_transform::{OwnedBatch, VerdictKind};

const SIZES: [usize; 3] = [100, 500, 5_000];

/// The batch sizes to measure: [`SIZES`] unless `SLUICE_BENCH_SIZES` lists
/// others.
fn sizes() -> Vec<usize> {
    match std::env::var("SLUICE_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|s| s.trim().parse().unwrap_or_else(|_| panic!("SLUICE_BENCH_SIZES: `{s}` is not a batch size")))
            .collect(),
        Err(_) => SIZES.to_vec(),
    }
}
/// Time spent measuring each variant at each size, unless
/// `SLUICE_BENCH_MS` says otherwise.
fn budget() -> Duration {
    let ms = std::env::var("SLUICE_BENCH_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1500);
    Duration::from_millis(ms)
}

fn main() {
    // SLUICE_BENCH_MODULES=<dir> measures other builds of the modules.
    let dir = std::env::var_os("SLUICE_BENCH_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/transforms"));
    let module = move |name: &str| -> PathBuf {
        let p = dir.join(format!("{name}.wasm"));
        if !p.is_file() {
            eprintln!("{} is missing: run scripts/build-transforms first", p.display());
            std::process::exit(2);
        }
        p
    };
    let params: toml::Table =
        toml::from_str("event_types = [\"FOCUS\", \"DISTRACTED\", \"AWAY\", \"DROWSY\"]\nlocal_offset = \"+09:00\"")
            .expect("params");
    let params_text = params_json(&params).expect("params json");

    // Wasm runs on the caller's stack: use a thread with room for it.
    let stack = TransformEngine::thread_stack_bytes([&StageLimits::default()]);
    let run = move || {
        let engine = TransformEngine::new().expect("engine");
        let load = |name: &str, path: &Path, params: &toml::Table| {
            engine.load_stage(name, path, params, StageLimits::default()).expect("load stage")
        };
        let mut chain = Chain::new(
            vec![load("validate", &module("validate"), &params), load("stats", &module("stats"), &toml::Table::new())],
            ChainOptions::default(),
        );
        let ok: toml::Table = toml::from_str("mode = \"ok\"").expect("ok");
        let mut passthrough = load("ok", &module("misbehave"), &ok);
        let mut validate = Runtime::<validate::Validate>::new("validate");
        validate.init(&params_text).expect("init");
        let mut stats = Runtime::<stats::Stats>::new("stats");
        stats.init("{}").expect("init");

        // SLUICE_BENCH_PROFILE=<size>: only the wasm chain at that size, for
        // a profiler (`perf record`, with SLUICE_WASM_PERFMAP=1);
        // SLUICE_BENCH_PROFILE=crossing:<size>: only the stage that does
        // nothing.
        if let Ok(profile) = std::env::var("SLUICE_BENCH_PROFILE") {
            let (crossing, size) = match profile.strip_prefix("crossing:") {
                Some(size) => (true, size),
                None => (false, profile.as_str()),
            };
            let size: usize = size.parse().expect("SLUICE_BENCH_PROFILE=[crossing:]<size>");
            let batch = generate(size);
            let mut once = || {
                if crossing {
                    passthrough_once(&mut passthrough, &batch)
                } else {
                    chain.run(&batch).expect("chain").records.len()
                }
            };
            // Long enough that compiling the modules is a small part.
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                std::hint::black_box(once());
            }
            let ns = median_ns(once);
            let what = if crossing { "crossing, one stage" } else { "wasm chain" };
            println!("{what}, batch of {size}: {:.3} µs/record", ns / size as f64 / 1e3);
            return;
        }
        let part = std::env::var("SLUICE_BENCH_PART").unwrap_or_default();
        if part != "languages" {
            chain_table(&mut chain, &mut passthrough, &mut validate, &mut stats);
        }
        if part != "chain" {
            languages_table(&module);
        }
    };
    std::thread::Builder::new().stack_size(stack).spawn(run).expect("thread").join().expect("bench thread");
}

/// The seed chain, wasm against native, at each batch size.
fn chain_table(
    chain: &mut Chain,
    passthrough: &mut Stage,
    validate: &mut Runtime<validate::Validate>,
    stats: &mut Runtime<stats::Stats>,
) {
    print_header();
    for size in sizes() {
        let batch = generate(size);
        let mut buffers = NativeBuffers::default();
        let mut native_stage_ns = [0f64; 2];
        // Native and wasm runs alternate, so that whatever else the
        // machine does weighs on both alike.
        let mut stage_ns = [0f64; 2];
        let (native_ns, wasm_ns) = median_pair_ns(
            || native_chain(validate, stats, &batch, &mut buffers, &mut native_stage_ns),
            || {
                let out = chain.run(&batch).expect("chain");
                // Each stage's share of the chain's time, summed over every run.
                for (k, s) in out.stages.iter().enumerate() {
                    stage_ns[k] += s.elapsed.as_nanos() as f64;
                }
                out.records.len()
            },
        );
        let total: f64 = native_stage_ns.iter().sum();
        let native_stage_ns = native_stage_ns.map(|ns| native_ns * ns / total);
        let total: f64 = stage_ns.iter().sum();
        let stage_ns = stage_ns.map(|ns| wasm_ns * ns / total);
        let crossing_ns = 2.0 * median_ns(|| passthrough_once(passthrough, &batch));
        let per = |ns: f64| ns / size as f64 / 1e3;
        println!(
            "{:>6} | {:>5.2} = {:.2} + {:.2} | {:>5.2} = {:.2} + {:.2} | {:>5.2}× | {:>5.2}× / {:.2}× | {:>8.3} | {:>5.1} %",
            size,
            per(native_ns),
            per(native_stage_ns[0]),
            per(native_stage_ns[1]),
            per(wasm_ns),
            per(stage_ns[0]),
            per(stage_ns[1]),
            wasm_ns / native_ns,
            stage_ns[0] / native_stage_ns[0],
            stage_ns[1] / native_stage_ns[1],
            per(crossing_ns),
            100.0 * crossing_ns / wasm_ns,
        );
    }
}

/// The example stage of `sluice new` in Rust, Python and JavaScript: size,
/// compile and load times, and µs per record at a batch of 500.
fn languages_table(module: &dyn Fn(&str) -> PathBuf) {
    const SIZE: usize = 500;
    if std::env::var("SLUICE_MODULE_CACHE").as_deref() != Ok("off") {
        eprintln!("the languages table times compiles: run it with SLUICE_MODULE_CACHE=off (no disk cache)");
        std::process::exit(2);
    }
    // Drops session-1 and session-10…19 of loadgen's 50: about a fifth.
    let params: toml::Table = toml::from_str("prefix = \"session-1\"").expect("params");
    let batch = generate(SIZE);
    let per = |ns: f64| ns / SIZE as f64 / 1e3;
    println!();
    println!("the example stage of `sluice new`, batch of {SIZE}");
    println!(
        "{:<11} | {:>10} | {:>10} | {:>9} | {:>10} | {:>7}",
        "language", "module", "compile", "load", "µs/record", "× rust"
    );

    let mut native = Runtime::<sessions::Sessions>::new("sessions");
    native.init(&params_json(&params).expect("params json")).expect("init");
    let mut columns = OwnedBatch::default();
    let native_ns = median_ns(|| {
        restart(&mut columns, &batch.topic, batch.partition);
        for r in &batch.records {
            columns.push_record(r.offset, r.timestamp.filter(|t| *t >= 0), r.key.as_deref(), &r.value, &[]);
        }
        native.process(&columns).expect("native sessions").verdicts.len()
    });
    println!("{:<11} | {:>10} | {:>10} | {:>9} | {:>10.3} |", "rust native", "–", "–", "–", per(native_ns));

    let mut rust_ns = None;
    for (language, file) in [("rust", "sessions"), ("python", "sessions-py"), ("javascript", "sessions-js")] {
        let path = module(file);
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let fresh = TransformEngine::new().expect("engine");
        let load = |engine: &TransformEngine| {
            let started = Instant::now();
            let stage = engine.load_stage("sessions", &path, &params, StageLimits::default()).expect("load stage");
            (stage, started.elapsed())
        };
        // The first stage keeps its compiled module in the engine's cache
        // while it lives: the second load instantiates it.
        let (_first, compile) = load(&fresh);
        let (mut stage, again) = load(&fresh);
        let ns = median_ns(|| stage.process(&batch).expect("sessions").verdicts.len());
        let rust = *rust_ns.get_or_insert(ns);
        println!(
            "{:<11} | {:>6.1} MiB | {:>8.0} ms | {:>6.1} ms | {:>10.3} | {:>6.1}×",
            language,
            bytes as f64 / (1 << 20) as f64,
            compile.as_secs_f64() * 1e3,
            again.as_secs_f64() * 1e3,
            per(ns),
            ns / rust,
        );
    }
}

fn print_header() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("machine: {cpu}, {cores} cores available; cranelift opt-level speed");
    let stat = if fastest() { "fastest" } else { "median" };
    println!("per record, µs ({stat} of repeated runs; {} ms per cell)", budget().as_millis());
    println!(
        "{:>6} | {:>19} | {:>19} | {:>6} | {:>15} | {:>8} | {:>7}",
        "batch", "native = v + s", "wasm = v + s", "ratio", "ratio v / s", "crossing", "share"
    );
}

/// Events from the load generator, keyed by session, 2 % poison pills.
fn generate(n: usize) -> Batch {
    let mut events = EventGenerator::new(GeneratorConfig { seed: n as u64, ..GeneratorConfig::default() });
    Batch {
        topic: "study-log-events".into(),
        partition: 0,
        records: (0..n)
            .map(|i| {
                let e = events.next_event();
                Record {
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

/// The two columnar batches of the native chain, kept from run to run as
/// the host keeps its own (`Columnar`), so that neither side allocates them
/// per batch.
#[derive(Default)]
struct NativeBuffers {
    first: OwnedBatch,
    kept: OwnedBatch,
}

/// Empties `b` for a batch of `topic`/`partition`, keeping its buffers.
fn restart(b: &mut OwnedBatch, topic: &str, partition: i32) {
    b.topic.clear();
    b.topic.push_str(topic);
    b.partition = partition;
    b.offsets.clear();
    b.timestamps.clear();
    b.key_lens.clear();
    b.keys.clear();
    b.value_lens.clear();
    b.values.clear();
    b.header_counts.clear();
    b.headers.clear();
}

/// The same two stages, natively, from the same host records as the wasm
/// chain: the records into the SDK's columnar batch (what the host does for
/// a module too), validate, stats on what it kept (with the values validate
/// gave them).
fn native_chain(
    validate: &mut Runtime<validate::Validate>,
    stats: &mut Runtime<stats::Stats>,
    batch: &Batch,
    buffers: &mut NativeBuffers,
    stage_ns: &mut [f64; 2],
) -> usize {
    let started = Instant::now();
    let NativeBuffers { first, kept } = buffers;
    restart(first, &batch.topic, batch.partition);
    for r in &batch.records {
        first.push_record(r.offset, r.timestamp.filter(|t| *t >= 0), r.key.as_deref(), &r.value, &[]);
    }
    let out = validate.process(first).expect("validate");
    restart(kept, &batch.topic, batch.partition);
    let mut lens = out.replacement_lens.iter();
    let mut at = 0;
    for (i, verdict) in out.verdicts.iter().enumerate() {
        if *verdict == VerdictKind::Replace {
            let len = *lens.next().expect("a length per replaced value") as usize;
            let r = &batch.records[i];
            kept.push_record(
                r.offset,
                r.timestamp.filter(|t| *t >= 0),
                r.key.as_deref(),
                &out.replacements[at..at + len],
                &[],
            );
            at += len;
        }
    }
    let between = Instant::now();
    stage_ns[0] += (between - started).as_nanos() as f64;
    let stats_out = stats.process(kept).expect("stats");
    stage_ns[1] += between.elapsed().as_nanos() as f64;
    let rows = |o: &sluice_transform::BatchOutput| o.rows.iter().map(|s| s.count as usize).sum::<usize>();
    rows(&out) + rows(&stats_out)
}

fn passthrough_once(stage: &mut Stage, batch: &Batch) -> usize {
    stage.process(batch).expect("passthrough").verdicts.len()
}

/// Median wall times of `f` and `g` in ns, run in turn, after a warm-up,
/// over as many runs as fit twice the budget (at least 5 each).
fn median_pair_ns<T, U>(mut f: impl FnMut() -> T, mut g: impl FnMut() -> U) -> (f64, f64) {
    for _ in 0..3 {
        std::hint::black_box(f());
        std::hint::black_box(g());
    }
    let (mut fs, mut gs) = (Vec::new(), Vec::new());
    let started = Instant::now();
    let budget = 2 * budget();
    while fs.len() < 5 || started.elapsed() < budget {
        let t = Instant::now();
        std::hint::black_box(f());
        fs.push(t.elapsed().as_nanos() as f64);
        let t = Instant::now();
        std::hint::black_box(g());
        gs.push(t.elapsed().as_nanos() as f64);
    }
    (median(fs), median(gs))
}

/// True when `SLUICE_BENCH_STAT=min` asks for the fastest run.
fn fastest() -> bool {
    std::env::var("SLUICE_BENCH_STAT").is_ok_and(|s| s == "min")
}

/// The median of `samples`, or their minimum with `SLUICE_BENCH_STAT=min`.
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    if fastest() {
        return samples[0];
    }
    samples[samples.len() / 2]
}

/// Median wall time of `f` in ns, after a warm-up, over as many runs as fit
/// the budget (at least 5).
fn median_ns<T>(mut f: impl FnMut() -> T) -> f64 {
    for _ in 0..3 {
        std::hint::black_box(f());
    }
    let mut samples = Vec::new();
    let started = Instant::now();
    let budget = budget();
    while samples.len() < 5 || started.elapsed() < budget {
        let t = Instant::now();
        std::hint::black_box(f());
        samples.push(t.elapsed().as_nanos() as f64);
    }
    median(samples)
}
