//! The entry point: routes a canonical event to its store's connections and maps it for each.
use crate::catalog_events::{map_customer, map_product, map_stock};
use crate::config::{self, ConnectionConfig, CurrencyConfig, Target};
use crate::error::{ConfigError, ErrorContext, MappingError};
use crate::fitting::Fitter;
use crate::order_events::map_order;
use crate::payment_events::map_payment_transaction;
use crate::pb::commands::{command::Body, Command, OrderReference, TargetKind};
use crate::pb::events::{
    Customer, EventMeta, InventoryLevel, Order, PaymentTransaction, Product, ReturnRequest,
    Shipment, SourceSystem,
};
use crate::summary;
use nopbridge_model::ids::{command_id, content_hash};
use nopbridge_model::Rate;
use std::collections::HashMap;
use std::path::Path;

/// A decoded canonical event, one variant per canonical topic.
#[derive(Debug, Clone, PartialEq)]
pub enum CanonicalEvent {
    Order(Box<Order>),
    Customer(Box<Customer>),
    Product(Box<Product>),
    InventoryLevel(Box<InventoryLevel>),
    PaymentTransaction(Box<PaymentTransaction>),
    Shipment(Box<Shipment>),
    ReturnRequest(Box<ReturnRequest>),
}

impl CanonicalEvent {
    /// Decodes a record of topic `canonical.<entity>.v1`; `None` for an unknown entity name.
    pub fn decode(entity: &str, payload: &[u8]) -> Option<Result<Self, prost::DecodeError>> {
        use prost::Message;
        Some(match entity {
            "order" => Order::decode(payload).map(|e| Self::Order(Box::new(e))),
            "customer" => Customer::decode(payload).map(|e| Self::Customer(Box::new(e))),
            "product" => Product::decode(payload).map(|e| Self::Product(Box::new(e))),
            "inventory_level" => {
                InventoryLevel::decode(payload).map(|e| Self::InventoryLevel(Box::new(e)))
            }
            "payment_transaction" => {
                PaymentTransaction::decode(payload).map(|e| Self::PaymentTransaction(Box::new(e)))
            }
            "shipment" => Shipment::decode(payload).map(|e| Self::Shipment(Box::new(e))),
            "return_request" => {
                ReturnRequest::decode(payload).map(|e| Self::ReturnRequest(Box::new(e)))
            }
            _ => return None,
        })
    }

    pub fn meta(&self) -> Option<&EventMeta> {
        match self {
            Self::Order(e) => e.meta.as_ref(),
            Self::Customer(e) => e.meta.as_ref(),
            Self::Product(e) => e.meta.as_ref(),
            Self::InventoryLevel(e) => e.meta.as_ref(),
            Self::PaymentTransaction(e) => e.meta.as_ref(),
            Self::Shipment(e) => e.meta.as_ref(),
            Self::ReturnRequest(e) => e.meta.as_ref(),
        }
    }
}

/// One loaded connection with what the hot path needs precomputed.
#[derive(Debug, Clone)]
pub struct Connection {
    pub config: ConnectionConfig,
    /// Hex SHA-256 of the parsed config, stamped on every command for audit.
    pub config_hash: String,
    vat_codes: Vec<(Rate, String)>,
}

impl Connection {
    pub fn new(config: ConnectionConfig) -> Self {
        let config_hash = content_hash(format!("{config:?}").as_bytes());
        let vat_codes = config
            .tax
            .vat
            .codes
            .iter()
            .map(|c| (c.rate, c.code.clone()))
            .collect();
        Self {
            config,
            config_hash,
            vat_codes,
        }
    }

    pub(crate) fn vat_code(&self, rate: Rate) -> Option<&str> {
        self.vat_codes
            .iter()
            .find(|(r, _)| *r == rate)
            .map(|(_, c)| c.as_str())
    }

    pub(crate) fn currency(&self, ctx: &ErrorContext) -> Result<&CurrencyConfig, MappingError> {
        self.config
            .currency
            .as_ref()
            .ok_or_else(|| MappingError::Unmapped {
                context: ctx.clone().into(),
                field: "currency".into(),
                found: "no currency policy".into(),
                config_key: "currency".into(),
            })
    }

    fn target_kind(&self) -> TargetKind {
        match self.config.target {
            Target::QuickbooksOnline => TargetKind::QuickbooksOnline,
            Target::Kashflow => TargetKind::Kashflow,
            Target::DynamicsGp => TargetKind::DynamicsGp,
            Target::Nopcommerce => TargetKind::Nopcommerce,
        }
    }

