//! `[http]`: where `sluice run` serves `/healthz`, `/readyz` and `/metrics`.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Deserializer};

use super::interpolate::expand;

/// ```toml
/// [http]
/// listen = "${SLUICE_HTTP_LISTEN:-0.0.0.0:9898}"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `listen = "0.0.0.0:9898"`: the address and port of the health and
    /// metrics endpoints (port 0: any free port, logged at start).
    #[serde(default = "default_listen")]
    pub listen: Listen,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { listen: default_listen() }
    }
}

/// An address to listen on, `host:port`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub SocketAddr);

impl fmt::Debug for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        let text = expand(&raw, |name| std::env::var(name).ok()).map_err(serde::de::Error::custom)?;
        text.parse().map(Listen).map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not an address to listen on: write ip:port, e.g. \"0.0.0.0:9898\""
            ))
        })
    }
}

fn default_listen() -> Listen {
    Listen(SocketAddr::from(([0, 0, 0, 0], 9898)))
}
