//! The stages of a pipeline in order, run over one batch.
//!
//! Record `i` reaches stage `k + 1` only if stage `k` kept it, with the value
//! it left. The result says, per input record, whether it came through (and
//! with which value) or which stage rejected it and why, and gathers each
//! stage's side-output rows with the index of their source record in the
//! input batch. A row whose source a later stage rejects is dropped; a row
//! without a source (an aggregate) is kept.
//!
//! Poison pills: when a stage fails in a way the sandbox contained, the
//! failing records are isolated ([`isolate`](super::isolate)) and become
//! rejects (dead letters) with the failure as reason, e.g. `stage "validate"
//! trapped: …`. When that would reject more than `broken_deploy_percent` of
//! the batch, or the module returns an error or breaks the contract, the
//! whole batch fails with [`ChainFailure::BrokenDeploy`]: the caller pauses
//! the partition and retries later. After isolation a stage's aggregate rows
//! may come in several pieces (one per successful call); accumulating sinks
//! merge them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::batch::Batch;
use super::engine::TransformEngine;
use super::error::{StageFailure, TransformError};
use super::isolate::{self, Abort, Policy};
use super::limits::StageLimits;
use super::output::{Column, Outcome, OutputDecl, RowRef, RowSet};
use super::reload::{self, Check};
use super::stage::{ModuleSource, Stage};
use super::swap::Swaps;
use crate::config::Pipeline;

/// How the chain tells poison pills from a broken deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainOptions {
    /// A stage failing on more than this percent of a batch's records is
    /// broken (`[dead_letter] broken_deploy_percent`, default 50).
    pub broken_deploy_percent: u8,
    /// …provided that is at least this many records, so that a poison pill
    /// in a batch of one or two is still a dead letter (default 3).
    pub broken_deploy_min_records: usize,
    /// Most time spent isolating the failing records of one batch at one
    /// stage before calling it broken (default 60 s; matters for timeouts).
    pub isolation_budget: Duration,
}

impl Default for ChainOptions {
    fn default() -> Self {
        ChainOptions {
            broken_deploy_percent: 50,
            broken_deploy_min_records: 3,
            isolation_budget: Duration::from_secs(60),
        }
    }
}

impl ChainOptions {
    /// The options a pipeline file sets.
    pub fn from_pipeline(pipeline: &Pipeline) -> ChainOptions {
        let percent = pipeline.config.dead_letter.broken_deploy_percent.get();
        ChainOptions { broken_deploy_percent: u8::try_from(percent).unwrap_or(100), ..ChainOptions::default() }
    }
}

/// One stage to load: what `[[transforms]]` says, owned, so that a chain
/// can be (re)loaded on any thread.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSpec {
    pub name: String,
    /// Already resolved against the pipeline file's directory.
    pub module: PathBuf,
    pub params: toml::Table,
    pub limits: StageLimits,
}

/// Everything needed to load a [`Chain`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSpec {
    pub stages: Vec<StageSpec>,
    pub options: ChainOptions,
}

impl ChainSpec {
    /// The stages and options of a pipeline file.
    pub fn from_pipeline(pipeline: &Pipeline) -> ChainSpec {
        let stages = pipeline
            .config
            .transforms
            .iter()
            .map(|t| StageSpec {
                name: t.name.get_ref().as_str().to_string(),
                module: pipeline.module_path(t),
                params: t.params.clone(),
                limits: t.limits.into(),
            })
            .collect();
        ChainSpec { stages, options: ChainOptions::from_pipeline(pipeline) }
    }

    /// The smallest stack for a thread that runs this chain (see
    /// [`TransformEngine::thread_stack_bytes`]).
    pub fn thread_stack_bytes(&self) -> usize {
        TransformEngine::thread_stack_bytes(self.stages.iter().map(|s| &s.limits))
    }
}

/// The loaded stages of a pipeline.
#[derive(Debug)]
pub struct Chain {
    stages: Vec<Slot>,
    options: ChainOptions,
}

#[derive(Debug)]
struct Slot {
    stage: Stage,
    /// The last module bytes that failed to load, not to be retried.
    refused: Option<[u8; 32]>,
}

/// What happened to one input record. (Its final value, when kept, is
/// [`ChainOutput::kept_value`].)
#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    /// Came through every stage.
    Kept,
    /// (Boxed: rejects are few, and a batch's outcomes stay small.)
    Rejected(Box<Rejection>),
    /// Filtered out by a `drop` verdict: no dead letter, nothing written.
    Dropped { stage: Arc<str>, stage_index: usize },
}

