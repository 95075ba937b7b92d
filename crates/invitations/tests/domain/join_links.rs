//! Join links: who may make them, who may join through them, and that
//! `max_uses` is exact under races (both stores' semantics) and failures.

use crate::common::sched::race;
use crate::common::*;
use invitations::effects::{EventKind, Subject};
use invitations::email::Domain;
use invitations::error::Error;
use invitations::ids::AccountId;
use invitations::memstore::{FailMode, Semantics};
use invitations::model::LinkStatus;
use invitations::ops::join_links::{
    create_join_link, get_join_link, list_join_links, preview_join_link, redeem_join_link,
    revoke_join_link, NewJoinLink,
};
use invitations::ops::members::remove_member;
use invitations::principal::Principal;
use invitations::token::JoinLinkToken;
use invitations::values::{AccessGroups, InviteRole, MaxUses, Ttl};
use invitations::{Env, Policy};

fn new_link(max_uses: i64) -> NewJoinLink {
    NewJoinLink {
        role: InviteRole::Member,
        access_groups: AccessGroups::parse(&["eng"]).unwrap(),
        max_uses: MaxUses::parse(max_uses).unwrap(),
        ttl: Ttl::from_secs(86_400).unwrap(),
        allowed_domains: Vec::new(),
    }
}

fn link(w: &World, owner: &Principal, acc: &AccountId, max_uses: i64) -> JoinLinkToken {
    create_join_link(&w.env(), owner, acc, new_link(max_uses))
        .unwrap()
        .token
}

#[test]
fn people_join_with_the_links_role_and_groups_and_members_use_nothing() {
    let w = World::new(1);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let made = create_join_link(&w.env(), &owner, &acc, new_link(2)).unwrap();
    assert_eq!(made.events[0].kind, EventKind::JoinLinkCreated);
    assert_eq!(made.link.status, LinkStatus::Active);
    let token = made.token;

    let joined = redeem_join_link(&w.env(), &user("ann"), &token).unwrap();
    assert!(joined.joined);
    assert_eq!(joined.member.role.as_str(), "member");
    assert_eq!(joined.member.access_groups.as_slice(), ["eng"]);
    assert_eq!(
        joined.member.join_link_id.as_ref(),
        Some(&made.link.link.id)
    );
    assert_eq!(joined.events[0].kind, EventKind::MemberJoined);
    assert!(matches!(joined.events[0].subject, Subject::Member(_)));

    // Again: the same membership, no use taken, no event.
    let again = redeem_join_link(&w.env(), &user("ann"), &token).unwrap();
    assert!(!again.joined && again.events.is_empty());
    assert_eq!(again.member, joined.member);
    // The owner too.
    assert!(!redeem_join_link(&w.env(), &owner, &token).unwrap().joined);
    let view = get_join_link(&w.env(), &owner, &acc, &made.link.link.id).unwrap();
    assert_eq!(view.uses, 1);

    redeem_join_link(&w.env(), &user("ben"), &token).unwrap();
    assert_eq!(
        redeem_join_link(&w.env(), &user("cat"), &token).unwrap_err(),
        Error::JoinLinkUsedUp
    );
    let view = get_join_link(&w.env(), &owner, &acc, &made.link.link.id).unwrap();
    assert_eq!((view.uses, view.status), (2, LinkStatus::UsedUp));
    assert_eq!(active_members(&w.store, &acc).len(), 3);
}

#[test]
fn who_may_make_a_link() {
    let w = World::new(2);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    // An admin holding only "eng".
    let admin_link = {
        let mut n = new_link(5);
        n.role = InviteRole::Admin;
        create_join_link(&w.env(), &owner, &acc, n).unwrap().token
    };
    redeem_join_link(&w.env(), &user("ada"), &admin_link).unwrap();
    let ada = user("ada");
    assert!(create_join_link(&w.env(), &ada, &acc, new_link(3)).is_ok());
    let mut more = new_link(3);
    more.access_groups = AccessGroups::parse(&["eng", "billing"]).unwrap();
    assert!(matches!(
        create_join_link(&w.env(), &ada, &acc, more).unwrap_err(),
        Error::Forbidden(_)
    ));
    // Members and services make none; strangers see no account.
    let member_link = link(&w, &owner, &acc, 5);
    redeem_join_link(&w.env(), &user("mo"), &member_link).unwrap();
    for who in [user("mo"), service()] {
        assert!(matches!(
            create_join_link(&w.env(), &who, &acc, new_link(1)).unwrap_err(),
            Error::Forbidden(_)
        ));
    }
    assert_eq!(
        create_join_link(&w.env(), &user("zed"), &acc, new_link(1)).unwrap_err(),
        Error::AccountNotFound
    );
    // Services read the list; it is newest first with uses.
    let page = list_join_links(&w.env(), &service(), &acc, None, None).unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.items[0].uses, 1);
    assert_eq!(page.items[2].link.role, InviteRole::Admin);
}

