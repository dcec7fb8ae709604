//! The settings every Kafka client of a pipeline starts from.

use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;

use crate::config::{FieldError, KafkaSettings, SourceConfig};

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
    for (key, value) in source.kafka.iter() {
        client.set(key, value);
    }
    for (key, value) in fixed {
        client.set(*key, *value);
    }
    client
}

/// Checks each `[source.kafka]` property as librdkafka would take it (known
/// name, valid value, built-in support such as TLS or SCRAM), without
/// creating a client. A secret's value never appears in the error.
pub fn check_settings(source: &SourceConfig) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in source.kafka.iter() {
        let mut one = ClientConfig::new();
        one.set(key, value);
        if let Err(e) = one.create_native_config() {
            let why = match e {
                KafkaError::ClientConfig(_, desc, ..) => desc,
                other => other.to_string(),
            };
            let shown = if KafkaSettings::is_secret(key) { "<redacted>" } else { value };
            errors.push(FieldError::at(
                source.kafka.span(key).unwrap_or_default(),
                format!("source.kafka.\"{key}\""),
                format!("librdkafka refuses {key} = {shown:?}: {why}"),
            ));
        }
    }
    errors
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

    #[test]
    fn unknown_or_unsupported_properties_are_refused_by_name_and_secrets_stay_hidden() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/valid/minimal.toml"),
        )
        .expect("read minimal.toml")
        .replace("${DATABASE_URL}", "mysql://u:p@db/x")
            + "\n[source.kafka]\n\"security.protocol\" = \"SASL_SSL\"\n\"sasl.mechanism\" = \"SCRAM-SHA-512\"\n\"sasl.password\" = \"hunter2\"\n\"fetch.wait.maximum\" = \"10\"\n\"ssl.ca.location\" = \"certs/ca.pem\"\n";
        let pipeline = Pipeline::from_text(Path::new("/etc/sluice/pipeline.toml"), text).expect("parse");
        let errors = super::check_settings(&pipeline.config.source);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "source.kafka.\"fetch.wait.maximum\"");
        assert!(errors[0].message.contains("No such configuration property"), "{}", errors[0].message);
        let settings: Vec<_> = pipeline.config.source.kafka.iter().collect();
        assert!(settings.contains(&("ssl.ca.location", "/etc/sluice/certs/ca.pem")), "{settings:?}");
        let shown = format!("{:?}", pipeline.config);
        assert!(!shown.contains("hunter2") && shown.contains("SCRAM-SHA-512"), "{shown}");
    }
}
