//! Logging through the host (`host.log`). The host caps how much a stage may
//! log, so log per batch, not per record.
//!
//! ```
//! use sluice_transform::log;
//! log::info!("started with {} event types", 4);
//! log::warn("plain functions work too");
//! ```
//!
//! In a native build (unit tests) messages go to standard error.

/// Severity of a log message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Sends `message` to the host log at `level`.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::__private::abi::sluice::transform::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}

pub fn error(message: &str) {
    log(Level::Error, message);
}

#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_log {
    ($level:ident, $($arg:tt)+) => {
        $crate::log::log($crate::log::Level::$level, &::std::format!($($arg)+))
    };
}

/// `debug!("format {}", args)`: formats and logs at debug level.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_log_debug {
    ($($arg:tt)+) => { $crate::__sluice_log!(Debug, $($arg)+) };
}

/// `info!("format {}", args)`: formats and logs at info level.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_log_info {
    ($($arg:tt)+) => { $crate::__sluice_log!(Info, $($arg)+) };
}

/// `warn!("format {}", args)`: formats and logs at warn level.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_log_warn {
    ($($arg:tt)+) => { $crate::__sluice_log!(Warn, $($arg)+) };
}

/// `error!("format {}", args)`: formats and logs at error level.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_log_error {
    ($($arg:tt)+) => { $crate::__sluice_log!(Error, $($arg)+) };
}

#[doc(inline)]
pub use crate::__sluice_log_debug as debug;
#[doc(inline)]
pub use crate::__sluice_log_error as error;
#[doc(inline)]
pub use crate::__sluice_log_info as info;
#[doc(inline)]
pub use crate::__sluice_log_warn as warn;
