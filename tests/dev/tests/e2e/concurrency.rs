//! Races through HTTP: the invariants hold on the real components.

use crate::common;

use common::App;
use futures_like::join_all;
use serde_json::json;

mod futures_like {
    /// Runs futures concurrently on the test's runtime.
    pub async fn join_all<F: std::future::Future + Send + 'static>(fs: Vec<F>) -> Vec<F::Output>
    where
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn races_keep_the_invariants() {
    races(App::start().await).await;
}

/// Invites, accepts, cancels and removals racing on one account.
pub(crate) async fn races(app: App) {
    let app = std::sync::Arc::new(app);
    let owner = app.token("olivia");
    let acc = app.account("olivia").await;

    // 10 parallel invites of one address: one invitation.
    let fs: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            let acc = acc.clone();
            async move {
                app.invite("olivia", &acc, &["bob@example.com"])
                    .await
                    .status
            }
        })
        .collect();
    let statuses = join_all(fs).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        9,
        "{statuses:?}"
    );
    let open = app
        .get(
            &format!("/v1/accounts/{acc}/invitations?state=pending"),
            Some(&owner),
        )
        .await;
    assert_eq!(open.json()["data"].as_array().unwrap().len(), 1);

    // 20 parallel accepts of one token: one membership.
    let token = app.last_mail("bob@example.com").token().unwrap();
    let fs: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            let token = token.clone();
            let who = if i % 2 == 0 {
                "bob".to_owned()
            } else {
                format!("bob-twin-{i}")
            };
            async move {
                let t = app.token_with(&who, Some("bob@example.com"), true, None);
                let r = app
                    .post("/v1/invitations/accept", Some(&t), json!({"token": token}))
                    .await;
                (
                    r.status,
                    r.json()["member"]["user_id"].as_str().map(str::to_owned),
                )
            }
        })
        .collect();
    let outs = join_all(fs).await;
    let winners: std::collections::HashSet<_> = outs
        .iter()
        .filter(|(s, _)| *s == 200)
        .filter_map(|(_, u)| u.clone())
        .collect();
    assert_eq!(winners.len(), 1, "{outs:?}");
    assert!(outs.iter().all(|(s, _)| *s < 500), "no 5xx: {outs:?}");
    let members = app
        .get(&format!("/v1/accounts/{acc}/members"), Some(&owner))
        .await
        .json();
    assert_eq!(members["data"].as_array().unwrap().len(), 2);

    // 20 parallel accepts of one token by the same person (a double-clicked
    // link, a retrying client): no 5xx, one membership.
    let (_, token) = app.invite_one("olivia", &acc, "cara@example.com").await;
    let fs: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            let token = token.clone();
            async move {
                let t = app.token("cara");
                app.post("/v1/invitations/accept", Some(&t), json!({"token": token}))
                    .await
                    .status
            }
        })
        .collect();
    let statuses = join_all(fs).await;
    assert!(statuses.iter().all(|s| *s < 500), "no 5xx: {statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    let members = app
        .get(&format!("/v1/accounts/{acc}/members"), Some(&owner))
        .await
        .json();
    let caras = members["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["user_id"] == "cara")
        .count();
    assert_eq!(caras, 1, "{members}");

    // Accept racing cancel: exactly one wins.
    for i in 0..5 {
        let email = format!("race{i}@example.com");
        let (id, token) = app.invite_one("olivia", &acc, &email).await;
        let who = format!("race{i}");
        let (a, c) = {
            let (app1, app2) = (app.clone(), app.clone());
            let path = format!("/v1/accounts/{acc}/invitations/{id}");
            let owner = owner.clone();
            let accept = tokio::spawn(async move { app1.accept(&who, &token).await.status });
            let cancel = tokio::spawn(async move { app2.delete(&path, Some(&owner)).await.status });
            (accept.await.unwrap(), cancel.await.unwrap())
        };
        assert!((a == 200) != (c == 200), "accept {a}, cancel {c}");
        let state = app
            .get(
                &format!("/v1/accounts/{acc}/invitations/{id}"),
                Some(&owner),
            )
            .await
            .json()["state"]
            .clone();
        assert_eq!(state, if a == 200 { "accepted" } else { "cancelled" });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accept_racing_decline_ends_in_exactly_one() {
    let app = std::sync::Arc::new(App::start().await);
    let owner = app.token("olivia");
    let acc = app.account("olivia").await;
    // On the host, each store's semantics in turn (the Redis one reports a
    // swap that went through as failed); on real Spin, the store it runs.
    let modes: &[bool] = if app.on_host() {
        &[false, true]
    } else {
        &[false]
    };
    for (m, &redis) in modes.iter().enumerate() {
        if app.on_host() {
            app.host().faults().set_redis_semantics(redis);
        }
        for i in 0..5 {
            let email = format!("answer{m}-{i}@example.com");
            let (id, token) = app.invite_one("olivia", &acc, &email).await;
            let who = format!("answer{m}-{i}");
            let (a, d) = {
                let (app1, app2) = (app.clone(), app.clone());
                let (t1, t2) = (token.clone(), token.clone());
                let accept = tokio::spawn(async move { app1.accept(&who, &t1).await.status });
                let decline = tokio::spawn(async move { app2.decline(&t2).await.status });
                (accept.await.unwrap(), decline.await.unwrap())
            };
            assert!(
                (a == 200) != (d == 200),
                "redis {redis}: accept {a}, decline {d}"
            );
            let state = app.invitation(&acc, &id, "olivia").await["state"].clone();
            assert_eq!(state, if a == 200 { "accepted" } else { "declined" });
            let member = app
                .get(
                    &format!("/v1/accounts/{acc}/members/answer{m}-{i}"),
                    Some(&owner),
                )
                .await
                .status;
            assert_eq!(member, if a == 200 { 200 } else { 404 });
        }
    }
}
