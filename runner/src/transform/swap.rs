//! Modules swapped in off the batch path. A watcher compiles a changed
//! module file and runs its `init` once; when that works it publishes the
//! result here, and each partition's chain takes it at its next batch
//! boundary ([`Chain::adopt`](super::Chain::adopt)): instantiating only, so
//! no batch waits for a compile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::stage::Seed;

/// The latest module accepted for each stage.
#[derive(Default)]
pub struct Swaps {
    latest: Mutex<HashMap<String, Arc<Seed>>>,
}

impl Swaps {
    /// `seed` is now the module its stage should run.
    pub fn publish(&self, seed: Seed) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        latest.insert(seed.stage().to_string(), Arc::new(seed));
    }

    /// The module `stage` should run, if one was swapped in.
    pub fn latest(&self, stage: &str) -> Option<Arc<Seed>> {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner).get(stage).cloned()
    }
}