    fn source_system(&self) -> SourceSystem {
        match self.config.target {
            Target::QuickbooksOnline => SourceSystem::QuickbooksOnline,
            Target::Kashflow => SourceSystem::Kashflow,
            Target::DynamicsGp => SourceSystem::DynamicsGp,
            Target::Nopcommerce => SourceSystem::Nopcommerce,
        }
    }

    /// Wraps a body in the command envelope. `id_parts` name the document (not the event),
    /// so a re-sent or re-derived command for the same document gets the same id.
    #[allow(clippy::too_many_arguments)] // each argument is a distinct part of the result
    pub(crate) fn envelope(
        &self,
        kind: &str,
        id_parts: &[&str],
        meta: Option<&EventMeta>,
        source_event_ids: Vec<String>,
        order: Option<OrderReference>,
        fitter: Fitter,
        body: Body,
    ) -> Command {
        let id = command_id(&self.config.connection_id, kind, id_parts, "");
        Command {
            command_id: id.to_string(),
            connection_id: self.config.connection_id.clone(),
            target: self.target_kind() as i32,
            tenant_id: self.config.tenant.clone(),
            store_id: meta.map(|m| m.store_id.clone()).unwrap_or_default(),
            source_event_ids,
            order,
            occurred_at: meta.and_then(|m| m.occurred_at),
            truncations: fitter.into_truncations(),
            mapping_config_hash: self.config_hash.clone(),
            // Set by the transform service for events re-emitted by a drift repair.
            verify_target: false,
            body: Some(body),
        }
    }
}

/// Maps canonical events to commands for every connection their store is routed to.
#[derive(Debug, Clone)]
pub struct Mapper {
    connections: Vec<Connection>,
    routes: HashMap<(String, String), Vec<usize>>,
}

impl Mapper {
    /// Builds a mapper from validated configs; connection ids must be unique.
    pub fn new(configs: Vec<ConnectionConfig>) -> Result<Self, ConfigError> {
        let mut connections: Vec<Connection> = Vec::with_capacity(configs.len());
        let mut routes: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for cfg in configs {
            if let Err((key, message)) = config::validate(&cfg) {
                return Err(ConfigError {
                    file: format!("<connection {}>", cfg.connection_id),
                    line: None,
                    key,
                    message,
                });
            }
            if connections
                .iter()
                .any(|c| c.config.connection_id == cfg.connection_id)
            {
                return Err(ConfigError {
                    file: format!("<connection {}>", cfg.connection_id),
                    line: None,
                    key: "connection_id".into(),
                    message: format!("connection id {:?} is used twice", cfg.connection_id),
                });
            }
            let idx = connections.len();
            for store in &cfg.stores {
                routes
                    .entry((cfg.tenant.clone(), store.clone()))
                    .or_default()
                    .push(idx);
            }
            connections.push(Connection::new(cfg));
        }
        Ok(Self {
            connections,
            routes,
        })
    }

    /// Loads one YAML file per connection.
    pub fn from_files<P: AsRef<Path>>(paths: &[P]) -> Result<Self, ConfigError> {
        let mut configs = Vec::with_capacity(paths.len());
        let mut seen: Vec<(String, String)> = Vec::new();
        for p in paths {
            let cfg = config::load_file(p.as_ref())?;
            let file = p.as_ref().display().to_string();
            if let Some((_, first)) = seen.iter().find(|(id, _)| *id == cfg.connection_id) {
                return Err(ConfigError {
                    file,
                    line: Some(1),
                    key: "connection_id".into(),
                    message: format!(
                        "connection id {:?} is already defined in {first}",
                        cfg.connection_id
                    ),
                });
            }
            seen.push((cfg.connection_id.clone(), file));
            configs.push(cfg);
        }
        Self::new(configs)
    }

