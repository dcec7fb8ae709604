//! The stage lifecycle behind the exports: parse params, create the state,
//! run batches, and check the answer before it leaves the module.
//!
//! Pure Rust, so it runs the same in native tests as inside the component.

use std::sync::Arc;

use crate::Output;
use crate::batch::OwnedBatch;
use crate::output::{BatchOutput, OutputDecl, StageInfo};
use crate::stage::{Transform, parse_params};

/// Holds one stage instance between calls.
#[derive(Debug)]
pub struct Runtime<T> {
    name: &'static str,
    state: Option<T>,
    outputs: Option<Arc<[OutputDecl]>>,
    /// Most rows one output set held in the last batch, to size the next.
    rows_hint: usize,
    /// Bytes of new values per record in the last batch, to size the next.
    replaced_per_record: usize,
}

impl<T: Transform> Runtime<T> {
    /// A runtime for a stage called `name` in messages (the crate name).
    pub const fn new(name: &'static str) -> Self {
        Self { name, state: None, outputs: None, rows_hint: 0, replaced_per_record: 0 }
    }

    /// The stage state, once `init` succeeded.
    pub fn state(&self) -> Option<&T> {
        self.state.as_ref()
    }

    /// Parses `params` (JSON), creates the stage and returns its outputs.
    pub fn init(&mut self, params: &str) -> Result<StageInfo, String> {
        let params = parse_params::<T::Params>(self.name, params)?;
        let state = T::init(params)?;
        let outputs = state.outputs();
        check_decls(&outputs).map_err(|e| format!("{}: {e}", self.name))?;
        self.outputs = Some(outputs.clone().into());
        self.state = Some(state);
        Ok(StageInfo { outputs })
    }

    /// Runs one batch and checks the result: one verdict per record, rows
    /// that match their declared outputs.
    pub fn process(&mut self, batch: &OwnedBatch) -> Result<BatchOutput, String> {
        let (Some(state), Some(outputs)) = (self.state.as_mut(), &self.outputs) else {
            return Err(format!("{}: process called before a successful init", self.name));
        };
        let view = batch.view().map_err(|e| e.to_string())?;
        let mut out =
            Output::for_batch(view.len(), outputs.clone(), self.rows_hint, self.replaced_per_record * view.len());
        state.process(&view, &mut out)?;
        if !out.is_unchecked() {
            let verdicts = out.verdict_count();
            if verdicts != view.len() {
                return Err(format!(
                    "{}: process gave {verdicts} verdicts for {} records (one per record is required)",
                    self.name,
                    view.len()
                ));
            }
            if let Some(e) = out.row_error() {
                return Err(format!("{}: {e}", self.name));
            }
        }
        let out = out.into_batch_output();
        self.rows_hint = out.rows.iter().map(|s| s.count as usize).max().unwrap_or(0);
        if !view.is_empty() {
            self.replaced_per_record = out.replacements.len().div_ceil(view.len());
        }
        Ok(out)
    }
}

