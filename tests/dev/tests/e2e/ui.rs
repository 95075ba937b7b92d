//! The admin widget's script, served by the app, and cross-origin use of the
//! API (`cors_allowed_origins`), through the real components.

use crate::common;

use common::{App, Options};

const ALLOWED: &str = "https://app.example.com";

#[tokio::test]
async fn the_widget_is_one_cached_script_under_40_kb() {
    let app = App::start().await;
    let r = app.get("/ui/invitations-admin.js", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(r.body.len() < 40 * 1024, "{} bytes", r.body.len());
    let script = r.text();
    assert!(script.contains("customElements.define(\"invitations-admin\""));
    // No imports: one request loads it all.
    assert!(!script.contains("import "), "the script loads nothing else");
    let cache = r.header("cache-control").unwrap();
    assert!(cache.contains("max-age=604800"), "{cache}");
    let etag = r.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    let again = app
        .send(
            "GET",
            "/ui/invitations-admin.js",
            None,
            None,
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let stale = app
        .send(
            "GET",
            "/ui/invitations-admin.js",
            None,
            None,
            &[("if-none-match", "\"something-else\"")],
        )
        .await;
    assert_eq!(stale.status, 200);
    let post = app
        .send(
            "POST",
            "/ui/invitations-admin.js",
            None,
            Some(b"x".to_vec()),
            &[],
        )
        .await;
    assert_eq!(post.status, 405);
    assert_eq!(post.code(), "method_not_allowed");
}

async fn preflight(app: &App, path: &str, origin: &str) -> common::Reply {
    app.send(
        "OPTIONS",
        path,
        None,
        None,
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, content-type",
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn listed_origins_get_cors_answers_and_others_get_none() {
    let app = App::start_with(Options {
        variables: vec![(
            "cors_allowed_origins",
            format!("{ALLOWED}, http://localhost:5173"),
        )],
        ..Default::default()
    })
    .await;
    let acc = app.account("olivia").await;
    let path = format!("/v1/accounts/{acc}/invitations");

    let ok = preflight(&app, &path, ALLOWED).await;
    assert_eq!(ok.status, 204);
    assert_eq!(ok.header("access-control-allow-origin"), Some(ALLOWED));
    let methods = ok.header("access-control-allow-methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let headers = ok.header("access-control-allow-headers").unwrap();
    assert!(headers.contains("authorization"), "{headers}");
    assert_eq!(ok.header("access-control-allow-credentials"), None);

    let other = preflight(&app, &path, "https://evil.example").await;
    assert_eq!(other.header("access-control-allow-origin"), None);
    let lookalike = preflight(&app, &path, "https://app.example.com.evil.example").await;
    assert_eq!(lookalike.header("access-control-allow-origin"), None);

    // The real request carries the header for a listed origin only, on
    // answers and on problems alike.
    let token = app.token("olivia");
    let listed = app
        .send("GET", &path, Some(&token), None, &[("origin", ALLOWED)])
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.header("access-control-allow-origin"), Some(ALLOWED));
    assert_eq!(listed.header("vary"), Some("Origin"));
    let problem = app
        .send("GET", &path, None, None, &[("origin", ALLOWED)])
        .await;
    assert_eq!(problem.status, 401);
    assert_eq!(problem.header("access-control-allow-origin"), Some(ALLOWED));
    let unlisted = app
        .send(
            "GET",
            &path,
            Some(&token),
            None,
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(unlisted.status, 200);
    assert_eq!(unlisted.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn without_cors_allowed_origins_the_api_is_same_origin_only() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    let r = preflight(&app, &format!("/v1/accounts/{acc}"), ALLOWED).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = app
        .send(
            "GET",
            &format!("/v1/accounts/{acc}"),
            Some(&app.token("olivia")),
            None,
            &[("origin", ALLOWED)],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    // An OPTIONS that is not a preflight is an ordinary request: 405.
    let token = app.token("olivia");
    let r = app
        .send(
            "OPTIONS",
            &format!("/v1/accounts/{acc}"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 405);
}
