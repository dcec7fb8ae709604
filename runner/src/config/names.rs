//! Names checked while deserializing, so a bad one is reported at its line.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A stage, output or pipeline name: `[a-z][a-z0-9_-]{0,63}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let mut chars = value.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if first_ok && rest_ok && value.len() <= 64 {
            Ok(Name(value))
        } else {
            Err(format!(
                "{value:?} is not a valid name: use 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter"
            ))
        }
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Name::try_from(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A SQL identifier (table or column): `[A-Za-z_][A-Za-z0-9_]{0,63}`. Checked
/// so that it can be quoted with backticks safely.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SqlIdent(String);

impl SqlIdent {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier quoted for MySQL.
    pub fn quoted(&self) -> String {
        format!("`{}`", self.0)
    }
}

impl TryFrom<String> for SqlIdent {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let mut chars = value.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if first_ok && rest_ok && value.len() <= 64 {
            Ok(SqlIdent(value))
        } else {
            Err(format!("{value:?} is not a valid SQL identifier: use letters, digits and '_', at most 64"))
        }
    }
}

impl<'de> Deserialize<'de> for SqlIdent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        SqlIdent::try_from(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for SqlIdent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SqlIdent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::{Name, SqlIdent};

    #[test]
    fn names() {
        assert!(Name::try_from("validate".to_string()).is_ok());
        assert!(Name::try_from("geo-enrich_2".to_string()).is_ok());
        assert!(Name::try_from("Validate".to_string()).is_err());
        assert!(Name::try_from(String::new()).is_err());
        assert!(Name::try_from("2x".to_string()).is_err());
        assert!(SqlIdent::try_from("study_log".to_string()).is_ok());
        assert!(SqlIdent::try_from("drop table`".to_string()).is_err());
    }
}
