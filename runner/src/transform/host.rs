//! What a module can reach: the state behind each stage's store.
//!
//! - `sluice:transform/host.log`, forwarded to `tracing` with the stage name
//!   and capped at `log_kb` per call; the excess is dropped and counted.
//! - WASI (Rust's `wasm32-wasip2` std imports it) with an empty context: no
//!   preopened directories, no environment, no arguments, no sockets or name
//!   lookups, stdin closed. Stdout and stderr go to capped in-memory buffers
//!   that are forwarded to the log after each call, within the same budget.
//!   A Rust panic message written to stderr becomes the trap's reason.
//! - no waiting: `wasi:clocks/monotonic-clock` `subscribe-duration` and
//!   `subscribe-instant` trap. WASI runs synchronously on the caller's
//!   thread, where the epoch deadline cannot interrupt host code, so a
//!   module that could sleep could hold a partition past its time limit.
//! - the memory cap ([`MemoryCap`]).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{DynPollable, OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::{Transform, host_iface, wit};
use super::limits::{MemoryCap, StageLimits};

/// How much of each stdio stream is kept per call beyond the log budget: the
/// end of stderr, where a panic message is.
const TAIL_BYTES: usize = 4096;
/// How much one `check-write` lets the guest write at once.
const WRITE_PERMIT: usize = 64 * 1024;

/// The WASI version whose monotonic clock is replaced (the one
/// `wasmtime-wasi` defines; guests importing any 0.2.x are linked to it).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// A module tried to wait.
#[derive(Debug, thiserror::Error)]
#[error("the module tried to wait ({0}); transforms may not sleep or block")]
pub(crate) struct WaitForbidden(&'static str);

/// Everything a module may import, as described in the module docs.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    Transform::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap("subscribe-duration", |_, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
        Err(WaitForbidden("monotonic-clock.subscribe-duration").into())
    })?;
    clock.func_wrap("subscribe-instant", |_, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
        Err(WaitForbidden("monotonic-clock.subscribe-instant").into())
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The data of one stage's store.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryCap,
    pub(crate) log: LogSink,
    stdout: Capture,
    stderr: Capture,
}