#[test]
fn domains_unverified_addresses_and_removed_members() {
    let w = World::new(3);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let mut only_acme = new_link(10);
    only_acme.allowed_domains = vec![Domain::parse("acme.test").unwrap()];
    let token = create_join_link(&w.env(), &owner, &acc, only_acme)
        .unwrap()
        .token;
    let outsider = user_with("eve", "eve@example.com", true);
    assert_eq!(
        redeem_join_link(&w.env(), &outsider, &token).unwrap_err(),
        Error::DomainNotAllowed
    );
    let unverified = user_with("una", "una@acme.test", false);
    assert_eq!(
        redeem_join_link(&w.env(), &unverified, &token).unwrap_err(),
        Error::EmailUnverified
    );
    assert!(matches!(
        redeem_join_link(&w.env(), &service(), &token).unwrap_err(),
        Error::Forbidden(_)
    ));
    let rita = user_with("rita", "rita@acme.test", true);
    redeem_join_link(&w.env(), &rita, &token).unwrap();
    let rita_id = invitations::ids::UserId::parse("rita").unwrap();
    remove_member(&w.env(), &owner, &acc, &rita_id).unwrap();
    assert_eq!(
        redeem_join_link(&w.env(), &rita, &token).unwrap_err(),
        Error::MemberRemoved
    );
    // One who left may come back.
    let lou = user_with("lou", "lou@acme.test", true);
    redeem_join_link(&w.env(), &lou, &token).unwrap();
    let lou_id = invitations::ids::UserId::parse("lou").unwrap();
    remove_member(&w.env(), &lou, &acc, &lou_id).unwrap();
    assert!(redeem_join_link(&w.env(), &lou, &token).unwrap().joined);
    // Failed redeems used nothing: rita and lou twice.
    let page = list_join_links(&w.env(), &owner, &acc, None, None).unwrap();
    assert_eq!(page.items[0].uses, 3);
}

