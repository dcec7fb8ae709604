//! `pipeline.toml`: the whole configuration of one pipeline.
//!
//! Parsing is strict: every table refuses unknown keys, names and bounds are
//! checked while deserializing, and the cross-field checks in
//! [`validate`](self::validate) run after. Every error names the file, the
//! line and column, and the field.

mod dead_letter;
mod error;
mod http;
mod interpolate;
mod names;
mod ranged;
mod sink;
mod source;
mod transform;
mod validate;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use dead_letter::DeadLetterConfig;
pub use error::{ConfigError, FieldError};
pub use http::{HttpConfig, Listen};
pub use interpolate::{EnvString, Secret, expand};
pub use names::{Name, SqlIdent};
pub use ranged::Ranged;
pub use sink::{Accumulate, ColumnSource, OutputRef, RecordMeta, SinkConfig, SslMode, TableConfig, TableMode};
pub use source::{KafkaSettings, OffsetReset, SourceConfig};
pub use transform::{Limits, TransformConfig};

/// The top level of `pipeline.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// `name = "study-log"`: the pipeline's name; the offsets table is keyed
    /// by it, so renaming a pipeline starts it from `auto_offset_reset`.
    pub name: Name,
    pub source: SourceConfig,
    /// `[[transforms]]`, in chain order.
    #[serde(default)]
    pub transforms: Vec<TransformConfig>,
    pub sink: SinkConfig,
    #[serde(default)]
    pub dead_letter: DeadLetterConfig,
    #[serde(default)]
    pub http: HttpConfig,
}

/// A loaded, checked pipeline and where it came from.
pub struct Pipeline {
    pub config: PipelineConfig,
    /// The file it was read from.
    pub path: PathBuf,
    text: String,
}

impl Pipeline {
    /// Reads, parses and checks `path`.
    pub fn load(path: &Path) -> Result<Pipeline, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Pipeline::from_text(path, text)
    }

    /// Parses and checks `text` as if read from `path`.
    pub fn from_text(path: &Path, text: String) -> Result<Pipeline, ConfigError> {
        let mut config: PipelineConfig = error::parse(path, &text)?;
        config.source.kafka.resolve_paths(path.parent().unwrap_or_else(|| Path::new(".")));
        let errors = validate::check(&config);
        if !errors.is_empty() {
            return Err(ConfigError::invalid(path, &text, errors));
        }
        Ok(Pipeline { config, path: path.to_path_buf(), text })
    }

    /// A stage's module path, relative paths taken from the pipeline file's
    /// directory.
    pub fn module_path(&self, stage: &TransformConfig) -> PathBuf {
        self.relative(&stage.module)
    }

    /// The database URL with its variables expanded; an unset variable is an
    /// error naming the line. Only commands that use the database ask.
    pub fn database_url(&self) -> Result<&str, ConfigError> {
        let url = &self.config.sink.database_url;
        url.get_ref().expose().map_err(|message| {
            ConfigError::invalid(
                &self.path,
                &self.text,
                vec![FieldError::at(url.span(), "sink.database_url", message.to_string())],
            )
        })
    }

    /// The sink's TLS settings, with relative paths taken from the pipeline
    /// file's directory. A file that cannot be read is an error naming its
    /// line, found here rather than as a failed TLS handshake later.
    pub fn database_tls(&self) -> Result<DatabaseTls, ConfigError> {
        let sink = &self.config.sink;
        let mut errors = Vec::new();
        let mut file = |value: &Option<toml::Spanned<EnvString>>, field: &str| -> Option<PathBuf> {
            let value = value.as_ref()?;
            let path = self.relative(Path::new(value.get_ref().as_str()));
            match std::fs::File::open(&path) {
                Ok(_) => Some(path),
                Err(e) => {
                    errors.push(FieldError::at(value.span(), field, format!("cannot read {}: {e}", path.display())));
                    None
                }
            }
        };
        let ca = file(&sink.ssl_ca, "sink.ssl_ca");
        let cert = file(&sink.ssl_cert, "sink.ssl_cert");
        let key = file(&sink.ssl_key, "sink.ssl_key");
        if !errors.is_empty() {
            return Err(self.errors(errors));
        }
        let mode = match (&sink.ssl_mode, &ca) {
            (Some(mode), _) => Some(*mode.get_ref()),
            (None, Some(_)) => Some(SslMode::VerifyCa),
            (None, None) => None,
        };
        Ok(DatabaseTls { mode, ca, cert, key })
    }

    fn relative(&self, path: &Path) -> PathBuf {
        let base = self.path.parent().unwrap_or_else(|| Path::new("."));
        base.join(path)
    }

    /// Formats errors found after loading (against modules or the
    /// database) the way load errors are: file, line, field.
    pub fn errors(&self, errors: Vec<FieldError>) -> ConfigError {
        ConfigError::invalid(&self.path, &self.text, errors)
    }
}

/// How to reach MySQL over TLS: `[sink]`'s `ssl_*` settings, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseTls {
    /// `None`: the URL's `?ssl-mode=`, or the client's default (`preferred`).
    pub mode: Option<SslMode>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// The file's text is left out: it may hold a literal secret.
impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("path", &self.path).field("config", &self.config).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
