//! Random JSON against every write route. As the admin (every route is
//! allowed, so only the body decides), each documented operation with a
//! JSON request body gets generated bodies that are invalid by construction;
//! each must be refused with a 4xx in the one error format
//! `{"error":{"code","message","field"?}}`, and must change nothing in the
//! database.
//!
//! The operations and their request schemas come from the server's own
//! OpenAPI document at run time, so a route added later is covered without
//! a line here (operations whose body is not JSON, the CSV import, are
//! skipped). Path ids name real objects (a meeting is planned and opened
//! through the API for the meeting routes), and a nonexistent id is tried
//! too. Three generators:
//!
//! 1. arbitrary JSON of random shape and depth (null, numbers huge,
//!    negative, fractional and `-0`, strings empty, 10 000 characters long,
//!    with control characters, Vietnamese, emoji, SQL), nested arrays and
//!    objects with random keys, and a few fixed wrong shapes;
//! 2. schema-shaped objects: the request schema's properties with at least
//!    one of them ill-typed (wrong JSON type, a string outside an enum, an
//!    impossible `YYYY-MM-DD` date, a number out of range, an array with one
//!    bad item), other properties kept or dropped, sometimes an unknown key;
//! 3. raw bytes that are not JSON under `content-type: application/json`,
//!    and JSON under another content type (or none).
//!
//! Every JSON body of 1 and 2 is checked against the schema before it is
//! sent ([`violates`], deliberately conservative: only what is certainly
//! invalid counts), so a refusal is always the right answer. What is
//! deliberately not sent, because it is valid or may be:
//!
//! - the empty object `{}`: for an all-optional PATCH (and `cancel`,
//!   `mute-all`, `floor/request`) it is a valid request;
//! - `null` for a nullable property, `1.0` for an integer (JSON Schema
//!   counts it as one), repeated items under `uniqueItems` (a set: serde
//!   folds them, a leniency rather than an error);
//! - a byte order mark before valid JSON (RFC 8259 lets a parser ignore it);
//!   a BOM before garbage is sent.
//!
//! A top-level JSON array is sent like any other wrong shape, including
//! one holding the schema's values by position: the API documents objects
//! only, while serde's derived `Deserialize` takes an array as a struct,
//! field by field in declaration order, unless the server refuses it first.
//!
//! Seeded: the seed is printed and named in every failure, with the body.
//! Replay with `DIEMCAU_RANDOM_JSON_SEED=<seed> cargo nextest run -E
//! 'test(random_json)'` (the same bodies, but for the fixture's ids, which
//! are random).

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Map, Value, json};

use crate::support::api::{Answer, ApiWorld, Client, fingerprint, world};
use crate::support::db::both_backends;

/// Bodies per route with a real id in the path (or without a path id).
const BODIES_PER_ROUTE: usize = 150;
/// Bodies per route with an id that exists nowhere.
const BODIES_NONEXISTENT_ID: usize = 40;
const SEED_VAR: &str = "DIEMCAU_RANDOM_JSON_SEED";
const NONEXISTENT_ID: &str = "zz_none";

/// Strings worth trying anywhere a string goes.
const NASTY: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "a\u{0}b",
    "\u{1}\u{1f}\t\r\n\u{7f}\u{85}\u{2028}",
    "Điểm cầu xã Ẳng Nưa — Ủy ban nhân dân tỉnh",
    "Nguyễn Thị Ngọc Hà",
    "Phường Hòa Bình",
    "👍🏽🇻🇳🧑‍🤝‍🧑",
    "'; DROP TABLE users; --",
    "\" OR 1=1 --",
    "Robert'); DELETE FROM audit_log; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00%ff",
    "null",
    "true",
    "{}",
    "[]",
    "0",
    "-0",
    "1e999",
    "2025-02-30",
    "\u{202e}trái sang phải",
    "\u{feff}",
    "\u{fffd}",
    "__proto__",
    "$ref",
    "admin",
    "commune",
    "4g",
];

/// Strings that are certainly not a `YYYY-MM-DD` date.
const BAD_DATES: &[&str] = &[
    "2025-02-30",
    "2025-02-29",
    "2025-13-01",
    "2025-00-10",
    "2025-04-31",
    "2025-1-1",
    "01/02/2025",
    "2025-01-01T00:00:00Z",
    "",
    "ngày mai",
    "0000-00-00",
    "2025-01-01; DROP TABLE units; --",
];

