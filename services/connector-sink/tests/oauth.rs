//! OAuth: a refresh token rejected with invalid_grant marks the connection disconnected (in
//! the control API's connector health and in the database), its commands wait without calling
//! Intuit, then fail with class `auth`; a re-authorisation lets the next command through.
mod common;

use anyhow::Result;
use common::*;
use nopbridge_connector_sink::{sink::SinkHandler, xref::Store};
use nopbridge_kafka::{Handler, HandlerError, Producer};
use nopbridge_proto::{
    commands::v1::{CommandResult, ResultStatus},
    control::v1::HealthState,
};
use nopbridge_runtime::ControlState;
use std::{sync::Arc, time::Duration};

async fn health(control: &ControlState, connection: &str) -> HealthState {
    control
        .status()
        .await
        .connectors
        .iter()
        .find(|c| c.connection_id == connection)
        .map(|c| c.state())
        .unwrap_or(HealthState::Unspecified)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grant_disconnects_the_connection_without_a_retry_storm() -> Result<()> {
    let h = Harness::start(Opts {
        disconnected_wait_ms: 1500,
        ..Opts::default()
    })
    .await?;
    let cfg = h.config()?;
    let control = ControlState::new("connector-sink");
    let handler = Arc::new(
        SinkHandler::with_attempts(&cfg.service, Producer::new(&h.kafka)?, control.clone(), 5)
            .await?,
    );
    handler
        .handle(&record(
            &order(&h.connection, 1, "Ann", "ann@example.com"),
            0,
        ))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(health(&control, &h.connection).await, HealthState::Healthy);

    // The user disconnects the app in QuickBooks: every token of the realm dies.
    h.emu.handle().revoke_realm(&h.realm);
    let before = h.emu.handle().counters();
    let mut outcomes = Vec::new();
    for n in 2..5 {
        outcomes.push(
            handler
                .handle(&record(
                    &order(&h.connection, n, "Ann", "ann@example.com"),
                    n as i64,
                ))
                .await,
        );
    }
    for o in &outcomes {
        assert!(
            matches!(o, Err(HandlerError::Permanent { class, .. }) if class == "auth"),
            "{o:?}"
        );
    }
    assert_eq!(
        health(&control, &h.connection).await,
        HealthState::Disconnected
    );
    // The alert: counted once on /metrics however many commands were waiting.
    let alerts: Vec<u64> = control
        .counters()
        .into_iter()
        .filter(|((name, labels), _)| {
            *name == "alerts"
                && labels.contains(&("kind", "connector_disconnected".to_string()))
                && labels.contains(&("connection", h.connection.clone()))
        })
        .map(|(_, n)| n)
        .collect();
    assert_eq!(alerts, [1]);
    // The same story on /metrics: one refused refresh, the 401 before it, 2xx calls before.
    let counted = |name: &str, label: (&'static str, &str)| -> u64 {
        control
            .counters()
            .into_iter()
            .filter(|((n, labels), _)| {
                *n == name
                    && labels.contains(&("target", "quickbooks_online".to_string()))
                    && labels.contains(&("connection", h.connection.clone()))
                    && labels.contains(&(label.0, label.1.to_string()))
            })
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(counted("token_refreshes", ("outcome", "refused")), 1);
    assert!(counted("token_refreshes", ("outcome", "ok")) >= 1);
    assert_eq!(counted("api_calls", ("status", "401")), 1);
    assert!(counted("api_calls", ("status", "200")) >= 1);
    let after = h.emu.handle().counters();
    // One refused refresh and the one 401 that led to it: waiting commands call nobody.
    assert_eq!(after.invalid_grants - before.invalid_grants, 1, "{after:?}");
    assert!(
        after.requests - before.requests <= 1,
        "{before:?} → {after:?}"
    );
    let results = h.wait_results(4, Duration::from_secs(60)).await?;
    let failed: Vec<&CommandResult> = results
        .iter()
        .filter(|r| r.status() == ResultStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 3);
    assert!(failed
        .iter()
        .all(|r| r.error.as_ref().is_some_and(|e| e.class == "auth")));
    for r in &results {
        let text = format!("{r:?}");
        assert!(
            !text.contains("emulator-secret") && !text.contains("RT1-"),
            "no secret in results"
        );
    }

    // An operator re-authorises: the stored token is replaced and the next command posts.
    let fresh = h.emu.handle().issue_tokens(&h.realm).refresh_token;
    Store::connect(&h.db.url, 2)
        .await?
        .reconnect(&h.connection, &fresh)
        .await?;
    handler
        .handle(&record(
            &order(&h.connection, 5, "Ann", "ann@example.com"),
            5,
        ))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(health(&control, &h.connection).await, HealthState::Healthy);
    assert_eq!(h.entities("SalesReceipt").len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sink_processes_sharing_a_connection_refresh_one_at_a_time_and_keep_the_rotated_token(
) -> Result<()> {
    let h = Harness::start(Opts::default()).await?;
    let cfg = h.config()?;
    // Two handlers stand for two sink processes: own memory, shared database.
    let a = Arc::new(
        SinkHandler::with_attempts(
            &cfg.service,
            Producer::new(&h.kafka)?,
            ControlState::new("a"),
            5,
        )
        .await?,
    );
    let b = Arc::new(
        SinkHandler::with_attempts(
            &cfg.service,
            Producer::new(&h.kafka)?,
            ControlState::new("b"),
            5,
        )
        .await?,
    );
    let mut tasks = Vec::new();
    for n in 0..20u64 {
        let handler = if n % 2 == 0 { a.clone() } else { b.clone() };
        let cmd = order(
            &h.connection,
            100 + n,
            &format!("P{n}"),
            &format!("p{n}@example.com"),
        );
        tasks.push(tokio::spawn(async move {
            handler.handle(&record(&cmd, n as i64)).await
        }));
        if n == 9 {
            h.emu.handle().expire_access_tokens(&h.realm);
        }
    }
    for t in tasks {
        t.await?.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let c = h.emu.handle().counters();
    // The emulator rotates on every refresh with no grace: a racing refresh would have
    // used a dead token and got invalid_grant.
    assert_eq!(c.invalid_grants, 0, "{c:?}");
    assert!(c.token_refreshes <= 4, "{c:?}");
    assert_eq!(h.entities("SalesReceipt").len(), 20);

    // A third process starts with empty memory: it can only work if the last rotated
    // refresh token reached the database.
    h.emu.handle().expire_access_tokens(&h.realm);
    let c3 = SinkHandler::with_attempts(
        &cfg.service,
        Producer::new(&h.kafka)?,
        ControlState::new("c"),
        5,
    )
    .await?;
    c3.handle(&record(
        &order(&h.connection, 200, "Q", "q@example.com"),
        20,
    ))
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let after = h.emu.handle().counters();
    assert_eq!(after.invalid_grants, 0, "{after:?}");
    assert_eq!(after.token_refreshes, c.token_refreshes + 1, "{after:?}");
    assert_eq!(h.entities("SalesReceipt").len(), 21);
    Ok(())
}
