//! A test guest whose misbehaviour is chosen by its params, `{"mode": "..."}`,
//! to check that the host contains every way a module can go wrong. Not a
//! stage to deploy.
//!
//! | mode          | what `process` does                                         |
//! |---------------|-------------------------------------------------------------|
//! | `ok`          | keeps every record (the default)                            |
//! | `loop`        | never returns                                               |
//! | `memory`      | allocates until the memory limit stops it                   |
//! | `recursion`   | recurses until the stack overflows                          |
//! | `trap`        | executes `unreachable`                                      |
//! | `panic`       | panics (a trap, after the message is logged)                |
//! | `huge-output` | replaces every value with 10 MiB                            |
//! | `wrong-count` | returns one verdict too few (the SDK's check is skipped)    |
//! | `init-error`  | `init` refuses the params                                   |
//! | `init-loop`   | `init` never returns                                        |
//! | `error`       | returns an error for the whole batch                        |
//! | `reject-all`  | rejects every record                                        |
//! | `trap-on`     | traps if any record's value contains `needle`, else keeps   |
//! | `log-flood`   | logs `log_lines` lines (default 100 000) per batch, keeps   |
#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::hint::black_box;

use sluice_transform::prelude::*;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Ok,
    Loop,
    Memory,
    Recursion,
    Trap,
    Panic,
    HugeOutput,
    WrongCount,
    InitError,
    InitLoop,
    Error,
    RejectAll,
    TrapOn,
    LogFlood,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub mode: Mode,
    /// For `trap-on`: the substring that makes a batch trap.
    pub needle: Option<String>,
    /// For `log-flood`: lines per batch.
    pub log_lines: Option<u32>,
}

#[derive(Debug)]
pub struct Misbehave {
    mode: Mode,
    needle: Vec<u8>,
    log_lines: u32,
}

/// Size of each replaced value in `huge-output`.
pub const HUGE_VALUE_BYTES: usize = 10 * 1024 * 1024;

#[transform]
impl Transform for Misbehave {
    type Params = Params;

    fn init(params: Params) -> Result<Self, String> {
        match params.mode {
            Mode::InitError => Err("misbehave: mode init-error refuses every set of params".into()),
            Mode::InitLoop => spin_forever(),
            Mode::TrapOn if params.needle.as_deref().is_none_or(str::is_empty) => {
                Err("misbehave: mode trap-on needs a non-empty `needle`".into())
            }
            mode => Ok(Self {
                mode,
                needle: params.needle.unwrap_or_default().into_bytes(),
                log_lines: params.log_lines.unwrap_or(100_000),
            }),
        }
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) -> Result<(), String> {
        match self.mode {
            Mode::Ok | Mode::InitError | Mode::InitLoop => batch.iter().for_each(|_| out.keep()),
            Mode::Loop => spin_forever(),
            Mode::Memory => exhaust_memory(),
            Mode::Recursion => {
                black_box(recurse(black_box(0)));
            }
            Mode::Trap => trap(),
            Mode::Panic => panic!("misbehave: mode panic, batch of {} records", batch.len()),
            Mode::HugeOutput => {
                batch.iter().for_each(|_| out.replace_with(|buf| buf.resize(buf.len() + HUGE_VALUE_BYTES, b'x')))
            }
            Mode::WrongCount => {
                batch.iter().skip(1).for_each(|_| out.keep());
                out.__skip_checks();
            }
            Mode::Error => return Err("misbehave: mode error fails every batch".into()),
            Mode::RejectAll => batch.iter().for_each(|_| out.reject("misbehave: mode reject-all")),
            Mode::TrapOn => {
                if batch.iter().any(|r| contains(r.value, &self.needle)) {
                    trap();
                }
                batch.iter().for_each(|_| out.keep());
            }
            Mode::LogFlood => {
                for i in 0..self.log_lines {
                    log::info!("misbehave: log-flood line {i} of {}", self.log_lines);
                }
                batch.iter().for_each(|_| out.keep());
            }
        }
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn spin_forever() -> ! {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn exhaust_memory() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch every page so the memory is really committed.
        let chunk = vec![black_box(1u8); 1 << 20];
        hoard.push(black_box(chunk));
    }
}

fn recurse(depth: u64) -> u64 {
    // Never true, but the optimizer cannot know: keeps the recursion real.
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let frame = black_box([depth; 64]);
    black_box(recurse(black_box(depth + 1))) + frame[black_box(3)]
}

fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_transform::{OwnedBatch, testing::run};

    fn mode(json: &str) -> Result<Mode, String> {
        let mut rt = sluice_transform::testing::Runtime::<Misbehave>::new("misbehave");
        rt.init(json)?;
        Ok(rt.state().map(|m| m.mode).unwrap_or_default())
    }

    #[test]
    fn modes_parse() {
        assert_eq!(mode(""), Ok(Mode::Ok));
        assert_eq!(mode(r#"{"mode": "huge-output"}"#), Ok(Mode::HugeOutput));
        assert!(mode(r#"{"mode": "init-error"}"#).unwrap_err().contains("refuses"));
        assert!(mode(r#"{"mode": "trap-on"}"#).unwrap_err().contains("needle"));
        // Parsed only: init would never return.
        let params: Params = serde_json::from_str(r#"{"mode": "init-loop"}"#).unwrap();
        assert_eq!(params.mode, Mode::InitLoop);
        assert!(mode(r#"{"mode": "sideways"}"#).unwrap_err().contains("field `mode`: unknown variant `sideways`"));
    }

    #[test]
    fn harmless_modes() {
        let batch = OwnedBatch::from_values(["a", "needle here", "c"]);
        assert_eq!(run::<Misbehave>(r#"{"mode": "ok"}"#, &batch).unwrap().to_verdicts(), vec![Verdict::Keep; 3]);
        let out = run::<Misbehave>(r#"{"mode": "reject-all"}"#, &batch).unwrap();
        assert!(out.to_verdicts().iter().all(|v| matches!(v, Verdict::Reject(_))));
        assert_eq!(run::<Misbehave>(r#"{"mode": "wrong-count"}"#, &batch).unwrap().to_verdicts().len(), 2);
        assert!(run::<Misbehave>(r#"{"mode": "error"}"#, &batch).is_err());
        let out = run::<Misbehave>(r#"{"mode": "trap-on", "needle": "zzz"}"#, &batch).unwrap();
        assert_eq!(out.to_verdicts().len(), 3);
        let out = run::<Misbehave>(r#"{"mode": "log-flood", "log_lines": 3}"#, &batch).unwrap();
        assert_eq!(out.to_verdicts().len(), 3);
        assert!(contains(b"a needle here", b"needle"));
    }
}
