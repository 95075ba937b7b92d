//! Store round trips per operation, against the table in the crate docs.

use crate::common::*;
use invitations::effects::Leftovers;
use invitations::email::Email;
use invitations::ids::UserId;
use invitations::model::DeliveryStatus;
use invitations::ops::accept::{accept_by_token, accept_for_account};
use invitations::ops::accounts::{create_account, get_account, update_account, AccountPatch};
use invitations::ops::cancel::cancel;
use invitations::ops::decline::{decline_by_token, decline_for_account};
use invitations::ops::deliveries::{before_sending, record_deliveries};
use invitations::ops::idempotency::{begin, complete, Begin, IdempotencyKey};
use invitations::ops::inbox::my_invitations;
use invitations::ops::invite::invite;
use invitations::ops::list::{get_invitation, list_invitations, InvitationFilter};
use invitations::ops::members::{get_member, list_members, remove_member};
use invitations::ops::preview::preview;
use invitations::ops::resend::resend;
use invitations::values::{AccountName, LinkDelivery, Ttl};

/// Round trips `f` makes.
fn cost<T>(w: &World, f: impl FnOnce() -> T) -> (u64, T) {
    w.store.reset_stats();
    let out = f();
    (w.store.stats().calls, out)
}

#[test]
fn round_trips_match_the_documented_table() {
    let w = World::new(11);
    let owner = user("owner");
    let (n, created) = cost(&w, || {
        create_account(&w.env(), &owner, AccountName::parse("Acme").unwrap()).unwrap()
    });
    assert_eq!(n, 3, "create account");
    let acc = created.account.account.id;
    assert_eq!(
        cost(&w, || get_account(&w.env(), &owner, &acc).unwrap()).0,
        1,
        "get account"
    );
    let patch = AccountPatch {
        default_ttl: Some(Ttl::MAX),
        ..Default::default()
    };
    assert_eq!(
        cost(&w, || update_account(&w.env(), &owner, &acc, patch)
            .unwrap())
        .0,
        3,
        "update settings"
    );

    let (n, one) = cost(&w, || {
        invite(&w.env(), &owner, &acc, request(&["bob@example.com"])).unwrap()
    });
    assert_eq!(n, 8, "invite one");
    assert_eq!(
        cost(&w, || before_sending(
            &w.env(),
            &one.mails,
            &Leftovers::default()
        )
        .unwrap())
        .0,
        1,
        "open the links, after the answer"
    );
    let outcomes = vec![(one.mails[0].invitation.clone(), Ok(None))];
    assert_eq!(
        cost(&w, || record_deliveries(&w.env(), &outcomes).unwrap()).0,
        3,
        "record the first send (and name it in the inbox)"
    );

    // 100 fresh addresses spread over all 16 shards: 6 + 2·16.
    let emails: Vec<String> = (0..100).map(|i| format!("bulk{i}@example.com")).collect();
    let refs: Vec<&str> = emails.iter().map(|s| s.as_str()).collect();
    let (n, bulk) = cost(&w, || {
        invite(&w.env(), &owner, &acc, request(&refs)).unwrap()
    });
    assert_eq!(bulk.created(), 100);
    assert_eq!(n, 6 + 2 * 16, "invite 100");
    before_sending(&w.env(), &bulk.mails, &Leftovers::default()).unwrap();
    let outcomes: Vec<_> = bulk
        .mails
        .iter()
        .map(|m| (m.invitation.clone(), Ok(None)))
        .collect();
    assert_eq!(
        cost(&w, || record_deliveries(&w.env(), &outcomes).unwrap()).0,
        2 + 100,
        "record 100 first sends: and an inbox place for each"
    );

    let page =
        |f: InvitationFilter| list_invitations(&w.env(), &owner, &acc, &f, Some(50), None).unwrap();
    let (n, p) = cost(&w, || page(InvitationFilter::default()));
    assert_eq!(
        (n, p.items.len()),
        (3, 50),
        "list page, unfiltered: access with the log's counter, one batch (entries, records; \
         their log entries are marked claimed, so no slots)"
    );
    let by_email = InvitationFilter {
        email: Some(Email::parse("bob@example.com").unwrap()),
        status: None,
    };
    assert_eq!(cost(&w, || page(by_email)).0, 3, "list by email");
    let rare = InvitationFilter {
        status: Some(invitations::model::Status::Cancelled),
        email: None,
    };
    assert_eq!(
        cost(&w, || page(rare)).0,
        1 + 3 * 2,
        "list page, filter matching nothing: bounded, and no slot read for what it skips"
    );

    let id = one.mails[0].invitation.id().clone();
    assert_eq!(
        cost(&w, || get_invitation(&w.env(), &owner, &acc, &id).unwrap()).0,
        2,
        "get invitation"
    );
    assert_eq!(
        cost(&w, || preview(&w.env(), &one.mails[0].token).unwrap()).0,
        2,
        "preview"
    );
    let bob = user("bob");
    assert_eq!(
        cost(&w, || accept_by_token(&w.env(), &bob, &one.mails[0].token)
            .unwrap())
        .0,
        8,
        "accept by token"
    );
    assert_eq!(
        cost(&w, || accept_by_token(&w.env(), &bob, &one.mails[0].token)
            .unwrap())
        .0,
        4,
        "accept again"
    );
    let carol = user("bulk1");
    assert_eq!(
        cost(&w, || accept_for_account(&w.env(), &carol, &acc).unwrap()).0,
        9,
        "accept by account"
    );

    let cancel_id = bulk.mails[5].invitation.id().clone();
    assert_eq!(
        cost(&w, || cancel(&w.env(), &owner, &acc, &cancel_id).unwrap()).0,
        6,
        "cancel"
    );
    let decline_token = bulk.mails[7].token.clone();
    assert_eq!(
        cost(&w, || decline_by_token(&w.env(), &decline_token).unwrap()).0,
        6,
        "decline by link"
    );
    assert_eq!(
        cost(&w, || decline_by_token(&w.env(), &decline_token).unwrap()).0,
        3,
        "decline by link again (nothing written)"
    );
    let reader = user("bulk9");
    assert_eq!(
        cost(&w, || my_invitations(&w.env(), &reader, None, None)
            .unwrap())
        .0,
        4,
        "inbox page: count, entries, invitations, accounts"
    );
    let (n, _) = cost(&w, || {
        invitations::ops::update_member::update_member(
            &w.env(),
            &owner,
            &acc,
            &invitations::ids::UserId::parse("bob").unwrap(),
            invitations::ops::update_member::MemberPatch {
                role: Some(invitations::values::Role::Admin),
                access_groups: None,
            },
        )
        .unwrap()
    });
    assert_eq!(n, 3, "update member");
    let decliner = user("bulk8");
    assert_eq!(
        cost(&w, || decline_for_account(&w.env(), &decliner, &acc)
            .unwrap())
        .0,
        7,
        "decline by account"
    );
    w.advance(120);
    let resend_id = bulk.mails[6].invitation.id().clone();
    assert_eq!(
        cost(&w, || resend(
            &w.env(),
            &owner,
            &acc,
            &resend_id,
            LinkDelivery::Mail
        )
        .unwrap())
        .0,
        9,
        "resend pending"
    );
    w.advance(Ttl::MAX.secs());
    assert_eq!(
        cost(&w, || resend(
            &w.env(),
            &owner,
            &acc,
            &resend_id,
            LinkDelivery::Mail
        )
        .unwrap())
        .0,
        10,
        "resend expired"
    );

    let (n, members) = cost(&w, || {
        list_members(&w.env(), &owner, &acc, Some(50), None).unwrap()
    });
    assert_eq!((n, members.items.len()), (3, 3), "list members");
    let bob_id = UserId::parse("bob").unwrap();
    assert_eq!(
        cost(&w, || get_member(&w.env(), &owner, &acc, &bob_id).unwrap()).0,
        2,
        "get member"
    );
    assert_eq!(
        cost(&w, || remove_member(&w.env(), &owner, &acc, &bob_id)
            .unwrap())
        .0,
        7,
        "remove member"
    );

    let key = IdempotencyKey::parse("k").unwrap();
    let (n, b) = cost(&w, || {
        begin(&w.env(), "owner", "POST /x", &key, b"{}").unwrap()
    });
    assert_eq!(n, 2, "idempotency begin");
    let Begin::Proceed(claim) = b else { panic!() };
    assert_eq!(
        cost(&w, || complete(&w.env(), claim, b"ok").unwrap()).0,
        2,
        "idempotency complete"
    );
}

