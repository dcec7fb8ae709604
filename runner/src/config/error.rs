//! Configuration errors that point at the file, line, column and field.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::PipelineConfig;

/// Why a pipeline could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// One or more errors, each already located and formatted.
    #[error("{}", messages.join("\n"))]
    Invalid { path: PathBuf, messages: Vec<String> },
}

impl ConfigError {
    pub(super) fn invalid(path: &Path, text: &str, errors: Vec<FieldError>) -> ConfigError {
        let messages = errors.iter().map(|e| e.render(path, text)).collect();
        ConfigError::Invalid { path: path.to_path_buf(), messages }
    }
}

/// One problem with one field, before it is given its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub span: Option<Range<usize>>,
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn at(span: Range<usize>, field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { span: Some(span), field: field.into(), message: message.into() }
    }

    /// `pipeline.toml:12:13: transforms[0].limits.memory_mb: …` and the line
    /// with a caret under the column.
    fn render(&self, path: &Path, text: &str) -> String {
        let field = if self.field.is_empty() { "(top level)" } else { &self.field };
        let Some(span) = &self.span else {
            return format!("{}: {field}: {}", path.display(), self.message);
        };
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line_no = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        let line = &text[line_start..line_end];
        let gutter = " ".repeat(line_no.to_string().len());
        format!(
            "{}:{line_no}:{column}: {field}: {}\n{gutter} |\n{line_no} | {line}\n{gutter} | {}^",
            path.display(),
            self.message,
            " ".repeat(column - 1)
        )
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Deserializes `text`, reporting the failing field's path and position.
pub(super) fn parse(path: &Path, text: &str) -> Result<PipelineConfig, ConfigError> {
    let deserializer = match toml::Deserializer::parse(text) {
        Ok(d) => d,
        Err(e) => return Err(ConfigError::invalid(path, text, vec![from_toml(String::new(), &e)])),
    };
    PipelineConfig::deserialize_with_path(deserializer)
        .map_err(|(field, e)| ConfigError::invalid(path, text, vec![from_toml(field, &e)]))
}

fn from_toml(field: String, error: &toml::de::Error) -> FieldError {
    FieldError { span: error.span(), field, message: error.message().trim().to_string() }
}

impl PipelineConfig {
    fn deserialize_with_path(
        deserializer: toml::Deserializer<'_>,
    ) -> Result<PipelineConfig, (String, toml::de::Error)> {
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            // `Spanned` wraps a value in a private struct; keep that out of paths.
            let field = e.path().to_string().replace(".$__serde_spanned_private_value", "");
            let field = if field == "." { String::new() } else { field };
            (field, e.into_inner())
        })
    }
}