const GOOD_DATES: &[&str] = &["2025-07-01", "2024-02-29", "2021-01-01", "2030-12-31"];

/// Ordinary, well-typed text (the other properties of a schema-shaped body
/// are sometimes plausible, sometimes nasty, always of the right type).
const PLAIN: &[&str] = &[
    "Xã Tân Lập",
    "Phòng họp số 2",
    "Lê Văn Tám",
    "0912 345 678",
    "thu_ky_moi",
    "một mật khẩu đủ dài 2025",
    "Hội nghị trực tuyến",
];

/// Ids of real fixture objects, so generated ids sometimes name something.
struct Ctx {
    ids: Vec<String>,
}

/// One request body as sent.
enum Body {
    /// Serialized and sent as `application/json`.
    Json(Value),
    /// Bytes sent as they are, under `content_type` (none: no header).
    Raw {
        content_type: Option<&'static str>,
        bytes: Vec<u8>,
    },
}

impl Body {
    fn raw(content_type: Option<&'static str>, bytes: impl Into<Vec<u8>>) -> Body {
        Body::Raw {
            content_type,
            bytes: bytes.into(),
        }
    }

    /// For failure messages: the body, shortened, with its size.
    fn describe(&self) -> String {
        let (ct, text, len) = match self {
            Body::Json(v) => {
                let s = v.to_string();
                let n = s.len();
                (Some("application/json"), s, n)
            }
            Body::Raw {
                content_type,
                bytes,
            } => (
                *content_type,
                format!("{:?}", String::from_utf8_lossy(bytes)),
                bytes.len(),
            ),
        };
        let short: String = text.chars().take(400).collect();
        let more = if short.len() < text.len() { "…" } else { "" };
        format!(
            "[{} {len} bytes] {short}{more}",
            ct.unwrap_or("no content-type")
        )
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The run's seed: from the environment to replay a failure, else fresh.
fn run_seed() -> u64 {
    match std::env::var(SEED_VAR) {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_VAR}={s:?} is not a u64")),
        Err(_) => rand::rng().random(),
    }
}

/// Follow `$ref`s to `#/components/schemas/…`.
fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
            return schema;
        };
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        schema = &doc["components"]["schemas"][name];
        assert!(!schema.is_null(), "dangling $ref {r}");
    }
    panic!("$ref chain too long")
}

/// A string property that holds a `YYYY-MM-DD` date, by the API's naming
/// (`on`, `bound_from`, …) or by its schema.
fn date_like(name: Option<&str>, schema: &Value) -> bool {
    let by_name = name.is_some_and(|n| {
        n == "on"
            || [".on", "_on", "_from", "_until", "_date"]
                .iter()
                .any(|s| n.ends_with(s))
    });
    by_name
        || schema["format"] == "date"
        || schema["description"]
            .as_str()
            .is_some_and(|d| d.contains("YYYY-MM-DD"))
}

fn id_like(name: Option<&str>) -> bool {
    name.is_some_and(|n| n == "id" || n.ends_with("_id") || n == "sources" || n == "existing")
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "number" => v.is_number(),
        // JSON Schema: 1.0 is an integer too.
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => true,
    }
}

