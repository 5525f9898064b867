//! eConnect XML documents: nodes hold (element, value) pairs in any order and are written in
//! schema order ([`super::schema`]); a node outside its transaction type's sequence, an
//! element the schema does not know or a required element left out is a connector bug,
//! reported before anything is sent.
use super::schema;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("{node} has no element {element} in the eConnect schema")]
    UnknownElement { node: String, element: String },
    #[error("{node} needs {element}")]
    Missing { node: String, element: String },
    #[error("{txn} has no node {node}")]
    NotInTransaction { txn: String, node: String },
}

/// One eConnect node (e.g. `taSopHdrIvcInsert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: &'static str,
    values: Vec<(&'static str, String)>,
}

impl Node {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            values: Vec::new(),
        }
    }

    /// Sets (or replaces) an element's value.
    pub fn set(&mut self, element: &'static str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        match self.values.iter_mut().find(|(e, _)| *e == element) {
            Some(slot) => slot.1 = value,
            None => self.values.push((element, value)),
        }
        self
    }

    pub fn get(&self, element: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(e, _)| *e == element)
            .map(|(_, v)| v.as_str())
    }

    fn render(&self, out: &mut String) -> Result<(), BuildError> {
        let order = schema::node_elements(self.name);
        for (element, _) in &self.values {
            if !order.iter().any(|(e, _)| e == element) {
                return Err(BuildError::UnknownElement {
                    node: self.name.into(),
                    element: (*element).into(),
                });
            }
        }
        out.push_str(&format!("<{}>", self.name));
        for (element, required) in order {
            match self.get(element) {
                Some(v) => out.push_str(&format!("<{element}>{}</{element}>", escape(v))),
                None if *required => {
                    return Err(BuildError::Missing {
                        node: self.name.into(),
                        element: (*element).into(),
                    })
                }
                None => {}
            }
        }
        out.push_str(&format!("</{}>", self.name));
        Ok(())
    }
}

/// One transaction type (`SOPTransactionType`, …) with its nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    pub kind: &'static str,
    pub nodes: Vec<Node>,
}

/// The `<eConnect>` document: one SQL transaction, all or nothing.
pub fn render(txns: &[Txn]) -> Result<String, BuildError> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><eConnect>");
    let mut ordered: Vec<&Txn> = txns.iter().collect();
    ordered.sort_by_key(|t| {
        schema::ROOT_ORDER
            .iter()
            .position(|k| *k == t.kind)
            .unwrap_or(usize::MAX)
    });
    for txn in ordered {
        let children = schema::txn_children(txn.kind);
        for n in &txn.nodes {
            if !children
                .iter()
                .any(|(el, inner)| *el == n.name || *inner == Some(n.name))
            {
                return Err(BuildError::NotInTransaction {
                    txn: txn.kind.into(),
                    node: n.name.into(),
                });
            }
        }
        out.push_str(&format!("<{}>", txn.kind));
        for (element, inner) in children {
            let name = inner.unwrap_or(element);
            let nodes: Vec<&Node> = txn.nodes.iter().filter(|n| n.name == name).collect();
            if nodes.is_empty() {
                continue;
            }
            if inner.is_some() {
                out.push_str(&format!("<{element}>"));
            }
            for n in nodes {
                n.render(&mut out)?;
            }
            if inner.is_some() {
                out.push_str(&format!("</{element}>"));
            }
        }
        out.push_str(&format!("</{}>", txn.kind));
    }
    out.push_str("</eConnect>");
    Ok(out)
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The text of the first `<tag>…</tag>` in `xml` (eConnect's fault bodies are flat).
pub fn text_of(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(unescape(&xml[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_and_nodes_come_out_in_schema_order_whatever_order_they_were_set_in() {
        let mut hdr = Node::new("taSopHdrIvcInsert");
        hdr.set("BACHNUMB", "WEB20261120")
            .set("CUSTNMBR", "WEB000001")
            .set("DOCDATE", "2026-11-20")
            .set("SOPNUMBE", "WEB000001")
            .set("DOCID", "STDINV")
            .set("SOPTYPE", "3");
        let mut line = Node::new("taSopLineIvcInsert");
        line.set("QUANTITY", "1")
            .set("ITEMNMBR", "TEE & CO")
            .set("DOCDATE", "2026-11-20")
            .set("CUSTNMBR", "WEB000001")
            .set("SOPNUMBE", "WEB000001")
            .set("SOPTYPE", "3");
        let xml = render(&[Txn {
            kind: "SOPTransactionType",
            nodes: vec![hdr, line],
        }])
        .unwrap_or_default();
        let at = |s: &str| xml.find(s).unwrap_or(usize::MAX);
        assert!(
            at("<taSopLineIvcInsert_Items>") < at("<taSopHdrIvcInsert>"),
            "{xml}"
        );
        assert!(at("<SOPTYPE>3</SOPTYPE><DOCID>") < at("<BACHNUMB>"));
        assert!(xml.contains("<ITEMNMBR>TEE &amp; CO</ITEMNMBR>"));
    }

    #[test]
    fn unknown_elements_and_missing_required_ones_are_refused() {
        let mut n = Node::new("taSopTrackingNum");
        n.set("SOPTYPE", "3").set("SOPNUMBE", "X");
        let txn = |n: Node| Txn {
            kind: "SOPTransactionType",
            nodes: vec![n],
        };
        assert!(matches!(
            render(&[txn(n.clone())]),
            Err(BuildError::Missing { .. })
        ));
        n.set("Tracking_Number", "1Z").set("FRTAMNT", "1");
        assert!(matches!(
            render(&[txn(n)]),
            Err(BuildError::UnknownElement { .. })
        ));
    }

    #[test]
    fn the_schema_table_matches_the_emulators_schema_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../emulators/dynamics-gp/schema/econnect.txt"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            return; // not in a full checkout
        };
        for node in [
            "taSopHdrIvcInsert",
            "taSopLineIvcInsert",
            "taUpdateCreateCustomerRcd",
            "taIVTransactionLineInsert",
            "taIVTransactionHeaderInsert",
            "taGLTransactionLineInsert",
            "taGLTransactionHeaderInsert",
        ] {
            let section: Vec<&str> = text
                .lines()
                .skip_while(|l| *l != format!("@node {node}"))
                .skip(1)
                .take_while(|l| !l.starts_with('@'))
                .filter_map(|l| l.split_whitespace().next())
                .collect();
            let ours: Vec<&str> = schema::node_elements(node)
                .iter()
                .map(|(e, _)| *e)
                .collect();
            assert_eq!(section, ours, "{node}");
        }
        for txn in [
            "SOPTransactionType",
            "IVInventoryTransactionType",
            "GLTransactionType",
        ] {
            let section: Vec<&str> = text
                .lines()
                .skip_while(|l| *l != format!("@txn {txn}"))
                .skip(1)
                .take_while(|l| !l.starts_with('@'))
                .filter_map(|l| l.split_whitespace().next())
                .collect();
            let ours: Vec<&str> = schema::txn_children(txn).iter().map(|(e, _)| *e).collect();
            assert_eq!(section, ours, "{txn}");
        }
    }
}
