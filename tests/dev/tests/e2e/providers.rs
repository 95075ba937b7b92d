//! Mail and webhooks against providers and receivers that push back: a
//! provider that allows 2 calls per second (as Resend does by default) and
//! answers `429` beyond, batch endpoints, a bound on calls open at once,
//! timeouts, and the headers every outbound request carries.

use crate::common;

use common::{App, Options};
use serde_json::{json, Value};
use std::time::Duration;

/// The deliveries of the invitations `reply` made, once each send's outcome
/// is recorded (a deferral too: it records why). The answer may go out
/// before the mail (`send_after_answer`), and on real Spin the harness cannot
/// see the instance finish its after-answer work (a bulk invite's outcomes
/// are written after its inbox places), so this looks again for a while.
async fn deliveries(app: &App, acc: &str, reply: &common::Reply) -> Vec<Value> {
    let unrecorded =
        |d: &Value| d["status"] == "queued" && d["attempts"] == 0 && d["last_error"].is_null();
    let within = Duration::from_secs(15);
    common::wait_for("every send's outcome recorded", within, async || {
        let mut out = Vec::new();
        for r in reply.json()["results"].as_array().unwrap() {
            let id = r["invitation"]["id"].as_str().unwrap();
            out.push(app.invitation(acc, id, "owner").await["delivery"].clone());
        }
        (!out.iter().any(unrecorded)).then_some(out)
    })
    .await
}

fn addresses(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag}{i}@example.com")).collect()
}