/// Is `v` certainly invalid against `schema`? Conservative: whatever this
/// does not understand counts as valid, so a `true` is never a guess.
/// `name` is the property's name (for dates).
fn violates(doc: &Value, schema: &Value, v: &Value, name: Option<&str>) -> bool {
    let s = resolve(doc, schema);
    let Some(obj) = s.as_object() else {
        return s == &Value::Bool(false);
    };
    if obj.get("const").is_some_and(|c| c != v) {
        return true;
    }
    if let Some(e) = obj.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return true;
    }
    match obj.get("type") {
        Some(Value::String(t)) if !type_matches(t, v) => return true,
        Some(Value::Array(ts))
            if !ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(t, v)) =>
        {
            return true;
        }
        _ => {}
    }
    // oneOf: certainly invalid when no alternative can hold it.
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = obj.get(key).and_then(Value::as_array)
            && alts.iter().all(|a| violates(doc, a, v, name))
        {
            return true;
        }
    }
    if let Some(all) = obj.get("allOf").and_then(Value::as_array)
        && all.iter().any(|a| violates(doc, a, v, name))
    {
        return true;
    }
    if let Some(n) = v.as_f64()
        && (obj
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
            || obj
                .get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n > m))
    {
        return true;
    }
    match v {
        Value::String(text) => date_like(name, s) && diemcau::store::date::parse(text).is_err(),
        Value::Array(items) => obj
            .get("items")
            .is_some_and(|i| items.iter().any(|x| violates(doc, i, x, name))),
        Value::Object(m) => {
            let props = obj.get("properties").and_then(Value::as_object);
            let extra = obj.get("additionalProperties");
            let missing = obj
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .any(|k| !m.contains_key(k))
                });
            missing
                || m.iter().any(|(k, x)| match props.and_then(|p| p.get(k)) {
                    Some(p) => violates(doc, p, x, Some(k)),
                    None if obj.contains_key("patternProperties") => false,
                    None => match extra {
                        Some(Value::Bool(false)) => true,
                        Some(e @ Value::Object(_)) => violates(doc, e, x, Some(k)),
                        _ => false,
                    },
                })
        }
        _ => false,
    }
}

/// Every string an enum or const of `schema` allows (through oneOf/anyOf).
fn members(doc: &Value, schema: &Value, out: &mut Vec<String>) {
    let s = resolve(doc, schema);
    if let Some(c) = s.get("const").and_then(Value::as_str) {
        out.push(c.to_string());
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        out.extend(e.iter().filter_map(Value::as_str).map(str::to_string));
    }
    for key in ["oneOf", "anyOf"] {
        for a in s.get(key).and_then(Value::as_array).into_iter().flatten() {
            members(doc, a, out);
        }
    }
}

/// The generators, over one seeded RNG.
struct Gen<'a> {
    doc: &'a Value,
    ctx: &'a Ctx,
    rng: StdRng,
}

