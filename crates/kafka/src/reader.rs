//! Plain reads for tools and tests: a topic from the beginning, and broker readiness.
use crate::{KafkaConfig, KafkaError, Record};
use rdkafka::{
    consumer::{BaseConsumer, Consumer, StreamConsumer},
    Offset, TopicPartitionList,
};
use std::time::Duration;

/// Reads up to `max` records of `topic` from the beginning, as a throwaway group that commits
/// nothing; stops early when nothing arrives for `idle`.
pub async fn read_topic(
    cfg: &KafkaConfig,
    topic: &str,
    max: usize,
    idle: Duration,
) -> Result<Vec<Record>, KafkaError> {
    let mut client = cfg.consumer_config()?;
    client
        .set(
            "group.id",
            format!("nopbridge-reader-{}", rand::random::<u64>()),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    let consumer: StreamConsumer = client.create()?;
    consumer.subscribe(&[topic])?;
    let mut out = Vec::new();
    while out.len() < max {
        match tokio::time::timeout(idle, consumer.recv()).await {
            Ok(Ok(m)) => out.push(Record::from_message(&m)),
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => break,
        }
    }
    Ok(out)
}

/// Reads the one record at `topic`/`partition`/`offset` (e.g. a dead letter to replay);
/// `None` when nothing is there within `timeout` (deleted by retention, or a wrong position).
pub async fn read_at(
    cfg: &KafkaConfig,
    topic: &str,
    partition: i32,
    offset: i64,
    timeout: Duration,
) -> Result<Option<Record>, KafkaError> {
    let mut client = cfg.consumer_config()?;
    client
        .set(
            "group.id",
            format!("nopbridge-reader-{}", rand::random::<u64>()),
        )
        .set("enable.auto.commit", "false");
    let consumer: StreamConsumer = client.create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    consumer.assign(&tpl)?;
    let end = tokio::time::Instant::now() + timeout;
    loop {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, consumer.recv()).await {
            Ok(Ok(m)) => {
                let r = Record::from_message(&m);
                if r.offset == offset {
                    return Ok(Some(r));
                }
                if r.offset > offset {
                    return Ok(None);
                }
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Ok(None),
        }
    }
}

/// Waits until the broker answers a metadata request, up to `deadline`.
pub async fn wait_until_ready(cfg: &KafkaConfig, deadline: Duration) -> Result<(), KafkaError> {
    let client = cfg.consumer_config()?;
    let end = tokio::time::Instant::now() + deadline;
    loop {
        let c = client.clone();
        let attempt = tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = c.create()?;
            consumer
                .fetch_metadata(None, Duration::from_secs(2))
                .map(|_| ())
        })
        .await;
        match attempt {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) if tokio::time::Instant::now() > end => return Err(e.into()),
            _ if tokio::time::Instant::now() > end => {
                return Err(KafkaError::Config {
                    key: "bootstrap_servers".into(),
                    reason: "broker not ready".into(),
                })
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
