use crate::{KafkaConfig, KafkaError};
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    types::RDKafkaErrorCode,
};
use serde::Deserialize;
use std::time::Duration;

/// A topic nopbridge needs, created if missing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    #[serde(default = "TopicSpec::default_partitions")]
    pub partitions: i32,
    #[serde(default = "TopicSpec::default_replication")]
    pub replication: i32,
    /// `cleanup.policy=compact`: keep the latest record per key (state topics).
    #[serde(default)]
    pub compacted: bool,
}

impl TopicSpec {
    const fn default_partitions() -> i32 {
        3
    }
    const fn default_replication() -> i32 {
        1
    }

    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        Self {
            name: name.into(),
            partitions,
            replication: 1,
            compacted: false,
        }
    }

    pub fn compacted(mut self) -> Self {
        self.compacted = true;
        self
    }
}

/// Creates the topics that do not exist yet; existing ones are left as they are, so this is
/// safe to run on every start.
pub async fn ensure_topics(cfg: &KafkaConfig, specs: &[TopicSpec]) -> Result<(), KafkaError> {
    if specs.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = cfg.client_config()?.create()?;
    // Ask only for the missing ones: some brokers (tansu with SQLite storage) answer a
    // CreateTopics naming existing topics with a response librdkafka cannot parse.
    let existing = existing_topics(cfg).await?;
    let new: Vec<NewTopic<'_>> = specs
        .iter()
        .filter(|s| !existing.contains(&s.name))
        .map(|s| {
            let t = NewTopic::new(
                &s.name,
                s.partitions,
                TopicReplication::Fixed(s.replication),
            );
            if s.compacted {
                t.set("cleanup.policy", "compact")
            } else {
                t
            }
        })
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin.create_topics(&new, &opts).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::TopicCreation {
                    topic,
                    reason: code.to_string(),
                })
            }
        }
    }
    Ok(())
}

async fn existing_topics(
    cfg: &KafkaConfig,
) -> Result<std::collections::HashSet<String>, KafkaError> {
    let client = cfg.client_config()?;
    let metadata = tokio::task::spawn_blocking(move || {
        let consumer: rdkafka::consumer::BaseConsumer = client.create()?;
        rdkafka::consumer::Consumer::fetch_metadata(&consumer, None, Duration::from_secs(10)).map(
            |m| {
                m.topics()
                    .iter()
                    .filter(|t| t.error().is_none())
                    .map(|t| t.name().to_string())
                    .collect()
            },
        )
    })
    .await
    .map_err(|e| KafkaError::Config {
        key: "bootstrap_servers".into(),
        reason: format!("metadata task: {e}"),
    })?;
    Ok(metadata?)
}