impl Gen<'_> {
    fn nasty_string(&mut self) -> String {
        let rng = &mut self.rng;
        match rng.random_range(0..12) {
            0..=6 => NASTY.choose(rng).unwrap().to_string(),
            7 => "x".repeat(10_000),
            8 => "Đường Hồ Chí Minh ".repeat(600),
            9 => (0..rng.random_range(1..16))
                .map(|_| rng.random::<char>())
                .collect(),
            10 => self.ctx.ids.choose(rng).unwrap().clone(),
            _ => (0..rng.random_range(1..12))
                .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
                .collect(),
        }
    }

    fn key(&mut self) -> String {
        match self.rng.random_range(0..3) {
            0 => NASTY.choose(&mut self.rng).unwrap().to_string(),
            1 => (0..self.rng.random_range(1..16))
                .map(|_| self.rng.random::<char>())
                .collect(),
            _ => (0..self.rng.random_range(1..10))
                .map(|_| self.rng.sample(rand::distr::Alphanumeric) as char)
                .collect(),
        }
    }

    fn number(&mut self) -> Value {
        let rng = &mut self.rng;
        match rng.random_range(0..12) {
            0 => json!(0),
            1 => json!(-1),
            2 => json!(i64::MIN),
            3 => json!(i64::MAX),
            4 => json!(u64::MAX),
            5 => json!(-0.0),
            6 => json!(1.5),
            7 => json!(1e308),
            8 => json!(-1e-300),
            9 => json!(9_007_199_254_740_993u64),
            10 => json!(rng.random::<i32>()),
            _ => json!((rng.random::<f64>() - 0.5) * 1e9),
        }
    }

    /// Any JSON value, nested at most `depth` deep.
    fn arbitrary(&mut self, depth: u32) -> Value {
        let kinds = if depth == 0 { 4 } else { 6 };
        match self.rng.random_range(0..kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.random()),
            2 => self.number(),
            3 => Value::String(self.nasty_string()),
            4 => {
                let n = self.rng.random_range(0..5);
                Value::Array((0..n).map(|_| self.arbitrary(depth - 1)).collect())
            }
            _ => {
                let n = self.rng.random_range(0..5);
                Value::Object(
                    (0..n)
                        .map(|_| (self.key(), self.arbitrary(depth - 1)))
                        .collect(),
                )
            }
        }
    }

    /// Generator 1: a random value of random shape that the schema refuses.
    /// Never the empty object `{}`: for an all-optional PATCH it is a valid
    /// no-op, not an invalid body.
    /// `None` when nothing random is refused (a schema that takes any value).
    fn arbitrary_body(&mut self, schema: &Value) -> Option<Value> {
        for _ in 0..200 {
            let v = match self.rng.random_range(0..10) {
                0..=5 => {
                    let n = self.rng.random_range(1..6);
                    let depth = self.rng.random_range(0..4);
                    Value::Object(
                        (0..n)
                            .map(|_| (self.key(), self.arbitrary(depth)))
                            .collect(),
                    )
                }
                6 | 7 => {
                    let n = self.rng.random_range(0..6);
                    Value::Array((0..n).map(|_| self.arbitrary(2)).collect())
                }
                _ => self.arbitrary(3),
            };
            if v != json!({}) && violates(self.doc, schema, &v, None) {
                return Some(v);
            }
        }
        None
    }

    /// A value `schema` accepts (as far as its types, enums and dates go).
    fn well(&mut self, schema: &Value, name: Option<&str>, depth: u32) -> Value {
        let doc = self.doc;
        let s = resolve(doc, schema);
        let Some(obj) = s.as_object() else {
            return self.arbitrary(1);
        };
        if let Some(c) = obj.get("const") {
            return c.clone();
        }
        if let Some(e) = obj.get("enum").and_then(Value::as_array)
            && let Some(x) = e.choose(&mut self.rng)
        {
            return x.clone();
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(alts) = obj.get(key).and_then(Value::as_array)
                && let Some(a) = alts.choose(&mut self.rng)
            {
                return self.well(a, name, depth);
            }
        }
        let types: Vec<&str> = match obj.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return self.arbitrary(1),
        };
        let non_null: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();
        let ty =
            if non_null.is_empty() || (types.len() > non_null.len() && self.rng.random_bool(0.2)) {
                "null"
            } else {
                non_null.choose(&mut self.rng).unwrap()
            };
        match ty {
            "null" => Value::Null,
            "boolean" => Value::Bool(self.rng.random()),
            "integer" => {
                let lo = obj.get("minimum").and_then(Value::as_i64).unwrap_or(-1000);
                let hi = obj
                    .get("maximum")
                    .and_then(Value::as_i64)
                    .unwrap_or(lo.max(0) + 1000);
                json!(self.rng.random_range(lo..=hi.max(lo)))
            }
            "number" => json!(self.rng.random::<f64>() * 100.0),
            "string" if date_like(name, s) => json!(GOOD_DATES.choose(&mut self.rng).unwrap()),
            "string" if id_like(name) && self.rng.random_bool(0.8) => {
                json!(self.ctx.ids.choose(&mut self.rng).unwrap())
            }
            "string" if self.rng.random_bool(0.6) => json!(PLAIN.choose(&mut self.rng).unwrap()),
            "string" => json!(self.nasty_string()),
            "array" if depth < 4 => {
                let n = self.rng.random_range(0..3);
                let items = obj.get("items").cloned().unwrap_or(json!({}));
                let mut out: Vec<Value> = Vec::new();
                for _ in 0..n {
                    let x = self.well(&items, name, depth + 1);
                    if !(obj.get("uniqueItems") == Some(&Value::Bool(true)) && out.contains(&x)) {
                        out.push(x);
                    }
                }
                Value::Array(out)
            }
            "object" if depth < 4 => {
                let required = required(s);
                let mut m = Map::new();
                for (k, p) in obj
                    .get("properties")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if required.contains(&k.as_str()) || self.rng.random_bool(0.5) {
                        m.insert(k.clone(), self.well(p, Some(k), depth + 1));
                    }
                }
                Value::Object(m)
            }
            "array" => json!([]),
            _ => json!({}),
        }
    }

    /// A value `schema` certainly refuses, if one can be found.
    fn ill(&mut self, schema: &Value, name: Option<&str>, depth: u32) -> Option<Value> {
        let doc = self.doc;
        let s = resolve(doc, schema);
        let mut allowed = Vec::new();
        members(doc, s, &mut allowed);
        for _ in 0..64 {
            let candidate = match self.rng.random_range(0..12) {
                0 | 1 => self.arbitrary(1),
                // The wrong scalar type.
                2 => match self.rng.random_range(0..4) {
                    0 => Value::Null,
                    1 => Value::Bool(self.rng.random()),
                    2 => self.number(),
                    _ => Value::String(self.nasty_string()),
                },
                // A string outside the enum.
                3 => {
                    let Some(m) = allowed.choose(&mut self.rng).cloned() else {
                        continue;
                    };
                    json!(match self.rng.random_range(0..7) {
                        0 => m.to_uppercase(),
                        1 => format!("{m} "),
                        2 => m.replace('_', "-"),
                        3 => format!("{m}x"),
                        4 => m.chars().skip(1).collect(),
                        5 => "huyện".to_string(),
                        _ => format!("{m},{m}"),
                    })
                }
                4 => json!(BAD_DATES.choose(&mut self.rng).unwrap()),
                // Out of range.
                5 => match (
                    s.get("minimum").and_then(Value::as_i64),
                    s.get("maximum").and_then(Value::as_i64),
                ) {
                    (Some(lo), _) if self.rng.random_bool(0.5) => json!(lo - 1),
                    (_, Some(hi)) => hi.checked_add(1).map_or(json!(u64::MAX), |x| json!(x)),
                    _ => self.number(),
                },
                // An array with one bad item.
                6 if depth < 3 => {
                    let Some(items) = s.get("items") else {
                        continue;
                    };
                    let Some(bad) = self.ill(items, name, depth + 1) else {
                        continue;
                    };
                    let n = self.rng.random_range(0..3);
                    let mut a: Vec<Value> =
                        (0..n).map(|_| self.well(items, name, depth + 1)).collect();
                    let at = self.rng.random_range(0..=a.len());
                    a.insert(at, bad);
                    Value::Array(a)
                }
                // An object with one bad property.
                7 if depth < 3 => {
                    if s.get("properties").is_none() {
                        continue;
                    }
                    match self.shaped(s, depth + 1) {
                        Some(v) => v,
                        None => continue,
                    }
                }
                // A good value wrapped: "x" → ["x"], {"x": …}.
                8 => {
                    let good = self.well(s, name, depth + 1);
                    if self.rng.random_bool(0.5) {
                        json!([good])
                    } else {
                        json!({ "value": good })
                    }
                }
                _ => Value::String(self.nasty_string()),
            };
            if violates(doc, schema, &candidate, name) {
                return Some(candidate);
            }
        }
        None
    }

    /// Generator 2: the object schema's properties, at least one ill-typed.
    fn shaped(&mut self, schema: &Value, depth: u32) -> Option<Value> {
        let doc = self.doc;
        let s = resolve(doc, schema);
        let props = s.get("properties").and_then(Value::as_object)?;
        let required = required(s);
        let mut names: Vec<&String> = props.keys().collect();
        names.shuffle(&mut self.rng);
        let how_many = self.rng.random_range(1..=names.len().clamp(1, 3));
        let mut bad = Map::new();
        for k in names {
            if bad.len() == how_many {
                break;
            }
            if let Some(v) = self.ill(&props[k], Some(k), depth) {
                bad.insert(k.clone(), v);
            }
        }
        if bad.is_empty() {
            return None;
        }
        let mut m = Map::new();
        for (k, p) in props {
            if let Some(v) = bad.remove(k) {
                m.insert(k.clone(), v);
            } else if self.rng.random_bool(if required.contains(&k.as_str()) {
                0.9
            } else {
                0.5
            }) {
                m.insert(k.clone(), self.well(p, Some(k), depth + 1));
            }
        }
        if self.rng.random_bool(0.2) {
            let k = self.key();
            if !props.contains_key(&k) {
                let v = self.arbitrary(1);
                m.insert(k, v);
            }
        }
        let v = Value::Object(m);
        assert!(
            violates(doc, schema, &v, None),
            "generator bug: {v} is valid"
        );
        Some(v)
    }

    /// The schema's properties as an array, by position in a random order.
    /// serde's derived `Deserialize` takes a JSON array for a struct (its
    /// fields in declaration order), but the API documents an object: an
    /// array must be refused like any other wrong shape.
    fn positional(&mut self, schema: &Value) -> Option<Value> {
        let s = resolve(self.doc, schema);
        let props = s.get("properties").and_then(Value::as_object)?;
        let mut entries: Vec<(&String, &Value)> = props.iter().collect();
        entries.shuffle(&mut self.rng);
        let mut out = Vec::new();
        for (k, p) in entries {
            out.push(match self.rng.random_range(0..4) {
                0 => Value::Null,
                _ => self.well(p, Some(k), 1),
            });
        }
        Some(Value::Array(out))
    }

    /// Generator 3: bytes that are not JSON, and JSON under a wrong or
    /// missing content type.
    fn raw(&mut self, schema: &Value) -> Vec<Body> {
        const JSON: Option<&str> = Some("application/json");
        let good = self.well(schema, None, 0).to_string();
        let cut = self.rng.random_range(1..good.len().max(2));
        let truncated: Vec<u8> = good.as_bytes()[..cut.min(good.len().saturating_sub(1))].to_vec();
        let mut with_bom = "\u{feff}".as_bytes().to_vec();
        with_bom.extend_from_slice(b"garbage ]] {");
        let mut bodies = vec![
            Body::raw(JSON, ""),
            Body::raw(JSON, "{\"a\":"),
            Body::raw(JSON, truncated),
            Body::raw(JSON, with_bom),
            Body::raw(JSON, b"{\"name\":\"\xff\xfe\xc3\x28\"}".to_vec()),
            Body::raw(JSON, b"\xff\xfe\x00{\x80".to_vec()),
            Body::raw(JSON, "{\"name\":\"\\ud800\"}"),
            Body::raw(JSON, "{\"name\":\"a\u{1}b\"}"),
            Body::raw(JSON, "{'name': 'x'}"),
            Body::raw(JSON, "{\"name\":\"x\",}"),
            Body::raw(JSON, "NaN"),
            Body::raw(JSON, "{\"on\": 1e999}"),
            Body::raw(JSON, "{\"on\": 01}"),
            Body::raw(JSON, "{} {}"),
            Body::raw(JSON, "[".repeat(300) + &"]".repeat(300)),
            Body::raw(Some("application/json; charset=utf-8"), "\"unterminated"),
            // Well-typed JSON, but not said to be JSON.
            Body::raw(Some("text/plain"), good.clone()),
            Body::raw(Some("application/x-www-form-urlencoded"), good.clone()),
            Body::raw(None, good),
        ];
        bodies.shuffle(&mut self.rng);
        bodies
    }

    /// `n` bodies for one route, every generator represented.
    fn bodies(&mut self, schema: &Value, n: usize) -> Vec<Body> {
        let doc = self.doc;
        let mut out: Vec<Body> = Vec::new();
        // Fixed edge cases first: wrong top-level shapes.
        let props = resolve(doc, schema)
            .get("properties")
            .and_then(Value::as_object)
            .map_or(0, Map::len);
        let mut deep = json!(null);
        for _ in 0..100 {
            deep = json!({ "a": deep });
        }
        for v in [
            json!(null),
            json!(0),
            json!(-0.0),
            json!(""),
            json!("{}"),
            json!(true),
            json!([]),
            json!([{}]),
            Value::Array(vec![Value::Null; props]),
            json!({"": null}),
            json!({"__proto__": {"admin": true}}),
            deep,
        ] {
            if v != json!({}) && violates(doc, schema, &v, None) {
                out.push(Body::Json(v));
            }
        }
        let mut raw = self.raw(schema);
        let raw_share = raw.len().min(n / 6);
        out.extend(raw.drain(..raw_share));
        while out.len() < n {
            let v = match self.rng.random_range(0..20) {
                0..=6 => self.arbitrary_body(schema),
                7 => self
                    .positional(schema)
                    .filter(|v| violates(doc, schema, v, None)),
                _ => self.shaped(schema, 0),
            };
            match v.or_else(|| self.arbitrary_body(schema)) {
                Some(v) => out.push(Body::Json(v)),
                // A route that by design takes any JSON value: only what is
                // not JSON (generator 3) can be wrong.
                None => {
                    if raw.is_empty() {
                        raw = self.raw(schema);
                    }
                    out.push(raw.pop().expect("raw bodies"));
                }
            }
        }
        out.truncate(n);
        out
    }
}

