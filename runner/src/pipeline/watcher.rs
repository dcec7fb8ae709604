//! The module watcher: one thread per process that looks at every stage's
//! module file each second (and at once on SIGHUP), compiles a changed one
//! and runs its `init`, on a chain of its own, off every batch path. A module
//! that works is published to the workers ([`Swaps`]), which take it at
//! their next batch boundary; one that does not is refused with one log line
//! and the running one stays. The metrics name the module each stage runs.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::transform::{Chain, Swaps, TransformEngine};

/// How often module files are looked at.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// The running watcher; `wake` makes it look now (SIGHUP).
pub(super) struct Watcher {
    pub wake: Sender<()>,
    thread: JoinHandle<()>,
}

impl Watcher {
    /// Starts watching with `chain`, a chain of the modules running now.
    pub fn start(
        engine: Arc<TransformEngine>,
        chain: Chain,
        swaps: Arc<Swaps>,
        stop: CancellationToken,
    ) -> std::io::Result<Watcher> {
        for stage in chain.stages() {
            crate::metrics::module(stage.name(), &stage.module_sha256(), None);
        }
        let (wake, woken) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sluice-modules".into())
            .spawn(move || watch(&engine, chain, &swaps, &stop, &woken))?;
        Ok(Watcher { wake, thread })
    }

    pub fn join(self) {
        drop(self.wake);
        let _ = self.thread.join();
    }
}

fn watch(engine: &TransformEngine, mut chain: Chain, swaps: &Swaps, stop: &CancellationToken, woken: &Receiver<()>) {
    while !stop.is_cancelled() {
        let before: Vec<String> = chain.stages().map(|s| s.module_sha256()).collect();
        let report = chain.reload_changed(engine);
        for name in &report.reloaded {
            let Some((i, stage)) = chain.stages().enumerate().find(|(_, s)| s.name() == name) else { continue };
            crate::metrics::reload(name, true);
            crate::metrics::module(name, &stage.module_sha256(), before.get(i).map(String::as_str));
            tracing::info!(stage = name.as_str(), sha256 = %stage.module_sha256(), "module compiled and initialized; partitions take it at their next batch");
            swaps.publish(stage.seed());
        }
        for name in &report.refused_stages {
            crate::metrics::reload(name, false);
        }
        match woken.recv_timeout(LOOK_EVERY) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
