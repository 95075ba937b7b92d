//! Seats: members plus open invitations, against an account's `seat_limit`.
//! Every rule, the races (deterministic scheduler, both stores' semantics)
//! and a failure at every store call of the paths that count.

use crate::common::sched::race;
use crate::common::*;
use invitations::error::Error;
use invitations::ids::{AccountId, UserId};
use invitations::memstore::{FailMode, Semantics};
use invitations::ops::accept::accept_by_token;
use invitations::ops::accounts::{get_account, update_account, AccountPatch};
use invitations::ops::cancel::cancel;
use invitations::ops::decline::decline_by_token;
use invitations::ops::invite::InviteStatus;
use invitations::ops::join_links::{create_join_link, redeem_join_link, NewJoinLink};
use invitations::ops::members::remove_member;
use invitations::principal::Principal;
use invitations::seats::Seats;
use invitations::token::JoinLinkToken;
use invitations::values::{AccessGroups, InviteRole, MaxUses, SeatLimit, Ttl};
use invitations::{Env, Policy};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const DAY: i64 = 86_400;

fn limit(w: &World, owner: &Principal, acc: &AccountId, n: Option<i64>) -> Seats {
    let patch = AccountPatch {
        seat_limit: Some(n.map(|n| SeatLimit::parse(n).unwrap())),
        ..Default::default()
    };
    update_account(&w.env(), owner, acc, patch)
        .unwrap()
        .seats
        .unwrap()
}

fn seats(w: &World, owner: &Principal, acc: &AccountId) -> Seats {
    get_account(&w.env(), owner, acc).unwrap().seats.unwrap()
}

fn counts(s: Seats) -> (Option<u32>, u32, u32) {
    (s.limit.map(SeatLimit::get), s.members, s.pending)
}

fn link(w: &World, owner: &Principal, acc: &AccountId, uses: i64) -> JoinLinkToken {
    let new = NewJoinLink {
        role: InviteRole::Member,
        access_groups: AccessGroups::default(),
        max_uses: MaxUses::parse(uses).unwrap(),
        ttl: Ttl::from_secs(DAY).unwrap(),
        allowed_domains: Vec::new(),
    };
    create_join_link(&w.env(), owner, acc, new).unwrap().token
}

fn statuses(out: &invitations::ops::invite::Invited) -> Vec<InviteStatus> {
    out.results.iter().map(|r| r.status).collect()
}

#[test]
fn an_account_counts_its_members_and_open_invitations_without_a_limit() {
    let w = World::new(1);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    assert_eq!(counts(seats(&w, &owner, &acc)), (None, 1, 0));
    let (_, token) = w.invite_one(&owner, &acc, "ann@example.com");
    w.invite(&owner, &acc, &["ben@example.com", "cat@example.com"])
        .unwrap();
    assert_eq!(counts(seats(&w, &owner, &acc)), (None, 1, 3));
    accept_by_token(&w.env(), &user("ann"), &token).unwrap();
    assert_eq!(counts(seats(&w, &owner, &acc)), (None, 2, 2));
    assert!(seat_usage(&w.store, &acc, w.now()).exact());
}

#[test]
fn a_bulk_invite_creates_what_fits_in_order_and_refuses_the_rest_per_address() {
    let w = World::new(2);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    assert_eq!(counts(limit(&w, &owner, &acc, Some(3))), (Some(3), 1, 0));
    let out = w
        .invite(
            &owner,
            &acc,
            &[
                "ann@example.com",
                "not an address",
                "ben@example.com",
                "cat@example.com",
                "dan@example.com",
            ],
        )
        .unwrap();
    assert_eq!(
        statuses(&out),
        [
            InviteStatus::Created,
            InviteStatus::InvalidEmail,
            InviteStatus::Created,
            InviteStatus::SeatLimitReached,
            InviteStatus::SeatLimitReached,
        ]
    );
    assert_eq!(
        InviteStatus::SeatLimitReached.as_str(),
        "seat_limit_reached"
    );
    assert_eq!(out.mails.len(), 2);
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(3), 1, 2));
    // Full: nothing is created, and the refusal says why.
    let none = w.invite(&owner, &acc, &["eve@example.com"]).unwrap();
    assert_eq!(statuses(&none), [InviteStatus::SeatLimitReached]);
    assert_eq!(none.refusal(), Error::SeatLimitReached);
    assert_eq!(none.refusal().code(), "seat_limit_reached");
    // The refused drafts are left over for deletion, never reachable.
    assert!(seat_usage(&w.store, &acc, w.now()).exact());
}

