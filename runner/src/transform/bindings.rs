//! Host bindings generated from the contract in `transforms/wit`. Only this
//! facade uses them; the rest of the runner sees the host-side types in
//! [`batch`](super::batch) and [`output`](super::output).

wasmtime::component::bindgen!({
    path: "../transforms/wit",
    world: "transform",
    ownership: Borrowing { duplicate_if_necessary: true },
});

pub(crate) use self::sluice::transform::host as host_iface;
pub(crate) use self::sluice::transform::types as wit;