fn required(s: &Value) -> Vec<&str> {
    s.get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

async fn send(c: &Client, method: &Method, path: &str, body: &Body) -> Answer {
    let mut req = c.http.request(method.clone(), format!("{}{path}", c.base));
    if let Some(t) = &c.bearer {
        req = req.bearer_auth(t);
    }
    let (content_type, bytes) = match body {
        Body::Json(v) => (Some("application/json"), serde_json::to_vec(v).unwrap()),
        Body::Raw {
            content_type,
            bytes,
        } => (*content_type, bytes.clone()),
    };
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    let resp = req
        .body(bytes)
        .send()
        .await
        .expect("request reaches the server");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body, text }
}

/// `{"error":{"code":string,"message":string,"field"?:string}}` and nothing else.
fn is_error_json(body: &Value) -> bool {
    let Some(top) = body.as_object() else {
        return false;
    };
    let Some(e) = top.get("error").and_then(Value::as_object) else {
        return false;
    };
    top.len() == 1
        && e.get("code")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty())
        && e.get("message").is_some_and(Value::is_string)
        && e.get("field").is_none_or(Value::is_string)
        && e.keys()
            .all(|k| matches!(k.as_str(), "code" | "message" | "field"))
}

async fn audit_tip(store: &diemcau::store::Store) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0)
}

