//! The contract `sluice:transform@0.3.0` (`transforms/wit/transform.wit`):
//! the version check on a component's exports, and the checks on what a
//! stage declares and answers. Pure functions over the generated types.

use std::collections::HashSet;
use std::fmt;

use super::bindings::wit;
use bytes::Bytes;

use super::output::{Answer, Column, ColumnData, ColumnKind, Decision, OutputDecl, RowSet};

/// The WIT package this host speaks.
pub const CONTRACT_PACKAGE: &str = "sluice:transform";
/// Its version; a module must export exactly this version of `stage`.
pub const CONTRACT_VERSION: &str = "0.3.0";

const STAGE_INTERFACE: &str = "sluice:transform/stage";

/// Why a component's exports do not fit this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractMismatch {
    /// It exports `sluice:transform/stage` of another version (or of none).
    OtherVersion { found: String },
    /// It exports no `sluice:transform/stage` at all.
    NoStage { exports: Vec<String> },
}

impl fmt::Display for ContractMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContractMismatch::OtherVersion { found } => write!(
                f,
                "built for {CONTRACT_PACKAGE}@{found}, this host speaks {CONTRACT_VERSION}; \
                 rebuild it against transforms/wit"
            ),
            ContractMismatch::NoStage { exports } => {
                write!(
                    f,
                    "exports no {STAGE_INTERFACE} interface, so it is not a Sluice transform \
                     (build it against {CONTRACT_PACKAGE}@{CONTRACT_VERSION}, transforms/wit); it exports: "
                )?;
                if exports.is_empty() { f.write_str("nothing") } else { f.write_str(&exports.join(", ")) }
            }
        }
    }
}

/// Checks a component's export names: `sluice:transform/stage@0.3.0` must be
/// among them.
pub fn check_exports<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), ContractMismatch> {
    let mut other = None;
    let mut all = Vec::new();
    for name in names {
        all.push(name.to_string());
        let Some(rest) = name.strip_prefix(STAGE_INTERFACE) else { continue };
        match rest.strip_prefix('@') {
            Some(CONTRACT_VERSION) => return Ok(()),
            Some(version) => other = Some(version.to_string()),
            None if rest.is_empty() => other = Some("(no version)".to_string()),
            None => {}
        }
    }
    match other {
        Some(found) => Err(ContractMismatch::OtherVersion { found }),
        None => Err(ContractMismatch::NoStage { exports: all }),
    }
}

/// Turns what `init` declared into host types, refusing duplicate or empty
/// names (the sink addresses outputs and columns by name).
pub(crate) fn outputs_from_wit(info: wit::StageInfo) -> Result<Vec<OutputDecl>, String> {
    let mut names = HashSet::new();
    let mut outputs = Vec::with_capacity(info.outputs.len());
    for decl in info.outputs {
        if decl.name.is_empty() {
            return Err("an output has an empty name".to_string());
        }
        if !names.insert(decl.name.clone()) {
            return Err(format!("output \"{}\" is declared twice", decl.name));
        }
        let mut columns_seen = HashSet::new();
        let mut columns = Vec::with_capacity(decl.columns.len());
        for column in decl.columns {
            if column.name.is_empty() {
                return Err(format!("output \"{}\" has a column with an empty name", decl.name));
            }
            if !columns_seen.insert(column.name.clone()) {
                return Err(format!("output \"{}\" declares column \"{}\" twice", decl.name, column.name));
            }
            columns.push(Column { name: column.name, kind: kind_from_wit(column.kind), nullable: column.nullable });
        }
        outputs.push(OutputDecl { name: decl.name.into(), columns: columns.into() });
    }
    Ok(outputs)
}

fn kind_from_wit(kind: wit::ColumnKind) -> ColumnKind {
    match kind {
        wit::ColumnKind::Int => ColumnKind::Int,
        wit::ColumnKind::Float => ColumnKind::Float,
        wit::ColumnKind::Text => ColumnKind::Text,
        wit::ColumnKind::Bytes => ColumnKind::Bytes,
        wit::ColumnKind::TimestampMs => ColumnKind::TimestampMs,
    }
}

