//! Checks that records on a topic decode as the protobuf message the topic contract names,
//! using the exported descriptor set (the same way a downstream consumer would).
use crate::topics;
use nopbridge_kafka::{Handler, HandlerError, Record};
use prost_reflect::{DescriptorPool, DynamicMessage};

pub struct ContractCheck {
    pool: DescriptorPool,
}

impl ContractCheck {
    pub fn new() -> Result<Self, prost_reflect::DescriptorError> {
        Ok(Self {
            pool: DescriptorPool::decode(nopbridge_proto::FILE_DESCRIPTOR_SET)?,
        })
    }

    /// Ok when the record fits its topic's contract (or the topic has none yet).
    pub fn check(&self, record: &Record) -> Result<(), HandlerError> {
        let Some(name) = topics::contract(&record.topic) else {
            return Ok(());
        };
        let Some(desc) = self.pool.get_message_by_name(name) else {
            return Err(HandlerError::permanent(
                "contract",
                format!("descriptor {name} missing"),
            ));
        };
        let Some(payload) = record.payload.as_deref() else {
            return Err(HandlerError::permanent(
                "decode",
                format!("empty payload on {}, expected {name}", record.topic),
            ));
        };
        DynamicMessage::decode(desc, payload)
            .map(|_| ())
            .map_err(|e| {
                HandlerError::permanent(
                    "decode",
                    format!("payload on {} is not a valid {name}: {e}", record.topic),
                )
            })
    }
}

impl Handler for ContractCheck {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        self.check(record)
    }
}
