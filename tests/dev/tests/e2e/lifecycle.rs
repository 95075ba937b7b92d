//! The whole lifecycle on the real components.

use crate::common;

use common::{App, Options};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_mail_preview_accept_resend_cancel_remove() {
    lifecycle(Options::default()).await;
}

pub(crate) async fn lifecycle(options: Options) {
    // A short resend cooldown, so real Spin can wait it out.
    let app = App::start_with(Options {
        variables: vec![("resend_cooldown_seconds", "3".into())],
        ..options
    })
    .await;
    let owner = app.token("olivia");
    let acc = app.account("olivia").await;
    let invitations = format!("/v1/accounts/{acc}/invitations");

    // Bulk invite with mixed outcomes: 200 with one result per address.
    let r = app.post(&invitations, Some(&owner), json!({
        "emails": ["bob@example.com", "BOB@example.com", "not-an-email", "carol@example.com"],
        "role": "member", "access_groups": ["eng"], "message": "Welcome aboard!"
    })).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].as_array().unwrap().clone();
    let statuses: Vec<&str> = results
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "created",
            "duplicate_in_request",
            "invalid_email",
            "created"
        ]
    );
    let bob_inv = results[0]["invitation"].clone();
    assert_eq!(bob_inv["state"], "pending");
    // The answer went out before the mail (`send_after_answer`).
    assert_eq!(bob_inv["delivery"]["status"], "queued");
    assert!(bob_inv.get("token").is_none() && bob_inv.get("token_hash").is_none());
    assert!(bob_inv["id"].as_str().unwrap().starts_with("inv_"));

    // The mail arrived with a working link.
    let mail = app.last_mail("bob@example.com");
    assert!(mail.subject.contains("olivia Name"), "{}", mail.subject);
    assert!(mail.text.contains("Welcome aboard!"));
    let link = mail.link().unwrap();
    assert!(
        link.starts_with("https://invite.example/join?token="),
        "{link}"
    );
    let token = mail.token().unwrap();

    // All addresses created: 201. Nothing created: 422 with the results.
    assert_eq!(
        app.invite("olivia", &acc, &["dave@example.com"])
            .await
            .status,
        201
    );
    let r = app.invite("olivia", &acc, &["bob@example.com"]).await;
    assert_eq!((r.status, r.code()), (422, "nothing_invited".to_owned()));
    assert_eq!(r.json()["results"][0]["status"], "already_invited");

    // Preview needs no login; the join page shows it, escaped, with no referrer.
    let r = app
        .get(&format!("/v1/invitations/preview?token={token}"), None)
        .await;
    assert_eq!(r.status, 200);
    let p = r.json();
    assert_eq!(
        (p["email"].as_str(), p["state"].as_str(), p["role"].as_str()),
        (Some("bob@example.com"), Some("pending"), Some("member"))
    );
    assert_eq!(p["account"]["id"], acc.as_str());
    let page = app.get(&format!("/join?token={token}"), None).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(page.text().contains("bob@example.com"));

    // A wrong account does not burn the invitation.
    let r = app.accept("eve", &token).await;
    assert_eq!((r.status, r.code()), (403, "email_mismatch".to_owned()));
    // Accept, and accept again: the same membership.
    let r = app.accept("bob", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let member = r.json()["member"].clone();
    assert_eq!(
        (member["role"].as_str(), member["user_id"].as_str()),
        (Some("member"), Some("bob"))
    );
    assert_eq!(member["access_groups"], json!(["eng"]));
    assert_eq!(r.json()["invitation"]["state"], "accepted");
    let again = app.accept("bob", &token).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["member"], member);
    let r = app.accept("bob2", &token).await;
    assert_eq!(
        (r.status, r.code()),
        (410, "invitation_already_accepted".to_owned())
    );
    let page = app.get(&format!("/join?token={token}"), None).await;
    assert_eq!(page.status, 410);
    assert!(page.text().contains("already been used"));

    // Accept by account for a signed-in invitee.
    let r = app
        .post(
            "/v1/invitations/accept",
            Some(&app.token("carol")),
            json!({"account_id": acc}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Resend: a new link at once, the old one stops working; a second resend waits.
    let dave = app.last_mail("dave@example.com").token().unwrap();
    let dave_id = app
        .get(
            &format!("{invitations}?email=dave@example.com"),
            Some(&owner),
        )
        .await
        .json()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resend = format!("{invitations}/{dave_id}/resend");
    let r = app.post(&resend, Some(&owner), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = app.invitation(&acc, &dave_id, "olivia").await;
    assert_eq!(seen["sent_count"], 2, "{seen}");
    let r = app.post(&resend, Some(&owner), json!({})).await;
    assert_eq!((r.status, r.code()), (429, "rate_limited".to_owned()));
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3).contains(&wait), "{wait}");
    app.advance(wait).await;
    let r = app.post(&resend, Some(&owner), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = app.invitation(&acc, &dave_id, "olivia").await;
    assert_eq!(seen["sent_count"], 3, "{seen}");
    let fresh = app.last_mail("dave@example.com").token().unwrap();
    assert_ne!(fresh, dave);
    assert_eq!(
        app.get(&format!("/v1/invitations/preview?token={dave}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        app.get(&format!("/v1/invitations/preview?token={fresh}"), None)
            .await
            .status,
        200
    );

    // Cancel, then re-invite; cancelling twice is a conflict.
    let r = app
        .delete(&format!("{invitations}/{dave_id}"), Some(&owner))
        .await;
    assert_eq!(
        (r.status, r.json()["state"].as_str()),
        (200, Some("cancelled"))
    );
    let r = app
        .delete(&format!("{invitations}/{dave_id}"), Some(&owner))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (409, "invitation_not_pending".to_owned())
    );
    let r = app.accept("dave", &fresh).await;
    assert_eq!(
        (r.status, r.code()),
        (410, "invitation_cancelled".to_owned())
    );
    assert_eq!(
        app.invite("olivia", &acc, &["dave@example.com"])
            .await
            .status,
        201
    );

    // Expiry (a short TTL; the sweep tests cover the default 30 days): expired
    // when its time is up, before any sweep; renew by resend; re-invite after expiry.
    let r = app
        .post(
            &invitations,
            Some(&owner),
            json!({"emails": ["erin@example.com", "frank@example.com"], "ttl_seconds": 4}),
        )
        .await;
    let erin_id = r.json()["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let frank_token = app.last_mail("frank@example.com").token().unwrap();
    assert_eq!(
        app.get(&format!("{invitations}/{erin_id}"), Some(&owner))
            .await
            .json()["state"],
        "pending"
    );
    app.advance(5).await;
    let erin = app
        .get(&format!("{invitations}/{erin_id}"), Some(&owner))
        .await
        .json();
    assert_eq!(erin["state"], "expired");
    assert_eq!(erin["expired_at"], erin["expires_at"]);
    let r = app.accept("frank", &frank_token).await;
    assert_eq!((r.status, r.code()), (410, "invitation_expired".to_owned()));
    let r = app
        .post(
            &format!("{invitations}/{erin_id}/resend"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["state"].as_str()),
        (200, Some("pending"))
    );
    let erin_token = app.last_mail("erin@example.com").token().unwrap();
    assert_eq!(app.accept("erin", &erin_token).await.status, 200);
    assert_eq!(
        app.invite("olivia", &acc, &["frank@example.com"])
            .await
            .status,
        201
    );

    // Members: list, remove (204), last owner stays.
    let r = app
        .get(&format!("/v1/accounts/{acc}/members"), Some(&owner))
        .await;
    let ids: Vec<String> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    let r = app
        .delete(&format!("/v1/accounts/{acc}/members/bob"), Some(&owner))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.get(&format!("/v1/accounts/{acc}/members/bob"), Some(&owner))
            .await
            .status,
        404
    );
    let r = app
        .delete(&format!("/v1/accounts/{acc}/members/olivia"), Some(&owner))
        .await;
    assert_eq!((r.status, r.code()), (409, "last_owner".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_do_what() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    let other = app.account("mallory").await;
    // Make mia a member.
    app.invite("olivia", &acc, &["mia@example.com"]).await;
    let t = app.last_mail("mia@example.com").token().unwrap();
    assert_eq!(app.accept("mia", &t).await.status, 200);

    let r = app.invite("mia", &acc, &["x@example.com"]).await;
    assert_eq!((r.status, r.code()), (403, "forbidden".to_owned()));
    let service = app.token_with("backend", None, false, Some("service"));
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations"),
            Some(&service),
            json!({"emails": ["x@example.com"]}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden".to_owned()));
    assert_eq!(
        app.get(&format!("/v1/accounts/{acc}/invitations"), Some(&service))
            .await
            .status,
        200
    );
    let r = app.invite("mallory", &acc, &["x@example.com"]).await;
    assert_eq!((r.status, r.code()), (404, "account_not_found".to_owned()));
    let r = app
        .get(&format!("/v1/accounts/{other}"), Some(&app.token("olivia")))
        .await;
    assert_eq!(r.status, 404);
    // Members read only their own membership.
    assert_eq!(
        app.get(
            &format!("/v1/accounts/{acc}/members/mia"),
            Some(&app.token("mia"))
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.get(
            &format!("/v1/accounts/{acc}/members/olivia"),
            Some(&app.token("mia"))
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.get(
            &format!("/v1/accounts/{acc}/members"),
            Some(&app.token("mia"))
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.delete(
            &format!("/v1/accounts/{acc}/members/olivia"),
            Some(&app.token("mia"))
        )
        .await
        .status,
        403
    );

    // Domain restriction, at invite and at accept.
    app.invite("olivia", &acc, &["zed@other.org"]).await;
    let zed = app.last_mail("zed@other.org").token().unwrap();
    let r = app
        .send(
            "PATCH",
            &format!("/v1/accounts/{acc}"),
            Some(&app.token("olivia")),
            Some(br#"{"allowed_domains": ["example.com"]}"#.to_vec()),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["allowed_domains"], json!(["example.com"]));
    let r = app
        .invite("olivia", &acc, &["yan@other.org", "yan@example.com"])
        .await;
    assert_eq!(r.json()["results"][0]["status"], "domain_not_allowed");
    let r = app
        .post(
            "/v1/invitations/accept",
            Some(&app.token_with("zed", Some("zed@other.org"), true, None)),
            json!({"token": zed}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "domain_not_allowed".to_owned()));
}
