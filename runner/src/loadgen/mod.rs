//! The simulated AI server (see `src/bin/loadgen.rs`).
