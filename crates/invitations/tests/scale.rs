//! An account of many addresses: what stays bounded as it grows.

mod common;

use common::*;
use invitations::email::Email;
use invitations::model::Status;
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
    let again = w.invite(&owner, &acc, &["p777@example.com"]).unwrap();
    assert_eq!(again.results[0].status, InviteStatus::Created);
    check_invariants(&w.store, w.now());

    // The account's list still holds every invitation, newest first.
    let mut seen = 0;
    let mut cursor = None;
    let mut last: Option<String> = None;
    loop {
        let page = list_invitations(
            &w.env(),
            &owner,
            &acc,
            &InvitationFilter::default(),
            Some(100),
            cursor,
        )
        .unwrap();
        for v in &page.items {
            let id = v.invitation.id().to_string();
            assert!(last.as_ref().is_none_or(|l| *l > id), "newest first");
            last = Some(id);
            assert!(matches!(v.status, Status::Pending | Status::Cancelled));
        }
        seen += page.items.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, 1501);
}
