//! Store round trips per request as the host counts them, on the real
//! components, against the domain's documented table (`docs/design.md` section 2: writes per
//! operation are the cost that matters most).

use crate::common;

use common::App;
use serde_json::json;

async fn tagged(
    app: &App,
    tag: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, Cost, Cost) {
    let body = body.map(|b| serde_json::to_vec(&b).unwrap());
    let r = app
        .send(method, path, token, body, &[("x-test-tag", tag)])
        .await;
    let record = app
        .host()
        .stats()
        .tagged(tag)
        .expect("the host recorded the request");
    // `send` returned once the request's work after its answer was done too.
    (
        r.status,
        Cost {
            round_trips: record.round_trips_before_answer(),
            writes: record.writes_before_answer(),
        },
        Cost {
            round_trips: record.round_trips(),
            writes: record.writes(),
        },
    )
}

/// Store round trips and write transactions of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cost {
    round_trips: u64,
    writes: u64,
}

fn cost(round_trips: u64, writes: u64) -> Cost {
    Cost {
        round_trips,
        writes,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_per_operation_needs_host_counters() {
    if common::skipped_on_spin("store round trips are counted by the test host") {
        return;
    }
    let app = App::start().await;
    // The documented table is for a store whose batch reads work (SQLite);
    // the domain's tests give the Redis costs.
    app.host().faults().set_redis_semantics(false);
    let [(_, create, _), (_, invite_one, invite_one_all), (_, invite_100, invite_100_all), (_, list, _), (_, preview, _), (_, accept, accept_all), (_, cancel, cancel_all), (_, decline, decline_all), (_, resend, resend_all), (_, members, _), (_, remove, remove_all), (_, events, _), (_, make_link, make_link_all), (_, redeem, redeem_all)] =
        every_operation(&app).await;
    // What the caller waits on: the domain's table (crates/invitations/src/lib.rs).
    assert_eq!(create, cost(3, 2), "create account");
    assert_eq!(invite_one, cost(8, 5), "invite one");
    assert_eq!(invite_100, cost(6 + 2 * 16, 4 + 16), "invite 100");
    assert_eq!(list, cost(3, 0), "list");
    assert_eq!(preview, cost(2, 0), "preview");
    assert_eq!(accept, cost(8, 4), "accept");
    assert_eq!(cancel, cost(6, 2), "cancel");
    assert_eq!(decline, cost(6, 2), "decline");
    assert_eq!(resend, cost(9, 4), "resend");
    assert_eq!(members, cost(3, 0), "members");
    assert_eq!(remove, cost(7, 3), "remove");
    assert_eq!(events, cost(3, 0), "history page");
    assert_eq!(make_link, cost(4, 3), "make a join link");
    assert_eq!(redeem, cost(9, 5), "redeem a join link");
    // After the answer: the history's positions for the change's events (an
    // `increment`), then one `set-many` with the links, the inbox entries
    // and those events' entries (a resend also deletes the links it
    // retired); after the mail, an inbox place for each new invitation (an
    // `increment` each), the positions for the `invitation.sent` events (an
    // `increment`), then one read and one `set-many` with the sends and
    // their history entries. +1 `increment` each time a block of 100 history
    // positions fills and is queued for purging (the 100 invitations fill
    // positions 100 and 200). Webhooks add none.
    const POSITIONS: u64 = 1;
    assert_eq!(
        invite_one_all,
        cost(8 + 1 + 1 + 2 + 2 * POSITIONS, 5 + 1 + 1 + 1 + 2 * POSITIONS),
        "invite one, in all"
    );
    assert_eq!(
        invite_100_all,
        cost(
            38 + 100 + 1 + 2 + 2 * (POSITIONS + 1),
            20 + 100 + 1 + 1 + 2 * (POSITIONS + 1)
        ),
        "invite 100, in all"
    );
    assert_eq!(
        resend_all,
        cost(9 + 2 + 2 + 2 * POSITIONS, 4 + 2 + 1 + 2 * POSITIONS),
        "resend, in all"
    );
    // A change with events and no mail: their positions, then their entries.
    const HISTORY: u64 = 2;
    let history = cost(HISTORY, HISTORY);
    let plus = |c: Cost| {
        cost(
            c.round_trips + history.round_trips,
            c.writes + history.writes,
        )
    };
    assert_eq!(
        (accept_all, cancel_all, decline_all, remove_all),
        (plus(accept), plus(cancel), plus(decline), plus(remove))
    );
    assert_eq!((make_link_all, redeem_all), (plus(make_link), plus(redeem)));
}

/// Every operation once, each request tagged: its name, what it cost before
/// its answer and in all. Prints the table.
async fn every_operation(app: &App) -> [(&'static str, Cost, Cost); 14] {
    let owner = app.token("olivia");
    let (_, create, _) = tagged(
        app,
        "create",
        "POST",
        "/v1/accounts",
        Some(&owner),
        Some(json!({"name": "Acme"})),
    )
    .await;
    let acc = app.account("olivia").await;
    let inv_path = format!("/v1/accounts/{acc}/invitations");

    let (s, invite_one, invite_one_all) = tagged(
        app,
        "invite1",
        "POST",
        &inv_path,
        Some(&owner),
        Some(json!({"emails": ["bob@example.com"]})),
    )
    .await;
    assert_eq!(s, 201);
    let emails: Vec<String> = (0..100).map(|i| format!("p{i}@example.com")).collect();
    let (s, invite_100, invite_100_all) = tagged(
        app,
        "invite100",
        "POST",
        &inv_path,
        Some(&owner),
        Some(json!({"emails": emails})),
    )
    .await;
    assert_eq!(s, 201);
    let (_, list, _) = tagged(
        app,
        "list",
        "GET",
        &format!("{inv_path}?limit=50"),
        Some(&owner),
        None,
    )
    .await;
    let token = app.last_mail("bob@example.com").token().unwrap();
    let (_, preview, _) = tagged(
        app,
        "preview",
        "GET",
        &format!("/v1/invitations/preview?token={token}"),
        None,
        None,
    )
    .await;
    let (s, accept, accept_all) = tagged(
        app,
        "accept",
        "POST",
        "/v1/invitations/accept",
        Some(&app.token("bob")),
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(s, 200);
    let p1 = app
        .get(&format!("{inv_path}?email=p1@example.com"), Some(&owner))
        .await
        .json()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p2 = app
        .get(&format!("{inv_path}?email=p2@example.com"), Some(&owner))
        .await
        .json()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, cancel, cancel_all) = tagged(
        app,
        "cancel",
        "DELETE",
        &format!("{inv_path}/{p1}"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let p3_token = app.last_mail("p3@example.com").token().unwrap();
    let (s, decline, decline_all) = tagged(
        app,
        "decline",
        "POST",
        "/v1/invitations/decline",
        None,
        Some(json!({"token": p3_token})),
    )
    .await;
    assert_eq!(s, 200);
    app.advance(120).await;
    let owner = app.token("olivia");
    let (s, resend, resend_all) = tagged(
        app,
        "resend",
        "POST",
        &format!("{inv_path}/{p2}/resend"),
        Some(&owner),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, members, _) = tagged(
        app,
        "members",
        "GET",
        &format!("/v1/accounts/{acc}/members"),
        Some(&owner),
        None,
    )
    .await;
    let (s, remove, remove_all) = tagged(
        app,
        "remove",
        "DELETE",
        &format!("/v1/accounts/{acc}/members/bob"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, events, _) = tagged(
        app,
        "events",
        "GET",
        &format!("/v1/accounts/{acc}/events?limit=50"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, make_link, make_link_all) = tagged(
        app,
        "make-link",
        "POST",
        &format!("/v1/accounts/{acc}/join-links"),
        Some(&owner),
        Some(json!({"max_uses": 5})),
    )
    .await;
    assert_eq!(s, 201);
    // Another link, untagged, whose secret the redeem uses.
    let made = app
        .post(
            &format!("/v1/accounts/{acc}/join-links"),
            Some(&owner),
            json!({"max_uses": 5}),
        )
        .await
        .json();
    let secret = made["url"]
        .as_str()
        .unwrap()
        .rsplit('=')
        .next()
        .unwrap()
        .to_owned();
    let (s, redeem, redeem_all) = tagged(
        app,
        "redeem",
        "POST",
        "/v1/join-links/redeem",
        Some(&app.token("zoe")),
        Some(json!({"token": secret})),
    )
    .await;
    assert_eq!(s, 201);

    let costs = [
        ("create account", create, create),
        ("invite 1", invite_one, invite_one_all),
        ("invite 100", invite_100, invite_100_all),
        ("list 50", list, list),
        ("preview", preview, preview),
        ("accept", accept, accept_all),
        ("cancel", cancel, cancel_all),
        ("decline", decline, decline_all),
        ("resend", resend, resend_all),
        ("list members", members, members),
        ("remove member", remove, remove_all),
        ("history page of 50", events, events),
        ("make a join link", make_link, make_link_all),
        ("redeem a join link", redeem, redeem_all),
    ];
    println!("operation              before the answer      in all");
    println!("                       round trips  writes  round trips  writes");
    for (name, before, all) in costs {
        println!(
            "{name:<22} {:>11} {:>7} {:>12} {:>7}",
            before.round_trips, before.writes, all.round_trips, all.writes
        );
    }
    costs
}

/// On Spin's Redis store a batch read is refused (its `get-many` sends Redis
/// `KEYS`) and read again key by key. The adapter remembers the refusal, so
/// a request pays that refused call once, not once per batch: a first page of
/// 50 sent invitations is 1 refused call, the access's 3 keys (account,
/// membership, log counter), then the 50 log entries (each with a copy of its
/// delivery) and the 50 records one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_request_pays_one_refused_batch_read_needs_host_counters() {
    if common::skipped_on_spin("store round trips are counted by the test host") {
        return;
    }
    // Without `store_redis_url`: batch reads go through Spin's `get-many`.
    let app = on_redis(vec![("store_redis_url", String::new())]).await;
    let (owner, page) = fifty_sent(&app).await;
    let (s, list, _) = tagged(&app, "list", "GET", &page, Some(&owner), None).await;
    assert_eq!(s, 200);
    assert_eq!(list, cost(1 + 3 + 2 * 50, 0), "a list page of 50 on Redis");
}

/// With `store_redis_url` naming the store's Redis server, a batch read of
/// 8 keys or more opens a connection to it, and from then on every batch is
/// one `MGET` over Spin's outbound Redis: a list page of 50 is 4 (the
/// access's 3 keys: a refused batch, then key by key) + 1 (opening the
/// connection) + 1 (the entries) + 1 (the key-value store's `get` that
/// confirms the server) + 1 (the records). Naming another server (one that
/// holds other values) changes no answer: the check refutes it, and the
/// page reads key by key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_batch_reads_are_one_mget_each_needs_host_counters() {
    if common::skipped_on_spin("store round trips are counted by the test host") {
        return;
    }
    let app = on_redis(common::mget_variables()).await;
    let (owner, page) = fifty_sent(&app).await;
    let (s, list, _) = tagged(&app, "list", "GET", &page, Some(&owner), None).await;
    assert_eq!(s, 200);
    assert_eq!(list, cost(4 + 4, 0), "a list page of 50 over MGET");
    let over_mget = app.get(&page, Some(&owner)).await;
    assert_eq!(over_mget.json()["data"].as_array().unwrap().len(), 50);

    // The variable now names a server that is not the store's.
    app.host().faults().serve_store_over_redis(None);
    let (s, list, _) = tagged(&app, "elsewhere", "GET", &page, Some(&owner), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        list,
        cost(4 + 3 + 2 * 50, 0),
        "the access key by key, then opening, the MGET and the check that refutes it, then key by key"
    );
    let key_by_key = app.get(&page, Some(&owner)).await;
    assert_eq!(key_by_key.json(), over_mget.json());
}

/// A server that answers every key absent (`store_redis_url` naming an
/// empty Redis) is not taken at its word: only a value it holds can confirm
/// it, so each batch it answers so is read again key by key through the
/// store, and the page is the page. A list page of 50: 4 (the access) + 1
/// (opening) + 2 × (1 `MGET` answering nothing + 50 reads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_an_empty_server_answering_mget_is_not_believed_needs_host_counters() {
    if common::skipped_on_spin("store round trips are counted by the test host") {
        return;
    }
    let app = on_redis(common::mget_variables()).await;
    let (owner, page) = fifty_sent(&app).await;
    let over_mget = app.get(&page, Some(&owner)).await;
    assert_eq!(over_mget.json()["data"].as_array().unwrap().len(), 50);

    // The variable now names a server that holds nothing.
    app.host().faults().serve_store_over_redis(None);
    app.host().faults().other_redis_servers_are_empty(true);
    let (s, list, _) = tagged(&app, "empty", "GET", &page, Some(&owner), None).await;
    assert_eq!(s, 200);
    assert_eq!(list, cost(4 + 1 + 2 * (1 + 50), 0), "a list page of 50");
    let read_again = app.get(&page, Some(&owner)).await;
    assert_eq!(read_again.json(), over_mget.json());
}

/// The same operations on Spin's Redis store, with `store_redis_url` naming
/// its server, beside a store whose `get-many` works: a page of 50
/// (invitations, members, history) costs 5 more there, whatever it lists
/// (its access's 3 keys one by one after a refused batch, opening the
/// connection, the `get` through the store that confirms the server; its two
/// batches of 50 are one `MGET` each), and every operation writes the same.
/// A change also reads back each swap, which Spin's Redis store reports as
/// failed (`docs/design.md`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_with_mget_a_page_costs_five_more_needs_host_counters() {
    if common::skipped_on_spin("store round trips are counted by the test host") {
        return;
    }
    let sqlite = App::start().await;
    sqlite.host().faults().set_redis_semantics(false);
    let redis = on_redis(common::mget_variables()).await;
    let on_sqlite = every_operation(&sqlite).await;
    let on_redis = every_operation(&redis).await;
    for ((name, sqlite, sqlite_all), (_, redis, redis_all)) in on_sqlite.into_iter().zip(on_redis) {
        assert_eq!(
            (redis.writes, redis_all.writes),
            (sqlite.writes, sqlite_all.writes),
            "{name}: the same writes"
        );
        if ["list 50", "list members", "history page of 50"].contains(&name) {
            assert_eq!(redis.round_trips, sqlite.round_trips + 5, "{name}");
        }
    }
}

/// A test host with Spin's Redis store semantics and these variables.
async fn on_redis(variables: Vec<(&'static str, String)>) -> App {
    let app = App::start_with(common::Options {
        variables,
        ..Default::default()
    })
    .await;
    app.host().faults().set_redis_semantics(true);
    app
}

/// Olivia's new account with 50 invitations whose mail went out (`post`
/// returns once the work after the answer is done): her token, and the
/// path of the account's first page of 50.
async fn fifty_sent(app: &App) -> (String, String) {
    let path = app.account_inviting("olivia", 50).await;
    (app.token("olivia"), format!("{path}?limit=50"))
}
