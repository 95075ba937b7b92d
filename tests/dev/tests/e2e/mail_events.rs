//! The mail provider's delivery events through the `mail-events` component:
//! a signed Resend bounce (or a Postmark one with its token) marks the right
//! invitation bounced and tells the host app `invitation.bounced`; a replayed,
//! stale or wrongly signed event changes nothing; the sweep never mails a
//! bounced invitation again.

use crate::common;

use common::{App, Reply};
use invitations_dev::provider_events::{
    postmark_bounce, resend_body, svix_headers, News, DEV_POSTMARK_WEBHOOK_TOKEN,
    DEV_RESEND_WEBHOOK_SECRET,
};
use serde_json::{json, Value};

const DAY: u64 = 24 * 60 * 60;

/// Invites the addresses, lets their mail go out; returns the account and,
/// per address, its invitation id and the message id the provider gave its mail.
async fn mailed(app: &App, emails: &[&str]) -> (String, Vec<(String, String)>) {
    let acc = app.account("owner").await;
    let r = app.invite("owner", &acc, emails).await;
    assert_eq!(r.status, 201, "{}", r.text());
    app.settle().await;
    let sent = r.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(emails)
        .map(|(result, email)| {
            let id = result["invitation"]["id"].as_str().unwrap().to_owned();
            let mails = app.inbox.mails_to(email);
            assert_eq!(mails.len(), 1, "one mail to {email}");
            (id, mails[0].message_id.clone())
        })
        .collect();
    (acc, sent)
}

/// POSTs `sent` to the Resend route with the Svix headers of `signed`,
/// signed with `secret` as of `at` (unix seconds).
async fn post_signed(
    app: &App,
    event_id: &str,
    signed: &[u8],
    sent: Vec<u8>,
    secret: &str,
    at: i64,
) -> Reply {
    let headers = svix_headers(secret, event_id, at, signed);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.send("POST", "/v1/mail-events/resend", None, Some(sent), &headers)
        .await
}

/// POSTs a Resend event, signed with `secret` as of `at` (unix seconds).
async fn resend_event(app: &App, event_id: &str, body: &Value, secret: &str, at: i64) -> Reply {
    let body = body.to_string().into_bytes();
    post_signed(app, event_id, &body, body.clone(), secret, at).await
}

/// A Resend event signed as Resend would, now by the app's clock: the
/// `result` of its 200 answer.
async fn heard(app: &App, event_id: &str, body: &Value) -> String {
    let now = app.now_secs() as i64;
    let r = resend_event(app, event_id, body, DEV_RESEND_WEBHOOK_SECRET, now).await;
    assert_eq!(r.status, 200, "{event_id}: {}", r.text());
    r.json()["result"].as_str().unwrap().to_owned()
}

async fn postmark_event(app: &App, body: &Value, authorization: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    let body = Some(body.to_string().into_bytes());
    app.send("POST", "/v1/mail-events/postmark", None, body, &headers)
        .await
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn bounced_hooks(app: &App) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    app.hooks()
        .into_iter()
        .filter(|h| h.kind() == "invitation.bounced" && seen.insert(h.id.clone()))
        .map(|h| h.json())
        .collect()
}

#[tokio::test]
async fn a_signed_resend_bounce_marks_the_invitation_bounced_and_tells_the_host_app() {
    let app = App::start().await;
    let (acc, sent) = mailed(&app, &["bob@example.com", "cat@example.com"]).await;
    let (bob, bob_mail) = &sent[0];
    let (cat, cat_mail) = &sent[1];

    let bounce = resend_body(News::Bounced, bob_mail, "bob@example.com");
    assert_eq!(heard(&app, "msg_bounce_1", &bounce).await, "recorded");
    app.settle().await;

    let read = app.invitation(&acc, bob, "owner").await;
    assert_eq!(read["state"], "pending", "{read}");
    assert_eq!(read["delivery"]["status"], "bounced", "{read}");
    let reason = read["delivery"]["last_error"].as_str().unwrap();
    assert!(reason.contains("mailbox does not exist"), "{read}");
    assert_eq!(read["delivery"]["last_event"]["type"], "bounced", "{read}");
    let told = bounced_hooks(&app);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["data"]["id"], bob.as_str());
    assert_eq!(told[0]["data"]["delivery"]["status"], "bounced");

    // The same event again (Svix retrying it): answered, nothing changes.
    assert_eq!(heard(&app, "msg_bounce_1", &bounce).await, "duplicate");
    app.settle().await;
    assert_eq!(app.invitation(&acc, bob, "owner").await, read);
    assert_eq!(bounced_hooks(&app).len(), 1);

    // Stale, wrongly signed, unsigned: refused, and cat's invitation unchanged.
    let cat_before = app.invitation(&acc, cat, "owner").await;
    assert_eq!(cat_before["delivery"]["status"], "sent");
    let cat_bounce = resend_body(News::Bounced, cat_mail, "cat@example.com");
    let other_secret = "whsec_b3RoZXItc2VjcmV0LW5vdC10aGUtYXBwcy0yNC1i";
    // Off by more than 5 minutes either way (a margin for the seconds a
    // real Spin takes between the clock read here and the app's).
    for (event_id, secret, off) in [
        ("msg_stale", DEV_RESEND_WEBHOOK_SECRET, -330),
        ("msg_future", DEV_RESEND_WEBHOOK_SECRET, 330),
        ("msg_forged", other_secret, 0),
    ] {
        let at = app.now_secs() as i64 + off;
        let r = resend_event(&app, event_id, &cat_bounce, secret, at).await;
        assert_eq!(r.status, 401, "{event_id}: {}", r.text());
        assert_eq!(r.json()["code"], "unauthorized");
    }
    let unsigned = Some(cat_bounce.to_string().into_bytes());
    let r = app
        .send("POST", "/v1/mail-events/resend", None, unsigned, &[])
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    // A signed body that was changed on the way.
    let signed = cat_bounce.to_string().into_bytes();
    let changed = resend_body(News::Bounced, cat_mail, "dan@example.com").to_string();
    let now = app.now_secs() as i64;
    let r = post_signed(
        &app,
        "msg_changed",
        &signed,
        changed.into_bytes(),
        DEV_RESEND_WEBHOOK_SECRET,
        now,
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    app.settle().await;
    assert_eq!(app.invitation(&acc, cat, "owner").await, cat_before);
    assert_eq!(bounced_hooks(&app).len(), 1);

    // A delivery report for cat, sent by the local inbox's button.
    let index = app
        .inbox
        .mails()
        .iter()
        .position(|m| m.message_id == *cat_mail)
        .unwrap();
    if app.on_host() {
        // The button signs with the wall clock, which the host's may not be.
        let delivered = resend_body(News::Delivered, cat_mail, "cat@example.com");
        assert_eq!(heard(&app, "msg_delivered", &delivered).await, "recorded");
    } else {
        assert_eq!(app.inbox.report(index, News::Delivered).await, Ok(200));
    }
    app.settle().await;
    let cat_after = app.invitation(&acc, cat, "owner").await;
    assert_eq!(cat_after["delivery"]["status"], "delivered", "{cat_after}");
    assert_eq!(bounced_hooks(&app).len(), 1);

    // News about a mail nobody sent, and news we do not act on: answered.
    let unknown = resend_body(News::Bounced, "no-such-mail", "eve@example.com");
    assert_eq!(
        heard(&app, "msg_unknown", &unknown).await,
        "unknown_message"
    );
    let opened = json!({"type": "email.opened", "data": {"email_id": cat_mail}});
    assert_eq!(heard(&app, "msg_opened", &opened).await, "ignored");
}

