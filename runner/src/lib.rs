//! Sluice: Kafka → WebAssembly transforms → MySQL.
