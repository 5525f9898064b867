use thiserror::Error;

#[derive(Debug, Error)]
pub enum KafkaError {
    #[error("kafka client error: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error("could not create topic {topic}: {reason}")]
    TopicCreation { topic: String, reason: String },
    #[error("invalid kafka setting {key}: {reason}")]
    Config { key: String, reason: String },
}