impl HostState {
    pub(crate) fn new(stage: Arc<str>, limits: &StageLimits) -> HostState {
        let log_bytes = limits.log_bytes();
        let stdout = Capture::new(log_bytes);
        let stderr = Capture::new(log_bytes);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap { max_bytes: limits.memory_bytes(), limit_mb: limits.memory_mb, hit: false },
            log: LogSink::new(stage, log_bytes),
            stdout,
            stderr,
        }
    }

    /// Resets the per-call budgets before a call.
    pub(crate) fn begin_call(&mut self) {
        self.log.begin_call();
        self.memory.hit = false;
        self.stdout.reset();
        self.stderr.reset();
    }

    /// Forwards what the call wrote to stdout and stderr, reports what was
    /// dropped, and returns a Rust panic message if stderr holds one.
    pub(crate) fn end_call(&mut self) -> Option<String> {
        let (out, out_dropped, _) = self.stdout.take();
        let (err, err_dropped, err_tail) = self.stderr.take();
        for line in String::from_utf8_lossy(&out).lines().filter(|l| !l.trim().is_empty()) {
            self.log.emit(wit::Level::Info, &format!("stdout: {line}"));
        }
        for line in String::from_utf8_lossy(&err).lines().filter(|l| !l.trim().is_empty()) {
            self.log.emit(wit::Level::Warn, &format!("stderr: {line}"));
        }
        self.log.dropped_bytes += (out_dropped + err_dropped) as u64;
        self.log.end_call();
        let from_stderr = if err_tail.is_empty() { None } else { panic_message(&String::from_utf8_lossy(&err_tail)) };
        from_stderr.or_else(|| self.log.last_panic.take())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wit::Host for HostState {}

impl host_iface::Host for HostState {
    fn log(&mut self, level: wit::Level, message: String) {
        self.log.emit(level, &message);
    }
}

/// A stage's log, capped per call.
pub(crate) struct LogSink {
    stage: Arc<str>,
    budget: usize,
    used: usize,
    dropped_messages: u64,
    pub(crate) dropped_bytes: u64,
    /// A panic message the guest logged itself (an SDK panic hook may).
    last_panic: Option<String>,
    /// Messages dropped over the stage's life, for metrics.
    pub(crate) dropped_total: u64,
}

impl LogSink {
    fn new(stage: Arc<str>, budget: usize) -> LogSink {
        LogSink { stage, budget, used: 0, dropped_messages: 0, dropped_bytes: 0, last_panic: None, dropped_total: 0 }
    }

    fn begin_call(&mut self) {
        self.used = 0;
        self.dropped_messages = 0;
        self.dropped_bytes = 0;
        self.last_panic = None;
    }

    fn emit(&mut self, level: wit::Level, message: &str) {
        if self.last_panic.is_none() && message.contains("panicked at") {
            self.last_panic = panic_message(message);
        }
        if self.used + message.len() > self.budget {
            self.dropped_messages += 1;
            self.dropped_bytes += message.len() as u64;
            return;
        }
        self.used += message.len();
        let message = printable(message);
        let stage = &*self.stage;
        match level {
            wit::Level::Debug => tracing::debug!(stage, "{message}"),
            wit::Level::Info => tracing::info!(stage, "{message}"),
            wit::Level::Warn => tracing::warn!(stage, "{message}"),
            wit::Level::Error => tracing::error!(stage, "{message}"),
        }
    }

    fn end_call(&mut self) {
        if self.dropped_messages > 0 || self.dropped_bytes > 0 {
            self.dropped_total += self.dropped_messages;
            tracing::warn!(
                stage = &*self.stage,
                dropped_messages = self.dropped_messages,
                dropped_bytes = self.dropped_bytes,
                budget_bytes = self.budget,
                "the stage logged more than its log_kb allows in one call; the rest was dropped"
            );
        }
    }
}

/// The message with control characters (terminal escapes, carriage
/// returns) escaped, so that a module cannot forge or garble log lines.
fn printable(message: &str) -> std::borrow::Cow<'_, str> {
    if !message.chars().any(|c| c.is_control() && c != '\t') {
        return message.into();
    }
    let mut out = String::with_capacity(message.len() + 8);
    for c in message.chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Finds a Rust panic in what a guest wrote, as `panicked at FILE:LINE:COL:
/// MESSAGE`. The std hook writes `thread '…' panicked at FILE:LINE:COL:`
/// then the message on the next lines, then a `note:` line.
pub(crate) fn panic_message(text: &str) -> Option<String> {
    let start = text.rfind("panicked at ")?;
    let rest = &text[start..];
    let mut lines = rest.lines();
    let head = lines.next()?.trim_end().trim_end_matches(':').to_string();
    let body: Vec<&str> = lines.take_while(|l| !l.starts_with("note:") && !l.starts_with("stack backtrace")).collect();
    let body = body.join(" ").trim().to_string();
    Some(if body.is_empty() { head } else { format!("{head}: {body}") })
}

/// An in-memory stdout or stderr: keeps the first `cap` bytes of each call
/// and the last [`TAIL_BYTES`], counts the rest, and never refuses a write
/// (a refused write would make Rust's `print!` panic inside the guest).
#[derive(Clone)]
pub(crate) struct Capture(Arc<Mutex<CaptureBuf>>);

struct CaptureBuf {
    cap: usize,
    head: Vec<u8>,
    tail: Vec<u8>,
    dropped: usize,
}

impl Capture {
    fn new(cap: usize) -> Capture {
        Capture(Arc::new(Mutex::new(CaptureBuf { cap, head: Vec::new(), tail: Vec::new(), dropped: 0 })))
    }

    fn lock(&self) -> MutexGuard<'_, CaptureBuf> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_bytes(&self, bytes: &[u8]) {
        let mut b = self.lock();
        let room = b.cap.saturating_sub(b.head.len());
        let kept = room.min(bytes.len());
        b.head.extend_from_slice(&bytes[..kept]);
        b.dropped += bytes.len() - kept;
        let tail_part = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
        b.tail.extend_from_slice(tail_part);
        if b.tail.len() > 2 * TAIL_BYTES {
            let cut = b.tail.len() - TAIL_BYTES;
            b.tail.drain(..cut);
        }
    }

    fn reset(&self) {
        let mut b = self.lock();
        b.head.clear();
        b.tail.clear();
        b.dropped = 0;
    }

    /// What this call wrote: the kept head, how many bytes were dropped, and
    /// the tail.
    fn take(&self) -> (Vec<u8>, usize, Vec<u8>) {
        let mut b = self.lock();
        let dropped = std::mem::take(&mut b.dropped);
        (std::mem::take(&mut b.head), dropped, std::mem::take(&mut b.tail))
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_panic_message() {
        let text =
            "hello\nthread '<unnamed>' panicked at src/lib.rs:12:9:\nboom: bad\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(text).as_deref(), Some("panicked at src/lib.rs:12:9: boom: bad"));
        assert_eq!(panic_message("panicked at x.rs:1:1:").as_deref(), Some("panicked at x.rs:1:1"));
        assert_eq!(panic_message("nothing to see"), None);
    }

    #[test]
    fn capture_keeps_head_and_tail_and_counts_the_rest() {
        let c = Capture::new(4);
        c.write_bytes(b"abcdef");
        c.write_bytes(b"gh");
        let (head, dropped, tail) = c.take();
        assert_eq!(head, b"abcd");
        assert_eq!(dropped, 4);
        assert_eq!(tail, b"abcdefgh");
        let big = vec![b'x'; 3 * TAIL_BYTES];
        c.write_bytes(&big);
        c.write_bytes(b"end");
        let (_, _, tail) = c.take();
        assert!(tail.len() <= 2 * TAIL_BYTES && tail.ends_with(b"xend"));
    }

    #[test]
    fn log_lines_cannot_carry_control_characters() {
        assert_eq!(printable("plain\ttext"), "plain\ttext");
        assert_eq!(printable("a\nb\u{1b}[31mc"), "a\\nb\\u{1b}[31mc");
    }

    #[test]
    fn log_budget_drops_and_counts() {
        let mut sink = LogSink::new("s".into(), 10);
        sink.begin_call();
        sink.emit(wit::Level::Info, "12345");
        sink.emit(wit::Level::Info, "123456");
        sink.emit(wit::Level::Info, "12345");
        assert_eq!((sink.used, sink.dropped_messages, sink.dropped_bytes), (10, 1, 6));
        sink.end_call();
        assert_eq!(sink.dropped_total, 1);
        sink.begin_call();
        assert_eq!(sink.used, 0);
    }
}
