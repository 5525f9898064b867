use crate::summaries::{SharedMapper, Summaries};
use nopbridge_kafka::{
    CloudEvent, DeadLetter, DeadLetterContext, Handler, HandlerError, OutgoingRecord, Producer,
    Record,
};
use nopbridge_mapping::{command_topic, CanonicalEvent, Mapper};
use prost::Message;
use std::sync::Arc;
use tracing::warn;

/// consume → map → produce (and, for daily-summary connections, collect) → (the loop
/// stores the offset).
pub struct TransformHandler {
    mapper: SharedMapper,
    producer: Producer,
    dlq: DeadLetter,
    topic_suffix: String,
    /// Commands out, counted on /metrics (`nopbridge_commands_emitted_total{connection}`).
    control: nopbridge_runtime::ControlState,
    /// Set when a summary database is configured.
    summaries: Option<Arc<Summaries>>,
}

/// `canonical.<entity>.v1` (or a test topic `canonical.<entity>-<suffix>`) → `<entity>`.
fn entity_of(topic: &str) -> Option<&str> {
    let rest = topic.split_once("canonical.")?.1;
    rest.split(['.', '-']).next().filter(|e| !e.is_empty())
}

impl TransformHandler {
    pub fn new(
        mapper: SharedMapper,
        producer: Producer,
        dlq: DeadLetter,
        topic_suffix: String,
        control: nopbridge_runtime::ControlState,
        summaries: Option<Arc<Summaries>>,
    ) -> Self {
        Self {
            mapper,
            producer,
            dlq,
            topic_suffix,
            control,
            summaries,
        }
    }

    /// Swaps in a new mapping; records already being mapped finish with the old one.
    pub fn replace_mapper(&self, mapper: Mapper) {
        *self.mapper.write() = Arc::new(mapper);
    }

    fn mapper(&self) -> Arc<Mapper> {
        self.mapper.read().clone()
    }
}

impl Handler for TransformHandler {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let entity = entity_of(&record.topic).ok_or_else(|| {
            HandlerError::permanent(
                "contract",
                format!("{} is not a canonical.<entity>.v1 topic", record.topic),
            )
        })?;
        let event = match CanonicalEvent::decode(entity, record.payload()) {
            None => {
                return Err(HandlerError::permanent(
                    "contract",
                    format!("unknown canonical entity {entity:?}"),
                ))
            }
            Some(Err(e)) => {
                return Err(HandlerError::permanent(
                    "decode",
                    format!("not a valid {entity} event: {e}"),
                ))
            }
            Some(Ok(ev)) => ev,
        };
        let trace = record.trace_context();
        // A re-emitted event of a drift repair: the target checks its record first.
        let verify = record
            .header(nopbridge_runtime::topics::VERIFY_TARGET_HEADER)
            .is_some();
        let results = self.mapper().map(&event);
        for result in results {
            match result {
                Ok(mut cmd) => {
                    cmd.verify_target |= verify;
                    let topic = format!("{}{}", command_topic(&cmd), self.topic_suffix);
                    let source = format!("nopbridge/transform/{}/{}", cmd.tenant_id, cmd.store_id);
                    let mut ce = CloudEvent::protobuf(
                        &cmd.command_id,
                        source,
                        "nopbridge.commands.v1.Command",
                    );
                    if let Some(o) = &cmd.order {
                        ce = ce.with_subject(format!("order/{}", o.order_id));
                    }
                    let payload = cmd.encode_to_vec();
                    let out = OutgoingRecord::new(&topic, cmd.connection_id.as_bytes(), &payload)
                        .event(&ce, trace.as_ref());
                    self.producer
                        .send(out)
                        .await
                        .map_err(|e| HandlerError::transient(e.to_string()))?;
                    self.control.count(
                        "commands_emitted",
                        &[("connection", cmd.connection_id.as_str())],
                        1,
                    );
                }
                Err(e) => {
                    let mut ctx = DeadLetterContext::now("transform", e.kind(), e.to_string());
                    ctx.extra_headers.push((
                        "dlq_connection_id".into(),
                        e.context().connection_id.clone(),
                    ));
                    warn!(connection = %e.context().connection_id, class = e.kind(), "mapping failed; dead-lettered");
                    self.dlq
                        .send(record, &ctx)
                        .await
                        .map_err(|e| HandlerError::transient(e.to_string()))?;
                }
            }
        }
        // Daily-summary connections: the order waits under its business day (stored before
        // the offset is committed) for the closer.
        if let (CanonicalEvent::Order(order), Some(summaries)) = (&event, &self.summaries) {
            summaries.collect(record, order).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::entity_of;

    #[test]
    fn entity_from_topic() {
        assert_eq!(entity_of("canonical.order.v1"), Some("order"));
        assert_eq!(
            entity_of("canonical.payment_transaction.v1"),
            Some("payment_transaction")
        );
        assert_eq!(entity_of("canonical.order-3f2a9c1d7b"), Some("order"));
        assert_eq!(entity_of("sink.results.v1"), None);
    }
}