/// Checks one `process` answer for a batch of `records` records against the
/// declared `outputs`, and moves it into host types without copying the
/// payloads: the new values stay in one shared buffer, row sets keep the
/// column buffers they came in. The error names the first thing that is
/// wrong.
pub(crate) fn output_from_wit(out: wit::BatchOutput, records: usize, outputs: &[OutputDecl]) -> Result<Answer, String> {
    if out.verdicts.len() != records {
        return Err(format!("{} verdicts for a batch of {records} records", out.verdicts.len()));
    }
    let (mut replaced, mut rejected) = (0, 0);
    // Same size as the verdicts: collected in their buffer.
    let decisions: Vec<Decision> = out
        .verdicts
        .into_iter()
        .map(|v| match v {
            wit::Verdict::Keep => Decision::Keep,
            wit::Verdict::Replace => {
                replaced += 1;
                Decision::Replace
            }
            wit::Verdict::Reject => {
                rejected += 1;
                Decision::Reject
            }
            wit::Verdict::Drop => Decision::Drop,
        })
        .collect();
    if out.replacement_lens.len() != replaced {
        return Err(format!("{replaced} replace verdicts but {} replacement lengths", out.replacement_lens.len()));
    }
    if out.reasons.len() != rejected {
        return Err(format!("{rejected} reject verdicts but {} reasons", out.reasons.len()));
    }
    let ends = ends(out.replacement_lens, out.replacements.len())
        .map_err(|(sum, len)| format!("the replacement lengths add up to {sum} bytes, the replacements are {len}"))?;
    let rows = out
        .rows
        .into_iter()
        .enumerate()
        .map(|(i, set)| row_set(i, set, records, outputs))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Answer { decisions, replacements: Bytes::from(out.replacements), ends, reasons: out.reasons, rows })
}

/// The running sums of `lens`, in its own buffer (where each piece ends),
/// if they add up to `total`; else the sum and `total`.
fn ends(mut lens: Vec<u32>, total: usize) -> Result<Vec<u32>, (u64, usize)> {
    let mut at = 0u64;
    for n in &mut lens {
        at += u64::from(*n);
        *n = u32::try_from(at).unwrap_or(u32::MAX);
    }
    if at == total as u64 { Ok(lens) } else { Err((at, total)) }
}

