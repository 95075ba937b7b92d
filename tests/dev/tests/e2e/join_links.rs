//! Join links through the real components: made, shown on `/join`, redeemed
//! up to `max_uses` exactly (also when many redeem at once), revoked.

use crate::common;

use common::{App, Reply};
use serde_json::{json, Value};
use std::sync::Arc;

async fn make(app: &App, by: &str, acc: &str, body: Value) -> Reply {
    app.post(
        &format!("/v1/accounts/{acc}/join-links"),
        Some(&app.token(by)),
        body,
    )
    .await
}

async fn redeem(app: &App, who: &str, token: &str) -> Reply {
    app.post(
        "/v1/join-links/redeem",
        Some(&app.token(who)),
        json!({ "token": token }),
    )
    .await
}

/// The secret in a new link's URL.
fn secret(made: &Value) -> String {
    let url = made["url"].as_str().expect("a new link has its url");
    assert!(
        url.starts_with("https://invite.example/join?link="),
        "{url}"
    );
    url.rsplit('=').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_link_lets_people_in_until_it_is_used_up_or_revoked() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    let r = make(
        &app,
        "olivia",
        &acc,
        json!({"max_uses": 2, "access_groups": ["eng"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let made = r.json();
    assert_eq!(
        (
            made["uses"].clone(),
            made["status"].clone(),
            made["role"].clone()
        ),
        (json!(0), json!("active"), json!("member"))
    );
    let token = secret(&made);
    let link_id = made["id"].as_str().unwrap().to_owned();

    // The page: whose account, what role, how to join.
    let page = app.get(&format!("/join?link={token}"), None).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("olivia&#39;s team") || html.contains("olivia's team"),
        "{html}"
    );
    assert!(html.contains("Role: member"), "{html}");
    assert!(html.contains("Sign in"), "{html}");

    let r = redeem(&app, "ann", &token).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["join_link_id"], link_id.as_str());
    assert_eq!(r.json()["access_groups"], json!(["eng"]));
    // A member again: the same membership, nothing used.
    let r = redeem(&app, "ann", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(redeem(&app, "ben", &token).await.status, 201);
    let r = redeem(&app, "cat", &token).await;
    assert_eq!((r.status, r.code().as_str()), (410, "join_link_used_up"));
    let listed = app
        .get(
            &format!("/v1/accounts/{acc}/join-links"),
            Some(&app.token("olivia")),
        )
        .await
        .json();
    assert_eq!(listed["data"][0]["uses"], 2);
    assert_eq!(listed["data"][0]["status"], "used_up");
    assert!(
        listed["data"][0].get("url").is_none(),
        "the secret is shown once"
    );
    let page = app.get(&format!("/join?link={token}"), None).await;
    assert_eq!(page.status, 410);

    // Revoked: at once.
    let r = make(&app, "olivia", &acc, json!({"max_uses": 5})).await;
    let second = r.json();
    let token2 = secret(&second);
    let path = format!(
        "/v1/accounts/{acc}/join-links/{}",
        second["id"].as_str().unwrap()
    );
    let r = app.delete(&path, Some(&app.token("olivia"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "revoked");
    assert_eq!(r.json()["revoked_by"], "olivia");
    let r = redeem(&app, "dan", &token2).await;
    assert_eq!((r.status, r.code().as_str()), (410, "join_link_revoked"));
    assert_eq!(
        app.get(&format!("/join?link={token2}"), None).await.status,
        410
    );
    assert_eq!(
        app.delete(&path, Some(&app.token("olivia"))).await.status,
        200
    );

    app.settle().await;
    let kinds = app.hook_kinds();
    for kind in ["join_link.created", "member.joined", "join_link.revoked"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| *k == "member.joined").count(), 2);
    assert_eq!(
        kinds.iter().filter(|k| *k == "join_link.revoked").count(),
        1
    );
    for hook in app.hooks() {
        assert!(!hook.body.contains(&token) && !hook.body.contains(&token2));
    }
}

#[tokio::test]
async fn bad_input_is_a_4xx_problem_and_changes_nothing() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    let bad = [
        json!({"max_uses": 0}),
        json!({"max_uses": 10001}),
        json!({}),
        json!({"max_uses": 1, "role": "owner"}),
        json!({"max_uses": 1, "ttl_seconds": 2592001}),
        json!({"max_uses": 1, "allowed_domains": ["not a domain"]}),
        json!({"max_uses": 1, "access_groups": ["no spaces"]}),
        json!({"max_uses": 1, "colour": "red"}),
        json!({"max_uses": null}),
    ];
    for body in bad {
        let r = make(&app, "olivia", &acc, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
    }
    let r = redeem(&app, "ann", "not-a-token").await;
    assert_eq!((r.status, r.code().as_str()), (404, "join_link_not_found"));
    let r = app
        .post(
            "/v1/join-links/redeem",
            Some(&app.token("ann")),
            json!({"token": "x", "extra": 1}),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "unknown_field"));
    let r = app
        .post("/v1/join-links/redeem", None, json!({"token": "x"}))
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .get(
            &format!("/v1/accounts/{acc}/join-links/lnk_nope"),
            Some(&app.token("olivia")),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (404, "join_link_not_found"));
    assert_eq!(app.get("/join?link=nope", None).await.status, 404);

    // Unverified addresses and plain members.
    let r = make(&app, "olivia", &acc, json!({"max_uses": 3})).await;
    let token = secret(&r.json());
    let unverified = app.token_with("una", Some("una@example.com"), false, None);
    let r = app
        .post(
            "/v1/join-links/redeem",
            Some(&unverified),
            json!({ "token": token }),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (403, "email_unverified"));
    assert_eq!(redeem(&app, "mo", &token).await.status, 201);
    let r = make(&app, "mo", &acc, json!({"max_uses": 3})).await;
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    let listed = app
        .get(
            &format!("/v1/accounts/{acc}/join-links"),
            Some(&app.token("olivia")),
        )
        .await
        .json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["uses"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_people_at_once_on_ten_uses_make_ten_members() {
    thirty_people_on_ten_uses(App::start().await).await;
}

pub(crate) async fn thirty_people_on_ten_uses(app: App) {
    let app = Arc::new(app);
    let acc = app.account("olivia").await;
    let r = make(&app, "olivia", &acc, json!({"max_uses": 10})).await;
    let token = secret(&r.json());
    let handles: Vec<_> = (0..30)
        .map(|i| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { redeem(&app, &format!("p{i}"), &token).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for h in handles {
        let r = h.await.unwrap();
        let code = if r.status == 201 {
            String::new()
        } else {
            r.code()
        };
        statuses.push((r.status, code));
    }
    let joined = statuses.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(joined, 10, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|(s, c)| *s == 201 || (*s == 410 && c == "join_link_used_up")),
        "{statuses:?}"
    );
    let members = app
        .get(
            &format!("/v1/accounts/{acc}/members?limit=100"),
            Some(&app.token("olivia")),
        )
        .await
        .json();
    assert_eq!(members["data"].as_array().unwrap().len(), 11);
}