#[test]
fn a_seat_freed_by_a_lost_slot_goes_to_the_next_address() {
    let w = World::new(3);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    w.invite_one(&owner, &acc, "ann@example.com");
    limit(&w, &owner, &acc, Some(3));
    // One seat free: ann (already invited) takes it first, loses her slot,
    // and gives it to ben.
    let out = w
        .invite(&owner, &acc, &["ann@example.com", "ben@example.com"])
        .unwrap();
    assert_eq!(
        statuses(&out),
        [InviteStatus::AlreadyInvited, InviteStatus::Created]
    );
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(3), 1, 2));
    assert!(seat_usage(&w.store, &acc, w.now()).exact());
}

#[test]
fn accepting_never_passes_the_limit_and_moves_the_seat_to_the_member() {
    let w = World::new(4);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    limit(&w, &owner, &acc, Some(2));
    let (_, token) = w.invite_one(&owner, &acc, "ann@example.com");
    // Lowered below what is used: nobody is removed, and the invitation
    // already holds its seat, so it can still be accepted.
    limit(&w, &owner, &acc, Some(1));
    accept_by_token(&w.env(), &user("ann"), &token).unwrap();
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(1), 2, 0));
    assert_eq!(active_members(&w.store, &acc).len(), 2);
    let out = w.invite(&owner, &acc, &["ben@example.com"]).unwrap();
    assert_eq!(statuses(&out), [InviteStatus::SeatLimitReached]);
    // Removing the limit lets everyone in again.
    assert_eq!(counts(limit(&w, &owner, &acc, None)), (None, 2, 0));
    w.invite_one(&owner, &acc, "ben@example.com");
}

#[test]
fn cancelled_declined_and_expired_invitations_give_their_seats_back_at_once() {
    let w = World::new(5);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    limit(&w, &owner, &acc, Some(2));
    let (id, _) = w.invite_one(&owner, &acc, "ann@example.com");
    let full = w.invite(&owner, &acc, &["ben@example.com"]).unwrap();
    assert_eq!(statuses(&full), [InviteStatus::SeatLimitReached]);

    cancel(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(2), 1, 0));
    let (_, token) = w.invite_one(&owner, &acc, "ben@example.com");

    decline_by_token(&w.env(), &token).unwrap();
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(2), 1, 0));
    let out = w.invite(&owner, &acc, &["cat@example.com"]).unwrap();
    assert_eq!(statuses(&out), [InviteStatus::Created]);

    // Expiry: the seat is free the moment the invitation expires, with no
    // sweep in between.
    w.advance(30 * DAY - 1);
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(2), 1, 1));
    w.advance(1);
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(2), 1, 0));
    w.invite_one(&owner, &acc, "dan@example.com");
    assert!(seat_usage(&w.store, &acc, w.now()).exact());
}

#[test]
fn renewing_an_expired_invitation_needs_a_free_seat() {
    let w = World::new(6);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    limit(&w, &owner, &acc, Some(2));
    let (ann, _) = w.invite_one(&owner, &acc, "ann@example.com");
    w.advance(30 * DAY);
    // Ann's seat went back with her expiry, and ben took it.
    w.invite_one(&owner, &acc, "ben@example.com");
    let before = records::<serde_json::Value>(&w.store, "v1/");
    assert_eq!(
        resend(&w.env(), &owner, &acc, &ann).unwrap_err(),
        Error::SeatLimitReached
    );
    assert_eq!(
        records::<serde_json::Value>(&w.store, "v1/"),
        before,
        "a refused resend changes nothing"
    );
    // A pending invitation keeps its seat through a resend.
    let ben = w.invite(&owner, &acc, &["ben@example.com"]).unwrap();
    assert_eq!(statuses(&ben), [InviteStatus::AlreadyInvited]);
    limit(&w, &owner, &acc, Some(3));
    resend(&w.env(), &owner, &acc, &ann).unwrap();
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(3), 1, 2));
    assert!(seat_usage(&w.store, &acc, w.now()).exact());
}

