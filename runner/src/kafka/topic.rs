//! The source topic at start-up. `sluice run` creates it when the cluster
//! does not have it, with `[source] partitions` and `replication_factor`; a
//! topic that exists is only looked at, never altered.
//!
//! A broker that cannot be reached, or that is busy electing, is waited for;
//! a broker that refuses the topic (a replication factor above its number of
//! brokers, a policy, missing rights) ends the start with an error that names
//! the topic, the settings asked for and the broker's reason.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, Producer};
use tokio_util::sync::CancellationToken;

use crate::config::SourceConfig;

/// How long one metadata request may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the controller may take to create the topic.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a new topic's partitions may take to get leaders before the
/// consumer is started anyway.
const LEADERS_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What start-up found, or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicState {
    /// The topic was there, with this many partitions; left as it is.
    Existing { partitions: usize },
    /// Sluice created it with the configured settings.
    Created { partitions: i32, replication_factor: i32 },
}

/// Why the topic cannot be used: no retry helps, the settings (or the
/// cluster's) must change.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("creating a Kafka admin client for {brokers}: {source}")]
    Client { brokers: String, source: KafkaError },
    #[error(
        "Kafka refuses to create the topic {topic:?} with partitions = {partitions} and \
         replication_factor = {replication_factor} ([source] of the pipeline): {reason}{hint}",
        hint = hint(*.reason, *.brokers)
    )]
    Refused { topic: String, partitions: i32, replication_factor: i32, reason: RDKafkaErrorCode, brokers: usize },
    #[error("Kafka refuses to describe the topic {topic:?}: {reason}")]
    Undescribable { topic: String, reason: RDKafkaErrorCode },
}

/// What the user can do about a refusal, when Kafka's code says it.
fn hint(reason: RDKafkaErrorCode, brokers: usize) -> String {
    match reason {
        RDKafkaErrorCode::InvalidReplicationFactor => {
            let s = if brokers == 1 { "" } else { "s" };
            format!("; the cluster has {brokers} broker{s}, and replication_factor cannot be more")
        }
        RDKafkaErrorCode::TopicAuthorizationFailed | RDKafkaErrorCode::ClusterAuthorizationFailed => {
            "; create the topic beforehand, or allow Sluice's user to create topics".to_string()
        }
        _ => String::new(),
    }
}

/// Whether Kafka's answer to a create request is final: only a change of
/// the settings, the cluster or the rights helps. Anything else (the
/// broker away, busy, electing a controller) is tried again.
fn is_refusal(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::InvalidReplicationFactor
            | RDKafkaErrorCode::InvalidPartitions
            | RDKafkaErrorCode::InvalidReplicaAssignment
            | RDKafkaErrorCode::InvalidConfig
            | RDKafkaErrorCode::InvalidTopic
            | RDKafkaErrorCode::PolicyViolation
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed
            | RDKafkaErrorCode::InvalidRequest
            | RDKafkaErrorCode::UnsupportedVersion
    )
}