/// Where a replaced value lives: `ChainOutput::values[buffer][start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ValueAt {
    buffer: u32,
    start: u32,
    end: u32,
}

/// A record a stage rejected, or that made it fail on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub stage: Arc<str>,
    /// Position of the stage in the chain.
    pub stage_index: usize,
    /// The stage's reason, or the failure: `stage "validate" trapped: …`.
    pub reason: String,
    /// Set when the record made the stage fail (trap, timeout, memory,
    /// stack) rather than being rejected by a verdict.
    pub failure: Option<StageFailure>,
}

/// The rows of one side output of one stage, in the column sets they came
/// in (one per call and kind of row); rows of records that a later stage
/// rejected are left out. Sources index the input batch's records.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputRows {
    pub stage: Arc<str>,
    pub output: Arc<str>,
    pub columns: Arc<[Column]>,
    sets: Vec<RowSet>,
}

impl OutputRows {
    /// Every row, set after set.
    pub fn rows(&self) -> impl Iterator<Item = RowRef<'_>> {
        self.sets.iter().flat_map(RowSet::rows)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.sets.iter().map(RowSet::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one stage did with one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageReport {
    pub stage: Arc<str>,
    /// The module that ran (SHA-256 of its bytes, hex): dead letters name it.
    pub module_sha256: String,
    pub records_in: usize,
    pub kept: usize,
    /// Kept with a new value.
    pub replaced: usize,
    /// Rejected by a verdict.
    pub rejected: usize,
    /// Rejected because they made the stage fail on their own.
    pub isolated: usize,
    /// Filtered out by a `drop` verdict.
    pub dropped: usize,
    /// Rows emitted, before rows of records rejected later are dropped.
    pub rows: usize,
    /// `process` calls (more than one when records were isolated).
    pub calls: u32,
    pub elapsed: Duration,
}

/// The chain's answer for one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainOutput {
    /// One per input record, in order.
    pub records: Vec<RecordOutcome>,
    /// Every declared output of every stage, in chain order, even if empty.
    pub outputs: Vec<OutputRows>,
    /// One per stage, in chain order.
    pub stages: Vec<StageReport>,
    /// The buffers of new values, one per call that replaced any.
    values: Vec<Bytes>,
    /// Per input record, its last replaced value, if any stage replaced it.
    replaced: Vec<Option<ValueAt>>,
}

impl ChainOutput {
    /// The value the last stage that replaced record `i`'s value gave it,
    /// if any did (rejected records included).
    pub fn replaced_value(&self, i: usize) -> Option<&[u8]> {
        let at = self.replaced.get(i).copied().flatten()?;
        self.values.get(at.buffer as usize)?.get(at.start as usize..at.end as usize)
    }

    /// The final value of record `i` if it was kept: the last replaced
    /// value, or `original` (its value in the batch) when no stage replaced
    /// it.
    pub fn kept_value<'a>(&'a self, i: usize, original: &'a [u8]) -> Option<&'a [u8]> {
        match self.records.get(i)? {
            RecordOutcome::Kept => Some(self.replaced_value(i).unwrap_or(original)),
            RecordOutcome::Rejected(_) | RecordOutcome::Dropped { .. } => None,
        }
    }

    /// The rows of `stage`'s output `output`, if declared.
    pub fn output(&self, stage: &str, output: &str) -> Option<&OutputRows> {
        self.outputs.iter().find(|o| &*o.stage == stage && &*o.output == output)
    }
}

/// The batch cannot go through; nothing of it should be written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChainFailure {
    /// The stage is broken, not the data: pause the partition, retry with
    /// backoff, alert.
    #[error("stage \"{stage}\" looks like a broken deploy: {why}")]
    BrokenDeploy { stage: String, failure: StageFailure, why: BrokenWhy },
}

/// Why a stage was judged broken.
#[derive(Debug, Clone, PartialEq)]
pub enum BrokenWhy {
    /// `process` returned an error, broke the contract, or could not restart.
    Module(StageFailure),
    /// At least `failing` of `records` records make it fail.
    TooManyFailing { failing: usize, records: usize, failure: StageFailure },
    /// Isolating the failing records took longer than the budget.
    IsolationBudget { budget: Duration, failure: StageFailure },
}

