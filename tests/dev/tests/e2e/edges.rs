//! Bad input, bad tokens, replays and failures: clear 4xx problems that change nothing.

use crate::common;

use common::App;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_get_401_with_a_challenge() {
    let app = App::start().await;
    let r = app
        .get("/v1/accounts/acc_000000000000000000000000", None)
        .await;
    assert_eq!((r.status, r.code()), (401, "unauthorized".to_owned()));
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    for bad in [
        "garbage".to_owned(),
        // alg: none
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJib2IiLCJhdWQiOiJpbnZpdGF0aW9ucyIsImV4cCI6OTk5OTk5OTk5OX0.".to_owned(),
        // signed with another secret
        invitations_edge::auth::mint_hs256("another-secret-that-is-long-enough-32b", &claims("bob", "invitations"), app.now_secs(), 3600).unwrap(),
        // wrong audience
        invitations_edge::auth::mint_hs256(invitations_dev::DEV_SECRET, &claims("bob", "someone-else"), app.now_secs(), 3600).unwrap(),
        // expired an hour ago
        invitations_edge::auth::mint_hs256(invitations_dev::DEV_SECRET, &claims("bob", "invitations"), app.now_secs() - 7200, 3600).unwrap(),
    ] {
        let r = app.post("/v1/accounts", Some(&bad), json!({"name": "x"})).await;
        assert_eq!((r.status, r.code()), (401, "unauthorized".to_owned()), "{bad}");
    }
}

