//! The OpenAPI document as the tests hold the app to it: every answer the
//! end-to-end tests see must be documented for its route, method and status,
//! with the documented content type (and a documented problem `code`).

use serde_json::Value;
use std::sync::OnceLock;

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

/// Panics when an answer is not what the document says it can be.
pub fn check(method: &str, path: &str, status: u16, content_type: Option<&str>, body: &[u8]) {
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
