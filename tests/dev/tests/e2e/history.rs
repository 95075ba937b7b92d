//! The account's history through the real components: every change, as its
//! webhook carried it, with who made it; read newest first, by type, and
//! forward from the last event a receiver saw; purged by the sweep.

use crate::common;

use common::{App, Options, Reply};
use serde_json::{json, Value};

async fn events(app: &App, acc: &str, by: &str, query: &str) -> Reply {
    app.get(
        &format!("/v1/accounts/{acc}/events{query}"),
        Some(&app.token(by)),
    )
    .await
}

/// Every page of a read, following `next_cursor`.
async fn all_events(app: &App, acc: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut r = events(app, acc, "olivia", query).await;
    loop {
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json();
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        let Some(cursor) = page["next_cursor"].as_str() else {
            return out;
        };
        let sep = if query.is_empty() { "?" } else { "&" };
        let next = format!("{query}{sep}cursor={cursor}").replace("?&", "?");
        // A cursor goes on alone: it already holds the direction.
        let next = strip_after(&next);
        r = events(app, acc, "olivia", &next).await;
    }
}

fn strip_after(query: &str) -> String {
    let kept: Vec<&str> = query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.starts_with("after="))
        .collect();
    format!("?{}", kept.join("&"))
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The webhooks received, once each, in the order they first came.
fn hook_bodies(app: &App) -> Vec<(String, Value)> {
    let mut seen = std::collections::BTreeSet::new();
    app.hooks()
        .into_iter()
        .filter(|h| seen.insert(h.id.clone()))
        .map(|h| (h.id.clone(), h.json()))
        .collect()
}