#[test]
fn revoked_expired_and_unknown_links() {
    let w = World::new(4);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let made = create_join_link(&w.env(), &owner, &acc, new_link(10)).unwrap();
    let id = made.link.link.id.clone();
    let (view, events) = revoke_join_link(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(view.status, LinkStatus::Revoked);
    assert_eq!(events[0].kind, EventKind::JoinLinkRevoked);
    let (_, again) = revoke_join_link(&w.env(), &owner, &acc, &id).unwrap();
    assert!(again.is_empty());
    assert_eq!(
        redeem_join_link(&w.env(), &user("ann"), &made.token).unwrap_err(),
        Error::JoinLinkRevoked
    );
    assert_eq!(
        preview_join_link(&w.env(), &made.token).unwrap().status,
        LinkStatus::Revoked
    );

    let token = link(&w, &owner, &acc, 10);
    w.advance(86_400);
    assert_eq!(
        redeem_join_link(&w.env(), &user("ann"), &token).unwrap_err(),
        Error::JoinLinkExpired
    );
    let stranger = JoinLinkToken::generate(&SeededRandom::new(99));
    assert_eq!(
        redeem_join_link(&w.env(), &user("ann"), &stranger).unwrap_err(),
        Error::JoinLinkNotFound
    );
    // Another account's admin cannot revoke it.
    let other = user("other");
    let acc2 = w.create_account(&other);
    assert_eq!(
        revoke_join_link(&w.env(), &other, &acc2, &id).unwrap_err(),
        Error::JoinLinkNotFound
    );
    assert!(active_members(&w.store, &acc).len() == 1);
}

#[test]
fn fifty_concurrent_redeems_of_ten_uses_make_ten_members() {
    for store in Semantics::ALL {
        for seed in 0..6 {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let token = link(&w, &owner, &acc, 10);
            let people: Vec<Principal> = (0..50).map(|i| user(&format!("p{i}"))).collect();
            let randoms: Vec<SeededRandom> = (0..50).map(|i| task_random(seed, i)).collect();
            let policy = Policy::default();
            let tasks: Vec<Box<dyn FnOnce() -> Result<bool, Error> + Send + '_>> = people
                .iter()
                .zip(&randoms)
                .map(|(p, r)| {
                    let (w, token, policy) = (&w, &token, &policy);
                    Box::new(move || {
                        let env = Env {
                            store: &*w.store,
                            clock: &w.clock,
                            random: r,
                            policy,
                        };
                        redeem_join_link(&env, p, token).map(|r| r.joined)
                    }) as Box<dyn FnOnce() -> Result<bool, Error> + Send + '_>
                })
                .collect();
            let outs = race(&w.store, seed, tasks);
            let joined = outs.iter().filter(|o| matches!(o, Ok(true))).count();
            assert_eq!(joined, 10, "seed {seed} {store:?}");
            assert!(outs
                .iter()
                .all(|o| matches!(o, Ok(true) | Err(Error::JoinLinkUsedUp))));
            assert_eq!(active_members(&w.store, &acc).len(), 11);
        }
    }
}

#[test]
fn a_failure_at_any_store_call_never_lets_one_more_in() {
    let setup = || {
        let w = World::new(5);
        let owner = user("owner");
        let acc = w.create_account(&owner);
        let token = link(&w, &owner, &acc, 3);
        redeem_join_link(&w.env(), &user("a"), &token).unwrap();
        redeem_join_link(&w.env(), &user("b"), &token).unwrap();
        (w, acc, token)
    };
    let (probe, _, token) = setup();
    probe.store.reset_stats();
    redeem_join_link(&probe.env(), &user("c"), &token).unwrap();
    let calls = probe.store.stats().calls;
    assert_eq!(
        calls, 9,
        "token; link, count, account, membership; the seat (read, swap); use; log; member; \
         the seat's mark dropped (read, swap)"
    );
    for mode in [FailMode::Before, FailMode::After] {
        for n in 1..=calls {
            let (w, acc, token) = setup();
            w.store.fail_call(n, mode);
            let _ = redeem_join_link(&w.env(), &user("c"), &token);
            // Everyone else tries too; the link never lets a fourth in.
            for other in ["d", "e", "c"] {
                let _ = redeem_join_link(&w.env(), &user(other), &token);
            }
            let members = active_members(&w.store, &acc).len() - 1;
            assert!(members <= 3, "{mode:?} at call {n}: {members} joined");
        }
    }
}

#[test]
fn the_sweep_purges_a_link_retention_days_after_it_expires() {
    let w = World::new(12);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    // Expires in a day, and is revoked at once; another lasts 30 days.
    let made = create_join_link(&w.env(), &owner, &acc, new_link(5)).unwrap();
    let id = made.link.link.id.clone();
    redeem_join_link(&w.env(), &user("ann"), &made.token).unwrap();
    revoke_join_link(&w.env(), &owner, &acc, &id).unwrap();
    let mut long = new_link(5);
    long.ttl = Ttl::from_secs(30 * 86_400).unwrap();
    let kept = create_join_link(&w.env(), &owner, &acc, long).unwrap();
    let sweep_all = |w: &World| {
        let mut purged = 0;
        loop {
            let run = invitations::ops::sweep::sweep(&w.env()).unwrap();
            purged += run.report.join_links_purged;
            if !run.report.more {
                return purged;
            }
        }
    };

    // Kept for retention_days (90) after it expired, whatever the sweep runs.
    w.advance(86_400 + 89 * 86_400);
    assert_eq!(sweep_all(&w), 0);
    assert!(get_join_link(&w.env(), &owner, &acc, &id).is_ok());
    w.advance(86_400 + 600);
    assert_eq!(sweep_all(&w), 1);
    assert_eq!(
        get_join_link(&w.env(), &owner, &acc, &id).unwrap_err(),
        Error::JoinLinkNotFound
    );
    assert_eq!(
        preview_join_link(&w.env(), &made.token).unwrap_err(),
        Error::JoinLinkNotFound
    );
    assert!(w
        .store
        .entries_with_prefix(&format!("v1/link/{id}"))
        .is_empty());
    assert!(
        w.store.entries_with_prefix("v1/ltok/").len() == 1,
        "only the other link's token"
    );
    let listed = list_join_links(&w.env(), &owner, &acc, None, None).unwrap();
    let ids: Vec<_> = listed.items.iter().map(|l| l.link.id.clone()).collect();
    assert_eq!(ids, vec![kept.link.link.id.clone()]);
    // Who joined through it stays.
    assert_eq!(active_members(&w.store, &acc).len(), 2);
    // The other link goes 90 days after its own expiry, not before.
    w.advance(30 * 86_400);
    assert_eq!(sweep_all(&w), 1);
}
