//! JSON written as text, piece by piece: what status_text.rs and
//! peer_services.rs splice services parts with, instead of building a tree.

use serde_json::Value;

/// `obj` printed with `"key": raw` added, `raw` being JSON text. A value
/// that is not an object stands for `{}`. serde_json prints maps sorted,
/// but readers of this answer look keys up: the place does not matter.
pub(crate) fn with_raw(obj: &Value, key: &str, raw: &str) -> String {
    let head = match obj {
        Value::Object(m) if !m.is_empty() => obj.to_string(),
        _ => "{}".to_string(),
    };
    let mut out = String::with_capacity(head.len() + key.len() + raw.len() + 4);
    out.push_str(&head[..head.len() - 1]);
    if head.len() > 2 {
        out.push(',');
    }
    push_str(&mut out, key);
    out.push(':');
    out.push_str(raw);
    out.push('}');
    out
}

/// A JSON string, escaped as JSON needs.
pub(crate) fn push_str(out: &mut String, s: &str) {
    // serde_json's escaping, so that the text reads back as the string.
    out.push_str(&Value::from(s).to_string());
}

pub(crate) fn push_list(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, n) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, n);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn with_raw_adds_the_key_to_any_object() {
        assert_eq!(with_raw(&json!({}), "k", "[1]"), r#"{"k":[1]}"#);
        assert_eq!(with_raw(&Value::Null, "k", "{}"), r#"{"k":{}}"#);
        let text = with_raw(&json!({"a": 1, "z": "}"}), "k\"", "2");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, json!({"a": 1, "z": "}", "k\"": 2}));
        let mut list = String::new();
        push_list(&mut list, &["a\"b".to_string(), "é\n".to_string()]);
        assert_eq!(
            serde_json::from_str::<Value>(&list).unwrap(),
            json!(["a\"b", "é\n"])
        );
    }
}