#[tokio::test]
async fn every_change_with_who_made_it_newest_first_and_by_type() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    let (bob_inv, bob_token) = app.invite_one("olivia", &acc, "bob@example.com").await;
    let (carol_inv, _) = app.invite_one("olivia", &acc, "carol@example.com").await;
    let (_, dan_token) = app.invite_one("olivia", &acc, "dan@example.com").await;
    assert_eq!(app.accept("bob", &bob_token).await.status, 200);
    let r = app
        .delete(
            &format!("/v1/accounts/{acc}/invitations/{carol_inv}"),
            Some(&app.token("olivia")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.decline(&dan_token).await.status, 200);
    let r = app
        .send(
            "PATCH",
            &format!("/v1/accounts/{acc}/members/bob"),
            Some(&app.token("olivia")),
            Some(br#"{"role": "admin"}"#.to_vec()),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    app.settle().await;

    // The same events as the webhooks, newest first, in pages. (On real
    // Spin the last webhooks may still be on their way: wait for them.)
    let history = all_events(&app, &acc, "?limit=3").await;
    let what = format!("{} webhook deliveries", history.len());
    let within = std::time::Duration::from_secs(10);
    let hooks = common::wait_for(&what, within, async || {
        Some(hook_bodies(&app)).filter(|hooks| hooks.len() >= history.len())
    })
    .await;
    let mut oldest_first = history.clone();
    oldest_first.reverse();
    assert_eq!(
        ids(&oldest_first),
        hooks.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>()
    );
    for (event, (_, hook)) in oldest_first.iter().zip(&hooks) {
        for field in ["type", "timestamp", "data"] {
            assert_eq!(event[field], hook[field], "{field} of {}", event["id"]);
        }
        assert_eq!(event.get("previous"), hook.get("previous"));
    }

    // Who made each change.
    let actor_of = |kind: &str| -> Vec<Value> {
        history
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| e["actor"].clone())
            .collect()
    };
    let olivia = json!({"type": "user", "id": "olivia", "email": "olivia@example.com"});
    assert_eq!(actor_of("invitation.created"), vec![olivia.clone(); 3]);
    assert_eq!(
        actor_of("invitation.sent"),
        vec![json!({"type": "system"}); 3]
    );
    assert_eq!(
        actor_of("invitation.accepted"),
        vec![json!({"type": "user", "id": "bob", "email": "bob@example.com"})]
    );
    assert_eq!(actor_of("invitation.cancelled"), vec![olivia.clone()]);
    assert_eq!(
        actor_of("invitation.declined"),
        vec![json!({"type": "link"})]
    );
    assert_eq!(actor_of("member.updated"), vec![olivia]);
    assert_eq!(history[0]["type"], "member.updated");
    assert_eq!(history[0]["previous"]["role"], "member");

    // By type.
    let created = all_events(&app, &acc, "?type=invitation.created&limit=2").await;
    assert_eq!(created.len(), 3);
    assert!(created.iter().all(|e| e["type"] == "invitation.created"));
    assert_eq!(created[2]["data"]["id"], bob_inv.as_str());

    // Bob, an admin now, reads it; a service too (a receiver catching up).
    assert_eq!(events(&app, &acc, "bob", "").await.status, 200);
    let r = app
        .get(
            &format!("/v1/accounts/{acc}/events"),
            Some(&app.token_with("backend", None, false, Some("service"))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn a_receiver_that_was_down_catches_up_after_the_last_event_it_saw() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    app.invite_one("olivia", &acc, "bob@example.com").await;
    let seen = hook_bodies(&app);
    let last_seen = seen.last().unwrap().0.clone();

    // Down: these changes reach no receiver now.
    app.inbox.set_webhooks_down(true);
    for who in ["carol", "dan", "erin"] {
        app.invite_one("olivia", &acc, &format!("{who}@example.com"))
            .await;
    }
    let r = app
        .invite("olivia", &acc, &["fay@example.com", "gus@example.com"])
        .await;
    assert_eq!(r.status, 201);
    app.settle().await;
    assert_eq!(hook_bodies(&app).len(), seen.len());

    // Catch up from the last event seen, two at a time, oldest first.
    let mut missed = Vec::new();
    let mut after = last_seen.clone();
    loop {
        let r = events(&app, &acc, "olivia", &format!("?after={after}&limit=2")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json()["data"].as_array().unwrap().clone();
        let Some(last) = page.last() else { break };
        after = last["id"].as_str().unwrap().to_owned();
        missed.extend(page);
    }
    // 3 invitations of one address and one of two: each created and sent.
    assert_eq!(missed.len(), 10, "{missed:#?}");
    let kinds: Vec<&str> = missed.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        &kinds[..6],
        ["invitation.created", "invitation.sent"].repeat(3)
    );
    let newest_first = all_events(&app, &acc, "").await;
    let mut expected = ids(&newest_first)[..10].to_vec();
    expected.reverse();
    assert_eq!(ids(&missed), expected);

    // The cursor of a forward page goes forward, and alone.
    let r = events(&app, &acc, "olivia", &format!("?after={last_seen}&limit=4")).await;
    let first = r.json();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let r = events(&app, &acc, "olivia", &format!("?cursor={cursor}&limit=4")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        ids(r.json()["data"].as_array().unwrap()),
        ids(&missed[4..8])
    );
}

#[tokio::test]
async fn bad_reads_are_4xx_problems() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    let (_, token) = app.invite_one("olivia", &acc, "bob@example.com").await;
    assert_eq!(app.accept("bob", &token).await.status, 200);
    let some = all_events(&app, &acc, "").await;
    let known = some[0]["id"].as_str().unwrap().to_owned();
    let bad = [
        ("?type=invitation.exploded", 400, "validation_failed"),
        ("?type=", 400, "validation_failed"),
        ("?after=evt_nope", 400, "validation_failed"),
        (
            "?after=evt_0123456789abcdef01234567",
            404,
            "event_not_found",
        ),
        ("?cursor=garbage", 400, "validation_failed"),
        ("?colour=red", 400, "validation_failed"),
        ("?limit=0", 400, "validation_failed"),
    ];
    for (query, status, code) in bad {
        let r = events(&app, &acc, "olivia", query).await;
        assert_eq!((r.status, r.code()), (status, code.to_owned()), "{query}");
    }
    let both = format!("?after={known}&cursor=YzE6bG9nOjE");
    let r = events(&app, &acc, "olivia", &both).await;
    assert_eq!((r.status, r.code().as_str()), (400, "validation_failed"));
    // A plain member, a stranger, no one.
    let r = events(&app, &acc, "bob", "").await;
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    let r = events(&app, &acc, "zed", "").await;
    assert_eq!((r.status, r.code().as_str()), (404, "account_not_found"));
    let r = app.get(&format!("/v1/accounts/{acc}/events"), None).await;
    assert_eq!(r.status, 401);
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/events"),
            Some(&app.token("olivia")),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));
    // None of it changed the history.
    assert_eq!(ids(&all_events(&app, &acc, "").await), ids(&some));
}

#[tokio::test]
async fn the_sweep_purges_history_after_history_days_needs_host_clock() {
    if common::skipped_on_spin("history_days pass on the host's clock") {
        return;
    }
    let app = App::start_with(Options {
        variables: vec![("history_days", "1".to_owned())],
        ..Options::default()
    })
    .await;
    let acc = app.account("olivia").await;
    let emails: Vec<String> = (0..60).map(|i| format!("p{i}@example.com")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    assert_eq!(app.invite("olivia", &acc, &refs).await.status, 201);
    app.settle().await;
    // 60 created, then 60 sent: positions 1 to 120, one block of 100 full.
    assert_eq!(all_events(&app, &acc, "?limit=100").await.len(), 120);
    let before = app.now_secs();
    app.advance(12 * 3600).await;
    assert_eq!(app.sweep_all().await.history_purged, 0);
    app.advance(12 * 3600).await;
    app.until_queue_due(before + 86_400).await;
    assert_eq!(app.sweep_all().await.history_purged, 100);
    let left = all_events(&app, &acc, "?limit=100").await;
    assert_eq!(left.len(), 20);
    assert!(left.iter().all(|e| e["type"] == "invitation.sent"));
}
