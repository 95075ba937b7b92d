//! An account of many addresses: what stays bounded as it grows.

use crate::common::*;
use invitations::email::Email;
use invitations::memstore::{FailMode, Semantics};
use invitations::model::Status;
use invitations::ops::accept::accept_by_token;
use invitations::ops::cancel::cancel;
use invitations::ops::invite::InviteStatus;
use invitations::ops::list::{list_invitations, InvitationFilter};

/// Addresses `from..to`, as an invite request takes them.
fn addresses(from: usize, to: usize) -> Vec<String> {
    (from..to).map(|i| format!("p{i}@example.com")).collect()
}

/// Slot shards split as the account grows (here past 2 KB): none grows past
/// its limit by more than one claim's worth, every address is still found
/// through its slot, and an address freed deep in the tree can be invited again.
#[test]
fn slot_shards_split_as_an_account_grows_and_every_address_stays_found() {
    let mut w = World::new(7);
    w.policy.slot_shard_max_bytes = 2048;
    let owner = user("owner");
    let acc = w.create_account(&owner);
    for batch in 0..15 {
        w.advance(1);
        let emails = addresses(batch * 100, batch * 100 + 100);
        let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
        let out = w.invite(&owner, &acc, &refs).unwrap();
        assert_eq!(out.created(), 100, "batch {batch}");
    }
    check_invariants(&w.store, w.now());

    let shards = w
        .store
        .entries_with_prefix(&format!("v1/acct/{acc}/slots/"));
    let children = shards.iter().filter(|(k, _)| !is_account_shard(k)).count();
    assert!(
        children >= 16 * 16,
        "the 16 shards split: {children} children"
    );
    for (key, value) in &shards {
        // A shard takes one batch of claims past the limit at most before it splits.
        assert!(
            value.len() < 2048 + 100 * 200,
            "{key}: {} bytes",
            value.len()
        );
    }

    // Every address is found through its slot: inviting it again is refused.
    for i in [0, 777, 1499] {
        let out = w
            .invite(&owner, &acc, &[&format!("p{i}@example.com")])
            .unwrap();
        assert_eq!(out.results[0].status, InviteStatus::AlreadyInvited, "p{i}");
    }
    // And listed by address, from its slot.
    let email = Email::parse("p777@example.com").unwrap();
    let filter = InvitationFilter {
        email: Some(email),
        ..Default::default()
    };
    let page = list_invitations(&w.env(), &owner, &acc, &filter, None, None).unwrap();
    assert_eq!(page.items.len(), 1);
    let id = page.items[0].invitation.id().clone();

    // Cancelled, the address is free again.
    cancel(&w.env(), &owner, &acc, &id).unwrap();
    w.advance(1);
    let again = w.invite(&owner, &acc, &["p777@example.com"]).unwrap();
    assert_eq!(again.results[0].status, InviteStatus::Created);
    check_invariants(&w.store, w.now());

    // The account's list still holds every invitation, newest first.
    let listed = list_all(&w, &owner, &acc, 100);
    let ids: Vec<String> = listed
        .iter()
        .map(|v| v.invitation.id().to_string())
        .collect();
    let mut newest_first = ids.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest_first);
    assert!(listed
        .iter()
        .all(|v| matches!(v.status, Status::Pending | Status::Cancelled)));
    let seen = listed.len();
    assert_eq!(seen, 1501);
}

/// An account made before the invitation log (its record without the flag,
/// its invitations without log entries, as the earlier layout wrote them)
/// is still listed whole, from its slot shards, newest first.
#[test]
fn an_account_made_before_the_invitation_log_is_listed_from_its_slots() {
    use invitations::store::Store;
    let w = World::new(8);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let emails = addresses(0, 60);
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    assert_eq!(w.invite(&owner, &acc, &refs).unwrap().created(), 60);

    // Back to the earlier layout: no log, and an account record without the flag.
    for (key, _) in w.store.entries_with_prefix(&format!("v1/acct/{acc}/i")) {
        w.store.delete(&key).unwrap();
    }
    let key = format!("v1/acct/{acc}");
    let mut account: serde_json::Value =
        serde_json::from_slice(&w.store.get(&key).unwrap().unwrap()).unwrap();
    account.as_object_mut().unwrap().remove("invitation_log");
    w.store
        .set(&key, &serde_json::to_vec(&account).unwrap())
        .unwrap();

    let ids: Vec<String> = list_all(&w, &owner, &acc, 50)
        .iter()
        .map(|v| v.invitation.id().to_string())
        .collect();
    assert_eq!(ids.len(), 60);
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(ids, sorted, "all 60, newest first, once each");
}

