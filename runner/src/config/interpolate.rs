//! `${VAR}` and `${VAR:-default}` in configuration strings.
//!
//! Expansion happens on string values after TOML parsing, so an environment
//! variable can never change the structure of the file, and an error keeps the
//! line and column of the value that asked for the variable.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// Expands `${VAR}` and `${VAR:-default}` using `lookup`. `$$` is a literal `$`.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(body_and_tail) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body_and_tail.find('}') else {
            return Err(format!("unclosed `${{` in {input:?}"));
        };
        let body = &body_and_tail[..end];
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`${{{body}}}` is not a valid variable reference (use ${{NAME}} or ${{NAME:-default}})"
            ));
        }
        match (lookup(name).filter(|v| !v.is_empty()), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(format!(
                    "environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
                ));
            }
        }
        rest = &body_and_tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A string field whose `${VAR}` references are expanded from the process
/// environment while deserializing.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvString(String);

impl EnvString {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A value that needs no more expansion (a path joined onto a directory).
    pub(super) fn from_expanded(value: String) -> EnvString {
        EnvString(value)
    }
}

impl fmt::Debug for EnvString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for EnvString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        expand(&raw, |name| std::env::var(name).ok()).map(EnvString).map_err(serde::de::Error::custom)
    }
}

/// Like [`EnvString`], for secrets: `Debug` never shows the value, so a
/// secret cannot reach a log through a config dump. A missing variable is kept
/// as an error until a command that needs the secret asks for it, so that
/// `sluice try` runs without a database URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Result<String, String>);

impl Secret {
    /// The value, or why it could not be expanded.
    pub fn expose(&self) -> Result<&str, &str> {
        self.0.as_deref().map_err(String::as_str)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Ok(Secret(expand(&raw, |name| std::env::var(name).ok())))
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_and_defaulted_variables() {
        assert_eq!(expand("mysql://${HOST}:3306", env).unwrap(), "mysql://db:3306");
        assert_eq!(expand("${PORT:-9092}", env).unwrap(), "9092");
        assert_eq!(expand("${HOST:-x}/${EMPTY:-fallback}", env).unwrap(), "db/fallback");
        assert_eq!(expand("cost $$5 and $x", env).unwrap(), "cost $5 and $x");
        assert_eq!(expand("${PORT:-}", env).unwrap(), "");
    }

    #[test]
    fn missing_variable_is_an_error_naming_it() {
        let err = expand("${NOPE}", env).unwrap_err();
        assert!(err.contains("NOPE is not set"), "{err}");
        assert!(expand("${", env).unwrap_err().contains("unclosed"));
        assert!(expand("${A B}", env).unwrap_err().contains("not a valid variable"));
    }
}
