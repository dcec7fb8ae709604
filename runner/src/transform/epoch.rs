//! The epoch ticker behind every time limit: one thread that advances the
//! epoch of every wasmtime engine of the process every [`EPOCH_TICK`].

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use wasmtime::Engine;

use super::lock;

/// How often the epoch advances; the granularity of `time_ms`.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engines the ticker thread advances. The thread holds it weakly and
/// stops once the last holder is gone.
pub(super) struct Ticker {
    engines: Mutex<Vec<Engine>>,
}

impl Ticker {
    /// Starts the ticker thread.
    pub(super) fn start() -> std::io::Result<Arc<Ticker>> {
        let ticker = Arc::new(Ticker { engines: Mutex::new(Vec::new()) });
        let weak = Arc::downgrade(&ticker);
        std::thread::Builder::new().name("wasm-epoch".into()).spawn(move || tick(weak))?;
        Ok(ticker)
    }

    /// Advances `engine`'s epoch from now on.
    pub(super) fn add(&self, engine: Engine) {
        lock(&self.engines).push(engine);
    }
}

fn tick(ticker: Weak<Ticker>) {
    loop {
        std::thread::sleep(EPOCH_TICK);
        let Some(ticker) = ticker.upgrade() else { return };
        for engine in lock(&ticker.engines).iter() {
            engine.increment_epoch();
        }
    }
}

/// Ticks to allow for a call of `time_ms`: rounded up, plus one because the
/// first tick may come at once.
pub(super) fn deadline_ticks(time_ms: u64) -> u64 {
    let tick_ms = EPOCH_TICK.as_millis() as u64;
    time_ms.div_ceil(tick_ms) + 1
}

#[cfg(test)]
mod tests {
    use super::deadline_ticks;

    #[test]
    fn deadline_rounds_up_and_adds_a_tick() {
        assert_eq!(deadline_ticks(1), 2);
        assert_eq!(deadline_ticks(10), 2);
        assert_eq!(deadline_ticks(11), 3);
        assert_eq!(deadline_ticks(5000), 501);
    }
}