/// Checks the `i`-th row set against its output's declaration.
fn row_set(i: usize, set: wit::Rows, records: usize, outputs: &[OutputDecl]) -> Result<RowSet, String> {
    let output = set.output as usize;
    let Some(decl) = outputs.get(output) else {
        return Err(format!("row set {i} is for output #{output}, but the stage declared {}", outputs.len()));
    };
    let name = &decl.name;
    let count = set.count as usize;
    if !set.sources.is_empty() && set.sources.len() != count {
        return Err(format!("row set {i} of output \"{name}\" has {count} rows but {} sources", set.sources.len()));
    }
    if let Some(s) = set.sources.iter().find(|&&s| s as usize >= records) {
        return Err(format!("row set {i} of output \"{name}\" names source record {s} in a batch of {records}"));
    }
    if set.columns.len() != decl.columns.len() {
        return Err(format!(
            "row set {i} of output \"{name}\" has {} columns, the output declares {}",
            set.columns.len(),
            decl.columns.len()
        ));
    }
    let mut columns = Vec::with_capacity(set.columns.len());
    for (values, column) in set.columns.into_iter().zip(decl.columns.iter()) {
        let wrong = |kind: &str, len: usize| {
            if kind != column.kind.as_str() {
                Some(format!(
                    "row set {i} of output \"{name}\": {kind} values in column \"{}\" of kind {}",
                    column.name, column.kind
                ))
            } else if len != count {
                Some(format!(
                    "row set {i} of output \"{name}\": {len} values in column \"{}\" for {count} rows",
                    column.name
                ))
            } else {
                None
            }
        };
        let (kind, len) = match &values {
            wit::ColumnValues::Int(v) => ("int", v.len()),
            wit::ColumnValues::Float(v) => ("float", v.len()),
            wit::ColumnValues::Text(t) => ("text", t.lens.len()),
            wit::ColumnValues::Bytes(b) => ("bytes", b.lens.len()),
            wit::ColumnValues::TimestampMs(v) => ("timestamp-ms", v.len()),
        };
        if let Some(message) = wrong(kind, len) {
            return Err(message);
        }
        let sum_err = |(sum, len): (u64, usize)| {
            format!(
                "row set {i} of output \"{name}\": the lengths in column \"{}\" add up to {sum} bytes, its data is {len}",
                column.name
            )
        };
        columns.push(match values {
            wit::ColumnValues::Int(v) => ColumnData::Int(v),
            wit::ColumnValues::Float(v) => ColumnData::Float(v),
            wit::ColumnValues::TimestampMs(v) => ColumnData::TimestampMs(v),
            wit::ColumnValues::Bytes(b) => ColumnData::Bytes { ends: ends(b.lens, b.data.len()).map_err(sum_err)?, data: b.data },
            wit::ColumnValues::Text(t) => {
                let ends = ends(t.lens, t.data.len()).map_err(sum_err)?;
                if let Some(r) = ends.iter().position(|&e| !t.data.is_char_boundary(e as usize)) {
                    return Err(format!(
                        "row set {i} of output \"{name}\": the text of row {r} in column \"{}\" is cut inside a character",
                        column.name
                    ));
                }
                ColumnData::Text { ends, data: t.data }
            }
        });
    }
    let mut nulls = set.nulls;
    nulls.sort_unstable();
    nulls.dedup();
    for &(c, r) in &nulls {
        match decl.columns.get(c as usize) {
            _ if r as usize >= count => {
                return Err(format!("row set {i} of output \"{name}\": a null in row {r} of {count}"));
            }
            Some(column) if !column.nullable => {
                return Err(format!(
                    "row set {i} of output \"{name}\": null in column \"{}\", which is not nullable",
                    column.name
                ));
            }
            Some(_) => {}
            None => {
                return Err(format!("row set {i} of output \"{name}\": a null in column #{c}, which is not declared"));
            }
        }
    }
    Ok(RowSet { output, count, sources: set.sources, columns, nulls, dropped: Vec::new() })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::transform::{StageOutput, Value, Verdict};

    #[test]
    fn exact_version_is_accepted() {
        assert_eq!(check_exports(["wasi:cli/run@0.2.0", "sluice:transform/stage@0.3.0"]), Ok(()));
    }

    #[test]
    fn other_version_names_it() {
        let err = check_exports(["sluice:transform/stage@0.1.0"]).unwrap_err();
        assert_eq!(err, ContractMismatch::OtherVersion { found: "0.1.0".into() });
        assert_eq!(
            err.to_string(),
            "built for sluice:transform@0.1.0, this host speaks 0.3.0; rebuild it against transforms/wit"
        );
        let err = check_exports(["sluice:transform/stage"]).unwrap_err();
        assert!(err.to_string().contains("built for sluice:transform@(no version)"), "{err}");
    }

    #[test]
    fn no_stage_lists_exports() {
        let err = check_exports(["wasi:cli/run@0.2.0", "sluice:transform/stages@0.2.0"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("exports no sluice:transform/stage interface"), "{text}");
        assert!(text.contains("wasi:cli/run@0.2.0"), "{text}");
        assert!(check_exports([]).unwrap_err().to_string().ends_with("it exports: nothing"));
    }

    fn decl() -> Vec<OutputDecl> {
        vec![OutputDecl {
            name: "log".into(),
            columns: vec![
                Column { name: "id".into(), kind: ColumnKind::Text, nullable: false },
                Column { name: "at".into(), kind: ColumnKind::TimestampMs, nullable: true },
            ]
            .into(),
        }]
    }

    fn text(values: &[&str]) -> wit::ColumnValues {
        wit::ColumnValues::Text(wit::TextValues {
            data: values.concat(),
            lens: values.iter().map(|v| v.len() as u32).collect(),
        })
    }

    /// Two rows of output 0: ("a", null) for record 1, ("bé", 5) for record 0.
    fn rows() -> wit::Rows {
        wit::Rows {
            output: 0,
            count: 2,
            sources: vec![1, 0],
            columns: vec![text(&["a", "bé"]), wit::ColumnValues::TimestampMs(vec![0, 5])],
            nulls: vec![(1, 0)],
        }
    }

    fn answer(verdicts: Vec<wit::Verdict>, rows: Vec<wit::Rows>) -> wit::BatchOutput {
        let replaced = verdicts.iter().filter(|v| matches!(v, wit::Verdict::Replace)).count();
        let rejected = verdicts.iter().filter(|v| matches!(v, wit::Verdict::Reject)).count();
        wit::BatchOutput {
            verdicts,
            replacements: b"xyz".repeat(replaced),
            replacement_lens: vec![3; replaced],
            reasons: vec!["no".into(); rejected],
            rows,
        }
    }

    #[test]
    fn good_output_converts() {
        use wit::Verdict as W;
        let out = answer(vec![W::Keep, W::Replace, W::Reject, W::Replace, W::Drop], vec![rows()]);
        let got = StageOutput::from(output_from_wit(out, 5, &decl()).unwrap());
        assert_eq!(
            got.verdicts,
            vec![
                Verdict::Keep,
                Verdict::Replace(Bytes::from_static(b"xyz")),
                Verdict::Reject("no".into()),
                Verdict::Replace(Bytes::from_static(b"xyz")),
                Verdict::Drop
            ]
        );
        let rows: Vec<_> = got.all_rows().map(|r| (r.source(), r.values().collect::<Vec<_>>())).collect();
        assert_eq!(
            rows,
            vec![
                (Some(1), vec![Value::Text("a"), Value::Null]),
                (Some(0), vec![Value::Text("bé"), Value::TimestampMs(5)])
            ]
        );
    }

    #[test]
    fn contract_breaches_are_named() {
        let check = |verdicts: usize, set: wit::Rows| {
            output_from_wit(answer(vec![wit::Verdict::Keep; verdicts], vec![set]), 2, &decl()).unwrap_err()
        };
        assert_eq!(check(1, rows()), "1 verdicts for a batch of 2 records");
        assert!(check(2, wit::Rows { output: 1, ..rows() }).contains("output #1, but the stage declared 1"));
        assert!(check(2, wit::Rows { sources: vec![0, 2], ..rows() }).contains("source record 2 in a batch of 2"));
        assert!(check(2, wit::Rows { sources: vec![0], ..rows() }).contains("2 rows but 1 sources"));
        assert!(
            check(2, wit::Rows { columns: vec![text(&["a", "b"])], ..rows() })
                .contains("has 1 columns, the output declares 2")
        );
        assert!(
            check(2, wit::Rows { nulls: vec![(0, 1)], ..rows() })
                .contains("null in column \"id\", which is not nullable")
        );
        assert!(check(2, wit::Rows { nulls: vec![(1, 2)], ..rows() }).contains("a null in row 2 of 2"));
        let ints = wit::Rows {
            columns: vec![wit::ColumnValues::Int(vec![1, 2]), wit::ColumnValues::TimestampMs(vec![0, 5])],
            ..rows()
        };
        assert!(check(2, ints).contains("int values in column \"id\" of kind text"));
        let short = wit::Rows { columns: vec![text(&["a"]), wit::ColumnValues::TimestampMs(vec![0, 5])], ..rows() };
        assert!(check(2, short).contains("1 values in column \"id\" for 2 rows"));
        let mut cut = rows();
        cut.columns[0] = wit::ColumnValues::Text(wit::TextValues { data: "abé".into(), lens: vec![3, 1] });
        assert!(check(2, cut).contains("the text of row 0 in column \"id\" is cut inside a character"));
        let mut long = rows();
        long.columns[0] = wit::ColumnValues::Text(wit::TextValues { data: "abc".into(), lens: vec![1, 1] });
        assert!(check(2, long).contains("add up to 2 bytes, its data is 3"));

        let mut out = answer(vec![wit::Verdict::Replace, wit::Verdict::Keep], vec![]);
        out.replacement_lens = vec![2];
        assert_eq!(
            output_from_wit(out, 2, &decl()).unwrap_err(),
            "the replacement lengths add up to 2 bytes, the replacements are 3"
        );
        let mut out = answer(vec![wit::Verdict::Replace, wit::Verdict::Keep], vec![]);
        out.replacement_lens = vec![4];
        assert_eq!(
            output_from_wit(out, 2, &decl()).unwrap_err(),
            "the replacement lengths add up to 4 bytes, the replacements are 3"
        );
        let mut out = answer(vec![wit::Verdict::Replace, wit::Verdict::Keep], vec![]);
        out.replacement_lens = vec![1, 2];
        assert_eq!(output_from_wit(out, 2, &decl()).unwrap_err(), "1 replace verdicts but 2 replacement lengths");
        let mut out = answer(vec![wit::Verdict::Reject, wit::Verdict::Keep], vec![]);
        out.reasons.clear();
        assert_eq!(output_from_wit(out, 2, &decl()).unwrap_err(), "1 reject verdicts but 0 reasons");
        let mut out = answer(vec![wit::Verdict::Keep, wit::Verdict::Keep], vec![]);
        out.reasons.push("why".into());
        assert_eq!(output_from_wit(out, 2, &decl()).unwrap_err(), "0 reject verdicts but 1 reasons");
    }

    #[test]
    fn declared_outputs_are_checked() {
        let col = |name: &str| wit::Column { name: name.into(), kind: wit::ColumnKind::Int, nullable: false };
        let info = |outputs| wit::StageInfo { outputs };
        let ok = outputs_from_wit(info(vec![wit::OutputDecl { name: "a".into(), columns: vec![col("x"), col("y")] }]));
        assert_eq!(ok.unwrap()[0].columns[1].name, "y");
        let twice = outputs_from_wit(info(vec![
            wit::OutputDecl { name: "a".into(), columns: vec![] },
            wit::OutputDecl { name: "a".into(), columns: vec![] },
        ]));
        assert_eq!(twice.unwrap_err(), "output \"a\" is declared twice");
        let cols =
            outputs_from_wit(info(vec![wit::OutputDecl { name: "a".into(), columns: vec![col("x"), col("x")] }]));
        assert_eq!(cols.unwrap_err(), "output \"a\" declares column \"x\" twice");
    }
}