/// Makes sure the source topic exists, creating it when it does not.
/// Waits (with backoff, logging why) while the broker cannot answer;
/// `Ok(None)` when `shutdown` is cancelled first.
pub async fn ensure_topic(
    source: &SourceConfig,
    shutdown: &CancellationToken,
) -> Result<Option<TopicState>, TopicError> {
    let creator = Arc::new(Creator::new(source)?);
    let mut wait = Duration::from_millis(500);
    loop {
        match creator.attempt().await {
            Ok(state) => {
                log(&creator.topic, state);
                return Ok(Some(state));
            }
            Err(Attempt::Final(e)) => return Err(e),
            Err(Attempt::Again(why)) => {
                tracing::warn!(topic = creator.topic.as_str(), error = %why, "cannot look up or create the source topic yet; retrying in {wait:?}");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            () = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(MAX_BACKOFF);
    }
}

fn log(topic: &str, state: TopicState) {
    match state {
        TopicState::Existing { partitions } => {
            tracing::info!(topic, partitions, "the source topic exists with {partitions} partitions; left as it is");
        }
        TopicState::Created { partitions, replication_factor } => {
            tracing::info!(
                topic,
                partitions,
                replication_factor,
                "created the source topic with {partitions} partitions and replication factor {replication_factor}"
            );
        }
    }
}

/// How one attempt ended, when not with the topic in place.
enum Attempt {
    /// Try again later: the broker is away or busy.
    Again(String),
    Final(TopicError),
}

/// What a metadata request says about the topic.
enum Found {
    Exists { partitions: usize },
    Missing { brokers: usize },
}

struct Creator {
    admin: AdminClient<DefaultClientContext>,
    /// For the metadata requests. Unlike the admin client it serves its
    /// main queue when polled, so librdkafka's reports (a refused login, a
    /// failed TLS handshake) reach the log while the broker is waited for.
    probe: BaseProducer,
    topic: String,
    partitions: i32,
    replication_factor: i32,
}

impl Creator {
    fn new(source: &SourceConfig) -> Result<Creator, TopicError> {
        // Producer-type clients would ask the broker to create a missing
        // topic (with the broker's defaults) just by requesting its metadata.
        let config = super::client::config(source, &[], &[("allow.auto.create.topics", "false")]);
        let failed = |e| TopicError::Client { brokers: source.brokers.as_str().to_string(), source: e };
        let admin = config.create().map_err(failed)?;
        let probe = config.create().map_err(failed)?;
        Ok(Creator {
            admin,
            probe,
            topic: source.topic.as_str().to_string(),
            partitions: i32::try_from(source.partitions.get()).unwrap_or(i32::MAX),
            replication_factor: i32::try_from(source.replication_factor.get()).unwrap_or(i32::MAX),
        })
    }

    /// Looks the topic up, and creates it if it is missing.
    async fn attempt(self: &Arc<Self>) -> Result<TopicState, Attempt> {
        let brokers = match self.find().await? {
            Found::Exists { partitions } => return Ok(TopicState::Existing { partitions }),
            Found::Missing { brokers } => brokers,
        };
        let new = NewTopic::new(&self.topic, self.partitions, TopicReplication::Fixed(self.replication_factor));
        let options = AdminOptions::new().operation_timeout(Some(CREATE_TIMEOUT));
        let results = self
            .admin
            .create_topics([&new], &options)
            .await
            .map_err(|e| Attempt::Again(format!("create topic request: {e}")))?;
        match results.into_iter().next() {
            Some(Ok(_)) => {}
            // Another process created it in the meantime: look again.
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => {
                return Err(Attempt::Again("created by someone else meanwhile".to_string()));
            }
            Some(Err((_, code))) if is_refusal(code) => {
                return Err(Attempt::Final(TopicError::Refused {
                    topic: self.topic.clone(),
                    partitions: self.partitions,
                    replication_factor: self.replication_factor,
                    reason: code,
                    brokers,
                }));
            }
            Some(Err((_, code))) => return Err(Attempt::Again(format!("create topic: {code}"))),
            None => return Err(Attempt::Again("create topic: no answer for the topic".to_string())),
        }
        self.wait_for_leaders().await;
        Ok(TopicState::Created { partitions: self.partitions, replication_factor: self.replication_factor })
    }

    /// The topic's metadata, from a blocking request off the async threads.
    async fn find(self: &Arc<Self>) -> Result<Found, Attempt> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.find_blocking())
            .await
            .unwrap_or_else(|e| Err(Attempt::Again(format!("metadata request: {e}"))))
    }

    fn find_blocking(&self) -> Result<Found, Attempt> {
        let metadata = self.probe.client().fetch_metadata(Some(&self.topic), METADATA_TIMEOUT).map_err(|e| {
            // Logs what librdkafka reported meanwhile, such as why a login failed.
            self.probe.poll(Duration::from_millis(100));
            Attempt::Again(format!("metadata request: {e}"))
        })?;
        let Some(topic) = metadata.topics().iter().find(|t| t.name() == self.topic) else {
            return Err(Attempt::Again("the metadata does not mention the topic".to_string()));
        };
        match topic.error().map(RDKafkaErrorCode::from) {
            None if !topic.partitions().is_empty() => Ok(Found::Exists { partitions: topic.partitions().len() }),
            None => Err(Attempt::Again("the topic has no partitions yet".to_string())),
            Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
                Ok(Found::Missing { brokers: metadata.brokers().len() })
            }
            Some(code) if is_refusal(code) => {
                Err(Attempt::Final(TopicError::Undescribable { topic: self.topic.clone(), reason: code }))
            }
            Some(code) => Err(Attempt::Again(format!("topic metadata: {code}"))),
        }
    }

    /// Waits until every partition of the new topic has a leader, so that
    /// the consumer finds them at its first look. Past the timeout the
    /// consumer starts anyway and picks them up later.
    async fn wait_for_leaders(self: &Arc<Self>) {
        let this = self.clone();
        let waited = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + LEADERS_TIMEOUT;
            let want = usize::try_from(this.partitions).unwrap_or(0);
            while Instant::now() < deadline {
                let ready = this.probe.client().fetch_metadata(Some(&this.topic), METADATA_TIMEOUT).is_ok_and(|m| {
                    m.topics().iter().any(|t| {
                        t.name() == this.topic
                            && t.error().is_none()
                            && t.partitions().len() == want
                            && t.partitions().iter().all(|p| p.leader() >= 0)
                    })
                });
                if ready {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            false
        })
        .await;
        if !waited.unwrap_or(false) {
            tracing::warn!(
                topic = self.topic.as_str(),
                "the new topic's partitions have no leader after {LEADERS_TIMEOUT:?}; starting anyway"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::error::RDKafkaErrorCode;

    use super::{TopicError, is_refusal};

    #[test]
    fn a_refusal_names_the_topic_the_settings_and_the_reason() {
        let refused = TopicError::Refused {
            topic: "events".to_string(),
            partitions: 3,
            replication_factor: 3,
            reason: RDKafkaErrorCode::InvalidReplicationFactor,
            brokers: 1,
        };
        assert_eq!(
            refused.to_string(),
            "Kafka refuses to create the topic \"events\" with partitions = 3 and replication_factor = 3 \
             ([source] of the pipeline): InvalidReplicationFactor (Broker: Invalid replication factor); \
             the cluster has 1 broker, and replication_factor cannot be more"
        );
    }

    #[test]
    fn only_what_settings_or_rights_can_fix_is_final() {
        assert!(is_refusal(RDKafkaErrorCode::InvalidReplicationFactor));
        assert!(is_refusal(RDKafkaErrorCode::PolicyViolation));
        assert!(is_refusal(RDKafkaErrorCode::TopicAuthorizationFailed));
        assert!(!is_refusal(RDKafkaErrorCode::NotController));
        assert!(!is_refusal(RDKafkaErrorCode::RequestTimedOut));
        assert!(!is_refusal(RDKafkaErrorCode::BrokerTransportFailure));
    }
}
