//! `[server]`: health, readiness and metrics over HTTP.

use std::net::SocketAddr;

use serde::{Deserialize, Deserializer};

use super::interpolate::EnvString;

/// ```toml
/// [server]
/// listen = "127.0.0.1:9464"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `listen = "0.0.0.0:9464"`: `/healthz`, `/readyz` and `/metrics`.
    #[serde(default = "default_listen", deserialize_with = "listen_addr")]
    pub listen: SocketAddr,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { listen: default_listen() }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9464))
}

fn listen_addr<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let raw = EnvString::deserialize(deserializer)?;
    raw.as_str()
        .parse()
        .map_err(|e| serde::de::Error::custom(format!("{:?} is not an address like 127.0.0.1:9464: {e}", raw.as_str())))
}