impl fmt::Display for BrokenWhy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokenWhy::Module(failure) => write!(f, "it {failure}"),
            BrokenWhy::TooManyFailing { failing, records, failure } => {
                write!(f, "it fails on at least {failing} of {records} records (it {failure})")
            }
            BrokenWhy::IsolationBudget { budget, failure } => {
                write!(f, "finding the records it fails on took more than {} s (it {failure})", budget.as_secs_f64())
            }
        }
    }
}

/// What [`Chain::reload_changed`] did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Stages now running a new module.
    pub reloaded: Vec<String>,
    /// Stages whose new module was refused; they keep the old one.
    pub refused: Vec<TransformError>,
    /// The stages of `refused`, in its order.
    pub refused_stages: Vec<String>,
}

impl Chain {
    /// A chain of already loaded stages, in order.
    pub fn new(stages: Vec<Stage>, options: ChainOptions) -> Chain {
        Chain { stages: stages.into_iter().map(|stage| Slot { stage, refused: None }).collect(), options }
    }

    /// Loads every stage of `spec`, in order (compiling modules not in the
    /// engine's cache yet: do this off the batch path).
    pub fn load(engine: &TransformEngine, spec: &ChainSpec) -> Result<Chain, TransformError> {
        let stages = spec
            .stages
            .iter()
            .map(|s| engine.load_stage(&s.name, &s.module, &s.params, s.limits))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Chain::new(stages, spec.options))
    }

    /// Every output every stage declared, in chain order, with its stage's
    /// name: what the sink plans its tables against.
    pub fn outputs(&self) -> impl Iterator<Item = (&str, &OutputDecl)> {
        self.stages.iter().flat_map(|s| s.stage.outputs().iter().map(move |o| (s.stage.name(), o)))
    }

    pub fn stages(&self) -> impl ExactSizeIterator<Item = &Stage> {
        self.stages.iter().map(|s| &s.stage)
    }

    pub fn options(&self) -> ChainOptions {
        self.options
    }

    /// Runs `batch` through every stage.
    pub fn run(&mut self, batch: &Batch) -> Result<ChainOutput, ChainFailure> {
        let n = batch.records.len();
        let mut values: Vec<Bytes> = Vec::new();
        let mut replaced: Vec<Option<ValueAt>> = vec![None; n];
        let mut rejected: Vec<Option<Box<Rejection>>> = vec![None; n];
        // The stage that dropped each record, if one did.
        let mut dropped: Vec<Option<usize>> = vec![None; n];
        let mut alive: Vec<usize> = (0..n).collect();
        let mut outputs: Vec<(usize, OutputRows)> = Vec::new();
        let mut reports = Vec::with_capacity(self.stages.len());
        let policy = Policy {
            percent: self.options.broken_deploy_percent,
            min_records: self.options.broken_deploy_min_records,
            budget: self.options.isolation_budget,
        };

        for (k, slot) in self.stages.iter_mut().enumerate() {
            let stage = &mut slot.stage;
            let name = stage.name_arc();
            let started = Instant::now();
            let records_in = alive.len();
            let mut mine: Vec<OutputRows> = stage
                .outputs()
                .iter()
                .map(|d| OutputRows {
                    stage: name.clone(),
                    output: d.name.clone(),
                    columns: d.columns.clone(),
                    sets: Vec::new(),
                })
                .collect();
            let mut report = StageReport {
                stage: name.clone(),
                module_sha256: stage.module_sha256(),
                records_in,
                kept: 0,
                replaced: 0,
                rejected: 0,
                isolated: 0,
                dropped: 0,
                rows: 0,
                calls: 0,
                elapsed: Duration::ZERO,
            };
            if !alive.is_empty() {
                let found = isolate::run(alive.clone(), &policy, |set| {
                    stage.process_with(&batch.topic, batch.partition, |c| {
                        if let Some(shared) = one_run(set, &replaced, &values) {
                            // Every value is the next piece of one buffer of new
                            // values: it goes in as it is.
                            for &i in set {
                                let at = replaced[i].unwrap_or(ValueAt { buffer: 0, start: 0, end: 0 });
                                c.push_shared(&batch.records[i], (at.end - at.start) as usize);
                            }
                            return Some(shared);
                        }
                        for &i in set {
                            let record = &batch.records[i];
                            let value = match replaced[i] {
                                Some(at) => &values[at.buffer as usize][at.start as usize..at.end as usize],
                                None => &record.value[..],
                            };
                            c.push(record, value);
                        }
                        None
                    })
                })
                .map_err(|abort| broken(&name, abort, records_in, policy.budget))?;
                report.calls = found.calls;
                for (set, mut out) in found.ok {
                    let buffer = u32::try_from(values.len()).unwrap_or(u32::MAX);
                    let mut any_replaced = false;
                    for (&i, outcome) in set.iter().zip(out.take_outcomes()) {
                        match outcome {
                            Outcome::Keep => {}
                            Outcome::Replace(range) => {
                                report.replaced += 1;
                                any_replaced = true;
                                replaced[i] = Some(ValueAt { buffer, start: range.start, end: range.end });
                            }
                            Outcome::Reject(reason) => {
                                report.rejected += 1;
                                rejected[i] = Some(Box::new(Rejection {
                                    stage: name.clone(),
                                    stage_index: k,
                                    reason,
                                    failure: None,
                                }));
                            }
                            Outcome::Drop => {
                                report.dropped += 1;
                                dropped[i] = Some(k);
                            }
                        }
                    }
                    if any_replaced {
                        values.push(out.replacements);
                    }
                    for mut rows in out.rows {
                        report.rows += rows.len();
                        // Sources index the call's records: make them the input's.
                        for s in &mut rows.sources {
                            *s = set[*s as usize] as u32;
                        }
                        mine[rows.output()].sets.push(rows);
                    }
                }
                for (i, failure) in found.bad {
                    report.isolated += 1;
                    tracing::warn!(stage = &*name, offset = batch.records[i].offset, %failure, "record isolated as a poison pill");
                    rejected[i] = Some(Box::new(Rejection {
                        stage: name.clone(),
                        stage_index: k,
                        reason: format!("stage \"{name}\" {failure}"),
                        failure: Some(failure),
                    }));
                }
                alive.retain(|&i| rejected[i].is_none() && dropped[i].is_none());
            }
            report.kept = alive.len();
            report.elapsed = started.elapsed();
            reports.push(report);
            outputs.extend(mine.into_iter().map(|o| (k, o)));
        }

        // A stage's rows of a record stay when that stage itself rejects or
        // drops it, and go when a later one does.
        let ended_after = |i: usize, k: usize| {
            rejected[i].as_ref().is_some_and(|r| r.stage_index > k) || dropped[i].is_some_and(|d| d > k)
        };
        let outputs = outputs
            .into_iter()
            .map(|(k, mut o)| {
                for set in &mut o.sets {
                    set.drop_rows(|i| ended_after(i, k));
                }
                o
            })
            .collect();
        let records = rejected
            .into_iter()
            .zip(dropped)
            .map(|(r, d)| match (r, d) {
                (Some(r), _) => RecordOutcome::Rejected(r),
                (None, Some(k)) => RecordOutcome::Dropped { stage: reports[k].stage.clone(), stage_index: k },
                (None, None) => RecordOutcome::Kept,
            })
            .collect();
        Ok(ChainOutput { records, outputs, stages: reports, values, replaced })
    }

    /// Checks each stage's module file (size and time, then content hash);
    /// for each that changed, loads and inits the new module and swaps it in
    /// if that worked and it declares the same outputs. Otherwise the old
    /// module stays, the refusal is logged and reported, and the same bytes
    /// are not tried again. Compiling happens on the calling thread.
    /// Takes the modules `swaps` holds for its stages where they differ from
    /// the running ones: instantiating and `init` only, as the watcher
    /// compiled and tried them already. Returns the stages swapped.
    pub fn adopt(&mut self, swaps: &Swaps) -> Vec<String> {
        let mut adopted = Vec::new();
        for slot in &mut self.stages {
            let Some(seed) = swaps.latest(slot.stage.name()) else { continue };
            if seed.sha256() == slot.stage.source().fingerprint.sha256 {
                continue;
            }
            match seed.start() {
                Ok(new) if new.outputs() == slot.stage.outputs() => {
                    adopted.push(slot.stage.name().to_string());
                    slot.stage = new;
                    slot.refused = None;
                }
                Ok(_) => {
                    tracing::error!(stage = seed.stage(), "kept the running module: the new one declares other outputs")
                }
                Err(error) => tracing::error!(stage = seed.stage(), "kept the running module: {error}"),
            }
        }
        adopted
    }

    pub fn reload_changed(&mut self, engine: &TransformEngine) -> ReloadReport {
        let mut report = ReloadReport::default();
        for slot in &mut self.stages {
            let name = slot.stage.name().to_string();
            let source = slot.stage.source().clone();
            let (bytes, fingerprint) = match reload::check(&source.path, &source.fingerprint) {
                Ok(Check::Unchanged) => continue,
                Ok(Check::Touched(fingerprint)) => {
                    slot.stage.set_fingerprint(fingerprint);
                    continue;
                }
                Ok(Check::Changed(bytes, fingerprint)) => (bytes, fingerprint),
                Err(source_err) => {
                    // A module being replaced may be briefly missing: keep
                    // the old one and look again next time.
                    tracing::debug!(stage = name, module = %source.path.display(), "cannot check module: {source_err}");
                    continue;
                }
            };
            if slot.refused == Some(fingerprint.sha256) {
                continue;
            }
            let sha = fingerprint.sha256;
            let new_source = ModuleSource { path: source.path.clone(), params: source.params.clone(), fingerprint };
            let result = engine.load_bytes(&name, &bytes, new_source, slot.stage.limits()).and_then(|new| {
                if new.outputs() == slot.stage.outputs() {
                    Ok(new)
                } else {
                    Err(TransformError::Outputs {
                        stage: name.clone(),
                        message: "the new module declares other outputs than the running one; \
                                  restart the pipeline to change a stage's outputs"
                            .to_string(),
                    })
                }
            });
            match result {
                Ok(new) => {
                    tracing::info!(stage = name, module = %path_str(&source.path), sha256 = %&new.module_sha256()[..16], "reloaded transform module");
                    slot.stage = new;
                    slot.refused = None;
                    report.reloaded.push(name);
                }
                Err(error) => {
                    tracing::error!(stage = name, "kept the running module: {error}");
                    slot.refused = Some(sha);
                    report.refused.push(error);
                    report.refused_stages.push(name);
                }
            }
        }
        report
    }
}