#[test]
fn a_full_account_refuses_a_join_link_without_spending_a_use() {
    let w = World::new(7);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let token = link(&w, &owner, &acc, 2);
    limit(&w, &owner, &acc, Some(2));
    redeem_join_link(&w.env(), &user("ann"), &token).unwrap();
    let before = records::<serde_json::Value>(&w.store, "v1/");
    let refused = redeem_join_link(&w.env(), &user("ben"), &token).unwrap_err();
    assert_eq!(refused, Error::SeatLimitReached);
    assert_eq!(refused.kind(), invitations::error::Kind::Conflict);
    assert_eq!(records::<serde_json::Value>(&w.store, "v1/"), before);
    // A member removed gives the seat back; the link still has its use.
    let ann = invitations::ids::UserId::parse("ann").unwrap();
    remove_member(&w.env(), &owner, &acc, &ann).unwrap();
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(2), 1, 0));
    redeem_join_link(&w.env(), &user("ben"), &token).unwrap();
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(2), 2, 0));
    assert!(seat_usage(&w.store, &acc, w.now()).exact());
}

#[test]
fn an_account_made_before_seats_were_counted_is_unlimited() {
    let w = World::new(8);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    invitations::store::Store::delete(&*w.store, &format!("v1/acct/{acc}/seats")).unwrap();
    assert!(get_account(&w.env(), &owner, &acc).unwrap().seats.is_none());
    let patch = AccountPatch {
        seat_limit: Some(Some(SeatLimit::parse(5).unwrap())),
        ..Default::default()
    };
    assert_eq!(
        update_account(&w.env(), &owner, &acc, patch).unwrap_err(),
        Error::SeatsUntracked
    );
    let (_, token) = w.invite_one(&owner, &acc, "ann@example.com");
    accept_by_token(&w.env(), &user("ann"), &token).unwrap();
    redeem_join_link(&w.env(), &user("ben"), &link(&w, &owner, &acc, 1)).unwrap();
}

#[test]
fn seat_limits_parse_within_bounds() {
    assert!(SeatLimit::parse(0).is_err());
    assert!(SeatLimit::parse(-1).is_err());
    assert!(SeatLimit::parse(1_000_001).is_err());
    assert_eq!(SeatLimit::parse(1_000_000).unwrap().get(), 1_000_000);
}

#[test]
fn ten_concurrent_invites_with_one_seat_left_create_exactly_one() {
    for store in Semantics::ALL {
        for seed in 0..20 {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            limit(&w, &owner, &acc, Some(2));
            let randoms: Vec<SeededRandom> = (0..10).map(|i| task_random(seed, i)).collect();
            let emails: Vec<String> = (0..10).map(|i| format!("p{i}@example.com")).collect();
            let policy = Policy::default();
            type Out = invitations::Result<usize>;
            let tasks: Vec<Box<dyn FnOnce() -> Out + Send>> = randoms
                .iter()
                .zip(&emails)
                .map(|(r, email)| {
                    let (w, owner, acc, policy) = (&w, &owner, &acc, &policy);
                    Box::new(move || {
                        invitations::ops::invite::invite(
                            &env_for(w, r, policy),
                            owner,
                            acc,
                            request(&[email.as_str()]),
                        )
                        .map(|out| out.created())
                    }) as Box<dyn FnOnce() -> Out + Send>
                })
                .collect();
            let outs = race(&w.store, seed, tasks);
            let created: usize = outs.iter().map(|o| *o.as_ref().unwrap()).sum();
            assert_eq!(created, 1, "seed {seed} {store:?}: {outs:?}");
            let usage = seat_usage(&w.store, &acc, w.now());
            assert_eq!((usage.members, usage.open), (1, 1));
            assert!(usage.exact(), "seed {seed} {store:?}: {usage:?}");
        }
    }
}

