//! `sluice try`: runs a pipeline's transform chain over a local file, with
//! no Kafka and no MySQL, and shows what each stage kept, rejected and
//! emitted, and how long it took.
//!
//! Input format: each line of the file is the value of one record, byte for
//! byte, without its line ending (`\n` or `\r\n`). Lines are numbered from 1
//! and a record's offset is its line number minus one; records have
//! partition 0, the pipeline's topic, and no key, headers or timestamp. An
//! empty line is a record with an empty value; the newline that ends the last
//! line does not start another record. Records go through the chain in
//! batches of the pipeline's `max_records`, as the consumer would cut them.
//!
//! The pipeline's database URL is not needed (nor resolved).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::config::Pipeline;
use crate::transform::{Batch, Chain, ChainFailure, ChainSpec, Record, RecordOutcome, TransformEngine, Value};

/// Rows shown per output.
const SAMPLE_ROWS: usize = 3;
/// Characters of a rejected value shown.
const VALUE_PREVIEW: usize = 80;

/// What `sluice try` found, also its `--json` form.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub config: PathBuf,
    pub input: PathBuf,
    pub records: usize,
    pub batches: usize,
    pub batch_size: usize,
    /// Records that came through every stage.
    pub kept: usize,
    /// Records some stage rejected (dead letters).
    pub rejected: usize,
    /// Records some stage dropped (filtered out, no dead letter).
    pub dropped: usize,
    pub stages: Vec<StageSummary>,
    /// The first few records that came through, with their final value.
    pub kept_sample: Vec<Kept>,
    /// Set when a stage was judged broken; the run stopped there.
    pub broken_deploy: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StageSummary {
    pub name: String,
    pub module: PathBuf,
    pub sha256: String,
    pub records_in: usize,
    pub kept: usize,
    pub replaced: usize,
    pub rejected: usize,
    /// Records rejected because they made the stage fail on their own.
    pub isolated: usize,
    /// Records filtered out by a `drop` verdict.
    pub dropped: usize,
    pub calls: u32,
    pub elapsed_ms: f64,
    /// Microseconds per input record.
    pub per_record_us: f64,
    pub rejects: Vec<Reject>,
    /// The first few records dropped.
    pub drops: Vec<Dropped>,
    pub outputs: Vec<OutputSummary>,
}

#[derive(Debug, Serialize)]
pub struct Dropped {
    pub line: usize,
    pub offset: i64,
    /// The start of the record's value as text.
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct Reject {
    pub line: usize,
    pub offset: i64,
    pub reason: String,
    /// `trap`, `timeout`, … when the record made the stage fail.
    pub failure: Option<&'static str>,
    /// The start of the record's value as text.
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct Kept {
    pub line: usize,
    pub offset: i64,
    /// The value after the last stage, as text.
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct OutputSummary {
    pub name: String,
    pub columns: Vec<String>,
    /// Rows emitted that survive the later stages.
    pub rows: usize,
    /// The first few rows, values in column order.
    pub sample: Vec<Vec<serde_json::Value>>,
}

/// Runs `sluice try` and prints the result; an error for a broken deploy,
/// after printing what ran.
pub fn main(config: &Path, input: &Path, json: bool) -> anyhow::Result<()> {
    let summary = run(config, input)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary).context("formatting the summary")?);
    } else {
        print!("{}", render(&summary));
    }
    if let Some(broken) = &summary.broken_deploy {
        anyhow::bail!("{broken}");
    }
    Ok(())
}

/// Loads the pipeline's stages and runs the file through them.
pub fn run(config: &Path, input: &Path) -> anyhow::Result<Summary> {
    let pipeline = Pipeline::load(config)?;
    let spec = ChainSpec::from_pipeline(&pipeline);
    let batch_size = pipeline.config.source.max_records.as_usize();
    let topic = pipeline.config.source.topic.as_str().to_string();
    let text = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let values = split_lines(&text);

    let mut summary = Summary {
        config: config.to_path_buf(),
        input: input.to_path_buf(),
        records: values.len(),
        batches: 0,
        batch_size,
        kept: 0,
        rejected: 0,
        dropped: 0,
        stages: Vec::new(),
        kept_sample: Vec::new(),
        broken_deploy: None,
    };
    // Wasm runs on the calling thread's stack: give it one big enough.
    let stack = spec.thread_stack_bytes();
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("sluice-try".into())
            .stack_size(stack)
            .spawn_scoped(scope, || run_chain(&spec, &topic, &values, batch_size, &mut summary))
            .context("starting the transform thread")?
            .join()
            .map_err(|_| anyhow::anyhow!("the transform thread panicked"))?
    })?;
    Ok(summary)
}

