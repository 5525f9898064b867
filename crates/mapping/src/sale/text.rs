//! Line texts: product descriptions with attributes, masked gift card codes.
use crate::address::clean;
use crate::pb::events as ev;

/// The attributes as text ("Colour: Natural, Size: M").
pub(super) fn attribute_text(item: &ev::OrderItem) -> String {
    if item.attributes.is_empty() {
        strip_html(&item.attribute_description)
    } else {
        item.attributes
            .iter()
            .map(|a| format!("{}: {}", a.name.trim(), a.value.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The store's product line text: name plus attributes ("Linen Shade (Colour: Natural)").
pub(super) fn product_description(item: &ev::OrderItem) -> String {
    let attrs = attribute_text(item);
    let name = clean(&item.product_name);
    if attrs.is_empty() {
        name
    } else {
        format!("{name} ({attrs})")
    }
}

/// nopCommerce attribute descriptions are HTML ("Color: Red<br />Size: M").
pub(super) fn strip_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let Some(close) = after.find('>') else {
            out.push_str(after);
            rest = "";
            break;
        };
        let tag = after[1..close].trim().to_ascii_lowercase();
        if tag.starts_with("br") {
            out.push_str(", ");
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    let text = out
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ");
    clean(&text).trim_matches([',', ' ']).to_string()
}

/// Shows only the last four characters of a gift card code.
pub(super) fn mask_code(code: &str) -> String {
    let n = code.chars().count();
    if n <= 4 {
        return code.to_string();
    }
    let tail: String = code.chars().skip(n - 4).collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_attribute_descriptions_become_text() {
        assert_eq!(strip_html("Color: Red<br />Size: M"), "Color: Red, Size: M");
        assert_eq!(
            strip_html("<b>Engraving</b>: Tom &amp; Ann"),
            "Engraving: Tom & Ann"
        );
        assert_eq!(strip_html(""), "");
    }

    #[test]
    fn gift_card_codes_are_masked() {
        assert_eq!(mask_code("ABCD-1234-WXYZ"), "…WXYZ");
        assert_eq!(mask_code("XYZ"), "XYZ");
    }
}
