//! A small element tree for eConnect documents: parsed with quick-xml, unqualified element
//! names, text-only leaves; written back (with auto-assigned numbers) for the response.

use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::Reader;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
    /// `xsi:nil="true"`: present but null.
    pub nil: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct XmlError(pub String);

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find(|c| c.name == name)
    }

    /// Writes the element (two-space indentation, leaves on one line).
    pub fn write(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        if self.nil {
            out.push_str(&format!(
                "{pad}<{} xsi:nil=\"true\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/>\n",
                self.name
            ));
            return;
        }
        if self.children.is_empty() {
            if self.text.is_empty() {
                out.push_str(&format!("{pad}<{}/>\n", self.name));
            } else {
                out.push_str(&format!(
                    "{pad}<{0}>{1}</{0}>\n",
                    self.name,
                    escape(self.text.as_str())
                ));
            }
            return;
        }
        out.push_str(&format!("{pad}<{}>\n", self.name));
        for c in &self.children {
            c.write(out, depth + 1);
        }
        out.push_str(&format!("{pad}</{}>\n", self.name));
    }

    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        self.write(&mut out, 0);
        out
    }
}

fn start(e: &quick_xml::events::BytesStart) -> Result<Element, XmlError> {
    let name = String::from_utf8_lossy(e.name().as_ref()).to_string();
    let mut nil = false;
    for attr in e.attributes() {
        let attr = attr.map_err(|err| XmlError(format!("Invalid attribute on {name}: {err}")))?;
        let key = String::from_utf8_lossy(attr.key.as_ref()).to_string();
        let value = attr
            .unescape_value()
            .map_err(|err| XmlError(format!("Invalid attribute on {name}: {err}")))?;
        // The schema has no target namespace: a default namespace makes every element unknown.
        if key == "xmlns" && !value.is_empty() {
            return Err(XmlError(format!(
                "The '{value}:{name}' element is not declared."
            )));
        }
        if key.ends_with(":nil") && value == "true" {
            nil = true;
        }
    }
    Ok(Element {
        name,
        nil,
        ..Element::default()
    })
}

/// Parses a whole document into its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError(format!("The XML document is not well formed: {e}")))?;
        match event {
            Event::Start(e) => stack.push(start(&e)?),
            Event::Empty(e) => {
                let el = start(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err(XmlError("More than one root element.".into())),
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| XmlError("Unexpected end tag.".into()))?;
                if !el.text.is_empty() && !el.children.is_empty() {
                    return Err(XmlError(format!(
                        "The element '{}' cannot contain text and elements.",
                        el.name
                    )));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err(XmlError("More than one root element.".into())),
                }
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map_err(|e| XmlError(format!("The XML document is not well formed: {e}")))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&text),
                    None => {
                        return Err(XmlError(
                            "Text is not allowed outside the root element.".into(),
                        ))
                    }
                }
            }
            Event::CData(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError(
            "The XML document is not well formed: unclosed elements.".into(),
        ));
    }
    root.ok_or_else(|| XmlError("Root element is missing.".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_leaves_and_entities() -> Result<(), XmlError> {
        let doc = parse(
            r#"<?xml version="1.0"?><eConnect xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
              <A><B>x &amp; y</B><C/><D xsi:nil="true"/></A></eConnect>"#,
        )?;
        assert_eq!(doc.name, "eConnect");
        let a = doc.child("A").ok_or(XmlError("A".into()))?;
        assert_eq!(a.child("B").map(|b| b.text.as_str()), Some("x & y"));
        assert_eq!(a.child("C").map(|c| c.text.as_str()), Some(""));
        assert_eq!(a.child("D").map(|d| d.nil), Some(true));
        let round = parse(&doc.to_xml())?;
        assert_eq!(round, doc);
        Ok(())
    }

    #[test]
    fn rejects_broken_documents_and_default_namespaces() {
        assert!(parse("<eConnect><A></eConnect>").is_err());
        assert!(parse("<eConnect><A>").is_err());
        assert!(parse("").is_err());
        assert!(parse(r#"<eConnect xmlns="urn:x"/>"#).is_err());
        assert!(parse("<A><B>t</B>text</A>").is_err());
    }
}