fn run_chain(
    spec: &ChainSpec,
    topic: &str,
    values: &[&[u8]],
    batch_size: usize,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let engine = TransformEngine::new()?;
    let mut chain = Chain::load(&engine, spec)?;
    summary.stages = chain
        .stages()
        .map(|s| StageSummary {
            name: s.name().to_string(),
            module: s.module_path().to_path_buf(),
            sha256: s.module_sha256(),
            records_in: 0,
            kept: 0,
            replaced: 0,
            rejected: 0,
            isolated: 0,
            dropped: 0,
            calls: 0,
            elapsed_ms: 0.0,
            per_record_us: 0.0,
            rejects: Vec::new(),
            drops: Vec::new(),
            outputs: s
                .outputs()
                .iter()
                .map(|o| OutputSummary {
                    name: o.name.to_string(),
                    columns: o.columns.iter().map(|c| c.name.clone()).collect(),
                    rows: 0,
                    sample: Vec::new(),
                })
                .collect(),
        })
        .collect();
    let mut elapsed = vec![Duration::ZERO; summary.stages.len()];

    for (b, chunk) in values.chunks(batch_size.max(1)).enumerate() {
        let first = b * batch_size.max(1);
        let batch = Batch {
            topic: topic.to_string(),
            partition: 0,
            records: chunk
                .iter()
                .enumerate()
                .map(|(j, v)| Record { value: v.to_vec(), offset: (first + j) as i64, ..Record::default() })
                .collect(),
        };
        let out = match chain.run(&batch) {
            Ok(out) => out,
            Err(failure @ ChainFailure::BrokenDeploy { .. }) => {
                summary.broken_deploy =
                    Some(format!("batch {} (lines {}-{}): {failure}", b + 1, first + 1, first + chunk.len()));
                break;
            }
        };
        summary.batches += 1;
        for (k, report) in out.stages.iter().enumerate() {
            let s = &mut summary.stages[k];
            s.records_in += report.records_in;
            s.kept += report.kept;
            s.replaced += report.replaced;
            s.rejected += report.rejected;
            s.isolated += report.isolated;
            s.dropped += report.dropped;
            s.calls += report.calls;
            elapsed[k] += report.elapsed;
        }
        for (j, outcome) in out.records.iter().enumerate() {
            match outcome {
                RecordOutcome::Kept => {
                    summary.kept += 1;
                    if summary.kept_sample.len() < SAMPLE_ROWS {
                        let value = out.kept_value(j, &batch.records[j].value).unwrap_or_default();
                        summary.kept_sample.push(Kept {
                            line: first + j + 1,
                            offset: batch.records[j].offset,
                            value: preview(value),
                        });
                    }
                }
                RecordOutcome::Rejected(r) => {
                    summary.rejected += 1;
                    summary.stages[r.stage_index].rejects.push(Reject {
                        line: first + j + 1,
                        offset: batch.records[j].offset,
                        reason: r.reason.clone(),
                        failure: r.failure.as_ref().map(|f| f.kind()),
                        value: preview(&batch.records[j].value),
                    });
                }
                RecordOutcome::Dropped { stage_index, .. } => {
                    summary.dropped += 1;
                    let drops = &mut summary.stages[*stage_index].drops;
                    if drops.len() < SAMPLE_ROWS {
                        drops.push(Dropped {
                            line: first + j + 1,
                            offset: batch.records[j].offset,
                            value: preview(&batch.records[j].value),
                        });
                    }
                }
            }
        }
        // Outputs come in chain order, each stage's in declared order.
        let mut outputs = out.outputs.iter();
        for s in &mut summary.stages {
            for o in &mut s.outputs {
                let Some(rows) = outputs.next() else { break };
                o.rows += rows.len();
                for row in rows.rows().take(SAMPLE_ROWS.saturating_sub(o.sample.len())) {
                    o.sample.push(row.values().map(json_value).collect());
                }
            }
        }
    }
    for (s, e) in summary.stages.iter_mut().zip(elapsed) {
        s.elapsed_ms = e.as_secs_f64() * 1e3;
        s.per_record_us = if s.records_in == 0 { 0.0 } else { e.as_secs_f64() * 1e6 / s.records_in as f64 };
    }
    Ok(())
}

/// The file's lines, without line endings; see the module docs.
fn split_lines(text: &[u8]) -> Vec<&[u8]> {
    if text.is_empty() {
        return Vec::new();
    }
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    body.split(|&b| b == b'\n').map(|line| line.strip_suffix(b"\r").unwrap_or(line)).collect()
}