/// A real fixture object's id for the `{param}` that follows `collection`,
/// so the handler's own checks are reached. A new resource family with
/// write routes under `{id}` belongs here (create one through the API
/// first); until then the first id its list answer shows is used, if any.
async fn real_id(w: &ApiWorld, meeting: &str, collection: &str) -> Option<String> {
    match collection {
        "/api/v1/meetings" => return Some(meeting.to_string()),
        "/api/v1/users" => return Some(w.users["secretary"].clone()),
        "/api/v1/org/units" => return Some(w.unit("A").to_string()),
        "/api/v1/endpoints" => return Some(w.endpoint("a").to_string()),
        _ => {}
    }
    let list = w.admin().get(collection).await;
    if !list.status.is_success() {
        return None;
    }
    let items = match &list.body {
        Value::Array(a) => a.clone(),
        Value::Object(m) => m
            .values()
            .filter_map(Value::as_array)
            .flatten()
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    items
        .iter()
        .find_map(|x| x.get("id").and_then(Value::as_str))
        .map(str::to_string)
}

/// A meeting planned and opened through the API, 30 days ahead (so the
/// auto-open task leaves it alone), with the hub and four rooms: the
/// `/meetings/{id}/…` routes get a real meeting, and the live ones a live
/// room to act on.
async fn open_meeting(w: &ApiWorld) -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let starts = now_ms + 30 * 24 * 3_600_000;
    let made = w
        .admin()
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị giao ban thử nghiệm",
                "kind": "giao_ban",
                "starts_at_ms": starts,
                "ends_at_ms": starts + 2 * 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a"), w.endpoint("b"), w.endpoint("w"), w.endpoint("s")],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
    let opened = w
        .admin()
        .call(Method::POST, &format!("/api/v1/meetings/{id}/open"), None)
        .await;
    assert_eq!(opened.status, 200, "{}", opened.text);
    id
}

