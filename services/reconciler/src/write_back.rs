//! Write-back: when an accounting connection posts a store order's document, the store hears
//! about it through the `nopcommerce` target of connector-sink (topic
//! `sink.nopcommerce.commands.v1`): an order note with the document number, the order marked
//! paid when the books hold its payment, and a configured order status.
//!
//! Each action is sent once per store order (table `write_backs`): later updates of the same
//! document, redelivered results and the store's own echo of the change (a new order event,
//! a new post, a new result) send nothing again, so there is no loop. The command is produced
//! before the row is stored; a crash in between sends it again with the same command id,
//! and the store target finds the note, payment or status already there.
use crate::ledger::LedgerError;
use nopbridge_kafka::{CloudEvent, OutgoingRecord, Producer};
use nopbridge_model::ids::command_id;
use nopbridge_proto::{
    commands::v1::{
        command::Body, Command, CommandResult, ResultStatus, StoreWriteBack, TargetKind,
        TargetRecord, WriteBackAction,
    },
    events::v1::OrderStatus,
};
use nopbridge_runtime::{config::ConfigError, topics};
use prost::Message;
use serde::Deserialize;
use sqlx::PgPool;

/// `[[service.write_back]]`: what the store hears about one accounting connection's postings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteBackRule {
    /// The accounting connection whose postings are written back.
    pub connection_id: String,
    /// The store connection of connector-sink's `[[service.nopcommerce]]`.
    pub store_connection: String,
    /// The order note; `{target}`, `{entity}`, `{document}` and `{id}` are replaced. Empty: no note.
    #[serde(default = "default_note")]
    pub note: String,
    #[serde(default)]
    pub note_visible_to_customer: bool,
    /// Mark the store order paid when the books hold its payment (a sales receipt, or a
    /// payment applied to the invoice).
    #[serde(default)]
    pub mark_paid: bool,
    /// The order status to set once posted: `processing`, `complete` or `cancelled`
    /// (nopCommerce derives Processing/Complete from payment and shipping; see the target).
    #[serde(default)]
    pub order_status: Option<String>,
}

fn default_note() -> String {
    "Sent to accounting: {target} {entity} {document} (id {id})".into()
}

impl WriteBackRule {
    fn status(&self) -> Option<OrderStatus> {
        match self
            .order_status
            .as_deref()?
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "processing" => Some(OrderStatus::Processing),
            "complete" => Some(OrderStatus::Complete),
            "cancelled" => Some(OrderStatus::Cancelled),
            _ => None,
        }
    }

    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        for (field, v) in [
            ("connection_id", &self.connection_id),
            ("store_connection", &self.store_connection),
        ] {
            if v.trim().is_empty() {
                return Err(ConfigError::key(
                    format!("{key}.{field}"),
                    "must not be empty",
                ));
            }
        }
        if self.order_status.is_some() && self.status().is_none() {
            return Err(ConfigError::key(
                format!("{key}.order_status"),
                "expected processing, complete or cancelled",
            ));
        }
        Ok(())
    }
}

/// The rules of all connections (validated together: one rule per accounting connection).
pub fn validate_rules(rules: &[WriteBackRule]) -> Result<(), ConfigError> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in rules.iter().enumerate() {
        let key = format!("service.write_back[{i}]");
        r.validate(&key)?;
        if !seen.insert(r.connection_id.as_str()) {
            return Err(ConfigError::key(
                format!("{key}.connection_id"),
                format!("`{}` has two write-back rules", r.connection_id),
            ));
        }
    }
    Ok(())
}

pub struct WriteBack {
    pub rules: Vec<WriteBackRule>,
    pub producer: Producer,
    pub pool: PgPool,
    /// `sink.nopcommerce.commands.v1` (tests use their own).
    pub topic: String,
}

/// A posted document's main record and whether the books hold the payment.
fn posted(r: &CommandResult) -> Option<(&TargetRecord, bool)> {
    let ok = matches!(
        r.status(),
        ResultStatus::Created | ResultStatus::Updated | ResultStatus::Unchanged
    );
    if !ok || r.target == TargetKind::Nopcommerce as i32 {
        return None;
    }
    let sale = r.records.iter().find(|t| t.role == "sale");
    let payment = r.records.iter().find(|t| t.role == "payment");
    let paid = payment.is_some() || sale.is_some_and(|s| s.entity == "SalesReceipt");
    sale.or(payment).map(|t| (t, paid))
}