#[test]
fn concurrent_redeems_and_invites_never_pass_the_limit() {
    for store in Semantics::ALL {
        for seed in 0..10 {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let token = link(&w, &owner, &acc, 50);
            limit(&w, &owner, &acc, Some(6));
            let people: Vec<Principal> = (0..20).map(|i| user(&format!("p{i}"))).collect();
            let randoms: Vec<SeededRandom> = (0..30).map(|i| task_random(seed, i)).collect();
            let emails: Vec<String> = (0..10).map(|i| format!("q{i}@example.com")).collect();
            let policy = Policy::default();
            type Out = invitations::Result<usize>;
            let mut tasks: Vec<Box<dyn FnOnce() -> Out + Send>> = Vec::new();
            for (p, r) in people.iter().zip(&randoms) {
                let (w, token, policy) = (&w, &token, &policy);
                tasks.push(Box::new(move || {
                    redeem_join_link(&env_for(w, r, policy), p, token).map(|r| r.joined as usize)
                }));
            }
            for (email, r) in emails.iter().zip(&randoms[20..]) {
                let (w, owner, acc, policy) = (&w, &owner, &acc, &policy);
                tasks.push(Box::new(move || {
                    invitations::ops::invite::invite(
                        &env_for(w, r, policy),
                        owner,
                        acc,
                        request(&[email.as_str()]),
                    )
                    .map(|out| out.created())
                }));
            }
            let outs = race(&w.store, seed, tasks);
            for o in &outs {
                assert!(
                    matches!(o, Ok(_) | Err(Error::SeatLimitReached)),
                    "seed {seed} {store:?}: {o:?}"
                );
            }
            let admitted: usize = outs.iter().filter_map(|o| o.as_ref().ok()).sum();
            let usage = seat_usage(&w.store, &acc, w.now());
            assert_eq!(
                admitted, 5,
                "every free seat is used, no more: {usage:?} {outs:?}"
            );
            let usage = seat_usage(&w.store, &acc, w.now());
            assert_eq!(usage.used(), 6, "seed {seed} {store:?}: {usage:?}");
            assert!(usage.exact(), "seed {seed} {store:?}: {usage:?}");
        }
    }
}

#[test]
fn a_failure_at_any_store_call_never_passes_the_limit() {
    // Two seats left: an invite of three addresses, then a redeem, each
    // with a failure injected before or after each of its store calls;
    // afterwards everyone tries again.
    let setup = || {
        let w = World::new(9);
        let owner = user("owner");
        let acc = w.create_account(&owner);
        let token = link(&w, &owner, &acc, 10);
        limit(&w, &owner, &acc, Some(3));
        (w, owner, acc, token)
    };
    let emails = ["ann@example.com", "ben@example.com", "cat@example.com"];
    let (probe, owner, acc, token) = setup();
    probe.store.reset_stats();
    let out = probe.invite(&owner, &acc, &emails).unwrap();
    assert_eq!(out.created(), 2);
    let invite_calls = probe.store.stats().calls;
    let (probe, _, _, token2) = setup();
    probe.store.reset_stats();
    redeem_join_link(&probe.env(), &user("dan"), &token2).unwrap();
    let redeem_calls = probe.store.stats().calls;
    let _ = token;

    for mode in [FailMode::Before, FailMode::After] {
        for (what, calls) in [("invite", invite_calls), ("redeem", redeem_calls)] {
            for n in 1..=calls {
                let (w, owner, acc, token) = setup();
                w.store.fail_call(n, mode);
                let _ = match what {
                    "invite" => w.invite(&owner, &acc, &emails).map(|_| ()),
                    _ => redeem_join_link(&w.env(), &user("dan"), &token).map(|_| ()),
                };
                let _ = w.invite(&owner, &acc, &emails);
                for p in ["dan", "eve", "fay"] {
                    let _ = redeem_join_link(&w.env(), &user(p), &token);
                }
                let usage = seat_usage(&w.store, &acc, w.now());
                assert!(usage.used() <= 3, "{what}: {mode:?} at call {n}: {usage:?}");
                assert!(
                    usage.counted_members >= usage.members && usage.counted_pending >= usage.open,
                    "{what}: {mode:?} at call {n}: the ledger counts fewer: {usage:?}"
                );
                check_invariants(&w.store, w.now());
            }
        }
    }
}