fn check_decls(outputs: &[OutputDecl]) -> Result<(), String> {
    for (i, decl) in outputs.iter().enumerate() {
        if decl.name.is_empty() {
            return Err(format!("output {i} has an empty name"));
        }
        if outputs[..i].iter().any(|d| d.name == decl.name) {
            return Err(format!("output {:?} is declared twice", decl.name));
        }
        if decl.columns.is_empty() {
            return Err(format!("output {:?} declares no columns", decl.name));
        }
        for (j, col) in decl.columns.iter().enumerate() {
            if col.name.is_empty() {
                return Err(format!("output {:?}: column {j} has an empty name", decl.name));
            }
            if decl.columns[..j].iter().any(|c| c.name == col.name) {
                return Err(format!("output {:?}: column {:?} is declared twice", decl.name, col.name));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use crate::{Row, Verdict};

    /// Keeps everything; `mode` picks a way to get the output wrong.
    struct Probe {
        mode: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ProbeParams {
        #[serde(default)]
        mode: String,
    }

    impl Transform for Probe {
        type Params = ProbeParams;

        fn init(params: ProbeParams) -> Result<Self, String> {
            if params.mode == "refuse" {
                return Err("refused".into());
            }
            Ok(Self { mode: params.mode })
        }

        fn outputs(&self) -> Vec<OutputDecl> {
            if self.mode == "dup" {
                return vec![OutputDecl::new("a").column("x", ColumnKind::Int); 2];
            }
            vec![OutputDecl::new("log").column("n", ColumnKind::Int).nullable_column("s", ColumnKind::Text)]
        }

        fn process(&mut self, batch: &Batch<'_>, out: &mut Output) -> Result<(), String> {
            for record in batch {
                out.keep();
                match self.mode.as_str() {
                    "bad-kind" => out.emit_for(&record, 0, [Value::Int(1), Value::Int(2)]),
                    "bad-null" => out.emit(0, [Value::Null, Value::Null]),
                    "bad-arity" => out.emit(0, [Value::Int(1)]),
                    "bad-output" => out.emit(7, [Value::Int(1)]),
                    _ => out.emit_for(&record, 0, [Value::Int(record.offset), Value::Null]),
                }
            }
            if self.mode == "fail" {
                return Err("broken".into());
            }
            Ok(())
        }
    }

    fn run(mode: &str) -> Result<BatchOutput, String> {
        let mut rt = Runtime::<Probe>::new("probe");
        rt.init(&format!(r#"{{"mode": "{mode}"}}"#))?;
        rt.process(&OwnedBatch::from_values(["a", "b"]))
    }

    #[test]
    fn ok_run_returns_verdicts_and_rows() {
        let out = run("").unwrap();
        assert_eq!(out.to_verdicts(), vec![Verdict::Keep, Verdict::Keep]);
        assert_eq!(out.to_rows()[1], Row { output: 0, source: Some(1), values: vec![Value::Int(1), Value::Null] });
    }

    #[test]
    fn init_errors() {
        let mut rt = Runtime::<Probe>::new("probe");
        assert_eq!(rt.init(r#"{"mode": "refuse"}"#).unwrap_err(), "refused");
        assert!(rt.init(r#"{"mod": 1}"#).unwrap_err().starts_with("probe: invalid params: field `mod`"));
        assert_eq!(rt.init(r#"{"mode": "dup"}"#).unwrap_err(), "probe: output \"a\" is declared twice");
        assert!(rt.process(&OwnedBatch::default()).unwrap_err().contains("before a successful init"));
    }

    #[test]
    fn rows_are_checked_against_declarations() {
        assert_eq!(
            run("bad-kind").unwrap_err(),
            "probe: row 0: on output \"log\": column \"s\" is text (nullable), got int"
        );
        assert_eq!(run("bad-null").unwrap_err(), "probe: row 0: on output \"log\": column \"n\" is int, got null");
        assert_eq!(run("bad-arity").unwrap_err(), "probe: row 0: on output \"log\": 1 values for 2 columns");
        assert_eq!(run("bad-output").unwrap_err(), "probe: row 0: output 7 is not declared (declared: 0 = \"log\")");
        assert_eq!(run("fail").unwrap_err(), "broken");
    }

    #[test]
    fn verdict_count_is_checked() {
        struct Short;
        impl Transform for Short {
            type Params = NoParams;
            fn init(_: NoParams) -> Result<Self, String> {
                Ok(Short)
            }
            fn process(&mut self, _: &Batch<'_>, out: &mut Output) -> Result<(), String> {
                out.keep();
                Ok(())
            }
        }
        let mut rt = Runtime::<Short>::new("short");
        rt.init("{}").unwrap();
        assert_eq!(
            rt.process(&OwnedBatch::from_values(["a", "b", "c"])).unwrap_err(),
            "short: process gave 1 verdicts for 3 records (one per record is required)"
        );
        assert_eq!(rt.process(&OwnedBatch::from_values(["a"])).unwrap().verdicts.len(), 1);
    }

    #[test]
    fn malformed_batch_fails_the_call() {
        let mut rt = Runtime::<Probe>::new("probe");
        rt.init("").unwrap();
        let mut batch = OwnedBatch::from_values(["abc"]);
        batch.values.push(b'!');
        assert!(rt.process(&batch).unwrap_err().starts_with("malformed batch"));
    }
}
