//! Integers with bounds checked while deserializing.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A `u64` in `MIN..=MAX`. An out-of-range value fails at its own line.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ranged<const MIN: u64, const MAX: u64>(u64);

impl<const MIN: u64, const MAX: u64> Ranged<MIN, MAX> {
    /// Panics at compile time if `value` is out of range.
    pub const fn new(value: u64) -> Self {
        assert!(value >= MIN && value <= MAX);
        Ranged(value)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Ranged<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = i64::deserialize(deserializer)?;
        match u64::try_from(value) {
            Ok(v) if (MIN..=MAX).contains(&v) => Ok(Ranged(v)),
            _ => Err(serde::de::Error::custom(format!("{value} is out of range: expected {MIN} to {MAX}"))),
        }
    }
}

impl<const MIN: u64, const MAX: u64> fmt::Debug for Ranged<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const MIN: u64, const MAX: u64> fmt::Display for Ranged<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
