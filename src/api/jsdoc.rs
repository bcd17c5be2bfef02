//! The page scripts' types, generated from the server's: JSON Schemas
//! (schemars, as in the OpenAPI document) written as JSDoc typedefs, so
//! `// @ts-check` pages and the server cannot drift. `web/lib/types.js` is
//! this module's output for the meeting event stream; a test regenerates it
//! and fails when the checked-in file differs (`tests/it/web_types.rs`).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

/// JSDoc for each named schema (`$defs` and the roots given), in name order.
pub fn typedefs(roots: &[(&str, Value)]) -> String {
    let mut defs: BTreeMap<String, Value> = BTreeMap::new();
    for (name, schema) in roots {
        if let Some(d) = schema.get("$defs").and_then(Value::as_object) {
            for (k, v) in d {
                defs.insert(k.clone(), v.clone());
            }
        }
        let mut root = schema.clone();
        if let Some(o) = root.as_object_mut() {
            o.remove("$defs");
            o.remove("$schema");
        }
        defs.insert(name.to_string(), root);
    }
    let mut out = String::new();
    for (name, schema) in &defs {
        out.push_str("/**\n");
        if let Some(d) = schema.get("description").and_then(Value::as_str) {
            for line in d.lines() {
                let _ = writeln!(out, " * {}", line.trim_end());
            }
        }
        let _ = writeln!(out, " * @typedef {{{}}} {name}", type_of(schema));
        out.push_str(" */\n\n");
    }
    out
}

/// The TypeScript-in-JSDoc type of one schema.
pub fn type_of(s: &Value) -> String {
    let Some(o) = s.as_object() else {
        // `true` (anything) or `false` (nothing).
        return if s == &Value::Bool(false) {
            "never"
        } else {
            "*"
        }
        .into();
    };
    if let Some(r) = o.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or("*").to_string();
    }
    if let Some(c) = o.get("const") {
        return c.to_string();
    }
    if let Some(e) = o.get("enum").and_then(Value::as_array) {
        return union(e.iter().map(Value::to_string));
    }
    let mut parts: Vec<String> = Vec::new();
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = o.get(key).and_then(Value::as_array) {
            parts.push(union(alts.iter().map(type_of)));
        }
    }
    if let Some(all) = o.get("allOf").and_then(Value::as_array) {
        parts.extend(all.iter().map(|a| format!("({})", type_of(a))));
    }
    if let Some(t) = o.get("type") {
        let kinds: Vec<&str> = match t {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            Value::String(k) => vec![k.as_str()],
            _ => vec![],
        };
        let own = union(kinds.iter().map(|k| plain(k, o)));
        // Keys beside a combinator (a flattened enum) belong to every case.
        if own != "Object<string, *>" || parts.is_empty() {
            parts.insert(0, own);
        }
    }
    match parts.len() {
        0 => "*".into(),
        1 => parts.remove(0),
        _ => parts
            .into_iter()
            .map(|p| format!("({p})"))
            .collect::<Vec<_>>()
            .join(" & "),
    }
}

fn plain(kind: &str, o: &serde_json::Map<String, Value>) -> String {
    match kind {
        "string" => "string".into(),
        "integer" | "number" => "number".into(),
        "boolean" => "boolean".into(),
        "null" => "null".into(),
        "array" => match o.get("items") {
            Some(items) => format!("Array<{}>", type_of(items)),
            None => "Array<*>".into(),
        },
        "object" => object(o),
        _ => "*".into(),
    }
}

fn object(o: &serde_json::Map<String, Value>) -> String {
    let required: Vec<&str> = o
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match o.get("properties").and_then(Value::as_object) {
        Some(props) if !props.is_empty() => {
            // The tag first, then the rest in name order.
            let mut keys: Vec<(&String, &Value)> = props.iter().collect();
            keys.sort_by_key(|(k, _)| (k.as_str() != "type", k.as_str()));
            let fields: Vec<String> = keys
                .into_iter()
                .map(|(k, v)| {
                    let key = if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        k.clone()
                    } else {
                        Value::String(k.clone()).to_string()
                    };
                    let opt = if required.contains(&k.as_str()) {
                        ""
                    } else {
                        "?"
                    };
                    format!("{key}{opt}: {}", type_of(v))
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        _ => match o.get("additionalProperties") {
            Some(v) if v.is_object() => format!("Object<string, {}>", type_of(v)),
            _ => "Object<string, *>".into(),
        },
    }
}

fn union(items: impl Iterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for i in items {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    if seen.is_empty() {
        return "never".into();
    }
    seen.join(" | ")
}

/// `web/lib/types.js`: the types of a meeting's event stream.
pub fn web_types() -> String {
    let schema = |s: schemars::Schema| serde_json::to_value(s).unwrap_or(Value::Null);
    let mut out = String::from(
        "// @ts-check\n\
         // The types of a meeting's event stream (`…/live/events`), generated from\n\
         // the server's (src/signal/event.rs, diemcau-live's LiveEvent and\n\
         // LiveSnapshot) by src/api/jsdoc.rs. Do not edit: after changing them, run\n\
         // DIEMCAU_BLESS=1 cargo nextest run -E 'test(web_types)'\n\n\
         /**\n \
         * The first message, and again after a `resync`.\n \
         * @typedef {{type: \"snapshot\", seq: number, meeting: string, state: LiveSnapshot, resync?: boolean}} Snapshot\n \
         */\n\n",
    );
    out.push_str(&typedefs(&[
        (
            "MeetingEvent",
            schema(schemars::schema_for!(crate::signal::event::MeetingEvent)),
        ),
        (
            "LiveSnapshot",
            schema(schemars::schema_for!(crate::control::live::LiveSnapshot)),
        ),
    ]));
    out.push_str("export {};\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tagged_enum_becomes_a_union_of_objects_with_literal_tags() {
        let s = json!({"oneOf": [
            {"type": "object", "properties": {"type": {"type": "string", "const": "locked"}},
             "required": ["type"]},
            {"type": "object", "properties": {
                "type": {"type": "string", "const": "muted"},
                "audio": {"type": "boolean"},
                "note": {"type": ["string", "null"]}},
             "required": ["type", "audio"]}
        ]});
        assert_eq!(
            type_of(&s),
            r#"{type: "locked"} | {type: "muted", audio: boolean, note?: string | null}"#
        );
    }

    #[test]
    fn refs_arrays_maps_and_enums_keep_their_names_and_shapes() {
        assert_eq!(type_of(&json!({"$ref": "#/$defs/Scene"})), "Scene");
        assert_eq!(
            type_of(&json!({"type": "array", "items": {"type": "integer"}})),
            "Array<number>"
        );
        assert_eq!(
            type_of(&json!({"type": "object", "additionalProperties": {"$ref": "#/$defs/X"}})),
            "Object<string, X>"
        );
        assert_eq!(type_of(&json!({"enum": ["a", "b"]})), r#""a" | "b""#);
    }

    #[test]
    fn keys_beside_a_flattened_enum_belong_to_every_case() {
        let s = json!({"type": "object",
            "properties": {"endpoint_id": {"type": "string"}}, "required": ["endpoint_id"],
            "oneOf": [{"type": "object", "properties": {"state": {"const": "ringing"}}, "required": ["state"]}]});
        assert_eq!(
            type_of(&s),
            r#"({endpoint_id: string}) & ({state: "ringing"})"#
        );
    }
}
