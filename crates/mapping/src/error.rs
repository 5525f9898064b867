//! Mapping errors: each names the connection, the record, the field, and what was expected
//! versus found, so an accountant can act on the DLQ entry without reading code.
use nopbridge_model::Money;
use std::fmt;

/// Which record a mapping error concerns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorContext {
    pub connection_id: String,
    /// "order", "customer", "product", …
    pub entity: &'static str,
    pub entity_id: String,
    /// The store's display number when the record is an order.
    pub order_number: String,
    pub event_id: String,
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.entity, self.entity_id)?;
        if !self.order_number.is_empty() && self.order_number != self.entity_id {
            write!(f, " (#{})", self.order_number)?;
        }
        write!(f, " for connection {}", self.connection_id)
    }
}

/// One component of a document total, for the imbalance breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakdownItem {
    pub label: String,
    pub amount: Money,
}

/// The arithmetic behind an imbalance: every component, what it sums to, and the target.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Breakdown {
    pub items: Vec<BreakdownItem>,
}

impl Breakdown {
    pub fn push(&mut self, label: impl Into<String>, amount: Money) {
        self.items.push(BreakdownItem {
            label: label.into(),
            amount,
        });
    }
}

impl fmt::Display for Breakdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} {}", item.label, item.amount)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// A field of the event has a value the mapping cannot use.
    #[error("{context}: field `{field}`: expected {expected}, found {found}")]
    InvalidField {
        context: Box<ErrorContext>,
        field: String,
        expected: String,
        found: String,
    },
    /// The connection's mapping config has no entry for a value the event carries.
    #[error("{context}: field `{field}` = {found:?} has no mapping; add it to `{config_key}` in the connection's mapping config")]
    Unmapped {
        context: Box<ErrorContext>,
        field: String,
        found: String,
        config_key: String,
    },
    /// The document would not balance; nothing is emitted.
    #[error("{context}: document does not balance: {rule}: expected {expected}, found {found} (difference {difference}). Breakdown: {breakdown}")]
    Imbalance {
        context: Box<ErrorContext>,
        rule: String,
        expected: Money,
        found: Money,
        difference: Money,
        breakdown: Breakdown,
    },
    /// Arithmetic overflow or a currency mix-up inside one record.
    #[error("{context}: field `{field}`: {message}")]
    Arithmetic {
        context: Box<ErrorContext>,
        field: String,
        message: String,
    },
}

impl MappingError {
    pub fn context(&self) -> &ErrorContext {
        match self {
            Self::InvalidField { context, .. }
            | Self::Unmapped { context, .. }
            | Self::Imbalance { context, .. }
            | Self::Arithmetic { context, .. } => context,
        }
    }

    /// The field the error is about (for DLQ headers and the control API).
    pub fn field(&self) -> &str {
        match self {
            Self::InvalidField { field, .. }
            | Self::Unmapped { field, .. }
            | Self::Arithmetic { field, .. } => field,
            Self::Imbalance { .. } => "order_total",
        }
    }

    /// A short, stable classification for metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidField { .. } => "invalid_field",
            Self::Unmapped { .. } => "unmapped",
            Self::Imbalance { .. } => "imbalance",
            Self::Arithmetic { .. } => "arithmetic",
        }
    }
}

/// A mapping config problem, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: `{key}`: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: String,
    /// 1-based line of the key, when it could be located.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `tax.vat.codes[1].rate`.
    pub key: String,
    pub message: String,
}
