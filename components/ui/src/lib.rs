//! `ui`: serves the drop-in admin widget, `<invitations-admin>`, as one
//! static script, and answers `404 not_found` for every path no other
//! component serves (the catch-all route comes here because this component
//! can do nothing else). No store, no variables, no outbound calls.
//!
//! Routes: `/ui/invitations-admin.js` (GET, HEAD), `/...`.

use invitations_edge::problem::ApiError;
use invitations_spin::{respond, web};
use sha2::{Digest, Sha256};
use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;

/// The widget: plain modern JavaScript, no build step, no dependencies.
const SCRIPT: &str = include_str!("../invitations-admin.js");

/// A week: the URL does not change between releases, so browsers check the
/// ETag after that (a 304 costs no body).
const CACHE_CONTROL: &str = "public, max-age=604800";

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    respond::send(out, answer(&req));
}

/// The one route this component serves a body on.
const SCRIPT_ROUTE: &str = "/ui/invitations-admin.js";

fn answer(req: &Request) -> Response {
    if web::route(req) != SCRIPT_ROUTE {
        return web::problem(&ApiError::NotFound);
    }
    if !matches!(req.method(), Method::Get | Method::Head) {
        return web::problem(&ApiError::MethodNotAllowed("GET, HEAD"));
    }
    let etag = etag();
    let fresh = req
        .header("if-none-match")
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let builder = |status: u16| {
        let mut b = Response::builder();
        b.status(status)
            .header("etag", etag.as_str())
            .header("cache-control", CACHE_CONTROL)
            // Public code: any page may load it, as a module script too.
            .header("access-control-allow-origin", "*")
            .header("x-content-type-options", "nosniff");
        b
    };
    if fresh {
        return builder(304).build();
    }
    let mut b = builder(200);
    b.header("content-type", "text/javascript; charset=utf-8");
    if req.method() == &Method::Head {
        return b.header("content-length", SCRIPT.len().to_string()).build();
    }
    b.body(SCRIPT).build()
}

fn etag() -> String {
    let digest = Sha256::digest(SCRIPT.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}
