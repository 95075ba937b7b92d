//! Delivery by the caller (`delivery: none`) through the components: no mail,
//! the link in the answer once and working at once, webhook events that say
//! so without the link, never mailed by the sweep, and resend rotating it.

use crate::common;

use common::App;
use serde_json::{json, Value};

const DAY: u64 = 24 * 60 * 60;

fn token_of(url: &str) -> String {
    let (base, token) = url.split_once("/join?token=").expect("an accept URL");
    assert_eq!(base, "https://invite.example");
    token.to_owned()
}

#[tokio::test]
async fn an_invite_with_delivery_none_mails_nothing_its_url_accepts_and_the_sweep_never_mails_it() {
    let app = App::start().await;
    let acc = app.account("owner").await;
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations"),
            Some(&app.token("owner")),
            json!({"emails": ["bob@example.com", "cat@example.com"], "delivery": "none"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let results = r.json()["results"].as_array().unwrap().clone();
    let urls: Vec<String> = results
        .iter()
        .map(|r| {
            assert_eq!(r["invitation"]["delivery"]["status"], "none", "{r}");
            r["invitation"]["accept_url"].as_str().unwrap().to_owned()
        })
        .collect();
    let bob = results[0]["invitation"]["id"].as_str().unwrap().to_owned();

    // The link works at once, before anything after the answer.
    let r = app.accept("bob", &token_of(&urls[0])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    app.settle().await;
    assert!(
        app.inbox.mails_to("bob@example.com").is_empty(),
        "no mail to bob"
    );
    assert!(
        app.inbox.mails_to("cat@example.com").is_empty(),
        "no mail to cat"
    );

    // The invitee's inbox shows it; a read of the invitation never holds the link.
    let mine = app.get("/v1/me/invitations", Some(&app.token("cat"))).await;
    assert_eq!(mine.status, 200, "{}", mine.text());
    assert_eq!(
        mine.json()["data"].as_array().unwrap().len(),
        1,
        "{}",
        mine.text()
    );
    let read = app.invitation(&acc, &bob, "owner").await;
    assert!(read.get("accept_url").is_none(), "{read}");

    // Webhook events say so, without the link.
    let created: Vec<Value> = app
        .hooks()
        .iter()
        .filter(|h| h.kind() == "invitation.created")
        .map(|h| h.json())
        .collect();
    assert_eq!(created.len(), 2);
    for event in &created {
        assert_eq!(event["data"]["delivery"]["status"], "none", "{event}");
        assert!(event["data"].get("accept_url").is_none(), "{event}");
    }
    for hook in app.hooks() {
        for url in &urls {
            assert!(
                !hook.json().to_string().contains(&token_of(url)),
                "a link in a webhook"
            );
        }
    }

    // The sweep never mails it: not as a lost mail, not as a reminder.
    if app.on_host() {
        for _ in 0..31 {
            app.advance(DAY).await;
            app.sweep_all().await;
        }
    } else {
        app.sweep_all().await;
    }
    app.settle().await;
    assert!(
        app.inbox.mails_to("cat@example.com").is_empty(),
        "the sweep mailed cat"
    );
}

#[tokio::test]
async fn a_resend_with_delivery_none_rotates_the_link_and_shows_it_once() {
    let app = App::start().await;
    let acc = app.account("owner").await;
    let (id, mailed) = app.invite_one("owner", &acc, "bob@example.com").await;
    app.settle().await;
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations/{id}/resend"),
            Some(&app.token("owner")),
            json!({"delivery": "none"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["delivery"]["status"], "none");
    let url = r.json()["accept_url"].as_str().unwrap().to_owned();
    app.settle().await;
    assert_eq!(
        app.inbox.mails_to("bob@example.com").len(),
        1,
        "only the first mail"
    );
    let old = app.accept("bob", &mailed).await;
    assert_eq!(old.status, 404, "{}", old.text());
    let r = app.accept("bob", &token_of(&url)).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn delivery_other_than_mail_or_none_is_refused_and_changes_nothing() {
    let app = App::start().await;
    let acc = app.account("owner").await;
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations"),
            Some(&app.token("owner")),
            json!({"emails": ["bob@example.com"], "delivery": "sms"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_failed".to_owned()),
        "{}",
        r.text()
    );
    let list = app
        .get(
            &format!("/v1/accounts/{acc}/invitations"),
            Some(&app.token("owner")),
        )
        .await;
    assert_eq!(list.json()["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_replayed_invite_with_delivery_none_does_not_show_the_link_again() {
    let app = App::start().await;
    let acc = app.account("owner").await;
    let path = format!("/v1/accounts/{acc}/invitations");
    let body =
        serde_json::to_vec(&json!({"emails": ["bob@example.com"], "delivery": "none"})).unwrap();
    let owner = app.token("owner");
    let send = || {
        app.send(
            "POST",
            &path,
            Some(&owner),
            Some(body.clone()),
            &[("idempotency-key", "k1")],
        )
    };
    let first = send().await;
    assert_eq!(first.status, 201, "{}", first.text());
    let url = first.json()["results"][0]["invitation"]["accept_url"].clone();
    assert!(url.is_string(), "{}", first.text());
    let again = send().await;
    assert_eq!(again.status, 201, "{}", again.text());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let replayed = &again.json()["results"][0]["invitation"];
    assert_eq!(
        replayed["id"],
        first.json()["results"][0]["invitation"]["id"]
    );
    assert!(
        replayed.get("accept_url").is_none(),
        "links are not kept: {replayed}"
    );
}
