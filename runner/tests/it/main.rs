//! Integration tests: the one test binary. They talk to the real Kafka broker
//! and the real MariaDB that `scripts/stack up` starts; a test that cannot
//! reach them fails and says so.

mod faults;
mod helpers;
mod hostile;
mod kafka_roundtrip;
mod languages;
mod migrations;
mod pipeline;
mod sandbox;
mod security;
mod sink;
mod topic;
