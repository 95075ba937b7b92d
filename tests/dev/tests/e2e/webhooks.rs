//! Webhooks through the host: every change reaches the receiver signed the
//! Standard Webhooks way (checked by `common::signature`, written from the
//! specification), never with a token, and a receiver that was down gets the
//! same events later, once each.

use crate::common;

use common::contract::document;
use common::signature::expected;
use common::App;
use invitations_dev::inbox::Hook;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[test]
fn the_reference_verifier_matches_the_specification_example() {
    let hook = Hook {
        id: "msg_p5jXN8AQM9LWM0D4loKWxJek".into(),
        timestamp: "1614265330".into(),
        signature: String::new(),
        body: r#"{"test": 2432232314}"#.into(),
    };
    assert_eq!(
        expected(&hook, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

/// Event types as openapi.yaml documents them.
fn documented_types() -> Vec<String> {
    document()["components"]["schemas"]["EventType"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn by_kind(hooks: &[Hook], kind: &str) -> Vec<Value> {
    hooks
        .iter()
        .filter(|h| h.kind() == kind)
        .map(Hook::json)
        .collect()
}

#[tokio::test]
async fn every_change_is_signed_and_sent_without_tokens() {
    let app = App::start().await;
    let acc = app.account("owner").await;
    let owner = app.token("owner");

    // invite: created + sent
    let r = app.invite("owner", &acc, &["bob@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let bob_inv = r.json()["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // resend: resent + sent
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations/{bob_inv}/resend"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // accept: accepted
    let bob_token = app.last_mail("bob@example.com").token().unwrap();
    let r = app.accept("bob", &bob_token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // cancel: cancelled
    let r = app.invite("owner", &acc, &["carol@example.com"]).await;
    let carol_inv = r.json()["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .delete(
            &format!("/v1/accounts/{acc}/invitations/{carol_inv}"),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // remove: member.removed
    let r = app
        .delete(&format!("/v1/accounts/{acc}/members/bob"), Some(&owner))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());

    let hooks = app.hooks(); // each signature checked
    let kinds: Vec<String> = hooks.iter().map(Hook::kind).collect();
    for kind in [
        "invitation.created",
        "invitation.sent",
        "invitation.resent",
        "invitation.accepted",
        "invitation.cancelled",
        "member.removed",
    ] {
        assert!(kinds.contains(&kind.to_owned()), "{kind} in {kinds:?}");
    }
    assert_eq!(by_kind(&hooks, "invitation.created").len(), 2);
    assert_eq!(by_kind(&hooks, "invitation.sent").len(), 3);
    assert_eq!(
        by_kind(&hooks, "invitation.accepted")[0]["data"]["id"],
        bob_inv.as_str()
    );
    assert_eq!(
        by_kind(&hooks, "invitation.accepted")[0]["data"]["state"],
        "accepted"
    );
    assert_eq!(
        by_kind(&hooks, "invitation.cancelled")[0]["data"]["id"],
        carol_inv.as_str()
    );
    let removed = &by_kind(&hooks, "member.removed")[0]["data"];
    assert_eq!(removed["user_id"], "bob");
    assert_eq!(removed["account_id"], acc.as_str());

    let documented = documented_types();
    let now = app.now_secs() as i64;
    let mut ids = std::collections::BTreeSet::new();
    for h in &hooks {
        let body = h.json();
        assert!(documented.contains(&h.kind()), "{}", h.body);
        assert_eq!(body.as_object().unwrap().len(), 3, "{}", h.body);
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(ids.insert(h.id.clone()), "one delivery per event: {}", h.id);
        let sent_at: i64 = h.timestamp.parse().unwrap();
        assert!((sent_at - now).abs() < 60, "{sent_at} vs {now}");
        // No link secret, in any form.
        for mail in app.inbox.mails() {
            let token = mail.token().unwrap();
            assert!(!h.body.contains(&token), "token in {}", h.body);
        }
        assert!(!h.body.contains("token"), "{}", h.body);
    }
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_each_event_later_needs_host_clock() {
    if common::skipped_on_spin("retries back off for minutes, on the host's clock") {
        return;
    }
    let app = App::start().await;
    let acc = app.account("owner").await;
    app.inbox.set_webhooks_down(true);
    let r = app.invite("owner", &acc, &["dave@example.com"]).await;
    assert_eq!(r.status, 201, "the change does not wait for the receiver");
    let inv = r.json()["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(app.hooks().is_empty());

    // Still down at the first retry: kept for the next one.
    app.advance(200).await;
    assert_eq!(app.sweep_all().await.webhooks, 2);
    assert!(app.hooks().is_empty());

    app.inbox.set_webhooks_down(false);
    let mut retried = 0;
    for _ in 0..30 {
        app.advance(60).await;
        retried += app.sweep_all().await.webhooks;
        if app.hooks().len() == 2 {
            break;
        }
    }
    assert_eq!(retried, 2);
    let hooks = app.hooks();
    let kinds: Vec<String> = hooks.iter().map(Hook::kind).collect();
    assert!(kinds.contains(&"invitation.created".into()), "{kinds:?}");
    assert!(kinds.contains(&"invitation.sent".into()), "{kinds:?}");
    for h in &hooks {
        assert_eq!(h.json()["data"]["id"], inv.as_str());
    }

    // Delivered means forgotten: nothing comes again.
    app.advance(24 * 60 * 60).await;
    let later = app.sweep_all().await;
    assert_eq!(later.webhooks, 0);
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for h in app.hooks() {
        *per_id.entry(h.id).or_default() += 1;
    }
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
}

/// A receiver down for days: each event is tried its 12 times, then given up,
/// and the sweep's answer counts what it gave up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_a_receiver_never_takes_are_given_up_and_counted_needs_host_clock() {
    if common::skipped_on_spin("retries back off for hours, on the host's clock") {
        return;
    }
    let app = App::start().await;
    let acc = app.account("owner").await;
    app.settle().await;
    app.inbox.set_webhooks_down(true);
    let r = app.invite("owner", &acc, &["fay@example.com"]).await;
    assert_eq!(r.status, 201);
    let (mut retried, mut dropped) = (0, 0);
    for _ in 0..(4 * 24) {
        app.advance(60 * 60).await;
        let t = app.sweep_all().await;
        retried += t.webhooks;
        dropped += t.webhooks_dropped;
    }
    assert_eq!(
        dropped, 2,
        "invitation.created and invitation.sent, given up"
    );
    assert!(retried >= 2 * 10, "{retried} retries before giving up");
    assert!(app.hooks().is_empty());
    app.inbox.set_webhooks_down(false);
    app.advance(24 * 60 * 60).await;
    let later = app.sweep_all().await;
    assert_eq!((later.webhooks, later.webhooks_dropped), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misconfigured_receiver_keeps_events_and_never_fails_the_change() {
    let app = App::start_with(common::Options {
        variables: vec![("webhook_origin", "https://elsewhere.example".into())],
        ..Default::default()
    })
    .await;
    let acc = app.account("owner").await;
    let since = app.now_secs();
    let r = app.invite("owner", &acc, &["erin@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(app.hooks().is_empty());
    app.until_queue_due(since).await;
    // Kept and retried, though still not deliverable.
    assert_eq!(app.sweep_all().await.webhooks, 2);
    assert!(app.hooks().is_empty());
}
