//! Prometheus metrics: the same figures the control API's Status reports (one place for every
//! count), plus counters a service adds (API calls by target and status, retries, rate-limit
//! waits, token refreshes), served as text on `telemetry.metrics_listen` at `/metrics`.
use crate::control::ControlState;
use axum::{extract::State, routing::get, Router};
use nopbridge_proto::control::v1::{HealthState, StatusResponse};
use std::{fmt::Write, net::SocketAddr};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A counter's name and labels, e.g. `api_calls` with `target`, `status`.
pub type CounterKey = (&'static str, Vec<(&'static str, String)>);

pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

pub async fn serve(
    listener: TcpListener,
    control: ControlState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(control);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn metrics(
    State(control): State<ControlState>,
) -> ([(&'static str, &'static str); 1], String) {
    let status = control.status().await;
    (
        [("content-type", "text/plain; version=0.0.4")],
        render(&status, &control.counters()),
    )
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// One metric family: the TYPE/HELP header once, then its series.
struct Family {
    kind: &'static str,
    help: &'static str,
    rows: Vec<(String, f64)>,
}

/// The exposition text. Every series carries the `service` label; a service counter named
/// like a built-in family joins that family (one header, summed by labels downstream).
pub fn render(s: &StatusResponse, counters: &[(CounterKey, u64)]) -> String {
    let svc = s.service.as_str();
    let base = labels(&[("service", svc)]);
    let mut families: Vec<(String, Family)> = Vec::new();
    let mut add = |name: &str, kind: &'static str, help: &'static str, rows: Vec<(String, f64)>| {
        match families.iter_mut().find(|(n, _)| n == name) {
            Some((_, f)) => f.rows.extend(rows),
            None => families.push((name.to_string(), Family { kind, help, rows })),
        }
    };
    let tp = s.throughput.unwrap_or_default();
    let errors = s.errors.unwrap_or_default();
    add(
        "records_total",
        "counter",
        "Records consumed and handled.",
        vec![(base.clone(), tp.records_total as f64)],
    );
    add(
        "records_per_second",
        "gauge",
        "Records per second over the last minute.",
        vec![(base.clone(), tp.records_per_second)],
    );
    add(
        "superseded_total",
        "counter",
        "Records skipped because a later record of the same key made them redundant.",
        vec![(base.clone(), tp.superseded as f64)],
    );
    add(
        "retries_total",
        "counter",
        "Transient failures retried.",
        vec![(base.clone(), errors.transient as f64)],
    );
    add(
        "dead_lettered_total",
        "counter",
        "Records sent to the dead-letter topic.",
        vec![(base.clone(), errors.dead_lettered as f64)],
    );
    add(
        "paused",
        "gauge",
        "1 when the whole service is paused.",
        vec![(base.clone(), f64::from(u8::from(s.paused)))],
    );
    add(
        "consumer_lag",
        "gauge",
        "Records between the group's committed offset and the high watermark.",
        s.lag
            .iter()
            .map(|l| {
                let p = l.partition.to_string();
                (
                    labels(&[("service", svc), ("topic", &l.topic), ("partition", &p)]),
                    l.lag.max(0) as f64,
                )
            })
            .collect(),
    );
    add(
        "connector_up",
        "gauge",
        "1 healthy, 0.5 degraded, 0 disconnected (needs a person).",
        s.connectors
            .iter()
            .map(|c| {
                let v = match HealthState::try_from(c.state).unwrap_or_default() {
                    HealthState::Healthy => 1.0,
                    HealthState::Degraded | HealthState::Unspecified => 0.5,
                    HealthState::Disconnected => 0.0,
                };
                (
                    labels(&[
                        ("service", svc),
                        ("connection", &c.connection_id),
                        ("target", &c.target),
                    ]),
                    v,
                )
            })
            .collect(),
    );
    add(
        "progress_ratio",
        "gauge",
        "Long-running work done / total.",
        s.progress
            .iter()
            .map(|p| {
                let ratio = if p.total == 0 {
                    0.0
                } else {
                    p.done as f64 / p.total as f64
                };
                (labels(&[("service", svc), ("work", &p.name)]), ratio)
            })
            .collect(),
    );
    for ((name, pairs), v) in counters {
        let mut all: Vec<(&str, &str)> = vec![("service", svc)];
        all.extend(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        add(
            &format!("{name}_total"),
            "counter",
            "Counted by the service.",
            vec![(labels(&all), *v as f64)],
        );
    }
    let mut out = String::new();
    for (name, f) in families {
        let _ = writeln!(
            out,
            "# HELP nopbridge_{name} {}\n# TYPE nopbridge_{name} {}",
            f.help, f.kind
        );
        for (l, v) in f.rows {
            let _ = writeln!(out, "nopbridge_{name}{l} {v}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nopbridge_proto::control::v1::{ConnectorHealth, Throughput};

    #[test]
    fn status_and_counters_become_labelled_series() {
        let s = StatusResponse {
            service: "connector-sink".into(),
            throughput: Some(Throughput {
                records_total: 42,
                records_per_second: 1.5,
                superseded: 3,
            }),
            connectors: vec![ConnectorHealth {
                connection_id: "qbo \"1\"".into(),
                target: "quickbooks_online".into(),
                state: HealthState::Disconnected as i32,
                ..Default::default()
            }],
            ..Default::default()
        };
        let counters = vec![
            (
                (
                    "api_calls",
                    vec![
                        ("target", "quickbooks_online".to_string()),
                        ("status", "429".to_string()),
                    ],
                ),
                3,
            ),
            (("dead_lettered", vec![("connection", "c1".to_string())]), 2),
        ];
        let text = render(&s, &counters);
        assert!(
            text.contains("nopbridge_records_total{service=\"connector-sink\"} 42"),
            "{text}"
        );
        assert!(
            text.contains("nopbridge_superseded_total{service=\"connector-sink\"} 3"),
            "{text}"
        );
        assert!(text.contains("nopbridge_connector_up{service=\"connector-sink\",connection=\"qbo \\\"1\\\"\",target=\"quickbooks_online\"} 0"), "{text}");
        assert!(text.contains("nopbridge_api_calls_total{service=\"connector-sink\",target=\"quickbooks_online\",status=\"429\"} 3"), "{text}");
        assert!(text.contains("# TYPE nopbridge_api_calls_total counter"));
        assert_eq!(
            text.matches("# TYPE nopbridge_dead_lettered_total").count(),
            1,
            "{text}"
        );
        assert!(
            text.contains(
                "nopbridge_dead_lettered_total{service=\"connector-sink\",connection=\"c1\"} 2"
            ),
            "{text}"
        );
    }
}
