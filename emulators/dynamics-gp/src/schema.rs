//! The eConnect schema for the served transaction types (generated element order in
//! `schema/econnect.txt`) and validation as .NET's schema validator reports it: sequence
//! order, required elements, text-only leaves and XSD datatypes.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::OnceLock;

use rust_decimal::Decimal;

use crate::xml::Element;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XsdType {
    Str,
    Short,
    Int,
    Decimal,
}

impl XsdType {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "string" => Self::Str,
            "short" => Self::Short,
            "int" => Self::Int,
            "decimal" => Self::Decimal,
            _ => return None,
        })
    }

    fn label(self) -> (&'static str, &'static str) {
        match self {
            Self::Str => ("string", "String"),
            Self::Short => ("short", "Int16"),
            Self::Int => ("int", "Int32"),
            Self::Decimal => ("decimal", "Decimal"),
        }
    }

    fn accepts(self, text: &str) -> bool {
        let t = text.trim();
        match self {
            Self::Str => true,
            Self::Short => t.parse::<i16>().is_ok(),
            Self::Int => t.parse::<i32>().is_ok(),
            Self::Decimal => {
                !t.contains(['e', 'E']) && Decimal::from_str(t.trim_start_matches('+')).is_ok()
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: String,
    pub ty: XsdType,
    pub required: bool,
    pub default: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub name: String,
    pub fields: Vec<FieldSpec>,
}

impl NodeSpec {
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[derive(Debug, Clone)]
pub enum ChildKind {
    Node,
    /// A `*_Items` wrapper of repeated nodes; `child_min` is their minOccurs.
    Items {
        child: String,
        child_min: usize,
    },
}

#[derive(Debug, Clone)]
pub struct ChildSpec {
    pub name: String,
    pub required: bool,
    pub kind: ChildKind,
}

pub struct Schema {
    /// Every transaction type of `<eConnect>` in schema order.
    pub root: Vec<String>,
    pub txns: HashMap<String, Vec<ChildSpec>>,
    pub nodes: HashMap<String, NodeSpec>,
}

/// Fields whose empty value asks eConnect for the next number (int typed in the schema).
const AUTO_NUMBER_INTS: [&str; 1] = ["JRNENTRY"];

fn load(text: &str) -> Schema {
    let mut schema = Schema {
        root: Vec::new(),
        txns: HashMap::new(),
        nodes: HashMap::new(),
    };
    enum Section {
        None,
        Txn(String),
        Node(String),
    }
    let mut section = Section::None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["@root", names @ ..] => schema.root = names.iter().map(|s| s.to_string()).collect(),
            ["@txn", name] => {
                schema.txns.insert(name.to_string(), Vec::new());
                section = Section::Txn(name.to_string());
            }
            ["@node", name] => {
                section = if schema.nodes.contains_key(*name) {
                    // Shared nodes (e.g. taCreateInternetAddresses) are defined once.
                    Section::None
                } else {
                    schema.nodes.insert(
                        name.to_string(),
                        NodeSpec {
                            name: name.to_string(),
                            fields: Vec::new(),
                        },
                    );
                    Section::Node(name.to_string())
                };
            }
            [name, min, kind, rest @ ..] if matches!(section, Section::Txn(_)) => {
                let kind = match (*kind, rest) {
                    ("items", [child, child_min]) => ChildKind::Items {
                        child: child.to_string(),
                        child_min: child_min.parse().unwrap_or(0),
                    },
                    _ => ChildKind::Node,
                };
                if let Section::Txn(t) = &section {
                    if let Some(v) = schema.txns.get_mut(t) {
                        v.push(ChildSpec {
                            name: name.to_string(),
                            required: *min != "0",
                            kind,
                        });
                    }
                }
            }
            [name, ty, min, rest @ ..] => {
                if let (Section::Node(n), Some(ty)) = (&section, XsdType::parse(ty)) {
                    if let Some(node) = schema.nodes.get_mut(n) {
                        node.fields.push(FieldSpec {
                            name: name.to_string(),
                            ty,
                            required: *min != "0",
                            default: rest.first().map(|d| d.to_string()),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    // The community XSD requires taIVCreateItemPriceListHeader in IVItemMasterType, probably
    // an artifact of its generation; `validation.require_price_list_header` decides instead.
    if let Some(iv) = schema.txns.get_mut("IVItemMasterType") {
        for c in iv
            .iter_mut()
            .filter(|c| c.name == "taIVCreateItemPriceListHeader")
        {
            c.required = false;
        }
    }
    schema
}

pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| load(include_str!("../schema/econnect.txt")))
}

/// A node as validated: its present values (xsi:nil ones left out) in document order.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub values: BTreeMap<String, String>,
    /// Position of the transaction type inside `<eConnect>`.
    pub txn_index: usize,
}

#[derive(Debug, Clone)]
pub struct Txn {
    pub name: String,
    pub nodes: Vec<Node>,
}

/// One entry of a content model: element name, required, may repeat.
struct Particle<'a> {
    name: &'a str,
    required: bool,
    repeats: bool,
}

fn expected_list(particles: &[Particle], from: usize) -> String {
    let mut names = Vec::new();
    for p in &particles[from.min(particles.len())..] {
        names.push(p.name);
        if p.required {
            break;
        }
    }
    names.join(", ")
}

fn invalid_child(parent: &str, child: &str, particles: &[Particle], pos: usize) -> String {
    let expected = expected_list(particles, pos);
    if expected.is_empty() {
        format!("The element '{parent}' has invalid child element '{child}'.")
    } else {
        format!(
            "The element '{parent}' has invalid child element '{child}'. List of possible elements expected: '{expected}'."
        )
    }
}

/// Walks a sequence content model one child at a time, so errors come in document order
/// (a child's own content is checked before its next sibling's position).
struct Sequence<'p, 'a> {
    parent: &'a str,
    particles: &'p [Particle<'p>],
    pos: usize,
}

impl<'p, 'a> Sequence<'p, 'a> {
    fn new(parent: &'a Element, particles: &'p [Particle<'p>]) -> Result<Self, String> {
        if !parent.text.trim().is_empty() {
            return Err(format!(
                "The element '{}' cannot contain text. List of possible elements expected: '{}'.",
                parent.name,
                expected_list(particles, 0)
            ));
        }
        Ok(Self {
            parent: &parent.name,
            particles,
            pos: 0,
        })
    }

    /// The particle index the child matches.
    fn step(&mut self, child: &Element) -> Result<usize, String> {
        let (particles, pos) = (self.particles, self.pos);
        if pos > 0 && particles[pos - 1].repeats && particles[pos - 1].name == child.name {
            return Ok(pos - 1);
        }
        let found = particles[pos..]
            .iter()
            .position(|p| p.name == child.name)
            .map(|i| i + pos);
        match found {
            Some(j) if particles[pos..j].iter().all(|p| !p.required) => {
                self.pos = j + 1;
                Ok(j)
            }
            _ => Err(invalid_child(self.parent, &child.name, particles, pos)),
        }
    }

    fn finish(&self) -> Result<(), String> {
        let rest = &self.particles[self.pos.min(self.particles.len())..];
        if rest.iter().any(|p| p.required) {
            return Err(format!(
                "The element '{}' has incomplete content. List of possible elements expected: '{}'.",
                self.parent,
                expected_list(self.particles, self.pos)
            ));
        }
        Ok(())
    }
}

fn validate_node(el: &Element, spec: &NodeSpec, txn_index: usize) -> Result<Node, String> {
    let particles: Vec<Particle> = spec
        .fields
        .iter()
        .map(|f| Particle {
            name: &f.name,
            required: f.required,
            repeats: false,
        })
        .collect();
    let mut seq = Sequence::new(el, &particles)?;
    let mut values = BTreeMap::new();
    for child in &el.children {
        let field = &spec.fields[seq.step(child)?];
        if let Some(grand) = child.children.first() {
            return Err(format!(
                "The element '{}' cannot contain child element '{}' because the parent element's content model is text only.",
                child.name, grand.name
            ));
        }
        if child.nil {
            return Err(format!(
                "If the 'nillable' attribute is false in the schema, the 'xsi:nil' attribute must not be present in the instance. (element '{}')",
                child.name
            ));
        }
        let auto = AUTO_NUMBER_INTS.contains(&field.name.as_str()) && child.text.trim().is_empty();
        if !auto && !field.ty.accepts(&child.text) {
            let (xsd, clr) = field.ty.label();
            return Err(format!(
                "The '{}' element is invalid - The value '{}' is invalid according to its datatype 'http://www.w3.org/2001/XMLSchema:{xsd}' - The string '{}' is not a valid {clr} value.",
                child.name, child.text, child.text
            ));
        }
        values.insert(child.name.clone(), child.text.trim().to_string());
    }
    seq.finish()?;
    Ok(Node {
        name: el.name.clone(),
        values,
        txn_index,
    })
}

fn validate_txn(el: &Element, spec: &[ChildSpec], txn_index: usize) -> Result<Txn, String> {
    let schema = schema();
    let particles: Vec<Particle> = spec
        .iter()
        .map(|c| Particle {
            name: &c.name,
            required: c.required,
            repeats: false,
        })
        .collect();
    let mut seq = Sequence::new(el, &particles)?;
    let mut nodes = Vec::new();
    for child in &el.children {
        let idx = seq.step(child)?;
        if child.nil {
            continue;
        }
        match &spec[idx].kind {
            ChildKind::Node => {
                let node_spec = schema
                    .nodes
                    .get(&child.name)
                    .ok_or_else(|| format!("The '{}' element is not declared.", child.name))?;
                nodes.push(validate_node(child, node_spec, txn_index)?);
            }
            ChildKind::Items {
                child: item,
                child_min,
            } => {
                let inner = [Particle {
                    name: item,
                    required: *child_min > 0,
                    repeats: true,
                }];
                let mut items = Sequence::new(child, &inner)?;
                let node_spec = schema
                    .nodes
                    .get(item)
                    .ok_or_else(|| format!("The '{item}' element is not declared."))?;
                for c in &child.children {
                    items.step(c)?;
                    nodes.push(validate_node(c, node_spec, txn_index)?);
                }
                items.finish()?;
            }
        }
    }
    seq.finish()?;
    Ok(Txn {
        name: el.name.clone(),
        nodes,
    })
}

/// Outcome of schema validation of a whole `<eConnect>` document.
#[derive(Debug)]
pub enum Invalid {
    /// What .NET's schema validation would report.
    Schema(String),
    /// A valid eConnect transaction type this emulator does not serve.
    Unsupported(String),
}

/// Validates the root and every served transaction type.
pub fn validate(root: &Element) -> Result<Vec<Txn>, Invalid> {
    let schema = schema();
    if root.name != "eConnect" {
        return Err(Invalid::Schema(format!(
            "The '{}' element is not declared.",
            root.name
        )));
    }
    let particles: Vec<Particle> = schema
        .root
        .iter()
        .map(|n| Particle {
            name: n,
            required: false,
            repeats: true,
        })
        .collect();
    let mut seq = Sequence::new(root, &particles).map_err(Invalid::Schema)?;
    let mut txns = Vec::new();
    for (i, el) in root.children.iter().enumerate() {
        seq.step(el).map_err(Invalid::Schema)?;
        match schema.txns.get(&el.name) {
            Some(spec) => txns.push(validate_txn(el, spec, i).map_err(Invalid::Schema)?),
            None => {
                return Err(Invalid::Unsupported(format!(
                    "The transaction type {} is not supported by this emulator.",
                    el.name
                )))
            }
        }
    }
    Ok(txns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;

    #[test]
    fn the_generated_schema_has_the_served_types_in_order() {
        let s = schema();
        let pos = |n: &str| s.root.iter().position(|r| r == n);
        assert!(pos("RMCustomerMasterType") < pos("SOPTransactionType"));
        assert!(pos("SOPTransactionType") < pos("IVItemMasterType"));
        let hdr = &s.nodes["taSopHdrIvcInsert"];
        let names: Vec<&str> = hdr.fields.iter().take(3).map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["SOPTYPE", "DOCID", "SOPNUMBE"]);
        assert!(hdr.field("BACHNUMB").is_some_and(|f| f.required));
        assert_eq!(
            hdr.field("UpdateExisting").and_then(|f| f.default.clone()),
            Some("0".into())
        );
        let sop = &s.txns["SOPTransactionType"];
        let lines = sop
            .iter()
            .position(|c| c.name == "taSopLineIvcInsert_Items");
        let header = sop.iter().position(|c| c.name == "taSopHdrIvcInsert");
        assert!(lines < header);
    }

    fn check(xml: &str) -> Result<Vec<Txn>, String> {
        let root = parse(xml).map_err(|e| e.0)?;
        validate(&root).map_err(|e| match e {
            Invalid::Schema(s) | Invalid::Unsupported(s) => s,
        })
    }

    #[test]
    fn out_of_order_elements_are_named_with_the_expected_ones() {
        let err = check(
            "<eConnect><GLTransactionType><taGLTransactionHeaderInsert><JRNENTRY>1</JRNENTRY><BACHNUMB>B</BACHNUMB></taGLTransactionHeaderInsert></GLTransactionType></eConnect>",
        );
        assert_eq!(
            err.err().as_deref(),
            Some("The element 'taGLTransactionHeaderInsert' has invalid child element 'JRNENTRY'. List of possible elements expected: 'BACHNUMB'.")
        );
    }

    #[test]
    fn missing_required_elements_and_bad_numbers_are_reported() {
        let err = check("<eConnect><GLTransactionType><taGLTransactionHeaderInsert><BACHNUMB>B</BACHNUMB><JRNENTRY/></taGLTransactionHeaderInsert></GLTransactionType></eConnect>");
        assert_eq!(
            err.err().as_deref(),
            Some("The element 'taGLTransactionHeaderInsert' has incomplete content. List of possible elements expected: 'REFRENCE'.")
        );
        let err = check("<eConnect><RMCustomerMasterType><taUpdateCreateCustomerRcd><CUSTNMBR>A</CUSTNMBR><HOLD>yes</HOLD></taUpdateCreateCustomerRcd></RMCustomerMasterType></eConnect>");
        assert!(err
            .err()
            .unwrap_or_default()
            .contains("is not a valid Int16 value"));
    }

    #[test]
    fn transaction_types_follow_the_root_order() {
        let err = check("<eConnect><IVItemMasterType/><RMCustomerMasterType/></eConnect>");
        assert!(err
            .err()
            .unwrap_or_default()
            .contains("invalid child element 'RMCustomerMasterType'"));
        let unsupported = check("<eConnect><RMCashReceiptsType/></eConnect>");
        assert!(unsupported
            .err()
            .unwrap_or_default()
            .contains("not supported"));
    }
}