/// An accept that fails after its change (on Spin's Redis store, a swap that
/// happened is reported failed, and the read that settles it can fail too)
/// is finished by accepting again: the member counted once when retried
/// before the expiry, and at least once after it (an accept that did not
/// change the invitation cannot be finished after the expiry).
#[test]
fn an_accept_failed_at_any_store_call_counts_its_member_when_retried() {
    let setup = |store: Semantics| {
        let w = World::new(11);
        w.store.set_semantics(store);
        let owner = user("owner");
        let acc = w.create_account(&owner);
        let (_, token) = w.invite_one(&owner, &acc, "ann@example.com");
        (w, acc, token)
    };
    let (probe, _, token) = setup(Semantics::Redis);
    probe.store.reset_stats();
    accept_by_token(&probe.env(), &user("ann"), &token).unwrap();
    let calls = probe.store.stats().calls + 2;

    for store in Semantics::ALL {
        for mode in [FailMode::Before, FailMode::After] {
            for late in [false, true] {
                for n in 1..=calls {
                    let (w, acc, token) = setup(store);
                    w.store.fail_call(n, mode);
                    let _ = accept_by_token(&w.env(), &user("ann"), &token);
                    if late {
                        w.advance(31 * DAY);
                    }
                    let _ = accept_by_token(&w.env(), &user("ann"), &token);
                    let usage = seat_usage(&w.store, &acc, w.now());
                    let case = format!("{store:?}, {mode:?} at call {n}, late {late}");
                    if late {
                        // Expired unless the first accept changed it.
                        let members = usage.members;
                        assert!(usage.counted_members >= members, "{case}: {usage:?}");
                    } else {
                        assert_eq!(usage.members, 2, "{case}: {usage:?}");
                        assert!(usage.exact(), "{case}: {usage:?}");
                    }
                    check_invariants(&w.store, w.now());
                }
            }
        }
    }
}

/// Runs `op` on a fresh `setup` with a failure before and after each of
/// its store calls, on every store's semantics: the ledger never counts
/// fewer members than there are, and its next change after the grace (here,
/// a limit) makes it exact. Some failure must have left it to repair.
fn made_exact_after_any_failure<T>(
    setup: impl Fn(Semantics) -> (World, Principal, AccountId, T),
    op: impl Fn(&World, &Principal, &AccountId, &T) -> bool,
) {
    let (probe, owner, acc, t) = setup(Semantics::Sqlite);
    probe.store.reset_stats();
    assert!(
        op(&probe, &owner, &acc, &t),
        "without a failure it succeeds"
    );
    let calls = probe.store.stats().calls;
    let mut repaired = 0;
    for store in Semantics::ALL {
        for mode in [FailMode::Before, FailMode::After] {
            for n in 1..=calls {
                let (w, owner, acc, t) = setup(store);
                w.store.fail_call(n, mode);
                op(&w, &owner, &acc, &t);
                let case = format!("{store:?}, {mode:?} at call {n}");
                let usage = seat_usage(&w.store, &acc, w.now());
                assert!(usage.counted_members >= usage.members, "{case}: {usage:?}");
                repaired += usize::from(!usage.exact());

                w.advance(61);
                limit(&w, &owner, &acc, Some(10));
                let usage = seat_usage(&w.store, &acc, w.now());
                assert!(usage.exact(), "{case}: {usage:?}");
                check_invariants(&w.store, w.now());
            }
        }
    }
    assert!(
        repaired > 0,
        "some failure must have left the ledger to repair"
    );
}

/// A removal that fails at any store call (a crash between the tombstone and
/// the seat given back, above all) never counts a seat too few, and the
/// ledger's next change after the grace brings it back to exactly the
/// members there are.
#[test]
fn a_removal_failed_at_any_store_call_is_made_exact_by_the_next_change() {
    let setup = |store: Semantics| {
        let w = World::new(13);
        w.store.set_semantics(store);
        let owner = user("owner");
        let acc = w.create_account(&owner);
        let (_, token) = w.invite_one(&owner, &acc, "ann@example.com");
        accept_by_token(&w.env(), &user("ann"), &token).unwrap();
        (w, owner, acc, UserId::parse("ann").unwrap())
    };
    made_exact_after_any_failure(setup, |w, owner, acc, ann| {
        remove_member(&w.env(), owner, acc, ann).is_ok()
    });
}

