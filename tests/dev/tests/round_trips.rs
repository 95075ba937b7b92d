//! Store round trips per request as the host counts them, on the real
//! components, against the domain's documented table (`docs/design.md` section 2: writes per
//! operation are the cost that matters most).

mod common;

use common::App;
use serde_json::json;

async fn tagged(
    app: &App,
    tag: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, u64, u64) {
    let body = body.map(|b| serde_json::to_vec(&b).unwrap());
    let r = app
        .send(method, path, token, body, &[("x-test-tag", tag)])
        .await;
    let record = app
        .host()
        .stats()
        .tagged(tag)
        .expect("the host recorded the request");
    (r.status, record.round_trips(), record.writes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_per_operation_needs_host_counters() {
    if common::skipped_on_spin("store round trips are counted by the test host") {
        return;
    }
    let app = App::start().await;
    // The documented table is for a store whose batch reads work (SQLite);
    // the domain's tests give the Redis costs.
    app.host().faults().set_redis_semantics(false);
    let owner = app.token("olivia");
    let (_, create, create_writes) = tagged(
        &app,
        "create",
        "POST",
        "/v1/accounts",
        Some(&owner),
        Some(json!({"name": "Acme"})),
    )
    .await;
    let acc = app.account("olivia").await;
    let inv_path = format!("/v1/accounts/{acc}/invitations");

    let (s, invite_one, invite_one_writes) = tagged(
        &app,
        "invite1",
        "POST",
        &inv_path,
        Some(&owner),
        Some(json!({"emails": ["bob@example.com"]})),
    )
    .await;
    assert_eq!(s, 201);
    let emails: Vec<String> = (0..100).map(|i| format!("p{i}@example.com")).collect();
    let (s, invite_100, invite_100_writes) = tagged(
        &app,
        "invite100",
        "POST",
        &inv_path,
        Some(&owner),
        Some(json!({"emails": emails})),
    )
    .await;
    assert_eq!(s, 201);
    let (_, list, _) = tagged(
        &app,
        "list",
        "GET",
        &format!("{inv_path}?limit=50"),
        Some(&owner),
        None,
    )
    .await;
    let token = app.last_mail("bob@example.com").token().unwrap();
    let (_, preview, _) = tagged(
        &app,
        "preview",
        "GET",
        &format!("/v1/invitations/preview?token={token}"),
        None,
        None,
    )
    .await;
    let (s, accept, accept_writes) = tagged(
        &app,
        "accept",
        "POST",
        "/v1/invitations/accept",
        Some(&app.token("bob")),
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(s, 200);
    let p1 = app
        .get(&format!("{inv_path}?email=p1@example.com"), Some(&owner))
        .await
        .json()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p2 = app
        .get(&format!("{inv_path}?email=p2@example.com"), Some(&owner))
        .await
        .json()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, cancel, cancel_writes) = tagged(
        &app,
        "cancel",
        "DELETE",
        &format!("{inv_path}/{p1}"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(s, 200);
    app.advance(120).await;
    let owner = app.token("olivia");
    let (s, resend, resend_writes) = tagged(
        &app,
        "resend",
        "POST",
        &format!("{inv_path}/{p2}/resend"),
        Some(&owner),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, members, _) = tagged(
        &app,
        "members",
        "GET",
        &format!("/v1/accounts/{acc}/members"),
        Some(&owner),
        None,
    )
    .await;
    let (s, remove, remove_writes) = tagged(
        &app,
        "remove",
        "DELETE",
        &format!("/v1/accounts/{acc}/members/bob"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(s, 204);

    println!("operation            round trips  write transactions");
    for (name, n, w) in [
        ("create account", create, create_writes),
        ("invite 1 (+ record)", invite_one, invite_one_writes),
        ("invite 100 (+ record)", invite_100, invite_100_writes),
        ("list 50", list, 0),
        ("preview", preview, 0),
        ("accept", accept, accept_writes),
        ("cancel", cancel, cancel_writes),
        ("resend (+ record)", resend, resend_writes),
        ("list members", members, 0),
        ("remove member", remove, remove_writes),
    ] {
        println!("{name:<22} {n:>10} {w:>7}");
    }
    // Write transactions (each one flushed on Spin's SQLite store), webhooks
    // delivered: the domain's write column plus 1 to record the sends.
    assert_eq!(
        [
            create_writes,
            invite_one_writes,
            invite_100_writes,
            accept_writes,
            cancel_writes,
            resend_writes,
            remove_writes
        ],
        [2, 5 + 1, 20 + 1, 3, 1, 4 + 1, 1]
    );
    // The domain's table (crates/invitations/src/lib.rs) plus what the component adds:
    // recording the sends (2) after an invite or a resend.
    assert_eq!(create, 3);
    assert_eq!(invite_one, 8 + 2);
    assert_eq!(invite_100, 6 + 2 * 16 + 2);
    assert_eq!(list, 4);
    assert_eq!(preview, 2);
    assert_eq!(accept, 7);
    assert_eq!(cancel, 4);
    assert_eq!(resend, 8 + 2);
    assert_eq!(members, 4);
    assert_eq!(remove, 3);
}