#[tokio::test]
async fn a_postmark_bounce_with_the_token_marks_the_invitation_and_without_it_is_refused() {
    let app = App::start().await;
    let (acc, sent) = mailed(&app, &["bob@example.com"]).await;
    let (bob, bob_mail) = &sent[0];
    let bounce = postmark_bounce(4323372036854775807, bob_mail, "bob@example.com", true);

    let before = app.invitation(&acc, bob, "owner").await;
    for authorization in [
        None,
        Some(basic("postmark", "not-the-token")),
        Some(format!("Bearer {DEV_POSTMARK_WEBHOOK_TOKEN}")),
    ] {
        let r = postmark_event(&app, &bounce, authorization.as_deref()).await;
        assert_eq!(r.status, 401, "{authorization:?}: {}", r.text());
        assert_eq!(r.json()["code"], "unauthorized");
    }
    app.settle().await;
    assert_eq!(app.invitation(&acc, bob, "owner").await, before);

    let token = basic("postmark", DEV_POSTMARK_WEBHOOK_TOKEN);
    let r = postmark_event(&app, &bounce, Some(&token)).await;
    assert_eq!(
        (r.status, r.json()["result"].clone()),
        (200, json!("recorded"))
    );
    app.settle().await;
    let read = app.invitation(&acc, bob, "owner").await;
    assert_eq!(read["delivery"]["status"], "bounced", "{read}");
    assert!(
        read["delivery"]["last_error"]
            .as_str()
            .unwrap()
            .contains("HardBounce"),
        "{read}"
    );
    assert_eq!(bounced_hooks(&app).len(), 1);
    // Postmark retrying it.
    let r = postmark_event(&app, &bounce, Some(&token)).await;
    assert_eq!(
        (r.status, r.json()["result"].clone()),
        (200, json!("duplicate"))
    );
    // The token in a header of our own works as well.
    let open = json!({"RecordType": "Open", "MessageID": bob_mail});
    let body = Some(open.to_string().into_bytes());
    let r = app
        .send(
            "POST",
            "/v1/mail-events/postmark",
            None,
            body,
            &[("x-webhook-token", DEV_POSTMARK_WEBHOOK_TOKEN)],
        )
        .await;
    assert_eq!(
        (r.status, r.json()["result"].clone()),
        (200, json!("ignored"))
    );
    // A believed record without a message id is a 400.
    let r = postmark_event(&app, &json!({"RecordType": "Bounce"}), Some(&token)).await;
    assert_eq!(r.status, 400, "{}", r.text());
    app.settle().await;
    assert_eq!(bounced_hooks(&app).len(), 1);
}

#[tokio::test]
async fn a_bounced_invitation_is_never_reminded_or_retried_needs_host_clock() {
    if common::skipped_on_spin("29 days pass only on the host's clock") {
        return;
    }
    let app = App::start().await;
    let (_, sent) = mailed(&app, &["bob@example.com", "cat@example.com"]).await;
    let bounce = resend_body(News::Bounced, &sent[0].1, "bob@example.com");
    assert_eq!(heard(&app, "msg_b", &bounce).await, "recorded");
    for _ in 0..29 {
        app.advance(DAY).await;
        app.sweep_all().await;
    }
    app.settle().await;
    // Cat, not bounced, had the reminder; bob had nothing more.
    assert_eq!(app.inbox.mails_to("cat@example.com").len(), 2);
    assert_eq!(app.inbox.mails_to("bob@example.com").len(), 1);
}
