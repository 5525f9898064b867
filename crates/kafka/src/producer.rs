use crate::{CloudEvent, KafkaConfig, KafkaError, TraceContext};
use rdkafka::{
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use std::{sync::Arc, time::Duration};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Idempotent producer (enable.idempotence, acks=all): a retried send never duplicates or
/// reorders records within a partition.
#[derive(Clone)]
pub struct Producer {
    inner: FutureProducer,
    /// With one record per batch, at most this many sends are outstanding (see [`Producer::new`]).
    in_flight: Option<Arc<Semaphore>>,
}

/// librdkafka's limit of produce requests in flight per partition for an idempotent producer.
const IDEMPOTENT_MAX_IN_FLIGHT: usize = 5;

/// A record to send. Headers are written in order.
#[derive(Debug, Clone)]
pub struct OutgoingRecord<'a> {
    pub topic: &'a str,
    pub key: &'a [u8],
    pub payload: &'a [u8],
    pub headers: Vec<(String, Vec<u8>)>,
}

impl<'a> OutgoingRecord<'a> {
    pub fn new(topic: &'a str, key: &'a [u8], payload: &'a [u8]) -> Self {
        Self {
            topic,
            key,
            payload,
            headers: Vec::new(),
        }
    }

    /// Adds CloudEvents binary-mode headers and a `traceparent`: the current span's context
    /// when an OpenTelemetry layer records spans (so the next hop's span is its child),
    /// otherwise a child of `trace` (a new trace when there is none).
    pub fn event(mut self, ce: &CloudEvent, trace: Option<&TraceContext>) -> Self {
        self.headers.extend(ce.to_headers());
        let next = TraceContext::current()
            .or_else(|| trace.map(TraceContext::child))
            .unwrap_or_else(TraceContext::new_root);
        self.headers
            .push(("traceparent".into(), next.to_header().into_bytes()));
        self
    }

    pub fn header(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((key.into(), value.into()));
        self
    }
}

impl Producer {
    pub fn new(cfg: &KafkaConfig) -> Result<Self, KafkaError> {
        let mut client = cfg.client_config()?;
        client
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", cfg.linger_ms.to_string())
            .set("batch.num.messages", cfg.batch_records.max(1).to_string())
            .set("message.timeout.ms", "60000");
        // With one record per batch (tansu), every record is a request of its own, and an
        // idempotent producer keeps at most 5 requests in flight per partition. Records queued
        // behind those make librdkafka's broker thread spin (with linger 0 they are always
        // "ready" but may not be sent): a third of a core per busy producer in the pipeline
        // bench. Further sends wait here instead, on a semaphore that costs nothing while
        // they wait (about 6,500 sends/s per producer on tansu, far above what a service needs).
        let in_flight =
            (cfg.batch_records <= 1).then(|| Arc::new(Semaphore::new(IDEMPOTENT_MAX_IN_FLIGHT)));
        Ok(Self {
            inner: client.create()?,
            in_flight,
        })
    }

    /// A place among the sends in flight (none needed when records are batched).
    async fn slot(&self) -> Option<SemaphorePermit<'_>> {
        match &self.in_flight {
            // The semaphore is never closed.
            Some(s) => s.acquire().await.ok(),
            None => None,
        }
    }

    /// Sends one record and waits for the broker's acknowledgement.
    /// Returns (partition, offset).
    pub async fn send(&self, rec: OutgoingRecord<'_>) -> Result<(i32, i64), KafkaError> {
        let mut headers = OwnedHeaders::new_with_capacity(rec.headers.len());
        for (k, v) in &rec.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v.as_slice()),
            });
        }
        let record = FutureRecord::to(rec.topic)
            .key(rec.key)
            .payload(rec.payload)
            .headers(headers);
        let _slot = self.slot().await;
        // The queue-full wait is bounded; delivery itself is bounded by message.timeout.ms.
        self.inner
            .send(record, Timeout::After(Duration::from_secs(30)))
            .await
            .map(|d| (d.partition, d.offset))
            .map_err(|(e, _)| KafkaError::Client(e))
    }

    /// Sends a record with its headers as they are (used by the dead-letter writer and replay).
    pub(crate) async fn send_raw(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: &[(String, Option<Vec<u8>>)],
    ) -> Result<(i32, i64), KafkaError> {
        let mut owned = OwnedHeaders::new_with_capacity(headers.len());
        for (k, v) in headers {
            owned = owned.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(owned);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(p) = payload {
            record = record.payload(p);
        }
        let _slot = self.slot().await;
        self.inner
            .send(record, Timeout::After(Duration::from_secs(30)))
            .await
            .map(|d| (d.partition, d.offset))
            .map_err(|(e, _)| KafkaError::Client(e))
    }

    /// Waits until every queued record is delivered (used at shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        use rdkafka::producer::Producer as _;
        self.inner.flush(timeout).map_err(KafkaError::Client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traceparent(rec: &OutgoingRecord<'_>) -> Option<TraceContext> {
        let (_, v) = rec.headers.iter().find(|(k, _)| k == "traceparent")?;
        TraceContext::parse(std::str::from_utf8(v).ok()?)
    }

    #[test]
    fn without_a_recorded_span_an_event_continues_the_given_trace() {
        let ce = CloudEvent::protobuf("id-1", "nopbridge/test", "nopbridge.test.v1.Order");
        let given = TraceContext::new_root();
        let next = traceparent(&OutgoingRecord::new("t", b"k", b"p").event(&ce, Some(&given)));
        let next = next.expect("traceparent written");
        assert_eq!(next.trace_id, given.trace_id);
        assert_ne!(next.span_id, given.span_id);
        let fresh = traceparent(&OutgoingRecord::new("t", b"k", b"p").event(&ce, None));
        assert!(fresh.is_some_and(|f| f.trace_id != given.trace_id));
    }
}
