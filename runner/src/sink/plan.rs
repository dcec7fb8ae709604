//! How side-output rows become table rows, resolved once at start.

use std::collections::BTreeSet;

use sqlx::MySqlPool;

use super::cell::Cell;
use crate::config::{Accumulate, ColumnSource, ConfigError, FieldError, Pipeline, RecordMeta, SqlIdent, TableMode};

/// What a stage declared for one of its side outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumns {
    pub stage: String,
    pub output: String,
    /// Column names in row order.
    pub columns: Vec<String>,
}

/// Where one table column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The n-th value of the output row.
    Field(usize),
    /// Metadata of the row's source record.
    Meta(RecordMeta),
}

/// The source record's metadata, for `@` bindings.
#[derive(Debug, Clone, Copy)]
pub struct RowSource<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub timestamp: Option<i64>,
}

/// One `[[sink.tables]]` entry, resolved against the stages' outputs.
#[derive(Debug, Clone)]
pub struct TablePlan {
    pub table: SqlIdent,
    pub stage: String,
    pub output: String,
    pub mode: TableMode,
    pub columns: Vec<(SqlIdent, Binding)>,
    pub key: Vec<SqlIdent>,
    accumulate: Vec<(SqlIdent, Accumulate)>,
}

impl TablePlan {
    pub(super) fn accumulate_of(&self, column: &SqlIdent) -> Accumulate {
        self.accumulate.iter().find(|(c, _)| c == column).map_or(Accumulate::Replace, |(_, a)| *a)
    }

    /// The table row for an output row, in [`TablePlan::columns`] order.
    pub fn bind(&self, values: &[Cell], source: Option<RowSource<'_>>) -> Result<Vec<Cell>, String> {
        self.columns
            .iter()
            .map(|(column, binding)| match binding {
                Binding::Field(i) => values.get(*i).cloned().ok_or_else(|| format!("row has no value for {column}")),
                Binding::Meta(meta) => {
                    let Some(s) = source else {
                        return Err(format!("column {column} needs the row's record, but the row has none"));
                    };
                    Ok(match meta {
                        RecordMeta::Topic => Cell::Text(s.topic.to_string()),
                        RecordMeta::Partition => Cell::Int(i64::from(s.partition)),
                        RecordMeta::Offset => Cell::Int(s.offset),
                        RecordMeta::Key => s.key.map_or(Cell::Null, |k| Cell::Bytes(k.to_vec())),
                        RecordMeta::Timestamp => s.timestamp.map_or(Cell::Null, Cell::from_epoch_ms),
                    })
                }
            })
            .collect()
    }
}

/// Resolves every `[[sink.tables]]` entry against what the stages declared.
/// Errors name the line of the entry at fault.
pub fn plan_tables(pipeline: &Pipeline, outputs: &[OutputColumns]) -> Result<Vec<TablePlan>, ConfigError> {
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for (i, table) in pipeline.config.sink.tables.iter().enumerate() {
        let from = table.from.get_ref();
        let Some(output) = outputs.iter().find(|o| o.stage == from.stage.as_str() && o.output == from.output) else {
            let declared: Vec<_> =
                outputs.iter().filter(|o| o.stage == from.stage.as_str()).map(|o| o.output.as_str()).collect();
            errors.push(FieldError::at(
                table.from.span(),
                format!("sink.tables[{i}].from"),
                format!(
                    "stage {:?} declares no output {:?} (it declares: {})",
                    from.stage.as_str(),
                    from.output,
                    if declared.is_empty() { "none".to_string() } else { declared.join(", ") }
                ),
            ));
            continue;
        };
        let mut columns = Vec::new();
        for (column, source) in &table.columns {
            let binding = match source {
                ColumnSource::Meta(meta) => Binding::Meta(*meta),
                ColumnSource::Field(name) => match output.columns.iter().position(|c| c == name) {
                    Some(idx) => Binding::Field(idx),
                    None => {
                        errors.push(FieldError::at(
                            table.table.span(),
                            format!("sink.tables[{i}].columns.{column}"),
                            format!("output {from} has no column {name:?} (it has: {})", output.columns.join(", ")),
                        ));
                        continue;
                    }
                },
            };
            columns.push((column.clone(), binding));
        }
        plans.push(TablePlan {
            table: table.table.get_ref().clone(),
            stage: from.stage.to_string(),
            output: from.output.clone(),
            mode: table.mode,
            columns,
            key: table.key.as_ref().map(|k| k.get_ref().clone()).unwrap_or_default(),
            accumulate: table.accumulate.iter().map(|(c, a)| (c.clone(), *a)).collect(),
        });
    }
    if errors.is_empty() { Ok(plans) } else { Err(pipeline.errors(errors)) }
}

/// Checks that every planned table and the dead-letter table exist with the
/// columns the plan writes. Returns one message per problem.
pub async fn verify_tables(
    pool: &MySqlPool,
    plans: &[TablePlan],
    dead_letter: &SqlIdent,
) -> Result<Vec<String>, sqlx::Error> {
    let mut problems = Vec::new();
    let mut wanted: Vec<(&SqlIdent, Vec<&str>)> =
        plans.iter().map(|p| (&p.table, p.columns.iter().map(|(c, _)| c.as_str()).collect())).collect();
    wanted.push((dead_letter, super::dead_letter::COLUMNS.to_vec()));
    for (table, columns) in wanted {
        let have: BTreeSet<String> = sqlx::query_scalar::<_, String>(
            "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        )
        .bind(table.as_str())
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
        if have.is_empty() {
            problems.push(format!("table {table} does not exist (run `sluice migrate`?)"));
            continue;
        }
        for column in columns {
            if !have.contains(column) {
                problems.push(format!("table {table} has no column {column}"));
            }
        }
    }
    Ok(problems)
}