/// Spin's Redis store breaks `get-many` (several keys are refused, one key
/// answers its name): every operation still works there, and a batch of `k`
/// keys costs the refused call plus `k` reads, so a page stays bounded by its
/// limit. Reintroducing a plain `get-many` read fails this test.
#[test]
fn on_spins_redis_store_batch_reads_fall_back_to_one_get_per_key() {
    let sqlite = World::new(12);
    let redis = World::new(12);
    redis.store.set_redis_semantics(true);
    let owner = user("owner");
    let emails: Vec<String> = (0..60).map(|i| format!("p{i}@example.com")).collect();
    let refs: Vec<&str> = emails.iter().map(|s| s.as_str()).collect();
    let mut costs = Vec::new();
    for w in [&sqlite, &redis] {
        let acc = w.create_account(&owner);
        let bulk = w.invite(&owner, &acc, &refs).unwrap();
        assert_eq!(bulk.created(), 60);
        let list_first_page = || {
            cost(w, || {
                list_invitations(
                    &w.env(),
                    &owner,
                    &acc,
                    &InvitationFilter::default(),
                    Some(50),
                    None,
                )
                .unwrap()
            })
        };
        let (list, page) = list_first_page();
        assert_eq!(page.items.len(), 50);
        let ids: Vec<_> = page
            .items
            .iter()
            .map(|v| v.invitation.id().clone())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 50, "50 distinct invitations");
        // Once their mail went out, their log entries carry their deliveries.
        all_sent(w, &bulk.mails);
        let (list_sent, page_sent) = list_first_page();
        assert!(page_sent
            .items
            .iter()
            .all(|v| v.delivery.status == DeliveryStatus::Sent));
        let first = &bulk.mails[0];
        let email = first.invitation.email().as_str();
        assert_eq!(
            preview(&w.env(), &first.token).unwrap().email.as_str(),
            email
        );
        let invitee = user(email.split('@').next().unwrap());
        let (accept, _) = cost(w, || {
            accept_by_token(&w.env(), &invitee, &first.token).unwrap()
        });
        let (members, list_m) = cost(w, || {
            list_members(&w.env(), &owner, &acc, Some(50), None).unwrap()
        });
        assert_eq!(list_m.items.len(), 2);
        costs.push((list, list_sent, accept, members));
    }
    assert_eq!(costs[0], (3, 3, 8, 3), "SQLite: the documented table");
    // Redis, list page of 50: access with the log's counter (1 refused +
    // account, member and counter), 50 log entries (1 refused + 50), 50
    // records with their deliveries (1 refused + 100); no slots (the entries
    // are marked claimed). Once sent, the entries carry the deliveries: 50
    // records alone (1 refused + 50).
    assert_eq!(costs[1], (4 + 51 + 101, 4 + 51 + 51, 13, 10), "Redis");
}

