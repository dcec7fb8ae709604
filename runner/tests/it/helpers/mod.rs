//! Shared set-up for the integration tests.

pub mod db;
pub mod kafka;
pub mod sluice;