    /// Loads every `*.yaml` / `*.yml` file of `dir` (sorted by name), one connection each.
    pub fn from_dir(dir: &Path) -> Result<Self, ConfigError> {
        let entries = std::fs::read_dir(dir).map_err(|e| ConfigError {
            file: dir.display().to_string(),
            line: None,
            key: String::new(),
            message: format!("cannot read the config directory: {e}"),
        })?;
        let mut paths: Vec<std::path::PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        paths.sort();
        Self::from_files(&paths)
    }

    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }

    pub fn connection(&self, id: &str) -> Option<&Connection> {
        self.connections
            .iter()
            .find(|c| c.config.connection_id == id)
    }

    /// The connections `tenant`/`store` is routed to.
    pub fn routes(&self, tenant: &str, store: &str) -> impl Iterator<Item = &Connection> {
        self.routes
            .get(&(tenant.to_string(), store.to_string()))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.connections.get(i))
    }

    /// Maps one event: zero or more commands (or errors) per routed connection. An empty
    /// result means nothing is due (e.g. an unpaid order waiting for payment).
    pub fn map(&self, event: &CanonicalEvent) -> Vec<Result<Command, MappingError>> {
        let Some(meta) = event.meta() else {
            return Vec::new();
        };
        let store = match (meta.store_id.as_str(), event) {
            ("", CanonicalEvent::Order(o)) => o.store_id.to_string(),
            (s, _) => s.to_string(),
        };
        let mut out = Vec::new();
        for conn in self.routes(&meta.tenant_id, &store) {
            map_for(conn, event, meta, &mut out);
        }
        out
    }

    /// The business date ("YYYY-MM-DD") whose daily summary `order` counts toward for
    /// `connection_id` (paid, and its status says post or refund), or `None` when it belongs
    /// in no summary now (or the connection is unknown). The service collects by this date.
    pub fn summary_day(&self, connection_id: &str, order: &Order) -> Option<String> {
        summary::summary_day(self.connection(connection_id)?, order)
    }

    /// Daily summary for `connection_id`: one sales receipt per store, currency and payment
    /// method over `orders` whose business date is `date` ("YYYY-MM-DD") and whose status
    /// says post. Pure aggregation; the service decides when a day is complete.
    pub fn summarize_daily(
        &self,
        connection_id: &str,
        date: &str,
        orders: &[Order],
    ) -> Vec<Result<Command, MappingError>> {
        match self.connection(connection_id) {
            Some(conn) => summary::summarize_daily(conn, date, orders),
            None => Vec::new(),
        }
    }
}

pub(crate) fn ctx_for(
    conn: &Connection,
    entity: &'static str,
    id: String,
    order_number: String,
    meta: &EventMeta,
) -> ErrorContext {
    ErrorContext {
        connection_id: conn.config.connection_id.clone(),
        entity,
        entity_id: id,
        order_number,
        event_id: meta.event_id.clone(),
    }
}

fn map_for(
    conn: &Connection,
    event: &CanonicalEvent,
    meta: &EventMeta,
    out: &mut Vec<Result<Command, MappingError>>,
) {
    let accounting = conn.config.target.is_accounting();
    // Never echo a change back to the system it came from.
    if meta.source_system == conn.source_system() as i32 {
        return;
    }
    match event {
        CanonicalEvent::Order(o) if accounting => map_order(conn, o, meta, out),
        CanonicalEvent::Customer(c) if accounting => {
            if let Some(r) = map_customer(conn, c, meta) {
                out.push(r);
            }
        }
        // Only catalogue changes are item upserts; stock moves arrive as inventory levels.
        CanonicalEvent::Product(p) if accounting && !p.stock_change_only => {
            out.push(Ok(map_product(conn, p, meta)))
        }
        // A store stock change the bridge made itself (its stock history message carries
        // the `[nopbridge <command id>]` marker) came from a back office: never send it on.
        CanonicalEvent::InventoryLevel(l) if accounting && is_bridge_stock_change(l) => {}
        CanonicalEvent::InventoryLevel(l) if conn.config.stock.push || !accounting => {
            out.push(Ok(map_stock(conn, l, meta)))
        }
        CanonicalEvent::PaymentTransaction(t) => {
            if let Some(r) = map_payment_transaction(conn, t, meta) {
                out.push(r);
            }
        }
        // Shipments and return requests move no money (reference §7 pitfall 22); order
        // shipping status drives posting through the status map instead.
        _ => {}
    }
}

/// The marker the store write-back puts in every stock history message it writes.
pub const STOCK_MARKER_PREFIX: &str = "[nopbridge ";

fn is_bridge_stock_change(l: &InventoryLevel) -> bool {
    l.message.contains(STOCK_MARKER_PREFIX)
}

/// The sink topic of a command: `sink.<target>.commands.v1`; its key is `connection_id`.
pub fn command_topic(cmd: &Command) -> String {
    let target = match TargetKind::try_from(cmd.target) {
        Ok(TargetKind::QuickbooksOnline) => "quickbooks_online",
        Ok(TargetKind::Kashflow) => "kashflow",
        Ok(TargetKind::DynamicsGp) => "dynamics_gp",
        Ok(TargetKind::Nopcommerce) => "nopcommerce",
        _ => "unspecified",
    };
    format!("sink.{target}.commands.v1")
}
