//! The trait a stage implements, and its parameters.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::batch::Batch;
use crate::output::{Output, OutputDecl};

/// A transform stage. Put `#[transform]` on the impl to export it:
///
/// ```
/// use sluice_transform::prelude::*;
///
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Params { prefix: String }
///
/// struct DropPrefix { prefix: String, dropped: u64 }
///
/// #[transform]
/// impl Transform for DropPrefix {
///     type Params = Params;
///
///     fn init(params: Params) -> Result<Self, String> {
///         Ok(Self { prefix: params.prefix, dropped: 0 })
///     }
///
///     fn process(&mut self, batch: &Batch<'_>, out: &mut Output) -> Result<(), String> {
///         for record in batch {
///             if record.value.starts_with(self.prefix.as_bytes()) {
///                 self.dropped += 1;
///                 out.reject(format!("value starts with {:?}", self.prefix));
///             } else {
///                 out.keep();
///             }
///         }
///         Ok(())
///     }
/// }
/// # fn main() {}
/// ```
///
/// The instance lives as long as the module instance: state kept in `self`
/// carries over from one batch to the next (the host may start a fresh
/// instance at any time, so do not rely on it for correctness).
pub trait Transform: Sized + 'static {
    /// The stage's `[transforms.params]` table, deserialized from JSON.
    /// Use [`NoParams`] for a stage that takes none.
    type Params: DeserializeOwned;

    /// Called once per instance with the parsed parameters. An error refuses
    /// them; its message reaches the operator.
    fn init(params: Self::Params) -> Result<Self, String>;

    /// The side outputs the stage emits rows on; rows name them by index in
    /// this list. Called once, after `init`.
    fn outputs(&self) -> Vec<OutputDecl> {
        Vec::new()
    }

    /// Decides every record of the batch (one verdict each, in order) and
    /// emits side-output rows. An error fails the whole batch: a broken
    /// deploy, not bad data. To drop single records, reject them (a dead
    /// letter) or drop them (filtered out).
    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) -> Result<(), String>;
}

/// Parameters of a stage that takes none: accepts only an empty table.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Parses a stage's params JSON into `P`. An empty string counts as `{}`.
/// The error names the stage and, when it can, the offending field.
pub fn parse_params<P: DeserializeOwned>(stage: &str, json: &str) -> Result<P, String> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let mut de = serde_json::Deserializer::from_str(json);
    let params = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path.is_empty() {
            format!("{stage}: invalid params: {}", e.inner())
        } else {
            format!("{stage}: invalid params: field `{path}`: {}", e.inner())
        }
    })?;
    de.end().map_err(|e| format!("{stage}: invalid params: {e}"))?;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct P {
        #[serde(default)]
        limit: u32,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        depth: u8,
    }

    #[test]
    fn empty_params_are_an_empty_table() {
        let p: P = parse_params("s", "").unwrap();
        assert_eq!(p, P { limit: 0, names: vec![], inner: None });
        let _: NoParams = parse_params("s", " {} ").unwrap();
    }

    #[test]
    fn error_names_stage_and_field() {
        let err = parse_params::<P>("validate", r#"{"limit": "ten"}"#).unwrap_err();
        assert!(err.starts_with("validate: invalid params: field `limit`: invalid type: string \"ten\""), "{err}");

        let err = parse_params::<P>("validate", r#"{"names": ["a", 3]}"#).unwrap_err();
        assert!(err.starts_with("validate: invalid params: field `names[1]`: invalid type"), "{err}");

        let err = parse_params::<P>("validate", r#"{"inner": {"depth": 300}}"#).unwrap_err();
        assert!(err.starts_with("validate: invalid params: field `inner.depth`: invalid value"), "{err}");
    }

    #[test]
    fn unknown_and_malformed_params() {
        let err = parse_params::<P>("s", r#"{"limt": 1}"#).unwrap_err();
        assert!(err.contains("unknown field `limt`, expected one of"), "{err}");

        let err = parse_params::<NoParams>("s", r#"{"x": 1}"#).unwrap_err();
        assert!(err.starts_with("s: invalid params: field `x`: unknown field `x`"), "{err}");

        let err = parse_params::<P>("s", r#"{"limit": 1} x"#).unwrap_err();
        assert!(err.starts_with("s: invalid params: trailing characters"), "{err}");

        let err = parse_params::<P>("s", r#"{"limit": "#).unwrap_err();
        assert!(err.contains("EOF while parsing"), "{err}");
    }
}
