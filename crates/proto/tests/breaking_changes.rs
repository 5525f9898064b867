//! The breaking-change check: the current schema must keep every message, field (number,
//! name, type, label), enum value and RPC of the released baseline
//! (proto/baseline/nopbridge-v1.binpb). Additions are fine. After a release, refresh the
//! baseline with `cargo run -p nopbridge-proto --bin export-descriptors -- proto/baseline/nopbridge-v1.binpb`.
use prost::Message;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};
use std::collections::HashMap;

const BASELINE: &[u8] = include_bytes!("../../../proto/baseline/nopbridge-v1.binpb");

#[derive(Default)]
struct Index<'a> {
    messages: HashMap<String, &'a DescriptorProto>,
    enums: HashMap<String, &'a EnumDescriptorProto>,
    methods: HashMap<String, (String, String)>,
}

fn index(set: &FileDescriptorSet) -> Index<'_> {
    fn walk<'a>(
        prefix: &str,
        msgs: &'a [DescriptorProto],
        enums: &'a [EnumDescriptorProto],
        idx: &mut Index<'a>,
    ) {
        for e in enums {
            idx.enums.insert(format!("{prefix}.{}", e.name()), e);
        }
        for m in msgs {
            let name = format!("{prefix}.{}", m.name());
            walk(&name, &m.nested_type, &m.enum_type, idx);
            idx.messages.insert(name, m);
        }
    }
    let mut idx = Index::default();
    for f in set
        .file
        .iter()
        .filter(|f| f.package().starts_with("nopbridge."))
    {
        let prefix = format!(".{}", f.package());
        walk(&prefix, &f.message_type, &f.enum_type, &mut idx);
        for s in &f.service {
            for m in &s.method {
                idx.methods.insert(
                    format!("{prefix}.{}/{}", s.name(), m.name()),
                    (m.input_type().to_string(), m.output_type().to_string()),
                );
            }
        }
    }
    idx
}

fn breaking_changes(old: &FileDescriptorSet, new: &FileDescriptorSet) -> Vec<String> {
    let (old, new) = (index(old), index(new));
    let mut out = Vec::new();
    for (name, m) in &old.messages {
        let Some(now) = new.messages.get(name) else {
            out.push(format!("message {name} was removed"));
            continue;
        };
        for f in &m.field {
            match now.field.iter().find(|g| g.number() == f.number()) {
                None => out.push(format!(
                    "{name}: field {} = {} was removed",
                    f.name(),
                    f.number()
                )),
                Some(g) if g.name() != f.name() => out.push(format!(
                    "{name}: field {} was renamed to {} (breaks JSON)",
                    f.number(),
                    g.name()
                )),
                Some(g)
                    if g.r#type() != f.r#type()
                        || g.type_name() != f.type_name()
                        || g.label() != f.label() =>
                {
                    out.push(format!(
                        "{name}: field {} = {} changed type or label",
                        f.name(),
                        f.number()
                    ))
                }
                Some(_) => {}
            }
        }
    }
    for (name, e) in &old.enums {
        let Some(now) = new.enums.get(name) else {
            out.push(format!("enum {name} was removed"));
            continue;
        };
        for v in &e.value {
            if !now
                .value
                .iter()
                .any(|w| w.number() == v.number() && w.name() == v.name())
            {
                out.push(format!(
                    "{name}: value {} = {} was removed or renamed",
                    v.name(),
                    v.number()
                ));
            }
        }
    }
    for (rpc, types) in &old.methods {
        match new.methods.get(rpc) {
            None => out.push(format!("rpc {rpc} was removed")),
            Some(t) if t != types => {
                out.push(format!("rpc {rpc} changed its request or response type"))
            }
            Some(_) => {}
        }
    }
    out.sort();
    out
}

#[test]
fn current_schema_keeps_everything_the_baseline_published() {
    let old = FileDescriptorSet::decode(BASELINE).expect("baseline descriptor set decodes");
    let new = FileDescriptorSet::decode(nopbridge_proto::FILE_DESCRIPTOR_SET)
        .expect("current set decodes");
    let problems = breaking_changes(&old, &new);
    assert!(
        problems.is_empty(),
        "breaking changes against proto/baseline:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_check_catches_removed_renamed_and_retyped_fields() {
    let old = FileDescriptorSet::decode(BASELINE).expect("baseline decodes");
    let mut new = old.clone();
    let order = new
        .file
        .iter_mut()
        .flat_map(|f| f.message_type.iter_mut())
        .find(|m| m.name() == "Order")
        .expect("Order in baseline");
    order.field.retain(|f| f.name() != "order_total");
    if let Some(f) = order.field.iter_mut().find(|f| f.name() == "order_guid") {
        f.name = Some("guid".into());
    }
    if let Some(f) = order.field.iter_mut().find(|f| f.name() == "store_id") {
        f.set_type(prost_types::field_descriptor_proto::Type::String);
    }
    let problems = breaking_changes(&old, &new);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems
        .iter()
        .any(|p| p.contains("order_total = 32 was removed")));
    assert!(problems.iter().any(|p| p.contains("renamed to guid")));
    assert!(problems
        .iter()
        .any(|p| p.contains("store_id = 5 changed type")));
}
