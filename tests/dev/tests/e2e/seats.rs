//! Seats through the real components: `seat_limit` on the account, bulk
//! invites that create what fits, join links and resends refused when full,
//! seats given back by cancel and expiry, and ten invites racing for the last seat.

use crate::common;

use common::{App, Reply};
use serde_json::{json, Value};
use std::sync::Arc;

async fn patch(app: &App, acc: &str, body: &str) -> Reply {
    app.send(
        "PATCH",
        &format!("/v1/accounts/{acc}"),
        Some(&app.token("olivia")),
        Some(body.as_bytes().to_vec()),
        &[],
    )
    .await
}

async fn seats(app: &App, acc: &str) -> Value {
    let r = app
        .get(&format!("/v1/accounts/{acc}"), Some(&app.token("olivia")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["seats"].clone()
}

fn statuses(r: &Reply) -> Vec<String> {
    r.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_seat_limit_caps_members_and_open_invitations() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    assert_eq!(
        seats(&app, &acc).await,
        json!({"limit": null, "members": 1, "pending": 0})
    );

    // Bad limits change nothing.
    for bad in [
        r#"{"seat_limit": 0}"#,
        r#"{"seat_limit": -3}"#,
        r#"{"seat_limit": 1000001}"#,
        r#"{"seat_limit": "3"}"#,
        r#"{"seat_limit": 2.5}"#,
    ] {
        let r = patch(&app, &acc, bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.code(), "validation_failed", "{bad}");
    }
    assert_eq!(seats(&app, &acc).await["limit"], Value::Null);

    let r = patch(&app, &acc, r#"{"seat_limit": 3}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["seats"],
        json!({"limit": 3, "members": 1, "pending": 0})
    );

    // What fits is created, in the order given; the rest are told why.
    let r = app
        .invite(
            "olivia",
            &acc,
            &[
                "ann@example.com",
                "ben@example.com",
                "cat@example.com",
                "dan@example.com",
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        statuses(&r),
        [
            "created",
            "created",
            "seat_limit_reached",
            "seat_limit_reached"
        ]
    );
    let ann = r.json()["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        seats(&app, &acc).await,
        json!({"limit": 3, "members": 1, "pending": 2})
    );

    // Full: one more is a 409 with its results; a join link is refused
    // without spending its use.
    let r = app.invite("olivia", &acc, &["eve@example.com"]).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.code(), "seat_limit_reached");
    assert_eq!(statuses(&r), ["seat_limit_reached"]);
    let made = app
        .post(
            &format!("/v1/accounts/{acc}/join-links"),
            Some(&app.token("olivia")),
            json!({"max_uses": 1}),
        )
        .await
        .json();
    let link = made["url"]
        .as_str()
        .unwrap()
        .rsplit('=')
        .next()
        .unwrap()
        .to_owned();
    let redeem = |who: &'static str| {
        let (app, link) = (&app, link.clone());
        async move {
            app.post(
                "/v1/join-links/redeem",
                Some(&app.token(who)),
                json!({ "token": link }),
            )
            .await
        }
    };
    let r = redeem("fay").await;
    assert_eq!((r.status, r.code()), (409, "seat_limit_reached".to_owned()));

    // A cancel gives the seat back at once, and the link's use is still there.
    let r = app
        .delete(
            &format!("/v1/accounts/{acc}/invitations/{ann}"),
            Some(&app.token("olivia")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(seats(&app, &acc).await["pending"], 1);
    let r = redeem("fay").await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        seats(&app, &acc).await,
        json!({"limit": 3, "members": 2, "pending": 1})
    );

    // Lowered below what is used: nobody goes, nobody new comes in.
    let r = patch(&app, &acc, r#"{"seat_limit": 1}"#).await;
    assert_eq!(r.json()["seats"]["limit"], 1);
    let ben = app.last_mail("ben@example.com").token().unwrap();
    assert_eq!(
        app.accept("ben", &ben).await.status,
        200,
        "accepting never passes it"
    );
    assert_eq!(
        seats(&app, &acc).await,
        json!({"limit": 1, "members": 3, "pending": 0})
    );
    assert_eq!(
        app.invite("olivia", &acc, &["gus@example.com"])
            .await
            .status,
        409
    );
    let r = patch(&app, &acc, r#"{"seat_limit": null}"#).await;
    assert_eq!(r.json()["seats"]["limit"], Value::Null);
    assert_eq!(
        app.invite("olivia", &acc, &["gus@example.com"])
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn an_expired_invitation_gives_its_seat_back_without_the_sweep() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    patch(&app, &acc, r#"{"seat_limit": 2}"#).await;
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations"),
            Some(&app.token("olivia")),
            json!({"emails": ["ann@example.com"], "ttl_seconds": 2}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let ann = r.json()["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.invite("olivia", &acc, &["ben@example.com"])
            .await
            .status,
        409
    );
    app.advance(3).await;
    assert_eq!(seats(&app, &acc).await["pending"], 0);
    let r = app.invite("olivia", &acc, &["ben@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    // Renewing ann now needs a seat there is not.
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations/{ann}/resend"),
            Some(&app.token("olivia")),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "seat_limit_reached".to_owned()));
    assert_eq!(
        app.invitation(&acc, &ann, "olivia").await["state"],
        "expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_invites_at_once_for_the_last_seat_create_one() {
    let app = Arc::new(App::start().await);
    let acc = app.account("olivia").await;
    patch(&app, &acc, r#"{"seat_limit": 2}"#).await;
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let (app, acc) = (app.clone(), acc.clone());
            tokio::spawn(async move {
                let email = format!("p{i}@example.com");
                app.invite("olivia", &acc, &[email.as_str()]).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for h in handles {
        let r = h.await.unwrap();
        let code = if r.status == 201 {
            String::new()
        } else {
            r.code()
        };
        outcomes.push((r.status, code));
    }
    let created = outcomes.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|(s, c)| *s == 201 || (*s == 409 && c == "seat_limit_reached")),
        "{outcomes:?}"
    );
    assert_eq!(
        seats(&app, &acc).await,
        json!({"limit": 2, "members": 1, "pending": 1})
    );
    let listed = app
        .get(
            &format!("/v1/accounts/{acc}/invitations"),
            Some(&app.token("olivia")),
        )
        .await
        .json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
}
