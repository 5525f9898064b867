//! CloudEvents Kafka binary-mode attributes and the W3C trace context, as Kafka headers.
use chrono::{DateTime, SecondsFormat, Utc};

/// The CloudEvents attributes nopbridge puts on every event (`ce_*` headers, binary mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEvent {
    /// `ce_id`: the event id (deterministic for canonical events).
    pub id: String,
    /// `ce_source`: e.g. `nopbridge/ingest/<tenant>/<store>`.
    pub source: String,
    /// `ce_type`: the protobuf message name, e.g. `nopbridge.events.v1.Order`.
    pub event_type: String,
    /// `ce_time`.
    pub time: DateTime<Utc>,
    /// `ce_subject`: the entity key, e.g. `acme/1/order/1043`.
    pub subject: Option<String>,
    /// `content-type`.
    pub content_type: String,
}

pub(crate) const CE_SPECVERSION: &str = "1.0";
pub(crate) const PROTOBUF: &str = "application/protobuf";

impl CloudEvent {
    pub fn protobuf(
        id: impl Into<String>,
        source: impl Into<String>,
        event_type: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            source: source.into(),
            event_type: event_type.into(),
            time: Utc::now(),
            subject: None,
            content_type: PROTOBUF.into(),
        }
    }

    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn with_time(mut self, time: DateTime<Utc>) -> Self {
        self.time = time;
        self
    }

    pub(crate) fn to_headers(&self) -> Vec<(String, Vec<u8>)> {
        let mut h = vec![
            (
                "ce_specversion".to_string(),
                CE_SPECVERSION.as_bytes().to_vec(),
            ),
            ("ce_id".to_string(), self.id.as_bytes().to_vec()),
            ("ce_source".to_string(), self.source.as_bytes().to_vec()),
            ("ce_type".to_string(), self.event_type.as_bytes().to_vec()),
            (
                "ce_time".to_string(),
                self.time
                    .to_rfc3339_opts(SecondsFormat::Micros, true)
                    .into_bytes(),
            ),
            (
                "content-type".to_string(),
                self.content_type.as_bytes().to_vec(),
            ),
        ];
        if let Some(subject) = &self.subject {
            h.push(("ce_subject".to_string(), subject.as_bytes().to_vec()));
        }
        h
    }

    /// Reads the attributes back; `None` when a required one is missing or malformed.
    pub(crate) fn from_headers(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        if get("ce_specversion")? != CE_SPECVERSION {
            return None;
        }
        Some(Self {
            id: get("ce_id")?,
            source: get("ce_source")?,
            event_type: get("ce_type")?,
            time: DateTime::parse_from_rfc3339(&get("ce_time")?)
                .ok()?
                .with_timezone(&Utc),
            subject: get("ce_subject"),
            content_type: get("content-type").unwrap_or_else(|| PROTOBUF.into()),
        })
    }
}

/// W3C trace context (`traceparent: 00-<trace id>-<parent id>-<flags>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl TraceContext {
    /// A new trace (used where a record enters the system, e.g. a webhook or a poll).
    pub fn new_root() -> Self {
        Self {
            trace_id: nonzero_random(),
            span_id: nonzero_random(),
            sampled: true,
        }
    }

    /// The same trace with a new span id: what a stage passes on to the next hop.
    pub fn child(&self) -> Self {
        Self {
            span_id: nonzero_random(),
            ..*self
        }
    }

    pub fn to_header(&self) -> String {
        format!(
            "00-{}-{}-{}",
            hex::encode(self.trace_id),
            hex::encode(self.span_id),
            if self.sampled { "01" } else { "00" }
        )
    }

    /// Parses version 00 (and, as the spec asks, the first four fields of later versions).
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let version = parts.next()?;
        let trace = parts.next()?;
        let span = parts.next()?;
        let flags = parts.next()?;
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        hex::decode_to_slice(trace, &mut trace_id).ok()?;
        hex::decode_to_slice(span, &mut span_id).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }
}

fn nonzero_random<const N: usize>() -> [u8; N] {
    loop {
        let bytes: [u8; N] = std::array::from_fn(|_| rand::random());
        if bytes.iter().any(|b| *b != 0) {
            return bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_rejects_garbage() {
        let ctx = TraceContext::new_root();
        assert_eq!(TraceContext::parse(&ctx.to_header()), Some(ctx));
        let child = ctx.child();
        assert_eq!(child.trace_id, ctx.trace_id);
        assert_ne!(child.span_id, ctx.span_id);
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-xyz7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad}");
        }
        let known = TraceContext::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        assert_eq!(
            known.map(|c| c.trace_id_hex()).as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
    }

    #[test]
    fn cloud_event_headers_round_trip() {
        let ce = CloudEvent::protobuf("id-1", "nopbridge/test", "nopbridge.events.v1.Order")
            .with_subject("t/1/order/9");
        let headers = ce.to_headers();
        let get = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let back = CloudEvent::from_headers(get);
        // ce_time is written with microseconds, so compare at that precision.
        let mut expected = ce.clone();
        expected.time =
            DateTime::parse_from_rfc3339(&ce.time.to_rfc3339_opts(SecondsFormat::Micros, true))
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(ce.time);
        assert_eq!(back, Some(expected));
    }
}