/// A draft whose invite lost its address (another invitation holds it) is
/// deleted before its seat goes back. Where that deletion fails, its record
/// and log entry stay for the sweep, and it is never listed: an entry shows
/// once its slot names it.
#[test]
fn a_draft_that_lost_its_address_is_not_listed() {
    let owner = user("owner");
    let setup = || {
        let w = World::new(9);
        let acc = w.create_account(&owner);
        w.invite(&owner, &acc, &["ann@example.com"]).unwrap();
        (w, acc)
    };
    let again = |w: &World, acc: &invitations::ids::AccountId| {
        invitations::ops::invite::invite(
            &w.env(),
            &owner,
            acc,
            request(&["ann@example.com", "ben@example.com"]),
        )
    };
    let (probe, acc) = setup();
    probe.store.reset_stats();
    let out = again(&probe, &acc).unwrap();
    assert_eq!(out.results[0].status, InviteStatus::AlreadyInvited);
    assert_eq!(out.created(), 1);
    let calls = probe.store.stats().calls;
    let drafts = records::<invitations::model::Invitation>(&probe.store, "v1/inv/");
    assert_eq!(drafts.len(), 2, "the lost draft is deleted");

    let mut kept = 0;
    for n in 1..=calls {
        let (w, acc) = setup();
        w.store.fail_call(n, FailMode::Before);
        match again(&w, &acc) {
            Ok(out) if out.created() == 1 => {}
            _ => continue,
        }
        if records::<invitations::model::Invitation>(&w.store, "v1/inv/").len() == 3 {
            kept += 1;
        }
        let page = first_page(&w, &owner, &acc);
        let listed: Vec<&str> = page.iter().map(|v| v.invitation.email().as_str()).collect();
        assert_eq!(
            listed,
            ["ben@example.com", "ann@example.com"],
            "call {n} failed"
        );
        check_invariants(&w.store, w.now());
    }
    assert!(kept > 0, "a failed deletion leaves the lost draft's record");
}

