//! The invitee says no: by the link (the API, or the /join page's button), or
//! signed in, by account. Through the real components.

use crate::common;

use common::App;
use serde_json::{json, Value};

/// An account of olivia's with a pending invitation to `email`: (account, id, token).
async fn invited(app: &App, email: &str) -> (String, String, String) {
    let acc = app.account("olivia").await;
    let (id, token) = app.invite_one("olivia", &acc, email).await;
    (acc, id, token)
}

#[tokio::test]
async fn declining_by_link_is_final_frees_the_address_and_tells_the_app() {
    let app = App::start().await;
    let owner = app.token("olivia");
    let (acc, id, token) = invited(&app, "bob@example.com").await;

    let r = app.decline(&token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let declined = r.json()["invitation"].clone();
    assert_eq!(declined["id"], id.as_str());
    assert_eq!(declined["state"], "declined");
    assert!(declined["declined_at"].is_string());
    assert_eq!(declined["declined_by"], Value::Null);

    // Again: the same invitation, and no second event.
    let again = app.decline(&token).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.json()["invitation"]["declined_at"],
        declined["declined_at"]
    );
    let kinds = app.hook_kinds();
    assert_eq!(
        kinds.iter().filter(|k| *k == "invitation.declined").count(),
        1,
        "{kinds:?}"
    );

    // The link is dead: accepting is 410, the page says what happened.
    let r = app.accept("bob", &token).await;
    assert_eq!(
        (r.status, r.code()),
        (410, "invitation_declined".to_owned())
    );
    let page = app.get(&format!("/join?token={token}"), None).await;
    assert_eq!(page.status, 410);
    assert!(page.text().contains("This invitation was declined"));
    assert!(!page.text().contains("<form"));

    // The admin sees it as declined, by the filter too, and cannot resend it.
    assert_eq!(
        app.invitation(&acc, &id, "olivia").await["state"],
        "declined"
    );
    let list = app
        .get(
            &format!("/v1/accounts/{acc}/invitations?state=declined"),
            Some(&owner),
        )
        .await;
    assert_eq!(list.json()["data"].as_array().unwrap().len(), 1);
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations/{id}/resend"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (409, "invitation_not_pending".to_owned())
    );

    // The address is free to be invited again.
    let r = app.invite("olivia", &acc, &["bob@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test]
async fn the_join_page_declines_with_a_plain_form() {
    let app = App::start().await;
    let (acc, id, token) = invited(&app, "bob@example.com").await;

    let page = app.get(&format!("/join?token={token}"), None).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("<form method=\"post\">"), "{html}");
    assert!(html.contains(&format!("name=\"token\" value=\"{token}\"")));
    assert!(html.contains("Decline the invitation</button>"));

    let r = app.post_form("/join", &format!("token={token}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains("You declined the invitation"));
    assert_eq!(
        app.invitation(&acc, &id, "olivia").await["state"],
        "declined"
    );
    assert!(app.hook_kinds().contains(&"invitation.declined".to_owned()));

    // Pressed again (a reload): the same answer, and no second event; the
    // link itself now says it was declined.
    let r = app.post_form("/join", &format!("token={token}")).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("You declined the invitation"));
    let declined = app.hook_kinds();
    assert_eq!(
        declined
            .iter()
            .filter(|k| *k == "invitation.declined")
            .count(),
        1
    );
    let r = app.get(&format!("/join?token={token}"), None).await;
    assert_eq!(r.status, 410);
    assert!(r.text().contains("This invitation was declined"));
    // An accepted invitation cannot be declined: the page shows it as used.
    let (_, _, used) = invited(&app, "carol@example.com").await;
    assert_eq!(app.accept("carol", &used).await.status, 200);
    let r = app.post_form("/join", &format!("token={used}")).await;
    assert_eq!(r.status, 410);
    assert!(r.text().contains("already been used"));
    // No token, or one that opens nothing: the not-valid page.
    for form in ["", "token=nope", "token="] {
        let r = app.post_form("/join", form).await;
        assert_eq!(r.status, 404, "{form}");
        assert!(r.text().contains("not valid"));
    }
}

#[tokio::test]
async fn signed_in_the_invited_address_declines_by_account() {
    let app = App::start().await;
    let (acc, id, token) = invited(&app, "bob@example.com").await;
    let body = json!({"account_id": acc});

    let unverified = app.token_with("bob", Some("bob@example.com"), false, None);
    let r = app
        .post("/v1/invitations/decline", Some(&unverified), body.clone())
        .await;
    assert_eq!((r.status, r.code()), (403, "email_mismatch".to_owned()));
    let r = app
        .post(
            "/v1/invitations/decline",
            Some(&app.token("eve")),
            body.clone(),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (404, "invitation_not_found".to_owned())
    );
    let r = app
        .post("/v1/invitations/decline", None, body.clone())
        .await;
    assert_eq!((r.status, r.code()), (401, "unauthorized".to_owned()));

    let r = app
        .post(
            "/v1/invitations/decline",
            Some(&app.token("bob")),
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["invitation"]["id"], id.as_str());
    assert_eq!(r.json()["invitation"]["declined_by"], "bob");
    assert_eq!(app.decline(&token).await.status, 200);

    // What can no longer be declined says why, with accept's codes.
    let (_, _, accepted) = invited(&app, "carol@example.com").await;
    assert_eq!(app.accept("carol", &accepted).await.status, 200);
    let r = app.decline(&accepted).await;
    assert_eq!(
        (r.status, r.code()),
        (410, "invitation_already_accepted".to_owned())
    );
    let (acc2, cancelled_id, cancelled) = invited(&app, "dave@example.com").await;
    let r = app
        .delete(
            &format!("/v1/accounts/{acc2}/invitations/{cancelled_id}"),
            Some(&app.token("olivia")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.decline(&cancelled).await;
    assert_eq!(
        (r.status, r.code()),
        (410, "invitation_cancelled".to_owned())
    );

    // Bad bodies change nothing.
    for bad in [
        json!({}),
        json!({"token": "x", "account_id": "y"}),
        json!({"tok": 1}),
    ] {
        let r = app.post("/v1/invitations/decline", None, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}
