//! Changing a member, and leaving, through the real components.

use crate::common;

use common::App;
use serde_json::{json, Value};

/// Makes `who` a member of `acc` (invited by olivia with `role`).
async fn join(app: &App, acc: &str, who: &str, role: &str) {
    let email = format!("{who}@example.com");
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations"),
            Some(&app.token("olivia")),
            json!({"emails": [email], "role": role, "access_groups": ["eng"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let token = app.last_mail(&email).token().unwrap();
    assert_eq!(app.accept(who, &token).await.status, 200);
}

async fn patch(app: &App, by: &str, acc: &str, user: &str, body: Value) -> common::Reply {
    app.send(
        "PATCH",
        &format!("/v1/accounts/{acc}/members/{user}"),
        Some(&app.token(by)),
        Some(serde_json::to_vec(&body).unwrap()),
        &[],
    )
    .await
}

#[tokio::test]
async fn owners_and_admins_change_members_within_their_rights() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    join(&app, &acc, "ann", "admin").await;
    join(&app, &acc, "ben", "member").await;
    join(&app, &acc, "cat", "member").await;

    let r = patch(
        &app,
        "ann",
        &acc,
        "ben",
        json!({"role": "admin", "access_groups": ["ops"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (r.json()["role"].as_str(), r.json()["access_groups"].clone()),
        (Some("admin"), json!(["ops"]))
    );
    let hook = app
        .hooks()
        .into_iter()
        .find(|h| h.kind() == "member.updated")
        .expect("member.updated");
    let body: Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(
        body["previous"],
        json!({"role": "member", "access_groups": ["eng"]})
    );
    assert_eq!(body["data"]["role"], "admin");

    // What an admin may not do, members and services neither.
    for (by, user, body, code) in [
        ("ann", "ben", json!({"role": "owner"}), "forbidden"),
        ("ann", "olivia", json!({"access_groups": []}), "forbidden"),
        ("cat", "ann", json!({"access_groups": []}), "forbidden"),
        (
            "olivia",
            "zed",
            json!({"access_groups": []}),
            "member_not_found",
        ),
        (
            "olivia",
            "ben",
            json!({"role": "boss"}),
            "validation_failed",
        ),
        ("olivia", "ben", json!({"role": null}), "validation_failed"),
        ("olivia", "ben", json!({"colour": "red"}), "unknown_field"),
    ] {
        let r = patch(&app, by, &acc, user, body.clone()).await;
        assert_eq!(r.code(), code, "{by} {user} {body}: {}", r.text());
    }
    let service = app.token_with("svc", None, false, Some("service"));
    let r = app
        .send(
            "PATCH",
            &format!("/v1/accounts/{acc}/members/ben"),
            Some(&service),
            Some(br#"{"access_groups": []}"#.to_vec()),
            &[],
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden".to_owned()));

    // Ownership moves; the last owner stays.
    assert_eq!(
        patch(&app, "olivia", &acc, "ben", json!({"role": "owner"}))
            .await
            .status,
        200
    );
    assert_eq!(
        patch(&app, "olivia", &acc, "olivia", json!({"role": "admin"}))
            .await
            .status,
        200
    );
    let r = patch(&app, "ben", &acc, "ben", json!({"role": "member"})).await;
    assert_eq!((r.status, r.code()), (409, "last_owner".to_owned()));
    let account = app
        .get(&format!("/v1/accounts/{acc}"), Some(&app.token("ben")))
        .await;
    assert_eq!(account.json()["owners"], json!(["ben"]));
}

#[tokio::test]
async fn a_member_leaves_and_the_app_hears_who_went_how() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    join(&app, &acc, "ben", "member").await;
    join(&app, &acc, "cat", "member").await;
    let r = app
        .delete(
            &format!("/v1/accounts/{acc}/members/ben"),
            Some(&app.token("ben")),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = app
        .delete(
            &format!("/v1/accounts/{acc}/members/cat"),
            Some(&app.token("olivia")),
        )
        .await;
    assert_eq!(r.status, 204);
    let removed: Vec<Value> = app
        .hooks()
        .into_iter()
        .filter(|h| h.kind() == "member.removed")
        .map(|h| serde_json::from_str::<Value>(&h.body).unwrap()["data"].clone())
        .collect();
    let of = |u: &str| removed.iter().find(|m| m["user_id"] == u).unwrap()["removed"].clone();
    assert_eq!(
        (of("ben")["left"].clone(), of("ben")["by"].clone()),
        (json!(true), json!("ben"))
    );
    assert_eq!(
        (of("cat")["left"].clone(), of("cat")["by"].clone()),
        (json!(false), json!("olivia"))
    );
    // The last owner cannot leave.
    let r = app
        .delete(
            &format!("/v1/accounts/{acc}/members/olivia"),
            Some(&app.token("olivia")),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "last_owner".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_changes_of_one_member_leave_one_of_them() {
    let app = std::sync::Arc::new(App::start().await);
    let acc = app.account("olivia").await;
    join(&app, &acc, "ben", "member").await;
    // On the host, each store's semantics in turn; on real Spin, its own store.
    let modes: &[bool] = if app.on_host() {
        &[false, true]
    } else {
        &[false]
    };
    for &redis in modes {
        if app.on_host() {
            app.host().faults().set_redis_semantics(redis);
        }
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let (app, acc) = (app.clone(), acc.clone());
                tokio::spawn(async move {
                    let r = patch(
                        &app,
                        "olivia",
                        &acc,
                        "ben",
                        json!({"access_groups": [format!("g{i}")]}),
                    )
                    .await;
                    (r.status, r.json())
                })
            })
            .collect();
        let mut done = Vec::new();
        for h in handles {
            let (status, body) = h.await.unwrap();
            match status {
                200 => done.push(body["access_groups"].clone()),
                // Out of compare-and-swap attempts: refused whole, retryable.
                503 => assert_eq!(body["code"], "contended"),
                other => panic!("redis {redis}: {other} {body}"),
            }
        }
        assert!(!done.is_empty());
        let now = app
            .get(
                &format!("/v1/accounts/{acc}/members/ben"),
                Some(&app.token("olivia")),
            )
            .await
            .json()["access_groups"]
            .clone();
        assert!(
            done.contains(&now),
            "redis {redis}: {now} not among {done:?}"
        );
    }
}
