//! The `expire` component: expiry at 30 days, bounded and resumable runs
//! whose cost follows due items, no double work from two runs at once, mail
//! retried until the provider is back, and the cron trigger running the same
//! sweep as `POST /v1/internal/sweep` (on real Spin: the cron plugin, on its
//! schedule).

use crate::common;

use common::{App, Options, Reply};
use invitations_dev::DEV_SWEEP_TOKEN;
use serde_json::{json, Value};

const DAY: u64 = 24 * 60 * 60;

async fn invite_with_ttl(app: &App, acc: &str, emails: &[String], ttl: u64) -> Reply {
    app.post(
        &format!("/v1/accounts/{acc}/invitations"),
        Some(&app.token("owner")),
        json!({"emails": emails, "ttl_seconds": ttl}),
    )
    .await
}

fn ids(reply: &Reply) -> Vec<String> {
    reply.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["invitation"]["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn default_ttl_expires_at_thirty_days_and_the_sweep_tells_the_app_needs_host_clock() {
    if common::skipped_on_spin("thirty days pass only on the host's clock") {
        return;
    }
    let app = App::start().await;
    let acc = app.account("owner").await;
    let r = app.invite("owner", &acc, &["bob@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = ids(&r).remove(0);

    app.advance(30 * DAY - 1).await;
    assert_eq!(app.invitation(&acc, &id, "owner").await["state"], "pending");
    let swept = app.sweep_all().await;
    assert_eq!(swept.expired, 0);

    app.advance(1).await;
    // Expired on reading, before any sweep, and the link no longer works.
    let inv = app.invitation(&acc, &id, "owner").await;
    assert_eq!(inv["state"], "expired");
    let token = app.last_mail("bob@example.com").token().unwrap();
    let r = app.accept("bob", &token).await;
    assert_eq!(r.code(), "invitation_expired", "{}", r.text());
    assert!(!app.hook_kinds().contains(&"invitation.expired".to_owned()));

    // The sweep writes it down once and sends the event once (the queue
    // looks at it within a few minutes).
    app.advance(240).await;
    assert_eq!(app.sweep_all().await.expired, 1);
    assert_eq!(app.sweep_all().await.expired, 0);
    let expired: Vec<Value> = app
        .hooks()
        .iter()
        .filter(|h| h.kind() == "invitation.expired")
        .map(|h| h.json())
        .collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["data"]["id"], id.as_str());
    assert_eq!(expired[0]["data"]["state"], "expired");

    // The address is free again.
    let r = app.invite("owner", &acc, &["bob@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

/// Round trips of the sweeps that expire 100 due invitations, with `not_due`
/// others in the store whose mail went out and which wait for their expiry.
async fn sweep_round_trips(not_due: usize) -> (u64, common::SweepTotals) {
    let app = App::start_with(Options {
        // Mail only: ten thousand invitations need no webhooks here.
        variables: vec![("webhook_url", String::new())],
        ..Options::default()
    })
    .await;
    let acc = app.account("owner").await;
    for chunk in 0..not_due.div_ceil(100) {
        let emails: Vec<String> = (chunk * 100..((chunk + 1) * 100).min(not_due))
            .map(|i| format!("later{i}@example.com"))
            .collect();
        let r = invite_with_ttl(&app, &acc, &emails, 30 * DAY).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    // The first mail checks: all went out, so each now waits for its expiry.
    app.advance(180).await;
    app.sweep_all().await;
    let soon: Vec<String> = (0..100).map(|i| format!("soon{i}@example.com")).collect();
    let r = invite_with_ttl(&app, &acc, &soon, 60).await;
    assert_eq!(r.status, 201, "{}", r.text());
    app.advance(180).await;
    app.host().stats().reset();
    let totals = app.sweep_all().await;
    (app.host().stats().total_round_trips(), totals)
}

#[tokio::test]
async fn sweep_cost_follows_due_items_not_store_size_needs_host_counters() {
    if common::skipped_on_spin("store round trips are counted by the test host") {
        return;
    }
    let (small, small_totals) = sweep_round_trips(100).await;
    let (large, large_totals) = sweep_round_trips(10_000).await;
    assert_eq!(small_totals.expired, 100);
    assert_eq!(large_totals.expired, 100);
    eprintln!(
        "sweep store round trips for 100 due: {small} with 100 not due, {large} with 10,000 not due \
         ({} and {} runs)",
        small_totals.runs, large_totals.runs
    );
    assert!(small.abs_diff(large) <= 4, "{small} vs {large}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_run_leaves_more_and_two_runs_at_once_do_nothing_twice() {
    bounded_runs(Options::default()).await;
}

pub(crate) async fn bounded_runs(options: Options) {
    let app = App::start_with(Options {
        variables: vec![("sweep_max_items", "30".into())],
        ..options
    })
    .await;
    let acc = app.account("owner").await;
    let emails: Vec<String> = (0..100).map(|i| format!("u{i}@example.com")).collect();
    let since = app.now_secs();
    let r = invite_with_ttl(&app, &acc, &emails, 1).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let all = ids(&r);
    app.until_queue_due(since).await;

    let first = app.sweep().await;
    assert_eq!(first["more"], true, "{first}");
    let handled = first["expired"].as_u64().unwrap();
    assert!(handled > 0 && handled <= 30, "{first}");

    // The rest, by pairs of runs at once.
    let mut expired = handled;
    for _ in 0..20 {
        let (a, b) = tokio::join!(app.sweep(), app.sweep());
        expired += a["expired"].as_u64().unwrap() + b["expired"].as_u64().unwrap();
        if a["more"] == false && b["more"] == false {
            break;
        }
    }
    assert_eq!(expired, 100);
    assert_eq!(app.sweep_all().await.expired, 0);

    // One expiry event per invitation, and every invitation reads expired.
    let mut expired_ids: Vec<String> = app
        .hooks()
        .iter()
        .filter(|h| h.kind() == "invitation.expired")
        .map(|h| h.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    expired_ids.sort();
    let mut want = all.clone();
    want.sort();
    assert_eq!(expired_ids, want);
    for id in all.iter().take(5) {
        assert_eq!(app.invitation(&acc, id, "owner").await["state"], "expired");
    }
    // Each address got exactly its first mail: expiry sends nothing.
    assert_eq!(app.inbox.mails().len(), 100);
}

#[tokio::test]
async fn mail_goes_out_once_the_provider_is_back_needs_host_clock() {
    if common::skipped_on_spin("retries back off for minutes, on the host's clock") {
        return;
    }
    let app = App::start().await;
    let acc = app.account("owner").await;
    app.inbox.set_down(true);
    let r = app.invite("owner", &acc, &["dana@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = ids(&r).remove(0);
    let inv = app.invitation(&acc, &id, "owner").await;
    assert_eq!(inv["delivery"]["status"], "failed");
    assert_eq!(inv["delivery"]["attempts"], 1);

    // Two more failed attempts by the sweep.
    let mut waited = Vec::new();
    let mut since = 0;
    while app.invitation(&acc, &id, "owner").await["delivery"]["attempts"] != 3 {
        assert!(since < 3600, "no retry within an hour");
        app.advance(60).await;
        since += 60;
        let before = app.inbox.mails().len();
        if app.sweep_all().await.mailed > 0 {
            assert_eq!(app.inbox.mails().len(), before);
            waited.push(since);
            since = 0;
        }
    }
    assert_eq!(waited.len(), 2, "{waited:?}");
    // Backoff is 1 minute, then 2, then 4…, on a queue of whole minutes at
    // least 2 ahead; the domain's tests pin the doubling down.
    assert!(waited.iter().all(|w| *w >= 120), "{waited:?}");
    assert!(app.inbox.mails_to("dana@example.com").is_empty());

    // The provider is back: the next due retry gets through.
    app.inbox.set_down(false);
    for _ in 0..60 {
        app.advance(60).await;
        app.sweep_all().await;
        if !app.inbox.mails_to("dana@example.com").is_empty() {
            break;
        }
    }
    let inv = app.invitation(&acc, &id, "owner").await;
    assert_eq!(inv["delivery"]["status"], "sent", "{inv}");
    assert_eq!(inv["delivery"]["attempts"], 4, "{inv}");
    assert_eq!(app.inbox.mails_to("dana@example.com").len(), 1);

    let kinds = app.hook_kinds();
    let failed = kinds
        .iter()
        .filter(|k| *k == "invitation.delivery_failed")
        .count();
    assert_eq!(failed, 3, "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("invitation.sent"));

    // And the link in it works.
    let token = app.last_mail("dana@example.com").token().unwrap();
    let r = app.accept("dana", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cron_trigger_writes_down_expiry_and_tells_the_app() {
    let app = App::start_with(Options {
        cron: true,
        ..Options::default()
    })
    .await;
    let acc = app.account("owner").await;
    let created = app.now_secs();
    let r = invite_with_ttl(&app, &acc, &["cron@example.com".to_owned()], 1).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = ids(&r).remove(0);
    let expired_event = || {
        app.hooks()
            .into_iter()
            .filter(|h| h.kind() == "invitation.expired")
            .map(|h| h.json())
            .collect::<Vec<_>>()
    };
    if app.on_host() {
        app.until_queue_due(created).await;
        app.host().invoke_cron("sweep-cron").await.unwrap();
    } else {
        // Spin's cron plugin runs the sweep at second 0 of every minute, and
        // the first run after the minute it was due in writes it down: at
        // most one schedule period after it was due.
        let within = std::time::Duration::from_secs(120);
        common::wait_for("a cron sweep to expire it", within, async || {
            (!expired_event().is_empty()).then_some(())
        })
        .await;
        let late = app.now_secs() - (created + 1);
        eprintln!("written down by cron {late} s after it was due");
        // One period (60 s), plus slack for a loaded machine: the sweep's run
        // and the webhook's way to the test, and the clocks' seconds.
        assert!(late <= 75, "written down {late} s after it was due");
    }
    let events = expired_event();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["id"], id.as_str());
    assert_eq!(events[0]["data"]["state"], "expired");
    assert!(events[0]["data"]["expired_at"].is_string());
    // Written down: a sweep through the route finds nothing left to expire.
    assert_eq!(app.sweep_all().await.expired, 0);
    assert_eq!(app.invitation(&acc, &id, "owner").await["state"], "expired");
}

#[tokio::test]
async fn the_cron_export_costs_what_the_route_costs_needs_host_counters() {
    if common::skipped_on_spin("store round trips are counted by the test host") {
        return;
    }
    let app = App::start().await;
    let acc = app.account("owner").await;
    let batch =
        |tag: &str| -> Vec<String> { (0..3).map(|i| format!("{tag}{i}@example.com")).collect() };

    // The same state twice, three invitations due for expiry: swept once
    // by the cron export, once through HTTP.
    let cron_ids = ids(&invite_with_ttl(&app, &acc, &batch("cron"), 60).await);
    app.advance(300).await;
    app.host().invoke_cron("sweep-cron").await.unwrap();
    let cron_cost = app.host().stats().last().unwrap().round_trips();
    for id in &cron_ids {
        assert_eq!(app.invitation(&acc, id, "owner").await["state"], "expired");
    }
    assert_eq!(app.sweep_all().await.expired, 0, "cron left nothing");

    let r = invite_with_ttl(&app, &acc, &batch("http"), 60).await;
    let http_ids = ids(&r);
    app.advance(300).await;
    let swept = app.sweep().await;
    assert_eq!(swept["expired"], 3, "{swept}");
    let http_cost = app.host().stats().tagged("sweep").unwrap().round_trips();
    assert_eq!(
        cron_cost, http_cost,
        "cron and HTTP sweeps of the same state"
    );

    let expired: Vec<String> = app
        .hooks()
        .iter()
        .filter(|h| h.kind() == "invitation.expired")
        .map(|h| h.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    for id in cron_ids.iter().chain(&http_ids) {
        assert_eq!(expired.iter().filter(|e| *e == id).count(), 1, "{id}");
    }
}

#[tokio::test]
async fn the_sweep_route_wants_the_sweep_token() {
    let app = App::start().await;
    let user_token = app.token("owner");
    for token in [None, Some("wrong"), Some(user_token.as_str())] {
        let r = app
            .send("POST", "/v1/internal/sweep", token, None, &[])
            .await;
        assert_eq!(r.status, 401, "{token:?}");
        assert_eq!(r.code(), "unauthorized");
    }
    let r = app
        .send(
            "GET",
            "/v1/internal/sweep",
            Some(DEV_SWEEP_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(r.code(), "method_not_allowed");
    let r = app.sweep().await;
    assert_eq!(r["expired"], 0);
    assert_eq!(r["more"], false);
}

#[tokio::test]
async fn a_reminder_goes_three_days_before_expiry_with_a_working_link_needs_host_clock() {
    if common::skipped_on_spin("days pass only on the host's clock") {
        return;
    }
    let app = App::start().await;
    let acc = app.account("owner").await;
    let r = app.invite("owner", &acc, &["bob@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let first = app.last_mail("bob@example.com");

    app.advance(26 * DAY).await;
    assert_eq!(app.sweep_all().await.reminded, 0);
    app.advance(DAY + 300).await;
    assert_eq!(app.sweep_all().await.reminded, 1);
    assert_eq!(app.sweep_all().await.reminded, 0, "one reminder per expiry");
    let reminder = app.last_mail("bob@example.com");
    assert!(
        reminder.subject.starts_with("Reminder: "),
        "{}",
        reminder.subject
    );
    assert_ne!(reminder.token(), first.token());
    assert!(app.hook_kinds().contains(&"invitation.expiring".to_owned()));
    // The reminder's link works (the first one would still, too).
    let r = app.accept("bob", &reminder.token().unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // An account turns them off; the setting is checked.
    let path = format!("/v1/accounts/{acc}");
    let owner = app.token("owner");
    let patch = |days: Value| {
        let body = serde_json::to_vec(&serde_json::json!({ "reminder_days": days })).unwrap();
        app.send("PATCH", &path, Some(&owner), Some(body), &[])
    };
    let r = patch(Value::from(0)).await;
    assert_eq!(
        (r.status, r.json()["reminder_days"].clone()),
        (200, Value::from(0))
    );
    for bad in [Value::from(16), Value::from(-1), Value::from("3")] {
        assert_eq!(patch(bad).await.status, 400);
    }
}