async fn invite_many(app: &App, acc: &str, emails: &[String]) -> common::Reply {
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations"),
            Some(&app.token("owner")),
            json!({ "emails": emails }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r
}

async fn hundred_addresses_in_one_batch_call(provider: &str, endpoint: &str) {
    let app = App::start_with(Options {
        variables: vec![("mail_provider", provider.to_owned())],
        ..Options::default()
    })
    .await;
    app.inbox.set_rate_limit(Some(2));
    let acc = app.account("owner").await;
    let r = invite_many(&app, &acc, &addresses("p", 100)).await;
    let all = deliveries(&app, &acc, &r).await;
    assert_eq!(all.len(), 100);
    assert!(
        all.iter()
            .all(|d| d["status"] == "sent" && d["attempts"] == 1),
        "{all:?}"
    );
    let calls = app.inbox.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        (calls[0].path.as_str(), calls[0].messages, calls[0].status),
        (endpoint, 100, 200)
    );
    assert_eq!(app.inbox.mails().len(), 100);
    assert_eq!(app.inbox.counts().rate_limited, 0);
    // Each mail has its own working link.
    let token = app.last_mail("p42@example.com").token().unwrap();
    let r = app.accept("p42", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_addresses_are_one_resend_batch_call_within_the_rate_limit() {
    hundred_addresses_in_one_batch_call("resend", "/emails/batch").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_addresses_are_one_postmark_batch_call_within_the_rate_limit() {
    hundred_addresses_in_one_batch_call("postmark", "/email/batch").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outbound_call_has_a_length_a_user_agent_and_single_mail_its_own_endpoint() {
    let app = App::start().await;
    let acc = app.account("owner").await;
    let r = app.invite("owner", &acc, &["solo@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let calls = app.inbox.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].path, "/emails",
        "one invitation: the single endpoint"
    );
    let length: usize = calls[0].content_length.as_deref().unwrap().parse().unwrap();
    assert!(length > 100, "{length}");
    let agent = calls[0].user_agent.clone().unwrap_or_default();
    assert!(agent.starts_with("invitations-for-spin/"), "{agent}");
    assert!(app.inbox.counts().webhook_calls >= 2, "created and sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_mail_stays_queued_uses_no_attempt_and_goes_out_after_the_reset() {
    let app = App::start().await;
    let acc = app.account("owner").await;
    // Every call refused, as when other senders used up the second.
    app.inbox.set_rate_limit(Some(0));
    let since = app.now_secs();
    let r = app.invite("owner", &acc, &["later@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = &deliveries(&app, &acc, &r).await[0];
    assert_eq!(
        (d["status"].as_str(), d["attempts"].as_u64()),
        (Some("queued"), Some(0)),
        "{d}"
    );
    assert!(
        d["last_error"].as_str().unwrap().contains("rate limited"),
        "{d}"
    );
    assert!(
        !app.hook_kinds()
            .contains(&"invitation.delivery_failed".to_owned()),
        "a deferral is not a failure"
    );
    app.inbox.set_rate_limit(Some(2));
    app.until_queue_due(since).await;
    app.sweep_all().await;
    let id = r.json()["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let seen = app.invitation(&acc, &id, "owner").await;
    assert_eq!(seen["delivery"]["status"], "sent", "{seen}");
    assert_eq!(seen["delivery"]["attempts"], 1, "{seen}");
    assert_eq!(app.inbox.mails_to("later@example.com").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_sends_three_hundred_queued_mails_in_batches_without_tripping_the_limit() {
    let app = App::start_with(Options {
        variables: vec![("webhook_url", String::new())],
        ..Options::default()
    })
    .await;
    let acc = app.account("owner").await;
    app.inbox.set_rate_limit(Some(0));
    let mut ids = Vec::new();
    for tag in ["a", "b", "c"] {
        let r = invite_many(&app, &acc, &addresses(tag, 100)).await;
        assert!(deliveries(&app, &acc, &r)
            .await
            .iter()
            .all(|d| d["status"] == "queued"));
        ids.extend(
            r.json()["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["invitation"]["id"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(app.inbox.counts().rate_limited, 3);
    app.inbox.set_rate_limit(Some(2));
    let before = app.inbox.calls().len();
    // The last invite's entries are the latest due; on real Spin the three
    // invites and their reads take seconds and may straddle a minute.
    let since = app.now_secs();
    app.until_queue_due(since).await;
    let swept = app.sweep_all().await;
    assert_eq!(swept.mailed, 300, "{swept:?}");
    let calls: Vec<_> = app.inbox.calls().into_iter().skip(before).collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|c| c.status == 200 && c.path == "/emails/batch"),
        "{calls:?}"
    );
    assert_eq!(calls.iter().map(|c| c.messages).sum::<usize>(), 300);
    assert_eq!(app.inbox.mails().len(), 300);
    for id in ids.iter().step_by(37) {
        let seen = app.invitation(&acc, id, "owner").await;
        assert_eq!(
            (
                seen["delivery"]["status"].as_str(),
                seen["delivery"]["attempts"].as_u64()
            ),
            (Some("sent"), Some(1)),
            "{seen}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_invite_never_has_more_calls_open_than_the_bound() {
    for (bound, variables) in [
        (8, vec![]),
        (3, vec![("outbound_max_in_flight", "3".to_owned())]),
    ] {
        let app = App::start_with(Options {
            variables,
            ..Options::default()
        })
        .await;
        let acc = app.account("owner").await;
        app.inbox.set_latency(Duration::from_millis(20));
        invite_many(&app, &acc, &addresses("w", 100)).await;
        // On real Spin, wait for the `invitation.sent` events too: they follow
        // the outcomes, which follow the inbox places (see `deliveries`).
        let within = Duration::from_secs(15);
        common::wait_for("200 webhook deliveries", within, async || {
            (app.hooks().len() >= 200).then_some(())
        })
        .await;
        let counts = app.inbox.counts();
        assert!(
            (2..=bound).contains(&counts.max_in_flight),
            "bound {bound}: {counts:?}"
        );
        // 100 created + 100 sent, every one delivered within the request.
        assert_eq!(app.hooks().len(), 200, "{counts:?}");
        assert_eq!(counts.mail_calls, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_slower_than_the_timeout_is_a_failed_attempt() {
    let app = App::start_with(Options {
        variables: vec![
            ("outbound_timeout_seconds", "1".to_owned()),
            ("webhook_url", String::new()),
        ],
        ..Options::default()
    })
    .await;
    let acc = app.account("owner").await;
    app.inbox.set_latency(Duration::from_secs(3));
    let started = std::time::Instant::now();
    let r = app.invite("owner", &acc, &["slow@example.com"]).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let d = &deliveries(&app, &acc, &r).await[0];
    assert_eq!(
        (d["status"].as_str(), d["attempts"].as_u64()),
        (Some("failed"), Some(1)),
        "{d}"
    );
    assert!(
        !d["last_error"].as_str().unwrap_or_default().is_empty(),
        "{d}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_goes_out_before_the_mail_and_the_mail_follows() {
    let app = App::start().await;
    let acc = app.account("owner").await;
    let r = app.invite("owner", &acc, &["first@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let answered = &r.json()["results"][0]["invitation"]["delivery"];
    assert_eq!(answered["status"], "queued", "{answered}");
    assert_eq!(answered["attempts"], 0, "{answered}");
    // Once the request's work after its answer is done, the mail is out and recorded.
    let d = &deliveries(&app, &acc, &r).await[0];
    assert_eq!(
        (d["status"].as_str(), d["attempts"].as_u64()),
        (Some("sent"), Some(1))
    );
    let token = app.last_mail("first@example.com").token().unwrap();
    assert_eq!(app.accept("first", &token).await.status, 200);
    assert!(app.hook_kinds().contains(&"invitation.sent".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_before_the_answer_shows_the_outcome_in_it() {
    let app = App::start_with(Options {
        variables: vec![("send_after_answer", "false".to_owned())],
        ..Options::default()
    })
    .await;
    let acc = app.account("owner").await;
    let r = app.invite("owner", &acc, &["sync@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let answered = &r.json()["results"][0]["invitation"];
    assert_eq!(answered["delivery"]["status"], "sent", "{answered}");
    let id = answered["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations/{id}/resend"),
            Some(&app.token("owner")),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["delivery"]["status"], "sent");
    assert_eq!(app.inbox.mails_to("sync@example.com").len(), 2);
    let token = app.last_mail("sync@example.com").token().unwrap();
    assert_eq!(app.accept("sync", &token).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_an_instance_never_sent_after_its_answer_is_sent_by_the_sweep_needs_host_faults() {
    if common::skipped_on_spin("the store fault after the answer is the test host's") {
        return;
    }
    let app = App::start_with(Options {
        variables: vec![("webhook_url", String::new())],
        ..Options::default()
    })
    .await;
    let acc = app.account("owner").await;
    let since = app.now_secs();
    // An invite of one address makes 8 store calls before it answers (the
    // domain's round-trip table); after the answer the 9th takes the history
    // positions of its events and the 10th, one `set-many`, opens the link
    // with those entries. It fails: nothing is mailed, as if the instance had
    // died.
    app.host().faults().fail_store_call(10);
    let r = app.invite("owner", &acc, &["lost@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(app.inbox.mails_to("lost@example.com").is_empty());
    let id = r.json()["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.invitation(&acc, &id, "owner").await["delivery"]["status"],
        "queued"
    );
    // Nothing recorded, so not in the invitee's inbox yet either.
    let lost = app.token("lost");
    let inbox = app.get("/v1/me/invitations", Some(&lost)).await.json();
    assert_eq!(inbox["data"], json!([]));
    app.until_queue_due(since).await;
    let swept = app.sweep_all().await;
    assert_eq!(swept.mailed, 1, "{swept:?}");
    let d = &deliveries(&app, &acc, &r).await[0];
    assert_eq!(d["status"], "sent", "{d}");
    // The sweep's send is recorded, and that names it in the inbox.
    let inbox = app.get("/v1/me/invitations", Some(&lost)).await.json();
    assert_eq!(inbox["data"][0]["invitation_id"], id.as_str());
    let token = app.last_mail("lost@example.com").token().unwrap();
    assert_eq!(app.accept("lost", &token).await.status, 200);
}