fn note_text(template: &str, r: &CommandResult, t: &TargetRecord) -> String {
    let target = match r.target() {
        TargetKind::QuickbooksOnline => "QuickBooks Online",
        TargetKind::Kashflow => "KashFlow",
        TargetKind::DynamicsGp => "Dynamics GP",
        _ => "accounting",
    };
    template
        .replace("{target}", target)
        .replace("{entity}", &t.entity)
        .replace("{document}", &t.document_number)
        .replace("{id}", &t.target_id)
}

impl WriteBack {
    /// Sends what this result calls for and has not been sent for its order.
    pub async fn on_result(&self, r: &CommandResult) -> Result<u32, LedgerError> {
        let Some(rule) = self
            .rules
            .iter()
            .find(|w| w.connection_id == r.connection_id)
        else {
            return Ok(0);
        };
        let (Some(order), Some((record, paid))) = (r.order.as_ref(), posted(r)) else {
            return Ok(0);
        };
        if order.order_id == 0 {
            return Ok(0);
        }
        let mut actions = Vec::new();
        if !rule.note.trim().is_empty() {
            actions.push(StoreWriteBack {
                action: WriteBackAction::AddOrderNote as i32,
                order_id: order.order_id,
                note: note_text(&rule.note, r, record),
                note_visible_to_customer: rule.note_visible_to_customer,
                ..StoreWriteBack::default()
            });
        }
        if rule.mark_paid && paid {
            actions.push(StoreWriteBack {
                action: WriteBackAction::MarkPaid as i32,
                order_id: order.order_id,
                ..StoreWriteBack::default()
            });
        }
        if let Some(status) = rule.status() {
            actions.push(StoreWriteBack {
                action: WriteBackAction::SetOrderStatus as i32,
                order_id: order.order_id,
                order_status: status as i32,
                ..StoreWriteBack::default()
            });
        }
        let mut sent = 0;
        for w in actions {
            let action = w.action().as_str_name();
            let done: Option<(String,)> = sqlx::query_as(
                "SELECT command_id FROM write_backs WHERE store_connection = $1 AND order_id = $2 AND action = $3",
            )
            .bind(&rule.store_connection)
            .bind(order.order_id)
            .bind(action)
            .fetch_optional(&self.pool)
            .await?;
            if done.is_some() {
                continue;
            }
            let id = command_id(
                &rule.store_connection,
                "store_write_back",
                &[&r.connection_id, &order.order_id.to_string()],
                action,
            )
            .to_string();
            let cmd = Command {
                command_id: id.clone(),
                connection_id: rule.store_connection.clone(),
                target: TargetKind::Nopcommerce as i32,
                tenant_id: r.tenant_id.clone(),
                store_id: r.store_id.clone(),
                source_event_ids: r.source_event_ids.clone(),
                order: Some(order.clone()),
                occurred_at: r.completed_at,
                body: Some(Body::StoreWriteBack(w)),
                ..Command::default()
            };
            let payload = cmd.encode_to_vec();
            // CloudEvents headers and the result's trace (the ledger write's span) carried on.
            let ce = CloudEvent::protobuf(
                &id,
                format!("nopbridge/reconciler/{}/{}", r.tenant_id, r.store_id),
                "nopbridge.commands.v1.Command",
            )
            .with_subject(format!("order/{}", order.order_id));
            self.producer
                .send(
                    OutgoingRecord::new(&self.topic, rule.store_connection.as_bytes(), &payload)
                        .event(&ce, None),
                )
                .await
                .map_err(|e| LedgerError::Produce(e.to_string()))?;
            sqlx::query(
                "INSERT INTO write_backs (store_connection, order_id, action, accounting_connection, command_id)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(&rule.store_connection)
            .bind(order.order_id)
            .bind(action)
            .bind(&r.connection_id)
            .bind(&id)
            .execute(&self.pool)
            .await?;
            sent += 1;
        }
        Ok(sent)
    }
}

/// The command topic of the store target.
pub fn topic() -> String {
    topics::commands("nopcommerce")
}
