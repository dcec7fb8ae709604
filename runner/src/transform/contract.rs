//! The contract `sluice:transform@0.1.0` (`transforms/wit/transform.wit`):
//! the version check on a component's exports, and the checks on what a
//! stage declares and answers. Pure functions over the generated types.

use std::collections::HashSet;
use std::fmt;

use super::bindings::wit;
use super::output::{Column, ColumnKind, OutputDecl, Row, StageOutput, Value, Verdict};

/// The WIT package this host speaks.
pub const CONTRACT_PACKAGE: &str = "sluice:transform";
/// Its version; a module must export exactly this version of `stage`.
pub const CONTRACT_VERSION: &str = "0.1.0";

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

/// Checks a component's export names: `sluice:transform/stage@0.1.0` must be
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
        outputs.push(OutputDecl { name: decl.name, columns });
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
/// declared `outputs`, and moves it into host types (no copies of the
/// payloads). The error names the first thing that is wrong.
pub(crate) fn output_from_wit(
    out: wit::BatchOutput,
    records: usize,
    outputs: &[OutputDecl],
) -> Result<StageOutput, String> {
    if out.verdicts.len() != records {
        return Err(format!("{} verdicts for a batch of {records} records", out.verdicts.len()));
    }
    let verdicts = out
        .verdicts
        .into_iter()
        .map(|v| match v {
            wit::Verdict::Keep => Verdict::Keep,
            wit::Verdict::Replace(value) => Verdict::Replace(value),
            wit::Verdict::Reject(reason) => Verdict::Reject(reason),
        })
        .collect();
    let mut rows = Vec::with_capacity(out.rows.len());
    for (i, row) in out.rows.into_iter().enumerate() {
        let output = row.output as usize;
        let Some(decl) = outputs.get(output) else {
            return Err(format!("row {i} is for output #{output}, but the stage declared {}", outputs.len()));
        };
        let source = match row.source {
            Some(s) if s as usize >= records => {
                return Err(format!(
                    "row {i} of output \"{}\" names source record {s} in a batch of {records}",
                    decl.name
                ));
            }
            Some(s) => Some(s as usize),
            None => None,
        };
        if row.values.len() != decl.columns.len() {
            return Err(format!(
                "row {i} of output \"{}\" has {} values for {} columns",
                decl.name,
                row.values.len(),
                decl.columns.len()
            ));
        }
        for (value, column) in row.values.iter().zip(&decl.columns) {
            match wit_kind(value) {
                None if column.nullable => {}
                None => {
                    return Err(format!(
                        "row {i} of output \"{}\": null in column \"{}\", which is not nullable",
                        decl.name, column.name
                    ));
                }
                Some(kind) if kind != column.kind => {
                    return Err(format!(
                        "row {i} of output \"{}\": {kind} value in column \"{}\" of kind {}",
                        decl.name, column.name, column.kind
                    ));
                }
                Some(_) => {}
            }
        }
        // Same layout on both sides: this reuses the allocation.
        let values = row.values.into_iter().map(value_from_wit).collect();
        rows.push(Row { output, source, values });
    }
    Ok(StageOutput { verdicts, rows })
}

fn wit_kind(value: &wit::Value) -> Option<ColumnKind> {
    match value {
        wit::Value::Null => None,
        wit::Value::Int(_) => Some(ColumnKind::Int),
        wit::Value::Float(_) => Some(ColumnKind::Float),
        wit::Value::Text(_) => Some(ColumnKind::Text),
        wit::Value::Bytes(_) => Some(ColumnKind::Bytes),
        wit::Value::TimestampMs(_) => Some(ColumnKind::TimestampMs),
    }
}

fn value_from_wit(value: wit::Value) -> Value {
    match value {
        wit::Value::Null => Value::Null,
        wit::Value::Int(v) => Value::Int(v),
        wit::Value::Float(v) => Value::Float(v),
        wit::Value::Text(v) => Value::Text(v),
        wit::Value::Bytes(v) => Value::Bytes(v),
        wit::Value::TimestampMs(v) => Value::TimestampMs(v),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exact_version_is_accepted() {
        assert_eq!(check_exports(["wasi:cli/run@0.2.0", "sluice:transform/stage@0.1.0"]), Ok(()));
    }

    #[test]
    fn other_version_names_it() {
        let err = check_exports(["sluice:transform/stage@0.2.0"]).unwrap_err();
        assert_eq!(err, ContractMismatch::OtherVersion { found: "0.2.0".into() });
        assert_eq!(
            err.to_string(),
            "built for sluice:transform@0.2.0, this host speaks 0.1.0; rebuild it against transforms/wit"
        );
        let err = check_exports(["sluice:transform/stage"]).unwrap_err();
        assert!(err.to_string().contains("built for sluice:transform@(no version)"), "{err}");
    }

    #[test]
    fn no_stage_lists_exports() {
        let err = check_exports(["wasi:cli/run@0.2.0", "sluice:transform/stages@0.1.0"]).unwrap_err();
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
            ],
        }]
    }

    fn row(output: u32, source: Option<u32>, values: Vec<wit::Value>) -> wit::Row {
        wit::Row { output, source, values }
    }

    #[test]
    fn good_output_converts() {
        let out = wit::BatchOutput {
            verdicts: vec![wit::Verdict::Keep, wit::Verdict::Replace(b"x".to_vec()), wit::Verdict::Reject("no".into())],
            rows: vec![
                row(0, Some(1), vec![wit::Value::Text("a".into()), wit::Value::Null]),
                row(0, None, vec![wit::Value::Text("b".into()), wit::Value::TimestampMs(5)]),
            ],
        };
        let got = output_from_wit(out, 3, &decl()).unwrap();
        assert_eq!(got.verdicts, vec![Verdict::Keep, Verdict::Replace(b"x".to_vec()), Verdict::Reject("no".into())]);
        assert_eq!(got.rows[0].source, Some(1));
        assert_eq!(got.rows[1].values[1], Value::TimestampMs(5));
    }

    #[test]
    fn contract_breaches_are_named() {
        let check = |verdicts: usize, rows: Vec<wit::Row>| {
            let out = wit::BatchOutput { verdicts: vec![wit::Verdict::Keep; verdicts], rows };
            output_from_wit(out, 2, &decl()).unwrap_err()
        };
        assert_eq!(check(1, vec![]), "1 verdicts for a batch of 2 records");
        assert!(check(2, vec![row(1, None, vec![])]).contains("output #1, but the stage declared 1"));
        let text = vec![wit::Value::Text("a".into()), wit::Value::Null];
        assert!(check(2, vec![row(0, Some(2), text.clone())]).contains("source record 2 in a batch of 2"));
        assert!(check(2, vec![row(0, None, vec![wit::Value::Null])]).contains("1 values for 2 columns"));
        assert!(check(2, vec![row(0, None, vec![wit::Value::Null, wit::Value::Null])]).contains("not nullable"));
        let wrong = vec![wit::Value::Int(1), wit::Value::Null];
        assert!(check(2, vec![row(0, None, wrong)]).contains("int value in column \"id\" of kind text"));
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
        let cols = outputs_from_wit(info(vec![wit::OutputDecl { name: "a".into(), columns: vec![col("x"), col("x")] }]));
        assert_eq!(cols.unwrap_err(), "output \"a\" declares column \"x\" twice");
    }
}