/// Spin's DynamoDB store sends a whole `get-many` as one `BatchGetItem` (100
/// keys at most) and a whole `set-many` or `delete-many` as one
/// `BatchWriteItem` (25 at most), repeated keys refused: the batches the
/// domain makes are cut to fit, and every operation works there. Reading or
/// writing one oversized batch fails this test.
#[test]
fn on_spins_dynamodb_store_batches_fit_its_limits() {
    let w = World::new(14);
    w.store
        .set_semantics(invitations::memstore::Semantics::Dynamo);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let emails: Vec<String> = (0..100).map(|i| format!("p{i}@example.com")).collect();
    let refs: Vec<&str> = emails.iter().map(|s| s.as_str()).collect();
    let bulk = w.invite(&owner, &acc, &refs).unwrap();
    assert_eq!(bulk.created(), 100);
    before_sending(&w.env(), &bulk.mails, &Leftovers::default()).unwrap();
    all_sent(&w, &bulk.mails);
    assert_eq!(list_all(&w, &owner, &acc, 100).len(), 100);
    let first = &bulk.mails[0];
    let invitee = user(first.invitation.email().as_str().split('@').next().unwrap());
    accept_by_token(&w.env(), &invitee, &first.token).unwrap();
    // A day past every expiry, after 500 idle minutes: the sweep expires 99
    // invitations and steps over the minutes in reads of 100 counters.
    w.advance(31 * 24 * 3600);
    let run = invitations::ops::sweep::sweep(&w.env()).unwrap();
    let expired = list_invitations(
        &w.env(),
        &owner,
        &acc,
        &InvitationFilter {
            status: Some(invitations::model::Status::Expired),
            email: None,
        },
        Some(100),
        None,
    )
    .unwrap();
    assert_eq!(expired.items.len(), 99, "{run:?}");
    check_invariants(&w.store, w.now());
}

