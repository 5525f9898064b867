//! Coalesces independent creates queued for one realm into `/batch` calls (≤ 30 items, 40
//! batch calls a minute); a lone write goes as a single call with its own `requestid`.
//!
//! The dispatcher waits until a call is admitted by the limiter before it looks at the queue,
//! and makes it a batch call only when the batch window has room, so under load writes pile
//! up while the realm's window is full and leave together. Only creates whose natural key
//! QuickBooks itself keeps unique are batchable (documents by DocNumber → 6140, names → 6240):
//! a batch carries one `requestid` for its whole composition, so after a crash a differently
//! composed batch is protected by that uniqueness instead, and the caller adopts the record.
//! Items of one batch never depend on each other (no forward references): callers queue a
//! write only after the writes it depends on have completed.
use super::{
    encoder,
    limiter::{CallKind, Permit},
    service::{parse_faults, QboError, QboRequest, QboService},
};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, Instrument};

/// One write: `POST /<path>` answering `{"<entity>": {…}}`.
#[derive(Debug, Clone)]
pub struct WriteOp {
    pub entity: &'static str,
    pub params: Vec<(&'static str, String)>,
    pub body: Value,
    pub request_id: Option<String>,
    pub batchable: bool,
}

impl WriteOp {
    pub fn create(entity: &'static str, body: Value, request_id: String) -> Self {
        Self {
            entity,
            params: Vec::new(),
            body,
            request_id: Some(request_id),
            batchable: false,
        }
    }

    pub fn batchable(mut self, yes: bool) -> Self {
        self.batchable = yes;
        self
    }

    fn request(&self) -> QboRequest {
        let mut req = QboRequest::post(self.entity.to_ascii_lowercase(), self.body.clone());
        req.params = self.params.clone();
        req.request_id = self.request_id.clone();
        req
    }
}

#[derive(Debug, Clone)]
pub struct WriteResult {
    /// The entity object QuickBooks returned.
    pub entity: Value,
    pub attempts: u32,
}

type Reply = oneshot::Sender<Result<WriteResult, QboError>>;

struct Pending {
    op: WriteOp,
    reply: Reply,
    /// The writer's span: the call joins the trace of the command it is for.
    span: tracing::Span,
}

#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Batcher {
    pub fn spawn(service: Arc<QboService>, max_items: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(service, max_items.clamp(1, 30), rx));
        Self { tx }
    }

    pub async fn write(&self, op: WriteOp) -> Result<WriteResult, QboError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Pending {
                op,
                reply,
                span: tracing::Span::current(),
            })
            .map_err(|_| QboError::invalid("shutdown", "connector is stopping"))?;
        rx.await
            .map_err(|_| QboError::invalid("shutdown", "connector is stopping"))?
    }
}

async fn dispatch(
    service: Arc<QboService>,
    max_items: usize,
    mut rx: mpsc::UnboundedReceiver<Pending>,
) {
    while let Some(first) = rx.recv().await {
        // Admitted first, composed after: while the realm's window is full, writes queue up
        // here and leave together in the next call.
        let slot = service.limiter().slot().await;
        let permit = service.limiter().admit(CallKind::Single, slot).await;
        let mut group = vec![first];
        if group[0].op.batchable && max_items > 1 && service.limiter().try_upgrade_to_batch() {
            while group.len() < max_items {
                match rx.try_recv() {
                    Ok(p) if p.op.batchable => group.push(p),
                    Ok(p) => {
                        let s = service.clone();
                        tokio::spawn(async move { single(&s, p, None).await });
                    }
                    Err(_) => break,
                }
            }
            if group.len() == 1 {
                service.limiter().undo_upgrade();
            }
        }
        let s = service.clone();
        if group.len() == 1 {
            if let Some(p) = group.pop() {
                tokio::spawn(async move { single(&s, p, Some(permit)).await });
            }
        } else {
            tokio::spawn(async move { batch(&s, group, permit).await });
        }
    }
}

async fn single(service: &QboService, p: Pending, admitted: Option<Permit>) {
    let result = service
        .call_in(&p.op.request(), admitted)
        .instrument(p.span.clone())
        .await
        .and_then(|r| {
            let entity = r.body.get(p.op.entity).cloned().ok_or_else(|| {
                QboError::invalid(
                    "protocol",
                    format!("QuickBooks answered without a {} object", p.op.entity),
                )
            })?;
            Ok(WriteResult {
                entity,
                attempts: r.attempts,
            })
        });
    let _ = p.reply.send(result);
}

async fn batch(service: &QboService, group: Vec<Pending>, admitted: Permit) {
    let ids: Vec<&str> = group
        .iter()
        .map(|p| p.op.request_id.as_deref().unwrap_or(""))
        .collect();
    let items: Vec<Value> = group
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut item = json!({"bId": i.to_string(), "operation": "create"});
            item[p.op.entity] = p.op.body.clone();
            item
        })
        .collect();
    let mut req = QboRequest::post("batch", json!({ "BatchItemRequest": items }))
        .request_id(encoder::batch_request_id(&ids));
    req.kind = CallKind::Batch;
    debug!(items = group.len(), "batch call");
    // One call for several commands: a child of the first, following from the others.
    let span = tracing::info_span!(parent: &group[0].span, "qbo batch", items = group.len());
    for p in &group[1..] {
        span.follows_from(&p.span);
    }
    let resp = match service.call_in(&req, Some(admitted)).instrument(span).await {
        Ok(r) => r,
        Err(e) => {
            // The whole call failed: each write goes again on its own (with its requestid).
            debug!(error = %e, "batch call failed, sending its items one by one");
            for p in group {
                single(service, p, None).await;
            }
            return;
        }
    };
    let answers = resp
        .body
        .get("BatchItemResponse")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, p) in group.into_iter().enumerate() {
        let bid = i.to_string();
        let answer = answers
            .iter()
            .find(|a| a.get("bId").and_then(Value::as_str) == Some(bid.as_str()));
        let result = match answer {
            Some(a) if a.get("Fault").is_some() => Err(QboError::Rejected {
                status: 400,
                faults: parse_faults(a),
            }),
            Some(a) => match a.get(p.op.entity) {
                Some(e) => Ok(WriteResult {
                    entity: e.clone(),
                    attempts: resp.attempts,
                }),
                None => Err(QboError::invalid(
                    "protocol",
                    "batch item answered without an entity",
                )),
            },
            None => Err(QboError::Unavailable {
                attempts: resp.attempts,
                reason: format!("batch answer lacks item {bid}"),
            }),
        };
        let _ = p.reply.send(result);
    }
}
