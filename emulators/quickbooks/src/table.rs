//! The stored objects of one entity kind, by Id, with an equality index over the fields
//! clients look records up by. QuickBooks answers `WHERE DocNumber = '1001'` without reading
//! every document; scanning every object per query made the emulator the pipeline's
//! bottleneck as a company grew. The index only narrows the rows a query looks at: each one
//! is still checked against the whole condition, so answers are the same as a full scan.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::json::{parse_decimal, Object};

/// The indexed fields (references compare by `value`, emails by `Address`, as in queries).
pub const INDEXED: [&str; 5] = [
    "DocNumber",
    "DisplayName",
    "Name",
    "Sku",
    "PrimaryEmailAddr",
];

/// Value of a (dotted) field as queries compare it: references by `value`, emails by
/// `Address`.
pub fn field_value<'a>(obj: &'a Object, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut current = obj.get(parts.next()?)?;
    for part in parts {
        current = current.get(part)?;
    }
    if let Value::Object(m) = current {
        return m.get("value").or_else(|| m.get("Address"));
    }
    Some(current)
}

/// The index keys of a value: its text trimmed and in lower case (equal texts, and names equal
/// as QuickBooks compares them, have equal keys), and, for a number (or a numeric
/// string without '-'), `#` and the number in canonical form, since queries compare those
/// numerically ('1001' equals '1001.00'). A value of another type matches no literal.
pub fn value_keys(value: &Value) -> Vec<String> {
    let text = match value {
        Value::String(s) => text_key(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Vec::new(),
    };
    let mut keys = vec![text];
    if !matches!(value, Value::String(s) if s.contains('-')) {
        if let Some(d) = parse_decimal(value) {
            keys.push(number_key(d));
        }
    }
    keys
}

/// The key of a text.
pub fn text_key(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The key of a number: `#` and its canonical form, apart from any text.
pub fn number_key(d: rust_decimal::Decimal) -> String {
    format!("#{}", d.normalize())
}

#[derive(Default)]
pub struct Table {
    rows: BTreeMap<u64, Object>,
    /// Field → key → Ids of the objects with that key in that field.
    index: HashMap<&'static str, HashMap<String, BTreeSet<u64>>>,
}

fn keys_of(obj: &Object) -> Vec<(&'static str, String)> {
    INDEXED
        .iter()
        .filter_map(|f| Some((*f, field_value(obj, f)?)))
        .flat_map(|(f, v)| value_keys(v).into_iter().map(move |k| (f, k)))
        .collect()
}

impl Table {
    pub fn insert(&mut self, id: u64, obj: Object) {
        self.remove(id);
        for (field, key) in keys_of(&obj) {
            self.index
                .entry(field)
                .or_default()
                .entry(key)
                .or_default()
                .insert(id);
        }
        self.rows.insert(id, obj);
    }

    pub fn remove(&mut self, id: u64) -> Option<Object> {
        let old = self.rows.remove(&id)?;
        for (field, key) in keys_of(&old) {
            let Some(keys) = self.index.get_mut(field) else {
                continue;
            };
            if let Some(ids) = keys.get_mut(&key) {
                ids.remove(&id);
                if ids.is_empty() {
                    keys.remove(&key);
                }
            }
        }
        Some(old)
    }

    pub fn get(&self, id: u64) -> Option<&Object> {
        self.rows.get(&id)
    }

    /// For changes to fields outside [`INDEXED`] only (balances, quantities, links, tokens).
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Object> {
        self.rows.get_mut(&id)
    }

    pub fn values(&self) -> impl Iterator<Item = &Object> {
        self.rows.values()
    }

    /// Objects that may have one of `keys` (see [`value_keys`]) in `field`, by Id: those that
    /// have, or every object when the field is not indexed. Callers check the field itself.
    pub fn lookup(&self, field: &str, keys: &[String]) -> Vec<&Object> {
        if !INDEXED.contains(&field) {
            return self.rows.values().collect();
        }
        let Some(index) = self.index.get(field) else {
            return Vec::new();
        };
        let ids: BTreeSet<u64> = keys
            .iter()
            .filter_map(|k| index.get(k))
            .flatten()
            .copied()
            .collect();
        ids.iter().filter_map(|id| self.rows.get(id)).collect()
    }
}