/// A redeem of a join link that fails at any store call, on each store's
/// semantics, never leaves the ledger counting fewer members than there are;
/// the ledger's next change after the grace makes it exact: a seat taken for
/// a membership that was never written comes back.
#[test]
fn a_redeem_failed_at_any_store_call_is_made_exact_by_the_next_change() {
    let setup = |store: Semantics| {
        let w = World::new(15);
        w.store.set_semantics(store);
        let owner = user("owner");
        let acc = w.create_account(&owner);
        limit(&w, &owner, &acc, Some(10));
        let token = link(&w, &owner, &acc, 5);
        (w, owner, acc, token)
    };
    made_exact_after_any_failure(setup, |w, _, _, token| {
        redeem_join_link(&w.env(), &user("cat"), token).is_ok()
    });
}

/// Makes the `n`th store call from now (1 is the next) stall: the clock
/// moves `secs`, and meanwhile another request changes the account's ledger
/// (it sets a limit of 10), which settles the marks older than the grace.
fn stall_at_call(w: &World, n: u64, secs: i64, owner: &Principal, acc: &AccountId) {
    let store = Arc::clone(&w.store);
    let clock = w.clock.clone();
    let policy = w.policy.clone();
    let (owner, acc) = (owner.clone(), acc.clone());
    let calls = AtomicU64::new(0);
    w.store.set_hook(Some(Arc::new(move || {
        if calls.fetch_add(1, Ordering::SeqCst) + 1 == n {
            clock.advance_secs(secs);
            let random = SeededRandom::new(99);
            let env = Env {
                store: &*store,
                clock: &clock,
                random: &random,
                policy: &policy,
            };
            let patch = AccountPatch {
                seat_limit: Some(Some(SeatLimit::parse(10).unwrap())),
                ..Default::default()
            };
            update_account(&env, &owner, &acc, patch).unwrap();
        }
    })));
}

/// What a request stalled by [`stall_at_call`] must leave: a ledger the
/// next change after the grace makes exact with `members` members, and the
/// request done (`done`) or stopped with `store_unavailable`.
fn check_after_stall<T: std::fmt::Debug>(
    w: &World,
    owner: &Principal,
    acc: &AccountId,
    out: Result<T, Error>,
    (stall, done, members): (i64, bool, usize),
) {
    w.store.set_hook(None);
    let usage = seat_usage(&w.store, acc, w.now());
    assert!(
        usage.counted_members >= usage.members,
        "stalled {stall} s: {usage:?}"
    );
    w.advance(61);
    limit(w, owner, acc, Some(10));
    let usage = seat_usage(&w.store, acc, w.now());
    assert!(usage.exact(), "stalled {stall} s: {usage:?}");
    assert_eq!(usage.members, members, "stalled {stall} s");
    check_invariants(&w.store, w.now());
    assert_eq!(out.is_ok(), done, "stalled {stall} s: {out:?}");
    if !done {
        assert!(matches!(out, Err(Error::StoreUnavailable(_))), "{out:?}");
    }
}

/// A redeem that stalls past the grace between taking its seat and writing
/// the membership, while another change settles its mark (no membership:
/// the seat comes back), stops before its membership: so the ledger never
/// counts one member too few. One that stalls less than half the grace joins.
#[test]
fn a_redeem_stalled_past_half_the_grace_stops_before_its_membership() {
    for (stall, joins) in [(61, false), (29, true)] {
        let w = World::new(16);
        let owner = user("owner");
        let acc = w.create_account(&owner);
        limit(&w, &owner, &acc, Some(10));
        let token = link(&w, &owner, &acc, 5);
        // Calls: token, link, access, the seat (read, swap), then the use.
        stall_at_call(&w, 6, stall, &owner, &acc);
        let out = redeem_join_link(&w.env(), &user("cat"), &token);
        let members = if joins { 2 } else { 1 };
        check_after_stall(&w, &owner, &acc, out, (stall, joins, members));
    }
}

