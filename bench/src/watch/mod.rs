//! Background samplers, each on its own thread (or task) until stopped:
//!
//! - [`progress`]: a group's committed offsets in Kafka (both systems commit
//!   there after their database commit), with the topic's high watermarks;
//!   no load on the database.
//! - [`rss`]: a process's resident memory from /proc.
//! - [`db_offsets`]: `MAX(kafka_offset)` per partition of `study_log`, for
//!   the latency scenario.

pub mod db_offsets;
pub mod progress;
pub mod rss;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// Samples gathered by a background thread, readable while it runs.
pub struct Sampler<T> {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<T>>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Clone + Send + 'static> Sampler<T> {
    /// Runs `step` until stopped; each `Some` it returns is kept. `step`
    /// paces itself (sleeps).
    pub fn spawn(mut step: impl FnMut() -> Option<T> + Send + 'static) -> Sampler<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (s, out) = (stop.clone(), samples.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(sample) = step() {
                    out.lock().unwrap_or_else(PoisonError::into_inner).push(sample);
                }
            }
        });
        Sampler { stop, samples, thread: Some(thread) }
    }

    /// The newest sample.
    pub fn last(&self) -> Option<T> {
        self.samples.lock().unwrap_or_else(PoisonError::into_inner).last().cloned()
    }

    /// Stops the thread and returns every sample.
    pub fn finish(mut self) -> Vec<T> {
        self.halt();
        std::mem::take(&mut *self.samples.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl<T> Drop for Sampler<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
