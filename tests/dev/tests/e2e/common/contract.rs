//! The OpenAPI document as the tests hold the app to it: every answer the
//! end-to-end tests see must be documented for its route, method and status,
//! with the documented content type (and a documented problem `code`), and
//! its JSON body must match the documented schema, closed: a field the app
//! sends and the document does not name fails, as does a required field the
//! app leaves out. Webhook payloads are held to `WebhookEvent` the same way.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.yaml");
        let text = std::fs::read_to_string(path).expect("openapi.yaml is readable");
        serde_yaml::from_str(&text).expect("openapi.yaml parses")
    })
}

/// The documented path template a concrete path matches, if any.
pub fn template_for(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    document()["paths"]
        .as_object()?
        .keys()
        .find(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segments.len()
                && ts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
        })
        .cloned()
}

fn resolve(v: &Value) -> &Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let mut node = document();
            for part in r.trim_start_matches("#/").split('/') {
                node = &node[part];
            }
            node
        }
        None => v,
    }
}

/// `schema` with every `$ref` replaced by what it names, and every object
/// that lists its properties closed to others.
fn strict(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            if map.contains_key("$ref") {
                return strict(resolve(schema));
            }
            let mut out: Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), strict(v))).collect();
            if out.contains_key("properties") && !out.contains_key("additionalProperties") {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(strict).collect()),
        other => other.clone(),
    }
}

/// Panics unless `body` matches `schema` (held strictly, see [`strict`]).
pub fn check_schema(what: &str, schema: &Value, body: &Value) {
    static COMPILED: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let key = schema.to_string();
    let validator = {
        let mut cache = COMPILED.get_or_init(Default::default).lock().unwrap();
        cache
            .entry(key)
            .or_insert_with(|| {
                Arc::new(
                    jsonschema::validator_for(&strict(schema)).unwrap_or_else(|e| {
                        panic!("{what}: the documented schema is invalid: {e}")
                    }),
                )
            })
            .clone()
    };
    let errors: Vec<String> = validator
        .iter_errors(body)
        .take(5)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the body departs from openapi.yaml: {errors:#?}\n{body:#}"
    );
}

/// Panics unless a webhook payload is a documented `WebhookEvent`.
pub fn check_webhook(body: &str) {
    let payload: Value = serde_json::from_str(body).expect("a webhook payload is JSON");
    let schema = &document()["components"]["schemas"]["WebhookEvent"];
    check_schema("webhook payload", schema, &payload);
}

/// Panics when an answer is not what the document says it can be.
pub fn check(method: &str, path: &str, status: u16, content_type: Option<&str>, body: &[u8]) {
    // CORS preflights are the browser's, answered the same on every API path
    // (README, "Cross-origin use"); the document lists the operations.
    if method == "OPTIONS" {
        return;
    }
    let Some(template) = template_for(path) else {
        assert_eq!(
            status, 404,
            "{method} {path}: undocumented path answered {status}"
        );
        return;
    };
    let op = &document()["paths"][&template][method.to_ascii_lowercase()];
    if op.is_null() {
        assert_eq!(
            status, 405,
            "{method} {template}: undocumented method answered {status}"
        );
        return;
    }
    let response = resolve(&op["responses"][status.to_string()]);
    assert!(
        !response.is_null(),
        "{method} {template}: status {status} is not documented"
    );
    let documented: Vec<&String> = response["content"]
        .as_object()
        .map(|c| c.keys().collect())
        .unwrap_or_default();
    let actual = content_type.map(|c| c.split(';').next().unwrap_or(c).trim());
    match actual {
        None => assert!(
            documented.is_empty(),
            "{method} {template} {status}: no content type, documented {documented:?}"
        ),
        Some(ct) => assert!(
            documented.iter().any(|d| *d == ct),
            "{method} {template} {status}: {ct} not in {documented:?}"
        ),
    }
    if let Some(ct) = actual.filter(|ct| ct.ends_with("json")) {
        let schema = resolve(&response["content"][ct]["schema"]);
        if !schema.is_null() {
            let value: Value = serde_json::from_slice(body)
                .unwrap_or_else(|e| panic!("{method} {template} {status}: not JSON: {e}"));
            check_schema(&format!("{method} {template} {status}"), schema, &value);
        }
    }
    if actual == Some("application/problem+json") {
        let problem: Value = serde_json::from_slice(body).expect("a problem is JSON");
        let codes = &document()["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
        let known = codes
            .as_array()
            .is_some_and(|c| c.contains(&problem["code"]));
        assert!(
            known,
            "{method} {template}: problem code {} is not documented",
            problem["code"]
        );
        assert_eq!(problem["status"], status);
    }
}