fn preview(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut out: String = text.chars().take(VALUE_PREVIEW).collect();
    if text.chars().count() > VALUE_PREVIEW {
        out.push('…');
    }
    out
}

fn json_value(v: Value<'_>) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Int(i) => i.into(),
        Value::Float(f) => serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into),
        Value::Text(s) => s.into(),
        Value::Bytes(_) | Value::TimestampMs(_) => v.to_string().into(),
    }
}

/// The human-readable report.
pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "sluice try: {} records from {} through {} ({} batch{} of up to {})",
        s.records,
        s.input.display(),
        s.config.display(),
        s.batches,
        if s.batches == 1 { "" } else { "es" },
        s.batch_size
    );
    for st in &s.stages {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "stage \"{}\"  ({}, sha256 {})",
            st.name,
            st.module.display(),
            &st.sha256[..12.min(st.sha256.len())]
        );
        let _ = writeln!(
            o,
            "  in {}, kept {} ({} replaced), rejected {}{}{}; {:.2} ms, {:.1} µs/record, {} call{}",
            st.records_in,
            st.kept,
            st.replaced,
            st.rejected + st.isolated,
            if st.isolated > 0 { format!(" ({} isolated by a failure)", st.isolated) } else { String::new() },
            if st.dropped > 0 { format!(", dropped {}", st.dropped) } else { String::new() },
            st.elapsed_ms,
            st.per_record_us,
            st.calls,
            if st.calls == 1 { "" } else { "s" }
        );
        if !st.rejects.is_empty() {
            let _ = writeln!(o, "  rejected:");
            for r in &st.rejects {
                let _ = writeln!(o, "    line {} (offset {}): {}", r.line, r.offset, r.reason);
                let _ = writeln!(o, "      value: {:?}", r.value);
            }
        }
        if !st.drops.is_empty() {
            let _ = writeln!(o, "  dropped:");
            for d in &st.drops {
                let _ = writeln!(o, "    line {} (offset {}): {:?}", d.line, d.offset, d.value);
            }
            if st.dropped > st.drops.len() {
                let _ = writeln!(o, "    … {} more", st.dropped - st.drops.len());
            }
        }
        for out in &st.outputs {
            let _ = writeln!(o, "  output \"{}\": {} row{}", out.name, out.rows, if out.rows == 1 { "" } else { "s" });
            for row in &out.sample {
                let fields: Vec<String> = out.columns.iter().zip(row).map(|(k, v)| format!("{k}={v}")).collect();
                let _ = writeln!(o, "    {}", fields.join(" "));
            }
            if out.rows > out.sample.len() {
                let _ = writeln!(o, "    … {} more", out.rows - out.sample.len());
            }
        }
    }
    let _ = writeln!(o);
    if !s.kept_sample.is_empty() {
        let _ = writeln!(o, "kept, with the value the last stage left:");
        for k in &s.kept_sample {
            let _ = writeln!(o, "  line {} (offset {}): {}", k.line, k.offset, k.value);
        }
        if s.kept > s.kept_sample.len() {
            let _ = writeln!(o, "  … {} more", s.kept - s.kept_sample.len());
        }
    }
    let _ = write!(o, "total: {} records, {} kept, {} rejected (dead letters)", s.records, s.kept, s.rejected);
    if s.dropped > 0 {
        let _ = write!(o, ", {} dropped", s.dropped);
    }
    let _ = writeln!(o);
    if let Some(b) = &s.broken_deploy {
        let _ = writeln!(o, "stopped: {b}");
    }
    o
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_records() {
        assert!(split_lines(b"").is_empty());
        assert_eq!(split_lines(b"a\n"), vec![&b"a"[..]]);
        assert_eq!(split_lines(b"a\n\nb"), vec![&b"a"[..], b"", b"b"]);
        assert_eq!(split_lines(b"a\r\nb\r\n"), vec![&b"a"[..], b"b"]);
        assert_eq!(split_lines(b"\n"), vec![&b""[..]]);
    }

    #[test]
    fn previews_are_short() {
        assert_eq!(preview(b"abc"), "abc");
        let long = "x".repeat(100);
        assert_eq!(preview(long.as_bytes()).chars().count(), VALUE_PREVIEW + 1);
    }

    #[test]
    fn values_as_json() {
        assert_eq!(json_value(Value::TimestampMs(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(json_value(Value::Int(3)), 3);
        assert_eq!(json_value(Value::Null), serde_json::Value::Null);
    }
}
