//! The settings every Kafka client of a pipeline starts from.

use rdkafka::config::ClientConfig;

use crate::config::SourceConfig;

/// A client for the source's cluster: `bootstrap.servers`, then the
/// client's `tuning` (which the user's `[source.kafka]` may override), then
/// `[source.kafka]` (security, timeouts, anything librdkafka takes), then the
/// client's `fixed` settings, which the guarantees rest on and which win.
pub(super) fn config(source: &SourceConfig, tuning: &[(&str, &str)], fixed: &[(&str, &str)]) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", source.brokers.as_str());
    for (key, value) in tuning {
        client.set(*key, *value);
    }
    for (key, value) in &source.kafka {
        client.set(key, value.as_str());
    }
    for (key, value) in fixed {
        client.set(*key, *value);
    }
    client
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Pipeline;

    #[test]
    fn the_user_tunes_and_secures_but_cannot_change_the_fixed_settings() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/valid/minimal.toml"),
        )
        .expect("read minimal.toml")
        .replace("${DATABASE_URL}", "mysql://u:p@db/x")
            + "\n[source.kafka]\n\"security.protocol\" = \"SASL_SSL\"\n\"fetch.wait.max.ms\" = \"10\"\n\"enable.auto.commit\" = \"true\"\n";
        let pipeline = Pipeline::from_text(Path::new("minimal.toml"), text).expect("parse");
        let client = super::config(
            &pipeline.config.source,
            &[("fetch.wait.max.ms", "50"), ("session.timeout.ms", "10000")],
            &[("enable.auto.commit", "false")],
        );
        assert_eq!(client.get("bootstrap.servers"), Some(pipeline.config.source.brokers.as_str()));
        assert_eq!(client.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(client.get("fetch.wait.max.ms"), Some("10"));
        assert_eq!(client.get("session.timeout.ms"), Some("10000"));
        assert_eq!(client.get("enable.auto.commit"), Some("false"));
    }
}
