//! Shared set-up for the integration tests.

pub mod db;
#[allow(dead_code, reason = "the benchmarks share these helpers and use none of this module")]
pub mod http;
pub mod kafka;
#[allow(dead_code, reason = "the benchmarks share these helpers and use none of this module")]
pub mod proxy;
#[allow(dead_code, reason = "the benchmarks share these helpers and use none of this module")]
pub mod secure;
pub mod sluice;
