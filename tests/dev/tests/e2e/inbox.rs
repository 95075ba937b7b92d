//! The invitee's inbox, `GET /v1/me/invitations`, and answering from it by
//! invitation id. Through the real components.

use crate::common;

use common::App;
use serde_json::json;

#[tokio::test]
async fn a_user_invited_into_many_accounts_pages_through_their_inbox_and_answers_from_it() {
    let app = App::start().await;
    let mut invited = Vec::new();
    for i in 0..12 {
        let owner = format!("owner{i}");
        let acc = app.account(&owner).await;
        let r = app.invite(&owner, &acc, &["bob@example.com"]).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["results"][0]["invitation"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        invited.push((acc, id));
    }
    // Noise: other people's invitations never show.
    let acc = app.account("olivia").await;
    app.invite("olivia", &acc, &["carol@example.com"]).await;

    let bob = app.token("bob");
    let mut seen = Vec::new();
    let mut path = "/v1/me/invitations?limit=5".to_owned();
    let mut pages = 0;
    loop {
        let r = app.get(&path, Some(&bob)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json();
        pages += 1;
        for item in page["data"].as_array().unwrap() {
            assert_eq!(item["email"], "bob@example.com");
            assert_eq!(item["role"], "member");
            assert!(item["account"]["name"].is_string());
            assert!(item["expires_at"].is_string());
            assert!(item["invited_by"]["email"]
                .as_str()
                .unwrap()
                .starts_with("owner"));
            seen.push((
                item["account"]["id"].as_str().unwrap().to_owned(),
                item["invitation_id"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/me/invitations?limit=5&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let newest_first: Vec<_> = invited.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    // Answer two from the inbox by id; they leave it.
    let r = app
        .post(
            "/v1/invitations/accept",
            Some(&bob),
            json!({"invitation_id": invited[0].1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["member"]["account_id"], invited[0].0.as_str());
    let r = app
        .post(
            "/v1/invitations/decline",
            Some(&bob),
            json!({"invitation_id": invited[1].1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["invitation"]["state"], "declined");
    let r = app.get("/v1/me/invitations", Some(&bob)).await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 10);

    // Someone else cannot answer bob's by id.
    let r = app
        .post(
            "/v1/invitations/accept",
            Some(&app.token("eve")),
            json!({"invitation_id": invited[2].1}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "email_mismatch".to_owned()));
}

#[tokio::test]
async fn the_inbox_needs_a_verified_address_of_a_person() {
    let app = App::start().await;
    let unverified = app.token_with("bob", Some("bob@example.com"), false, None);
    let r = app.get("/v1/me/invitations", Some(&unverified)).await;
    assert_eq!((r.status, r.code()), (403, "email_unverified".to_owned()));
    let r = app.get("/v1/me/invitations", None).await;
    assert_eq!((r.status, r.code()), (401, "unauthorized".to_owned()));
    let service = app.token_with("svc", None, false, Some("service"));
    let r = app.get("/v1/me/invitations", Some(&service)).await;
    assert_eq!((r.status, r.code()), (403, "forbidden".to_owned()));
    let bob = app.token("bob");
    for bad in ["cursor=nope", "limit=0", "colour=red"] {
        let r = app
            .get(&format!("/v1/me/invitations?{bad}"), Some(&bob))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
    let r = app.get("/v1/me/invitations", Some(&bob)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"data": [], "next_cursor": null}));
    let r = app
        .send("DELETE", "/v1/me/invitations", Some(&bob), None, &[])
        .await;
    assert_eq!((r.status, r.code()), (405, "method_not_allowed".to_owned()));
}