/// Durable write transactions per operation, uncontended: on Spin's SQLite
/// store each `set`, `delete`, `increment` and swap is its own flushed
/// transaction and a `set-many`/`delete-many` is one for all its keys, so
/// this, not the round trips, is what an operation costs under `spin up`.
/// Against the write column of the table in the crate docs.
#[test]
fn write_transactions_match_the_documented_table() {
    let w = World::new(13);
    let owner = user("owner");
    let writes = |f: &dyn Fn()| {
        w.store.reset_stats();
        f();
        w.store.stats().writes
    };
    let mut got: Vec<(&str, u64)> = Vec::new();
    let acc = std::cell::RefCell::new(None);
    got.push((
        "create account",
        writes(&|| {
            let created =
                create_account(&w.env(), &owner, AccountName::parse("Acme").unwrap()).unwrap();
            *acc.borrow_mut() = Some(created.account.account.id);
        }),
    ));
    let acc = acc.into_inner().unwrap();
    let one = std::cell::RefCell::new(None);
    got.push((
        "invite one",
        writes(&|| {
            let out = invite(&w.env(), &owner, &acc, request(&["bob@example.com"])).unwrap();
            *one.borrow_mut() = Some(out);
        }),
    ));
    let one = one.into_inner().unwrap();
    got.push((
        "open links after answer",
        writes(&|| before_sending(&w.env(), &one.mails, &Leftovers::default()).unwrap()),
    ));
    let sent = vec![(one.mails[0].invitation.clone(), Ok(None))];
    got.push((
        "record sends",
        writes(&|| {
            record_deliveries(&w.env(), &sent).unwrap();
        }),
    ));
    let emails: Vec<String> = (0..100).map(|i| format!("bulk{i}@example.com")).collect();
    let refs: Vec<&str> = emails.iter().map(|s| s.as_str()).collect();
    let bulk = std::cell::RefCell::new(None);
    got.push((
        "invite 100 (16 shards)",
        writes(&|| {
            let out = invite(&w.env(), &owner, &acc, request(&refs)).unwrap();
            *bulk.borrow_mut() = Some(out);
        }),
    ));
    let bulk = bulk.into_inner().unwrap();
    before_sending(&w.env(), &bulk.mails, &Leftovers::default()).unwrap();
    let token = one.mails[0].token.clone();
    got.push((
        "accept",
        writes(&|| {
            accept_by_token(&w.env(), &user("bob"), &token).unwrap();
        }),
    ));
    let cancel_id = bulk.mails[5].invitation.id().clone();
    got.push((
        "cancel",
        writes(&|| {
            cancel(&w.env(), &owner, &acc, &cancel_id).unwrap();
        }),
    ));
    let decline_token = bulk.mails[7].token.clone();
    got.push((
        "decline",
        writes(&|| {
            decline_by_token(&w.env(), &decline_token).unwrap();
        }),
    ));
    w.advance(120);
    let resend_id = bulk.mails[6].invitation.id().clone();
    let resent = std::cell::RefCell::new(None);
    got.push((
        "resend",
        writes(&|| {
            *resent.borrow_mut() =
                Some(resend(&w.env(), &owner, &acc, &resend_id, LinkDelivery::Mail).unwrap())
        }),
    ));
    let resent = resent.into_inner().unwrap();
    got.push((
        "resend links after answer",
        writes(&|| before_sending(&w.env(), resent.mail.as_slice(), &resent.leftovers).unwrap()),
    ));
    let patch = || AccountPatch {
        default_ttl: Some(Ttl::MAX),
        ..Default::default()
    };
    got.push((
        "update settings",
        writes(&|| {
            update_account(&w.env(), &owner, &acc, patch()).unwrap();
        }),
    ));
    let key = IdempotencyKey::parse("k").unwrap();
    let claim = std::cell::RefCell::new(None);
    got.push((
        "idempotency begin",
        writes(&|| {
            let Begin::Proceed(c) = begin(&w.env(), "owner", "POST /x", &key, b"{}").unwrap()
            else {
                panic!("a fresh key proceeds")
            };
            *claim.borrow_mut() = Some(c);
        }),
    ));
    let claim = claim.into_inner().unwrap();
    let claim = std::cell::RefCell::new(Some(claim));
    got.push((
        "idempotency complete",
        writes(&|| {
            complete(&w.env(), claim.borrow_mut().take().unwrap(), b"ok").unwrap();
        }),
    ));
    let bob = UserId::parse("bob").unwrap();
    got.push((
        "remove member",
        writes(&|| {
            remove_member(&w.env(), &owner, &acc, &bob).unwrap();
        }),
    ));
    for (name, n) in &got {
        eprintln!("{name:<24} {n}");
    }
    // What the table in the crate docs says, row by row.
    let table = documented_writes();
    let cell = |row: &str| -> &str {
        table
            .iter()
            .find(|(label, _)| label.starts_with(row))
            .unwrap_or_else(|| panic!("no row {row:?} in the table"))
            .1
            .as_str()
    };
    let expected: Vec<(&str, u64)> = vec![
        ("create account", number(cell("create account"))),
        ("invite one", number(cell("invite, one address"))),
        (
            "open links after answer",
            number(cell("after an invite's answer")),
        ),
        ("record sends", {
            // One new invitation.
            let c = cell("after the mail");
            number(c) + per(c, "per new invitation")
        }),
        ("invite 100 (16 shards)", {
            let c = cell("invite, n addresses");
            number(c.split(": ").nth(1).expect("the worked example"))
        }),
        ("accept", number(cell("accept by token"))),
        ("cancel", number(cell("cancel"))),
        ("decline", number(cell("decline by token"))),
        ("resend", number(cell("resend pending"))),
        (
            "resend links after answer",
            number(cell("after a resend's answer")),
        ),
        ("update settings", number(cell("update settings"))),
        ("idempotency begin", number(cell("idempotency begin"))),
        ("idempotency complete", {
            number(cell("idempotency begin").split(" / ").nth(1).unwrap())
        }),
        ("remove member", number(cell("remove member"))),
    ];
    assert_eq!(got, expected);
}

/// The crate docs' cost table: each row's label and its write column.
fn documented_writes() -> Vec<(String, String)> {
    include_str!("../../src/lib.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//! | "))
        .filter_map(|row| {
            let cells: Vec<&str> = row.trim_end_matches(" |").split(" | ").collect();
            (cells.len() == 3).then(|| (cells[0].to_owned(), cells[2].to_owned()))
        })
        .filter(|(label, _)| label != "operation" && label != "---")
        .collect()
}

/// The number `text` starts with (a write cell, or part of one).
fn number(text: &str) -> u64 {
    let digits: String = text
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number at {text:?}"))
}

/// `n` in a cell's "+n {what}".
fn per(cell: &str, what: &str) -> u64 {
    let before = cell.split(what).next().expect("the phrase");
    let plus = before.rsplit('+').next().expect("a +n");
    number(plus)
}