/// Round trips and bytes of each operation on an account of 3,000 addresses
/// and on one of 12,000 (both past the slot shards' first split at the
/// default 8 KB, so an address's slot is one level down in both): the same
/// round trips. Reading an invitation reads the same bytes; a list page
/// reads its 50 log entries and records and nothing else (the entries are
/// marked claimed with the links, so no slot is read). Invite, accept and cancel read and write the leaf of one
/// address and the seat ledger (counts by end moment, at most
/// `seats::MAX_ENDS` of them; here one per invite, a minute apart). A cost
/// that grew with the account (reading its whole index, scanning its
/// history, a record per invitation) fails this test.
#[test]
fn every_operation_costs_the_same_at_two_account_sizes() {
    use invitations::ops::accept::accept_by_token;
    use invitations::ops::list::get_invitation;
    let measure = |size: usize| -> Vec<(&'static str, u64, u64)> {
        let w = World::new(21);
        let owner = user("owner");
        let acc = w.create_account(&owner);
        for from in (0..size).step_by(100) {
            let emails = addresses(from, from + 100);
            let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
            assert_eq!(w.invite(&owner, &acc, &refs).unwrap().created(), 100);
            w.advance(60);
        }
        w.advance(3600);
        let cost = |f: &dyn Fn()| {
            w.store.reset_stats();
            f();
            let stats = w.store.stats();
            (stats.calls, stats.bytes)
        };
        let mut costs = Vec::new();
        let mut record = |name: &'static str, (calls, bytes): (u64, u64)| {
            costs.push((name, calls, bytes));
        };
        let made = std::cell::RefCell::new(Vec::new());
        record(
            "invite one",
            cost(&|| {
                made.borrow_mut()
                    .push(w.invite_one(&owner, &acc, "new@example.com"))
            }),
        );
        let (id, token) = made.borrow()[0].clone();
        let pending = InvitationFilter {
            status: Some(Status::Pending),
            email: None,
        };
        let page = |f: &InvitationFilter| {
            let p = list_invitations(&w.env(), &owner, &acc, f, Some(50), None).unwrap();
            assert_eq!(p.items.len(), 50);
        };
        record("list page", cost(&|| page(&InvitationFilter::default())));
        record("list page, pending", cost(&|| page(&pending)));
        record(
            "get invitation",
            cost(&|| {
                get_invitation(&w.env(), &owner, &acc, &id).unwrap();
            }),
        );
        record(
            "accept",
            cost(&|| {
                accept_by_token(&w.env(), &user("new"), &token).unwrap();
            }),
        );
        let (other, _) = w.invite_one(&owner, &acc, "other@example.com");
        record(
            "cancel",
            cost(&|| {
                cancel(&w.env(), &owner, &acc, &other).unwrap();
            }),
        );
        let shards = w
            .store
            .entries_with_prefix(&format!("v1/acct/{acc}/slots/"));
        let split = shards.iter().any(|(k, _)| !is_account_shard(k));
        assert!(split, "size {size}: the shards split past 8 KB");
        costs
    };
    let small = measure(3000);
    let large = measure(12_000);
    for ((name, few, few_bytes), (_, many, many_bytes)) in small.iter().zip(&large) {
        assert!(
            many == few,
            "{name}: {few} round trips with 3,000 addresses, {many} with 12,000"
        );
        if name.starts_with("get") {
            assert!(
                many_bytes.abs_diff(*few_bytes) <= 64,
                "{name}: {few_bytes} bytes with 3,000 addresses, {many_bytes} with 12,000"
            );
        }
        if name.starts_with("list") {
            // 50 records with their deliveries, under 1 KB each.
            let bound = 50 * 1024;
            for bytes in [few_bytes, many_bytes] {
                assert!(*bytes <= bound, "{name}: {bytes} bytes, over {bound}");
            }
        }
        if ["invite one", "accept", "cancel"].contains(name) {
            // A leaf read and written, with one invite's claims past 8 KB;
            // a full ledger read and written (at most 9 bytes per end, and
            // the settled invitations); the access and the records.
            let bound = 2 * (8 * 1024 + 100 * 110) + 2 * 12 * 1024 + 16 * 1024;
            for bytes in [few_bytes, many_bytes] {
                assert!(*bytes <= bound, "{name}: {bytes} bytes, over {bound}");
            }
        }
    }
    eprintln!(
        "(operation, round trips, bytes) at 3,000 and 12,000 addresses:\n{small:?}\n{large:?}"
    );
}

/// The pending page a busy admin keeps open, over an account whose history
/// is answered (each invitation cancelled or accepted right after the next
/// list): it steps over the closed positions the seat ledger notes, so it
/// costs the same after 300 answered invitations as after 30, on Spin's
/// SQLite and Redis stores alike (on Redis each batch read is refused and
/// read again key by key).
#[test]
fn a_pending_page_steps_over_an_answered_history() {
    for (semantics, bound) in [(Semantics::Sqlite, 3), (Semantics::Redis, 10)] {
        let w = World::new(41);
        w.store.set_semantics(semantics);
        let owner = user("owner");
        let acc = w.create_account(&owner);
        let pending = InvitationFilter {
            status: Some(Status::Pending),
            email: None,
        };
        let mut costs = Vec::new();
        for i in 0..300 {
            let email = format!("p{i}@example.com");
            let out = w.invite(&owner, &acc, &[&email]).unwrap();
            all_sent(&w, &out.mails);
            w.store.reset_stats();
            let page = list_invitations(&w.env(), &owner, &acc, &pending, Some(50), None).unwrap();
            let calls = w.store.stats().calls;
            assert_eq!(page.items.len(), 1, "{semantics:?}: the one just made");
            assert!(
                page.next_cursor.is_none(),
                "{semantics:?}: nothing left below"
            );
            if i == 29 || i == 299 {
                costs.push(calls);
            }
            let job = &out.mails[0];
            if i % 4 == 0 {
                let invitee = user(&format!("p{i}"));
                accept_by_token(&w.env(), &invitee, &job.token).unwrap();
            } else {
                cancel(&w.env(), &owner, &acc, job.invitation.id()).unwrap();
            }
        }
        eprintln!("{semantics:?}: pending page after 30 and 300 answered: {costs:?} calls");
        assert_eq!(costs[0], costs[1], "{semantics:?}");
        assert!(costs[1] <= bound, "{semantics:?}: {costs:?}");
        check_invariants(&w.store, w.now());
    }
}
