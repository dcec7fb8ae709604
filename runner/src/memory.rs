//! The process allocator's settings, applied once at start.
//!
//! glibc's malloc, left alone, gave the process an arena per busy thread
//! (fetchers, runtime workers, librdkafka's threads) and kept every batch's
//! large buffers in them after they were freed; at 10,000 records a batch
//! that was about 60 MiB of peak RSS (`bench/` measures it). Four arenas, and
//! buffers of 256 KiB and more taken straight from the kernel and given back
//! on free, bound it for about 5 % more CPU in Sluice. Other C libraries keep
//! their defaults.

/// Applies the settings. Call before any thread starts: arenas are made as
/// threads first allocate. The crate's one `unsafe`: a call into libc.
#[allow(unsafe_code)]
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const ARENAS: libc::c_int = 4;
        const MMAP_THRESHOLD: libc::c_int = 256 * 1024;
        // SAFETY: `mallopt` only sets allocator parameters; these two are
        // valid for glibc and may be set at any time.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}
