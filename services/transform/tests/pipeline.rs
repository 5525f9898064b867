//! transform as a service: canonical order events in, commands out, mapping failures in the
//! DLQ with their connection, and the mapping reloaded through the control API.
use anyhow::{Context, Result};
use nopbridge_kafka::{
    ensure_topics, read_topic, CloudEvent, OutgoingRecord, Producer, TopicSpec, TraceContext,
};
use nopbridge_proto::{
    commands::v1::{command::Body, Command},
    control::v1::{control_client::ControlClient, ReloadRequest},
    events::v1 as ev,
};
use nopbridge_testkit::{
    orders::{paid_order, usd},
    unique, Broker,
};
use prost::Message;
use std::{net::TcpListener, path::Path, time::Duration};

/// The shared paid order (2 × 40.00 taxed at 8.875 %, shipping 8.00) claiming `total`.
fn order(id: i64, total: i64) -> ev::Order {
    ev::Order {
        order_total: usd(total),
        ..paid_order(id, 1_710_408_067)
    }
}

fn example_mapping() -> Result<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/mapping/examples/connection.yaml");
    Ok(std::fs::read_to_string(path)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_become_commands_failures_go_to_the_dlq_and_mapping_reloads() -> Result<()> {
    let broker = Broker::start().await?;
    let kafka = broker.kafka_config();
    let (source, suffix, dlq) = (
        unique("canonical.order"),
        format!("-{}", unique("t")),
        unique("dlq.transform"),
    );
    let commands = format!("sink.quickbooks_online.commands.v1{suffix}");
    ensure_topics(
        &kafka,
        &[
            TopicSpec::new(&source, 2),
            TopicSpec::new(&commands, 1),
            TopicSpec::new(&dlq, 1),
        ],
    )
    .await?;

    let dir = tempfile::tempdir()?;
    let mapping = dir.path().join("qbo.yaml");
    std::fs::write(&mapping, example_mapping()?)?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let cfg_path = dir.path().join("transform.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[kafka]\nbootstrap_servers = \"{}\"\n[grpc]\nlisten = \"127.0.0.1:{port}\"\n\
             [consumer]\ngroup_id = \"{}\"\ntopics = [\"{source}\"]\ndlq_topic = \"{dlq}\"\n\
             [service]\nmapping_files = [\"{}\"]\ncommand_topic_suffix = \"{suffix}\"\n",
            broker.bootstrap(),
            unique("transform"),
            mapping.display()
        ),
    )?;
    let cfg: nopbridge_transform::Config = nopbridge_runtime::config::load(Some(cfg_path))?;
    let stop = nopbridge_kafka::CancellationToken::new();
    let run = tokio::spawn(nopbridge_transform::run(cfg, stop.clone()));

    let producer = Producer::new(&kafka)?;
    let trace = TraceContext::new_root();
    for (id, total) in [(1001, 9510), (1002, 9999)] {
        let payload = order(id, total).encode_to_vec();
        let ce = CloudEvent::protobuf(format!("evt-{id}"), "test", "nopbridge.events.v1.Order");
        let key = format!("acme/1/order/{id}");
        producer
            .send(OutgoingRecord::new(&source, key.as_bytes(), &payload).event(&ce, Some(&trace)))
            .await?;
    }

    // Order 1001 balances: a sales receipt for 95.10 USD, traced from the event.
    let out = read_topic(&kafka, &commands, 1, Duration::from_secs(30)).await?;
    let sales: Vec<(Command, _)> = out
        .iter()
        .filter_map(|r| Command::decode(r.payload()).ok().map(|c| (c, r)))
        .filter(|(c, _)| matches!(c.body, Some(Body::PostSale(_))))
        .collect();
    assert_eq!(sales.len(), 1, "one sale document, for order 1001 only");
    let (cmd, rec) = &sales[0];
    assert_eq!(cmd.order.as_ref().map(|o| o.order_id), Some(1001));
    let Some(Body::PostSale(sale)) = &cmd.body else {
        unreachable!()
    };
    assert_eq!(
        sale.total
            .as_ref()
            .map(|t| (t.minor_units, t.currency.as_str())),
        Some((9510, "USD"))
    );
    assert_eq!(rec.key_str(), "qbo-realm-1");
    assert_eq!(
        rec.cloud_event().map(|c| c.event_type),
        Some("nopbridge.commands.v1.Command".to_string())
    );
    assert_eq!(
        rec.trace_context().map(|t| t.trace_id),
        Some(trace.trace_id)
    );

    // Order 1002 claims 99.99 but its parts add up to 95.10: dead-lettered with the reason.
    let dead = read_topic(&kafka, &dlq, 1, Duration::from_secs(30)).await?;
    let d = dead
        .first()
        .context("no dead letter for the imbalanced order")?;
    assert_eq!(
        d.header_str("dlq_connection_id").as_deref(),
        Some("qbo-realm-1")
    );
    let reason = d.header_str("dlq_error_message").unwrap_or_default();
    assert!(
        reason.contains("1002") && reason.contains("balance"),
        "{reason}"
    );
    assert_eq!(
        ev::Order::decode(d.payload())?.order_id,
        1002,
        "the original event, byte for byte"
    );

    // Reload: a broken file is refused with its line, the running mapping stays; a fixed one loads.
    let mut control = ControlClient::connect(format!("http://127.0.0.1:{port}")).await?;
    std::fs::write(
        &mapping,
        example_mapping()?.replace("posting:", "posting:\n  no_such_key: 1"),
    )?;
    let refused = control.reload(ReloadRequest {}).await?.into_inner();
    assert!(!refused.reloaded);
    assert!(
        refused.message.contains("qbo.yaml") && refused.message.contains("no_such_key"),
        "{}",
        refused.message
    );
    std::fs::write(&mapping, example_mapping()?)?;
    let loaded = control.reload(ReloadRequest {}).await?.into_inner();
    assert!(loaded.reloaded, "{}", loaded.message);

    // An event re-emitted for drift repair: its commands ask the target to check first.
    let payload = order(1003, 9510).encode_to_vec();
    let ce = CloudEvent::protobuf("evt-1003", "test", "nopbridge.events.v1.Order");
    producer
        .send(
            OutgoingRecord::new(&source, b"acme/1/order/1003", &payload)
                .event(&ce, None)
                .header(nopbridge_runtime::topics::VERIFY_TARGET_HEADER, "repair-1"),
        )
        .await?;
    let out = read_topic(&kafka, &commands, 2, Duration::from_secs(30)).await?;
    let verify: Vec<(i64, bool)> = out
        .iter()
        .filter_map(|r| Command::decode(r.payload()).ok())
        .filter(|c| matches!(c.body, Some(Body::PostSale(_))))
        .map(|c| {
            (
                c.order.map(|o| o.order_id).unwrap_or_default(),
                c.verify_target,
            )
        })
        .collect();
    assert_eq!(verify, vec![(1001, false), (1003, true)]);

    stop.cancel();
    run.await??;
    Ok(())
}