/// A removal that stalls past the grace between its mark and its tombstone,
/// while another change settles its mark (no tombstone: the seat stays),
/// stops before its tombstone: so the ledger never keeps a removed member's
/// seat. One that stalls less than half the grace removes them.
#[test]
fn a_removal_stalled_past_half_the_grace_stops_before_its_tombstone() {
    for (stall, removes) in [(61, false), (29, true)] {
        let w = World::new(17);
        let owner = user("owner");
        let acc = w.create_account(&owner);
        let (_, token) = w.invite_one(&owner, &acc, "ann@example.com");
        accept_by_token(&w.env(), &user("ann"), &token).unwrap();
        // Calls: access, the mark (read, swap), then the membership.
        stall_at_call(&w, 4, stall, &owner, &acc);
        let out = remove_member(&w.env(), &owner, &acc, &UserId::parse("ann").unwrap());
        let members = if removes { 1 } else { 2 };
        check_after_stall(&w, &owner, &acc, out, (stall, removes, members));
    }
}

/// A resend that fails at any store call leaves the seat held exactly until
/// the invitation's expiry, whichever expiry that is.
#[test]
fn a_resend_failed_at_any_store_call_holds_the_seat_until_the_expiry() {
    let setup = |store: Semantics| {
        let w = World::new(12);
        w.store.set_semantics(store);
        let owner = user("owner");
        let acc = w.create_account(&owner);
        let (id, _) = w.invite_one(&owner, &acc, "ann@example.com");
        w.advance(DAY);
        (w, owner, acc, id)
    };
    let (probe, owner, acc, id) = setup(Semantics::Redis);
    probe.store.reset_stats();
    resend(&probe.env(), &owner, &acc, &id).unwrap();
    let calls = probe.store.stats().calls + 2;

    for store in Semantics::ALL {
        for mode in [FailMode::Before, FailMode::After] {
            for n in 1..=calls {
                let (w, owner, acc, id) = setup(store);
                w.store.fail_call(n, mode);
                let _ = resend(&w.env(), &owner, &acc, &id);
                // check_invariants compares every open hold with its expiry.
                check_invariants(&w.store, w.now());
                let usage = seat_usage(&w.store, &acc, w.now());
                assert!(usage.exact(), "{store:?}, {mode:?} at call {n}: {usage:?}");
            }
        }
    }
}

/// A ledger as the layout before counts wrote it (one hold per invitation
/// id) is read as counts, keeps the limit exact, and is written as counts by
/// its next change.
#[test]
fn a_ledger_of_holds_by_invitation_keeps_counting_and_is_moved_to_counts() {
    use invitations::store::Store;
    let w = World::new(31);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    limit(&w, &owner, &acc, Some(4));
    let (ann, _) = w.invite_one(&owner, &acc, "ann@example.com");
    w.advance(60);
    let (ben, _) = w.invite_one(&owner, &acc, "ben@example.com");

    // Back to the earlier layout.
    let key = format!("v1/acct/{acc}/seats");
    let mut ledger: serde_json::Value =
        serde_json::from_slice(&w.store.get(&key).unwrap().unwrap()).unwrap();
    let ends: Vec<i64> = hold_ends(&ledger)
        .iter()
        .map(|(end, _)| end.unix_millis())
        .collect();
    let object = ledger.as_object_mut().unwrap();
    object.remove("holds_until");
    object.remove("settled");
    object.insert(
        "holds".into(),
        serde_json::json!({ann.as_str(): ends[0], ben.as_str(): ends[1]}),
    );
    w.store
        .set(&key, &serde_json::to_vec(&ledger).unwrap())
        .unwrap();
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(4), 1, 2));

    let out = w
        .invite(&owner, &acc, &["cat@example.com", "dan@example.com"])
        .unwrap();
    assert_eq!(
        statuses(&out),
        [InviteStatus::Created, InviteStatus::SeatLimitReached]
    );
    let stored: serde_json::Value =
        serde_json::from_slice(&w.store.get(&key).unwrap().unwrap()).unwrap();
    assert!(stored.get("holds").is_none(), "written as counts: {stored}");
    cancel(&w.env(), &owner, &acc, &ann).unwrap();
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(4), 1, 2));
    let usage = seat_usage(&w.store, &acc, w.now());
    assert!(usage.exact(), "{usage:?}");
    check_invariants(&w.store, w.now());
    // Ben's and cat's seats end with their expiry.
    w.advance(30 * DAY - 1);
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(4), 1, 2));
    w.advance(1);
    assert_eq!(counts(seats(&w, &owner, &acc)), (Some(4), 1, 0));
}
