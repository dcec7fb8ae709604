//! Checks across fields, run after parsing. Every error is collected, not
//! just the first.

use std::collections::BTreeSet;

use super::error::FieldError;
use super::{PipelineConfig, SinkConfig, SslMode, TableMode};

pub(super) fn check(config: &PipelineConfig) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, stage) in config.transforms.iter().enumerate() {
        if !seen.insert(stage.name.get_ref().as_str()) {
            errors.push(FieldError::at(
                stage.name.span(),
                format!("transforms[{i}].name"),
                format!("stage {:?} is declared twice; stage names must be unique", stage.name.get_ref().as_str()),
            ));
        }
    }
    if config.transforms.is_empty() {
        errors.push(FieldError {
            span: None,
            field: "transforms".into(),
            message: "a pipeline needs at least one [[transforms]] stage".into(),
        });
    }
    check_tls(&config.sink, &mut errors);
    for (i, table) in config.sink.tables.iter().enumerate() {
        let at = |field: &str| format!("sink.tables[{i}].{field}");
        let from = table.from.get_ref();
        if !seen.contains(from.stage.as_str()) {
            errors.push(FieldError::at(
                table.from.span(),
                at("from"),
                format!(
                    "no stage is named {:?}; stages: {}",
                    from.stage.as_str(),
                    seen.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if table.table.get_ref() == &config.dead_letter.table {
            errors.push(FieldError::at(
                table.table.span(),
                at("table"),
                "this is the dead-letter table; side outputs cannot write to it",
            ));
        }
        if table.columns.is_empty() {
            errors.push(FieldError::at(
                table.table.span(),
                at("columns"),
                "no columns mapped: add [sink.tables.columns]",
            ));
        }
        let key_span = table.key.as_ref().map_or(table.table.span(), |k| k.span());
        let key: &[_] = table.key.as_ref().map_or(&[], |k| k.get_ref());
        match table.mode {
            TableMode::Insert => {
                if !key.is_empty() {
                    errors.push(FieldError::at(
                        key_span.clone(),
                        at("key"),
                        "`key` only applies to mode = \"accumulate\"",
                    ));
                }
                if !table.accumulate.is_empty() {
                    errors.push(FieldError::at(
                        table.table.span(),
                        at("accumulate"),
                        "[sink.tables.accumulate] only applies to mode = \"accumulate\"",
                    ));
                }
            }
            TableMode::Accumulate => {
                if key.is_empty() {
                    errors.push(FieldError::at(
                        table.table.span(),
                        at("key"),
                        "mode = \"accumulate\" needs `key`, the table's unique key columns",
                    ));
                }
                for column in key {
                    if !table.columns.contains_key(column) {
                        errors.push(FieldError::at(
                            key_span.clone(),
                            at("key"),
                            format!("key column {column:?} is not mapped in [sink.tables.columns]"),
                        ));
                    }
                }
                for column in table.accumulate.keys() {
                    if !table.columns.contains_key(column) {
                        errors.push(FieldError::at(
                            table.table.span(),
                            at("accumulate"),
                            format!("column {column:?} is not mapped in [sink.tables.columns]"),
                        ));
                    } else if key.contains(column) {
                        errors.push(FieldError::at(
                            table.table.span(),
                            at("accumulate"),
                            format!("column {column:?} is part of the key and cannot accumulate"),
                        ));
                    }
                }
            }
        }
    }
    errors
}

/// A client certificate needs its key, and `disabled` takes no TLS files.
fn check_tls(sink: &SinkConfig, errors: &mut Vec<FieldError>) {
    match (&sink.ssl_cert, &sink.ssl_key) {
        (Some(cert), None) => {
            errors.push(FieldError::at(
                cert.span(),
                "sink.ssl_cert",
                "a client certificate needs its key: set ssl_key too",
            ));
        }
        (None, Some(key)) => {
            errors.push(FieldError::at(
                key.span(),
                "sink.ssl_key",
                "a client key needs its certificate: set ssl_cert too",
            ));
        }
        _ => {}
    }
    if let Some(mode) = sink.ssl_mode.as_ref().filter(|m| *m.get_ref() == SslMode::Disabled) {
        let files = [("ssl_ca", &sink.ssl_ca), ("ssl_cert", &sink.ssl_cert), ("ssl_key", &sink.ssl_key)];
        let set: Vec<&str> = files.iter().filter(|(_, v)| v.is_some()).map(|(k, _)| *k).collect();
        if !set.is_empty() {
            errors.push(FieldError::at(
                mode.span(),
                "sink.ssl_mode",
                format!("ssl_mode = \"disabled\" turns TLS off, yet {} is set", set.join(" and ")),
            ));
        }
    }
}