fn claims(sub: &str, aud: &str) -> invitations_edge::auth::DevClaims {
    invitations_edge::auth::DevClaims {
        sub: sub.into(),
        email: Some(format!("{sub}@example.com")),
        email_verified: true,
        name: None,
        principal_type: None,
        issuer: None,
        audience: aud.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_refused_and_change_nothing() {
    let app = App::start().await;
    let owner = app.token("olivia");
    let acc = app.account("olivia").await;
    let path = format!("/v1/accounts/{acc}/invitations");
    let send = |body: Vec<u8>| app.send("POST", &path, Some(&owner), Some(body), &[]);

    let r = send(b"{not json".to_vec()).await;
    assert_eq!((r.status, r.code()), (400, "invalid_json".to_owned()));
    let r = send(br#"{"emails": ["a@example.com"], "colour": "red"}"#.to_vec()).await;
    assert_eq!((r.status, r.code()), (400, "unknown_field".to_owned()));
    let many: Vec<String> = (0..101).map(|i| format!("u{i}@example.com")).collect();
    let r = send(serde_json::to_vec(&json!({"emails": many})).unwrap()).await;
    assert_eq!((r.status, r.code()), (400, "validation_failed".to_owned()));
    assert_eq!(r.json()["errors"][0]["field"], "emails");
    let big = json!({"emails": ["a@example.com"], "message": "x".repeat(70 * 1024)});
    let r = send(serde_json::to_vec(&big).unwrap()).await;
    assert_eq!((r.status, r.code()), (413, "payload_too_large".to_owned()));
    let r = send(br#"{"emails": ["a@example.com"], "role": "owner"}"#.to_vec()).await;
    assert_eq!((r.status, r.code()), (400, "validation_failed".to_owned()));
    // Header injection attempts never reach a mail.
    let r = send(
        serde_json::to_vec(&json!({"emails": ["a@example.com\r\nBcc: evil@example.com"]})).unwrap(),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["results"][0]["status"], "invalid_email");
    let r = app
        .post(
            "/v1/accounts",
            Some(&owner),
            json!({"name": "Evil\r\nBcc: x@example.com"}),
        )
        .await;
    assert_eq!(r.status, 400);
    // Nothing was created by any of that.
    let list = app.get(&path, Some(&owner)).await;
    assert_eq!(list.json()["data"], json!([]));
    assert!(app.inbox.mails().is_empty());

    // Unknown routes and methods.
    let r = app.get("/nowhere", None).await;
    assert_eq!((r.status, r.code()), (404, "not_found".to_owned()));
    let r = app
        .get(&format!("/v1/accounts/{acc}/elsewhere"), None)
        .await;
    assert_eq!((r.status, r.code()), (404, "not_found".to_owned()));
    let r = app
        .send("PUT", &path, Some(&owner), Some(b"{}".to_vec()), &[])
        .await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
    let r = app.get(&format!("{path}?state=open"), Some(&owner)).await;
    assert_eq!(r.status, 400);
    let r = app
        .get(&format!("{path}?cursor=forged"), Some(&owner))
        .await;
    assert_eq!(r.status, 400);
    let r = app.get("/v1/invitations/preview?token=short", None).await;
    assert_eq!(
        (r.status, r.code()),
        (404, "invitation_not_found".to_owned())
    );
    let r = app.get("/join?token=short", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_the_first_answer() {
    let app = App::start().await;
    let owner = app.token("olivia");
    let acc = app.account("olivia").await;
    let path = format!("/v1/accounts/{acc}/invitations");
    let body = serde_json::to_vec(&json!({"emails": ["bob@example.com"]})).unwrap();
    let first = app
        .send(
            "POST",
            &path,
            Some(&owner),
            Some(body.clone()),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(first.status, 201);
    let again = app
        .send(
            "POST",
            &path,
            Some(&owner),
            Some(body.clone()),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.inbox.mails().len(), 1, "mailed once");
    let other = serde_json::to_vec(&json!({"emails": ["carol@example.com"]})).unwrap();
    let r = app
        .send(
            "POST",
            &path,
            Some(&owner),
            Some(other),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "idempotency_key_reused".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_provider_down_keeps_the_invitation_and_shows_why() {
    // Without webhooks, so the only outgoing request is the mail.
    let app = App::start_with(common::Options {
        variables: vec![("webhook_url", String::new())],
        ..Default::default()
    })
    .await;
    let owner = app.token("olivia");
    let acc = app.account("olivia").await;
    app.inbox.set_down(true);
    let r = app.invite("olivia", &acc, &["bob@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let inv = &r.json()["results"][0]["invitation"];
    assert_eq!(inv["state"], "pending");
    let id = inv["id"].as_str().unwrap();
    let seen = app
        .invitation_once_delivery(&acc, id, "olivia", "failed")
        .await;
    assert_eq!(seen["delivery"]["attempts"], 1);
    assert!(seen["delivery"]["last_error"]
        .as_str()
        .unwrap()
        .contains("503"));
    // The admin can resend once the provider is back (a first resend never waits).
    app.inbox.set_down(false);
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/invitations/{id}/resend"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    app.invitation_once_delivery(&acc, id, "olivia", "sent")
        .await;
    assert_eq!(app.inbox.mails_to("bob@example.com").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_api_that_refuses_connections_is_a_failure_not_a_500() {
    // Nothing listens there (the port was free a moment ago).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = App::start_with(common::Options {
        variables: vec![
            ("mail_api_url", format!("http://{closed}")),
            ("webhook_url", String::new()),
        ],
        ..Default::default()
    })
    .await;
    let acc = app.account("olivia").await;
    let r = app.invite("olivia", &acc, &["carol@example.com"]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["results"][0]["invitation"]["id"].clone();
    let seen = app
        .invitation_once_delivery(&acc, id.as_str().unwrap(), "olivia", "failed")
        .await;
    let delivery = &seen["delivery"];
    assert_eq!(delivery["attempts"], 1, "{delivery}");
    assert!(delivery["last_error"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_addresses_are_mailed_in_one_request() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    let emails: Vec<String> = (0..100).map(|i| format!("p{i}@example.com")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    let r = app.invite("olivia", &acc, &refs).await;
    assert_eq!(r.status, 201);
    assert_eq!(app.inbox.mails().len(), 100);
    // The outcomes are recorded after the answer: on real Spin the inbox can
    // fall quiet before they are, so look until they are.
    let path = format!("/v1/accounts/{acc}/invitations?limit=100");
    let within = std::time::Duration::from_secs(10);
    common::wait_for("100 invitations listed as sent", within, async || {
        let listed = app.get(&path, Some(&app.token("olivia"))).await.json();
        let data = listed["data"].as_array().unwrap();
        assert_eq!(data.len(), 100);
        let sent = data
            .iter()
            .filter(|x| x["delivery"]["status"] == "sent")
            .count();
        (sent == 100).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postmark_is_spoken_too() {
    let app = App::start_with(common::Options {
        variables: vec![("mail_provider", "postmark".to_owned())],
        ..Default::default()
    })
    .await;
    let acc = app.account("olivia").await;
    assert_eq!(
        app.invite("olivia", &acc, &["bob@example.com"])
            .await
            .status,
        201
    );
    let mail = app.last_mail("bob@example.com");
    assert_eq!(mail.provider, "postmark");
    assert_eq!(mail.auth, "test-token");
    assert!(mail.html.contains("/join?token="));
}

/// Renames the account while its store fails: the answer must be the
/// store's problem, naming an incident and nothing of the store's error.
/// Returns the body and the incident's name.
async fn rename_while_the_store_fails(app: &App, acc: &str) -> (serde_json::Value, String) {
    let rename = serde_json::to_vec(&json!({"name": "Renamed"})).unwrap();
    let r = app
        .send(
            "PATCH",
            &format!("/v1/accounts/{acc}"),
            Some(&app.token("owner")),
            Some(rename),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (503, "store_unavailable".into()),
        "{}",
        r.text()
    );
    assert!(r.header("retry-after").is_some());
    let body = r.json();
    assert_eq!(
        body["detail"],
        "the store did not answer; try again shortly"
    );
    let name = body["instance"]
        .as_str()
        .unwrap_or_default()
        .strip_prefix("urn:invitations:incident:")
        .unwrap_or_default()
        .to_owned();
    assert!(
        name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit()),
        "{body}"
    );
    (body, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_names_an_incident_and_shows_none_of_its_internals_needs_host_faults() {
    if common::skipped_on_spin("the store fault is the test host's") {
        return;
    }
    let app = App::start().await;
    let acc = app.account("owner").await;
    app.settle().await;
    // Renaming an account reads it with the caller's membership (a batch
    // read, which falls back to single reads when it fails), then reads it
    // for the compare-and-swap: that read fails.
    app.host().faults().fail_store_call(2);
    let (body, _) = rename_while_the_store_fails(&app, &acc).await;
    assert!(!body.to_string().contains("injected"), "{body}");
    let again = app
        .get(&format!("/v1/accounts/{acc}"), Some(&app.token("owner")))
        .await;
    assert_eq!(
        again.status,
        200,
        "the store answers again: {}",
        again.text()
    );
    assert_eq!(again.json()["name"], "owner's team", "nothing changed");
}

/// On real Spin, the store itself fails: SQLite locked by another writer,
/// Redis refusing Spin, the DynamoDB endpoint gone. The answer is the same
/// problem whatever the store, with none of its error text; the log has the
/// error under the incident's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_of_any_kind_is_a_problem_without_its_error_text() {
    if invitations_dev::platform::Platform::from_env().is_host() {
        eprintln!("real Spin only: on the test host, see the test with injected faults");
        return;
    }
    let mut app = App::start().await;
    let acc = app.account("owner").await;
    app.settle().await;
    let lock = app.break_store();
    let (body, name) = rename_while_the_store_fails(&app, &acc).await;
    let fields: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        ["code", "detail", "instance", "status", "title", "type"],
        "{body}"
    );
    // The component's output reaches Spin's log a moment later.
    let within = std::time::Duration::from_secs(5);
    let logged = common::wait_for(
        &format!("incident {name} in Spin's log"),
        within,
        async || Some(app.spin_output()).filter(|logged| logged.contains(&name)),
    )
    .await;
    let line = logged
        .lines()
        .find(|l| l.contains(&format!("incident {name}: store_unavailable: ")))
        .unwrap_or_else(|| panic!("no incident {name} in the log:\n{logged}"));
    eprintln!("{:?}: {line}", app.platform.kv);
    drop(lock);
}

/// An unknown path reaches the one component that holds nothing (`ui`: no
/// store, no variables, no outbound hosts), so a misconfiguration that stops
/// the others cannot turn its 404 into a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_path_is_404_even_when_the_app_is_misconfigured() {
    let app = App::start_with(common::Options {
        variables: vec![("retention_days", "abc".to_owned())],
        ..Default::default()
    })
    .await;
    let r = app.get("/nowhere", None).await;
    assert_eq!(
        (r.status, r.code()),
        (404, "not_found".to_owned()),
        "{}",
        r.text()
    );
    let r = app
        .send("DELETE", "/v1/nowhere/else", None, None, &[])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (404, "not_found".to_owned()),
        "{}",
        r.text()
    );
    let r = app
        .get(
            "/v1/accounts/acc_0123456789abcdef01234567/invitations",
            Some(&app.token("olivia")),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (503, "misconfigured".to_owned()),
        "{}",
        r.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variable_that_is_not_a_number_is_a_misconfiguration_not_a_default() {
    for (name, value) in [
        ("retention_days", "abc"),
        ("resend_cooldown_seconds", "-5"),
        ("outbound_max_in_flight", "0"),
        ("send_after_answer", "yes"),
    ] {
        let app = App::start_with(common::Options {
            variables: vec![(name, value.to_owned())],
            ..Default::default()
        })
        .await;
        // The invite component reads all four.
        let r = app
            .get(
                "/v1/accounts/acc_0123456789abcdef01234567/invitations",
                Some(&app.token("olivia")),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (503, "misconfigured".to_owned()),
            "{name}"
        );
        let detail = r.json()["detail"].as_str().unwrap_or_default().to_owned();
        assert!(detail.contains(name), "{name}: {detail}");
    }
}

/// Sends one raw HTTP/1.1 request on `conn` and reads once: what that one
/// read got, as text.
async fn one_read(conn: &mut tokio::net::TcpStream, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Whether `got` is one whole response: its head, a `content-length`, and
/// exactly that many bytes of body.
fn whole_response(got: &str) -> Result<u16, String> {
    let (head, body) = got
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no whole head in the first read: {got:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status: {head}"))?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .ok_or_else(|| {
            format!("no content-length (the body was not ready with the head): {head}")
        })?;
    if body.len() != length {
        return Err(format!(
            "the first read held {} of {length} body bytes: the body left after the head\n{head}",
            body.len()
        ));
    }
    Ok(status)
}

/// On a keep-alive connection, every answer reaches the client whole in one
/// read: the components hand the host the body before the head
/// (`crates/spin-adapter/src/respond.rs`), so the host writes both at once
/// and Nagle's algorithm has nothing to hold back until the client's delayed
/// ACK (on Spin 4.0.2, which sets no `TCP_NODELAY`, that was up to 40 ms).
/// Each shape of answer: an invite (201, with mail and webhooks after its
/// answer), a problem (404), a read (200) and a cancel (200).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_leave_whole_on_a_keep_alive_connection() {
    let app = App::start().await;
    let acc = app.account("olivia").await;
    let owner = app.token("olivia");
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.set_nodelay(true).unwrap();
    let request = |method: &str, path: &str, auth: bool, body: &str| {
        let auth = if auth {
            format!("authorization: Bearer {owner}\r\n")
        } else {
            String::new()
        };
        format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}content-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let unknown = format!("/v1/invitations/preview?token={}", "A".repeat(43));
    let invitations = format!("/v1/accounts/{acc}/invitations");
    for i in 0..10 {
        let body = format!(r#"{{"emails": ["k{i}@example.com"]}}"#);
        let got = one_read(&mut conn, &request("POST", &invitations, true, &body)).await;
        assert_eq!(whole_response(&got), Ok(201), "invite {i}");
        let id = got
            .split(r#""id":""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .filter(|id| id.starts_with("inv_"))
            .unwrap_or_else(|| panic!("an invitation id in {got}"))
            .to_owned();
        let got = one_read(&mut conn, &request("GET", &unknown, false, "")).await;
        assert_eq!(whole_response(&got), Ok(404), "preview {i}");
        let got = one_read(
            &mut conn,
            &request("GET", &format!("/v1/accounts/{acc}"), true, ""),
        )
        .await;
        assert_eq!(whole_response(&got), Ok(200), "account {i}");
        let one = format!("{invitations}/{id}");
        let got = one_read(&mut conn, &request("DELETE", &one, true, "")).await;
        assert_eq!(whole_response(&got), Ok(200), "cancel {i}");
    }
    app.settle().await;
}