/// The part of one buffer of new values that holds the values of `set`,
/// one after the other, if it does (the usual case after a stage that
/// replaced every record it kept, like `validate`).
fn one_run<'v>(set: &[usize], replaced: &[Option<ValueAt>], values: &'v [Bytes]) -> Option<&'v [u8]> {
    let first = replaced[*set.first()?]?;
    let mut end = first.start;
    for &i in set {
        let at = replaced[i]?;
        if at.buffer != first.buffer || at.start != end {
            return None;
        }
        end = at.end;
    }
    values.get(first.buffer as usize)?.get(first.start as usize..end as usize)
}

fn path_str(path: &Path) -> String {
    path.display().to_string()
}

fn broken(stage: &str, abort: Abort, records: usize, budget: Duration) -> ChainFailure {
    let (failure, why) = match abort {
        Abort::NotData(failure) => (failure.clone(), BrokenWhy::Module(failure)),
        Abort::TooMany { failure, failing } => {
            (failure.clone(), BrokenWhy::TooManyFailing { failing, records, failure })
        }
        Abort::Budget { failure, failing: _ } => (failure.clone(), BrokenWhy::IsolationBudget { budget, failure }),
    };
    ChainFailure::BrokenDeploy { stage: stage.to_string(), failure, why }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn chains_move_between_threads() {
        fn is_send<T: Send + 'static>() {}
        is_send::<Chain>();
        is_send::<ChainSpec>();
        is_send::<TransformEngine>();
    }

    #[test]
    fn spec_from_the_seed_pipeline() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipeline.toml");
        let pipeline = Pipeline::load(&root).unwrap();
        let spec = ChainSpec::from_pipeline(&pipeline);
        let names: Vec<&str> = spec.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["validate", "stats"]);
        assert!(spec.stages[0].module.ends_with("target/transforms/validate.wasm"));
        assert_eq!(spec.stages[0].params["local_offset"].as_str(), Some("+09:00"));
        assert_eq!(spec.options.broken_deploy_percent, 50);
        assert!(spec.thread_stack_bytes() >= 512 << 10);
    }

    #[test]
    fn broken_deploy_messages() {
        let f = ChainFailure::BrokenDeploy {
            stage: "v".into(),
            failure: StageFailure::Trap("x".into()),
            why: BrokenWhy::TooManyFailing { failing: 60, records: 100, failure: StageFailure::Trap("x".into()) },
        };
        assert_eq!(
            f.to_string(),
            "stage \"v\" looks like a broken deploy: it fails on at least 60 of 100 records (it trapped: x)"
        );
        let g = BrokenWhy::Module(StageFailure::GuestError("bad params".into()));
        assert_eq!(g.to_string(), "it returned an error: bad params");
    }
}
