//! Finds the line of a dotted key path (`tax.vat.codes[1].rate`) in block-style YAML, so
//! validation errors can point at the line as serde_yaml's own errors do. It understands
//! nested mappings and `- ` sequence items, which is what mapping configs use; for anything
//! it cannot follow it returns the nearest enclosing key's line.
use std::collections::HashMap;

pub struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        // Stack of (indent, path) of the open mapping keys; sequences counted per parent path.
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut seq_counts: HashMap<String, usize> = HashMap::new();
        let mut lines = HashMap::new();
        for (n, raw) in text.lines().enumerate() {
            let line_no = n + 1;
            let content = strip_comment(raw);
            if content.trim().is_empty() || content.trim_start().starts_with("---") {
                continue;
            }
            let mut indent = content.len() - content.trim_start().len();
            let mut rest = content.trim_start();
            let mut item_path: Option<String> = None;
            if let Some(after) = rest
                .strip_prefix("- ")
                .or_else(|| (rest == "-").then_some(""))
            {
                while stack.last().is_some_and(|(i, _)| *i >= indent) {
                    stack.pop();
                }
                let parent = stack.last().map(|(_, p)| p.clone()).unwrap_or_default();
                let count = seq_counts.entry(parent.clone()).or_insert(0);
                let path = format!("{parent}[{count}]");
                *count += 1;
                lines.insert(path.clone(), line_no);
                // Keys on the same line as the dash sit two columns in.
                indent += 2;
                stack.push((indent - 1, path.clone()));
                item_path = Some(path);
                rest = after.trim_start();
            }
            let Some(key) = key_of(rest) else {
                continue;
            };
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            let parent = item_path
                .or_else(|| stack.last().map(|(_, p)| p.clone()))
                .unwrap_or_default();
            let path = if parent.is_empty() {
                key.to_string()
            } else {
                format!("{parent}.{key}")
            };
            lines.entry(path.clone()).or_insert(line_no);
            stack.push((indent, path));
        }
        Self { lines }
    }

    /// The deepest key path that starts on `line`.
    pub fn path_at(&self, line: usize) -> Option<&str> {
        self.lines
            .iter()
            .filter(|(_, &l)| l == line)
            .map(|(p, _)| p.as_str())
            .max_by_key(|p| (p.len(), *p))
    }

    /// The line of `path`, or of its nearest ancestor that exists.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(&l) = self.lines.get(p) {
                return Some(l);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

fn strip_comment(line: &str) -> &str {
    // A '#' starts a comment at line start or after whitespace, outside quotes.
    let mut in_single = false;
    let mut in_double = false;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !in_double => in_single = !in_single,
            '"' if !in_single => in_double = !in_double,
            '#' if !in_single && !in_double && prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

fn key_of(rest: &str) -> Option<&str> {
    if rest.starts_with(['{', '[']) {
        return None;
    }
    if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = rest[1..].find(q)? + 1;
        let after = rest[end + 1..].trim_start();
        return after.starts_with(':').then(|| &rest[1..end]);
    }
    let idx = rest
        .find(": ")
        .or_else(|| rest.strip_suffix(':').map(str::len))?;
    let key = rest[..idx].trim();
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "\
connection_id: qbo-1   # comment
tax:
  mode: vat
  vat:
    codes:
      - rate: 20
        code: \"20.0% S\"
      - rate: 5
        code: R
items:
  sku_overrides:
    \"A:B\": x
";

    #[test]
    fn finds_nested_keys_and_sequence_items() {
        let idx = LineIndex::new(YAML);
        assert_eq!(idx.line_of("connection_id"), Some(1));
        assert_eq!(idx.line_of("tax.mode"), Some(3));
        assert_eq!(idx.line_of("tax.vat.codes"), Some(5));
        assert_eq!(idx.line_of("tax.vat.codes[0]"), Some(6));
        assert_eq!(idx.line_of("tax.vat.codes[0].rate"), Some(6));
        assert_eq!(idx.line_of("tax.vat.codes[0].code"), Some(7));
        assert_eq!(idx.line_of("tax.vat.codes[1].code"), Some(9));
        assert_eq!(idx.line_of("items.sku_overrides.A:B"), Some(12));
        // unknown leaf → nearest ancestor
        assert_eq!(idx.line_of("tax.vat.exempt_code"), Some(4));
        assert_eq!(idx.line_of("nothing"), None);
        assert_eq!(idx.path_at(6), Some("tax.vat.codes[0].rate"));
        assert_eq!(idx.path_at(2), Some("tax"));
        assert_eq!(idx.path_at(13), None);
    }
}
