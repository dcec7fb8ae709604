#![doc = include_str!("../README.md")]
//!
//! # Map of the crate
//!
//! - [`Record`], [`Batch`], [`OwnedBatch`] (`batch.rs`, `record.rs`): the input,
//!   borrowed straight from the columnar buffers the host sends.
//! - [`Output`], [`Verdict`], [`Value`], [`OutputDecl`] (`output.rs`): the
//!   answer: one verdict per record plus typed side-output rows.
//! - [`Transform`], [`NoParams`] (`stage.rs`): what a stage implements.
//! - [`transform`]: the attribute that exports a stage from a wasm build.
//! - [`log`]: logging through the host.
//! - [`bytes`]: byte-string helpers that stay fast in wasm.
//! - [`testing`]: run a stage natively in unit tests, as the host would.
//! - `runtime.rs`: lifecycle and output checks; `abi.rs`: the bindings
//!   generated from `transforms/wit` (wasm builds only).
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod abi;
mod batch;
pub mod bytes;
pub mod log;
mod output;
mod record;
mod runtime;
mod stage;

pub use batch::{Batch, BatchError, NO_KEY, NO_TIMESTAMP, OwnedBatch, Records};
pub use output::{
    BatchOutput, BytesValues, Column, ColumnKind, ColumnValues, Output, OutputDecl, Row, Rows, StageInfo, TextValues,
    Value, Verdict, VerdictKind,
};
pub use record::{Header, Record};
pub use stage::{NoParams, Transform, parse_params};

/// Exports a stage from the crate (in wasm builds; native builds get the code
/// unchanged). Put it on `impl Transform for YourStage`, or on a plain
/// function:
///
/// ```
/// use sluice_transform::prelude::*;
///
/// /// Drops empty values; takes no params.
/// #[transform]
/// fn drop_empty(batch: &Batch<'_>, out: &mut Output) {
///     for record in batch {
///         if record.value.is_empty() { out.reject("empty value") } else { out.keep() }
///     }
/// }
/// # fn main() {}
/// ```
///
/// A function may take its params (any `Deserialize` type, parsed once at
/// init) as a first argument, `params: &P` or `state: &mut P`, and may return
/// `Result<(), String>`. One `#[transform]` per crate.
pub use sluice_transform_macros::transform;

/// The contract version this SDK implements (the version of the
/// `sluice:transform` WIT package). The host refuses a module built against
/// another one.
pub const CONTRACT_VERSION: &str = "0.3.0";

/// Everything a stage usually needs: `use sluice_transform::prelude::*;`.
pub mod prelude {
    pub use crate::log;
    pub use crate::{Batch, ColumnKind, NoParams, Output, OutputDecl, Record, Transform, Value, Verdict, transform};
    pub use serde::Deserialize;
}

/// Run a stage natively, the way the host runs it.
pub mod testing {
    pub use crate::runtime::Runtime;
    use crate::{BatchOutput, OwnedBatch, Transform};

    /// Initializes `T` with `params` (JSON) and processes `batch`, with the
    /// same checks as in the module.
    pub fn run<T: Transform>(params: &str, batch: &OwnedBatch) -> Result<BatchOutput, String> {
        let mut runtime = Runtime::<T>::new("test");
        runtime.init(params)?;
        runtime.process(batch)
    }
}

/// Used by the code `#[transform]` generates; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::runtime::Runtime;

    #[cfg(target_arch = "wasm32")]
    pub use crate::abi;
}
