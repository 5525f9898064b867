//! `nopbridge status`, `pause` and `resume`.
use crate::{
    connect::{CliError, Endpoints, SERVICES},
    render::{or_dash, time, Table},
};
use nopbridge_proto::control::v1::{
    HealthState, PauseRequest, ResumeRequest, StatusRequest, StatusResponse,
};
use std::process::ExitCode;

async fn status_of(e: &Endpoints, service: &str) -> Result<StatusResponse, CliError> {
    let url = e.url(service)?.to_string();
    let mut client = e.control(service).await?;
    client
        .status(StatusRequest {})
        .await
        .map(|r| r.into_inner())
        .map_err(|s| CliError::from_status(service, &url, s))
}

/// Every service's status; exit code 2 if one is unreachable, 1 if a connector is unhealthy.
pub async fn run(e: &Endpoints) -> Result<ExitCode, CliError> {
    let answers = futures::future::join_all(SERVICES.iter().map(|s| status_of(e, s))).await;
    let mut services = Table::new(&[
        "SERVICE", "STATE", "GROUP", "LAG", "RECORDS", "REC/S", "RETRIED", "DLQ", "PAUSED",
    ]);
    let mut connectors = Table::new(&[
        "SERVICE",
        "CONNECTION",
        "TARGET",
        "HEALTH",
        "PAUSED",
        "LAST OK",
        "DETAIL",
    ]);
    let mut progress = Table::new(&["SERVICE", "WORK", "DONE", "TOTAL", "RATE/S", "ETA"]);
    let mut problems = Vec::new();
    let mut code = ExitCode::SUCCESS;
    for (service, answer) in SERVICES.iter().zip(answers) {
        let s = match answer {
            Ok(s) => s,
            Err(err) => {
                services.row(vec![service.to_string(), "UNREACHABLE".into()]);
                problems.push(err.to_string());
                code = ExitCode::from(2);
                continue;
            }
        };
        let lag: i64 = s.lag.iter().map(|l| l.lag.max(0)).sum();
        let tp = s.throughput.unwrap_or_default();
        let errors = s.errors.unwrap_or_default();
        services.row(vec![
            service.to_string(),
            "up".into(),
            or_dash(&s.consumer_group),
            lag.to_string(),
            tp.records_total.to_string(),
            format!("{:.1}", tp.records_per_second),
            errors.transient.to_string(),
            errors.dead_lettered.to_string(),
            if s.paused { "yes" } else { "no" }.into(),
        ]);
        for c in &s.connectors {
            let health = HealthState::try_from(c.state).unwrap_or_default();
            if health != HealthState::Healthy && code == ExitCode::SUCCESS {
                code = ExitCode::from(1);
            }
            connectors.row(vec![
                service.to_string(),
                c.connection_id.clone(),
                or_dash(&c.target),
                health_name(health).into(),
                if c.paused { "yes" } else { "no" }.into(),
                time(c.last_success_at.as_ref()),
                or_dash(&c.detail),
            ]);
        }
        for p in &s.progress {
            progress.row(vec![
                service.to_string(),
                p.name.clone(),
                p.done.to_string(),
                p.total.to_string(),
                format!("{:.1}", p.rate_per_second),
                format!("{}s", p.eta_seconds),
            ]);
        }
    }
    print!("{services}");
    if !connectors.is_empty() {
        print!("\n{connectors}");
    }
    if !progress.is_empty() {
        print!("\n{progress}");
    }
    for p in problems {
        eprintln!("\n{p}");
    }
    Ok(code)
}

fn health_name(h: HealthState) -> &'static str {
    match h {
        HealthState::Healthy => "healthy",
        HealthState::Degraded => "degraded",
        HealthState::Disconnected => "DISCONNECTED (reconnect needed)",
        HealthState::Unspecified => "unknown",
    }
}

pub async fn pause(
    e: &Endpoints,
    service: &str,
    connection: Option<&str>,
    pause: bool,
) -> Result<ExitCode, CliError> {
    let url = e.url(service)?.to_string();
    let mut client = e.control(service).await?;
    let connection_id = connection.unwrap_or_default().to_string();
    let paused = if pause {
        client.pause(PauseRequest { connection_id }).await
    } else {
        client
            .resume(ResumeRequest { connection_id })
            .await
            .map(|r| {
                tonic::Response::new(nopbridge_proto::control::v1::PauseResponse {
                    paused: r.into_inner().paused,
                })
            })
    }
    .map_err(|s| CliError::from_status(service, &url, s))?
    .into_inner()
    .paused;
    let what = connection.map_or_else(
        || "all connections".to_string(),
        |c| format!("connection {c}"),
    );
    println!(
        "{service}: {what} {}",
        if paused { "paused" } else { "running" }
    );
    Ok(ExitCode::SUCCESS)
}
