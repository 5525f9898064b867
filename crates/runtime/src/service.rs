//! The skeleton every service runs: make sure its topics exist, serve gRPC, run its consumer
//! loop, and on SIGTERM stop fetching, finish in-flight work, commit and exit within a deadline.
use crate::{
    config::{GrpcConfig, ServiceConfig},
    grpc, ControlState,
};
use nopbridge_kafka::{
    ensure_topics, run_consumer, ConsumerConfig, ConsumerHandle, Handler, KafkaConfig, KafkaError,
    Producer, TopicSpec,
};
use std::{sync::Arc, time::Duration};
use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

#[derive(Debug, Error)]
pub enum ServiceError {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Grpc(#[from] grpc::GrpcError),
    #[error("descriptor set: {0}")]
    Descriptors(#[from] prost_reflect::DescriptorError),
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("shutdown deadline of {0:?} passed with work unfinished")]
    Deadline(Duration),
}

/// What a service brings to the skeleton.
pub struct ServiceParts<H> {
    pub name: &'static str,
    pub kafka: KafkaConfig,
    pub grpc: GrpcConfig,
    pub consumer: ConsumerConfig,
    /// Topics created at start when missing (its inputs, outputs and DLQ).
    pub topics: Vec<TopicSpec>,
    pub handler: Arc<H>,
    pub shutdown_deadline: Duration,
    /// Served as the control API; services keep a clone to report connector health,
    /// progress, or to install a reload hook.
    pub control: ControlState,
    /// Prometheus `/metrics` listener (telemetry.metrics_listen); none when unset.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// More gRPC services of this service (e.g. the reconciler's Ledger).
    pub extra_services: Option<grpc::ExtraServices>,
    /// The consumer loop's handle (status, pause, assignment), made with the parts so the
    /// service can hold it before the loop starts.
    pub handle: ConsumerHandle,
}

impl<H> ServiceParts<H> {
    /// Takes the shared sections of a service config; the consumer's group, topics and stage
    /// default to `nopbridge-<name>`, `inputs` and the service's stage.
    pub fn from_config<S>(
        name: &'static str,
        stage: &str,
        inputs: &[String],
        cfg: ServiceConfig<S>,
        handler: Arc<H>,
    ) -> Self {
        let consumer = cfg
            .consumer
            .or_defaults(&format!("nopbridge-{name}"), inputs, stage);
        let handle = ConsumerHandle::new(&consumer.group_id);
        let mut topics: Vec<TopicSpec> = consumer
            .topics
            .iter()
            .map(|t| TopicSpec::new(t, 3))
            .collect();
        topics.push(TopicSpec::new(consumer.dlq_topic(), 1));
        Self {
            name,
            kafka: cfg.kafka,
            grpc: cfg.grpc,
            consumer,
            topics,
            handler,
            shutdown_deadline: Duration::from_millis(cfg.shutdown_deadline_ms),
            control: ControlState::new(name),
            metrics_listen: cfg.telemetry.metrics_listen,
            extra_services: None,
            handle,
        }
    }

    /// Uses a control state the service made beforehand (to share it with its handler).
    pub fn with_control(mut self, control: ControlState) -> Self {
        self.control = control;
        self
    }

    pub fn with_services(mut self, add: grpc::ExtraServices) -> Self {
        self.extra_services = Some(add);
        self
    }
}

pub async fn run<H: Handler>(
    parts: ServiceParts<H>,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    ensure_topics(&parts.kafka, &parts.topics).await?;
    let producer = Producer::new(&parts.kafka)?;
    let handle = parts.handle.clone();
    let control = parts.control.clone();
    control.add_consumer(handle.clone());
    let listener = grpc::bind(parts.grpc.listen).await?;
    let grpc_task = tokio::spawn(grpc::serve(
        listener,
        control,
        parts.grpc.auth_token.clone(),
        parts.extra_services,
        shutdown.clone(),
    ));
    if let Some(addr) = parts.metrics_listen {
        let listener = crate::metrics::bind(addr)
            .await
            .map_err(|source| ServiceError::Metrics { addr, source })?;
        let (control, stop) = (parts.control.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::metrics::serve(listener, control, stop).await {
                warn!(error = %e, "metrics endpoint stopped");
            }
        });
    }
    let consumer = run_consumer(
        &parts.kafka,
        parts.consumer,
        parts.handler,
        producer.clone(),
        handle,
        shutdown.clone(),
    );
    info!(service = parts.name, "started");

    let deadline = parts.shutdown_deadline;
    let stopped = async {
        let consumed = consumer.await;
        let served = grpc_task.await.unwrap_or(Ok(()));
        consumed?;
        served?;
        Ok::<(), ServiceError>(())
    };
    tokio::pin!(stopped);
    // Run until the loop ends by itself or a signal arrives; then give it the deadline.
    tokio::select! {
        r = &mut stopped => return r,
        _ = shutdown.cancelled() => info!(service = parts.name, ?deadline, "stopping"),
    }
    let result = match tokio::time::timeout(deadline, &mut stopped).await {
        Ok(r) => r,
        Err(_) => Err(ServiceError::Deadline(deadline)),
    };
    if let Err(e) = producer.flush(Duration::from_secs(5)) {
        warn!(error = %e, "producer flush at shutdown");
    }
    info!(service = parts.name, "stopped");
    result
}
