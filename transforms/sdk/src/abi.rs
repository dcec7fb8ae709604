//! The ABI layer: bindings generated from `transforms/wit` (wasm builds only).
//!
//! The WIT types map onto the SDK's own types (`with:` below), which have
//! the same shape, so nothing is converted when a batch comes in or an answer
//! goes out. The `#[transform]` attribute expands to a call of
//! [`__export_stage!`] in the author's crate, where the component exports
//! must live.

wit_bindgen::generate!({
    path: "../wit",
    world: "transform",
    pub_export_macro: true,
    export_macro_name: "__export_stage",
    default_bindings_module: "::sluice_transform::__private::abi",
    with: {
        "sluice:transform/types@0.3.0/header": crate::record::Header,
        "sluice:transform/types@0.3.0/batch": crate::batch::OwnedBatch,
        "sluice:transform/types@0.3.0/verdict": crate::output::VerdictKind,
        "sluice:transform/types@0.3.0/column-kind": crate::output::ColumnKind,
        "sluice:transform/types@0.3.0/column": crate::output::Column,
        "sluice:transform/types@0.3.0/output-decl": crate::output::OutputDecl,
        "sluice:transform/types@0.3.0/stage-info": crate::output::StageInfo,
        "sluice:transform/types@0.3.0/text-values": crate::output::TextValues,
        "sluice:transform/types@0.3.0/bytes-values": crate::output::BytesValues,
        "sluice:transform/types@0.3.0/column-values": crate::output::ColumnValues,
        "sluice:transform/types@0.3.0/rows": crate::output::Rows,
        "sluice:transform/types@0.3.0/batch-output": crate::output::BatchOutput,
        "sluice:transform/types@0.3.0/level": crate::log::Level,
    },
});

pub use exports::sluice::transform::stage::Guest;

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::batch::OwnedBatch;
use crate::output::{BatchOutput, StageInfo};
use crate::runtime::Runtime;
use crate::stage::Transform;

/// `init` export: installs a panic hook that reports through the host log
/// (a panic then traps), and initializes the stage.
pub fn init<T: Transform>(
    runtime: &'static LocalKey<RefCell<Runtime<T>>>,
    params: String,
) -> Result<StageInfo, String> {
    std::panic::set_hook(Box::new(|info| {
        crate::log::log(crate::log::Level::Error, &format!("stage panicked: {info}"));
    }));
    runtime.with_borrow_mut(|rt| rt.init(&params))
}

/// `process` export.
pub fn process<T: Transform>(
    runtime: &'static LocalKey<RefCell<Runtime<T>>>,
    batch: OwnedBatch,
) -> Result<BatchOutput, String> {
    runtime.with_borrow_mut(|rt| rt.process(&batch))
}