/// The concrete paths to try for `path`: with real ids (when there are
/// path parameters and real ids for all of them) and with a nonexistent id.
async fn targets(w: &ApiWorld, meeting: &str, path: &str) -> Vec<(String, usize, &'static str)> {
    let segments: Vec<&str> = path.split('/').collect();
    if !segments.iter().any(|s| s.starts_with('{')) {
        return vec![(path.to_string(), BODIES_PER_ROUTE, "no id")];
    }
    let mut real = Vec::new();
    let mut complete = true;
    for (i, seg) in segments.iter().enumerate() {
        if seg.starts_with('{') {
            match real_id(w, meeting, &real.join("/")).await {
                Some(id) => real.push(id),
                None => {
                    complete = false;
                    real.push(NONEXISTENT_ID.to_string());
                }
            }
        } else {
            real.push(segments[i].to_string());
        }
    }
    let none = segments
        .iter()
        .map(|s| {
            if s.starts_with('{') {
                NONEXISTENT_ID
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let mut out = Vec::new();
    if complete {
        out.push((real.join("/"), BODIES_PER_ROUTE, "real id"));
        out.push((none, BODIES_NONEXISTENT_ID, "nonexistent id"));
    } else {
        println!("random_json: no fixture object for {path}; only a nonexistent id is tried");
        out.push((none, BODIES_PER_ROUTE, "nonexistent id"));
    }
    out
}

/// Every documented operation with an `application/json` request body.
/// Others are skipped: `POST /api/v1/org/import` takes `text/csv`, whose
/// validity is a CSV question, not a JSON one.
fn json_operations(doc: &Value) -> Vec<(Method, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Some(schema) = op["requestBody"]["content"]["application/json"].get("schema")
            else {
                continue;
            };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            ops.push((method, path.clone(), schema.clone()));
        }
    }
    ops
}

both_backends! {
    async fn every_write_route_refuses_random_json_and_changes_nothing(db) {
        let w = world(db).await;
        let seed = run_seed();
        println!("random_json: seed {seed} (replay: {SEED_VAR}={seed})");
        let started = std::time::Instant::now();
        let doc = w.as_role("anonymous").get("/api/v1/openapi.json").await;
        assert_eq!(doc.status, 200, "{}", doc.text);
        let doc = doc.body;
        let ops = json_operations(&doc);
        assert!(ops.len() >= 10, "only {} operations with a JSON body found", ops.len());
        let mut ids: Vec<String> = w.province.units.values().cloned().collect();
        ids.extend(w.province.endpoints.values().cloned());
        ids.extend(w.users.values().cloned());
        ids.sort();
        let ctx = Ctx { ids };
        let admin = w.admin();
        let store = &w.db.store;
        // One line per refused-wrongly body; per route, how many.
        let mut failures: Vec<String> = Vec::new();
        let mut per_route: std::collections::BTreeMap<String, usize> = Default::default();
        let mut sent = 0;
        for (method, path, schema) in &ops {
            // A fresh open meeting for each meeting route, so a wrongly
            // accepted body on one (a cancel, say) cannot hide the next.
            let meeting = if path.starts_with("/api/v1/meetings/{") {
                open_meeting(&w).await
            } else {
                NONEXISTENT_ID.to_string()
            };
            for (concrete, n, label) in targets(&w, &meeting, path).await {
                let before = fingerprint(store).await;
                let mut tip = audit_tip(store).await;
                let route = format!("{method} {path} ({label})");
                let mut g = Gen {
                    doc: &doc,
                    ctx: &ctx,
                    rng: StdRng::seed_from_u64(seed ^ fnv1a(&route)),
                };
                for (i, body) in g.bodies(schema, n).iter().enumerate() {
                    let a = send(admin, method, &concrete, body).await;
                    sent += 1;
                    let mut wrong = Vec::new();
                    if !a.status.is_client_error() {
                        wrong.push("not a 4xx".to_string());
                    } else if !is_error_json(&a.body) {
                        wrong.push("not the error JSON".to_string());
                    }
                    // Every change the API makes is audited, so the audit
                    // tip (one cheap query) names the body that changed
                    // something; the full fingerprint follows each batch.
                    let now = audit_tip(store).await;
                    if now != tip {
                        wrong.push(format!("audit tip moved {tip} → {now}"));
                        tip = now;
                    }
                    if !wrong.is_empty() {
                        *per_route.entry(route.clone()).or_default() += 1;
                        failures.push(format!(
                            "{route} body #{i}: {}\n    sent {}\n    got  {} {}",
                            wrong.join("; "),
                            body.describe(),
                            a.status,
                            a.text.chars().take(300).collect::<String>()
                        ));
                    }
                }
                let after = fingerprint(store).await;
                if after != before {
                    let changed: Vec<String> = after
                        .iter()
                        .filter(|x| !before.contains(x))
                        .map(|(t, n)| {
                            let was = before.iter().find(|(b, _)| b == t).map_or(0, |(_, m)| *m);
                            format!("{t}: {was} → {n}")
                        })
                        .collect();
                    failures.push(format!("{route}: the database changed: {}", changed.join(", ")));
                }
            }
        }
        println!(
            "random_json: {} operations, {sent} bodies in {:.1?}",
            ops.len(),
            started.elapsed()
        );
        let summary: Vec<String> = per_route.iter().map(|(r, n)| format!("  {n:>3}  {r}")).collect();
        assert!(
            failures.is_empty(),
            "random JSON was not refused cleanly (seed {seed}; replay with {SEED_VAR}={seed})\n\
             bodies wrongly answered, by route:\n{}\n{}{}",
            summary.join("\n"),
            failures.iter().take(80).cloned().collect::<Vec<_>>().join("\n"),
            if failures.len() > 80 { "\n…" } else { "" }
        );
    }
}
