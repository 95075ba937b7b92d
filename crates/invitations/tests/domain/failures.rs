//! A failure injected at any single store call, before or after its effect,
//! leaves nothing that breaks a later operation: the invariants hold, and
//! retrying gets every user where they wanted to be.

use crate::common::*;
use invitations::email::Email;
use invitations::error::Error;
use invitations::ids::{AccountId, UserId};
use invitations::memstore::FailMode;
use invitations::model::Status;
use invitations::ops::accept::accept_by_token;
use invitations::ops::cancel::cancel;
use invitations::ops::deliveries::record_deliveries;
use invitations::ops::invite::InviteStatus;
use invitations::ops::list::{get_invitation, list_invitations, InvitationFilter};
use invitations::ops::members::remove_member;

use invitations::ops::sweep::sweep;
use invitations::principal::Principal;
use invitations::store::Store;

const EMAILS: [&str; 3] = ["bob@example.com", "carol@example.com", "dave@example.com"];

/// Gets `name` into `acc` whatever state an earlier failure left behind.
fn make_member(w: &World, owner: &Principal, acc: &AccountId, name: &str) {
    let email = format!("{name}@example.com");
    let out = w.invite(owner, acc, &[&email]).unwrap();
    let token = match out.results[0].status {
        InviteStatus::Created => out.mails[0].token.clone(),
        InviteStatus::AlreadyMember => return,
        InviteStatus::AlreadyInvited => {
            let filter = InvitationFilter {
                status: Some(Status::Pending),
                email: Some(Email::parse(&email).unwrap()),
            };
            let page = list_invitations(&w.env(), owner, acc, &filter, None, None).unwrap();
            assert_eq!(
                page.items.len(),
                1,
                "the blocking invitation must be visible"
            );
            w.advance(61);
            resend(&w.env(), owner, acc, page.items[0].invitation.id())
                .unwrap()
                .mail
                .unwrap()
                .token
        }
        other => panic!("{other:?}"),
    };
    accept_by_token(&w.env(), &user(name), &token).unwrap();
}

fn is_member(w: &World, acc: &AccountId, name: &str) -> bool {
    active_members(&w.store, acc)
        .iter()
        .any(|m| m.user_id == UserId::parse(name).unwrap())
}

/// Runs `op` once to count its store calls, then once per call with that call broken.
fn each_failure(setup: impl Fn(&World) -> Box<dyn Fn(&World) + '_>, check: impl Fn(&World)) {
    let probe = World::new(7);
    let op = setup(&probe);
    probe.store.reset_stats();
    op(&probe);
    let calls = probe.store.stats().calls;
    assert!(calls > 0);
    for mode in [FailMode::Before, FailMode::After] {
        for n in 1..=calls {
            let w = World::new(7);
            let op = setup(&w);
            w.store.fail_call(n, mode);
            op(&w);
            check_invariants(&w.store, w.now());
            check(&w);
            check_invariants(&w.store, w.now());
        }
    }
}

fn account(w: &World) -> (Principal, AccountId) {
    let owner = user("owner");
    let acc = w.create_account(&owner);
    (owner, acc)
}

#[test]
fn a_broken_invite_never_blocks_an_address() {
    each_failure(
        |w| {
            let (owner, acc) = account(w);
            Box::new(move |w| {
                let _ = w.invite(&owner, &acc, &EMAILS);
            })
        },
        |w| {
            let owner = user("owner");
            let acc = only_account(w);
            for e in EMAILS {
                make_member(w, &owner, &acc, e.split('@').next().unwrap());
            }
        },
    );
}

fn only_account(w: &World) -> AccountId {
    let accounts = records::<invitations::model::Account>(&w.store, "v1/acct/");
    let ids: std::collections::BTreeSet<AccountId> =
        accounts.into_iter().map(|(_, a)| a.id).collect();
    assert_eq!(ids.len(), 1);
    ids.into_iter().next().unwrap()
}

#[test]
fn a_broken_accept_can_be_retried() {
    each_failure(
        |w| {
            let (owner, acc) = account(w);
            let (_, token) = w.invite_one(&owner, &acc, "bob@example.com");
            Box::new(move |w| {
                let _ = accept_by_token(&w.env(), &user("bob"), &token);
            })
        },
        |w| {
            let owner = user("owner");
            let acc = only_account(w);
            make_member(w, &owner, &acc, "bob");
            assert!(is_member(w, &acc, "bob"));
        },
    );
}

#[test]
fn a_broken_accept_completes_with_the_same_link() {
    // The accept's own retry must finish the membership, not just a new invitation.
    each_failure(
        |w| {
            let (owner, acc) = account(w);
            let (_, token) = w.invite_one(&owner, &acc, "bob@example.com");
            w.store
                .set("test/token", token.reveal().as_bytes())
                .unwrap();
            Box::new(move |w| {
                let _ = accept_by_token(&w.env(), &user("bob"), &token);
            })
        },
        |w| {
            let raw = w.store.get("test/token").unwrap().unwrap();
            let token =
                invitations::token::InvitationToken::parse(std::str::from_utf8(&raw).unwrap())
                    .unwrap();
            let acc = only_account(w);
            accept_by_token(&w.env(), &user("bob"), &token).unwrap();
            assert!(is_member(w, &acc, "bob"));
        },
    );
}

#[test]
fn a_broken_cancel_can_be_retried() {
    each_failure(
        |w| {
            let (owner, acc) = account(w);
            let (id, _) = w.invite_one(&owner, &acc, "bob@example.com");
            Box::new(move |w| {
                let _ = cancel(&w.env(), &owner, &acc, &id);
            })
        },
        |w| {
            let owner = user("owner");
            let acc = only_account(w);
            let filter = InvitationFilter {
                status: None,
                email: Some(Email::parse("bob@example.com").unwrap()),
            };
            let id = list_invitations(&w.env(), &owner, &acc, &filter, None, None)
                .unwrap()
                .items[0]
                .invitation
                .id()
                .clone();
            match cancel(&w.env(), &owner, &acc, &id) {
                Ok(_) | Err(Error::InvitationNotPending) => {}
                Err(e) => panic!("{e:?}"),
            }
            assert_eq!(
                get_invitation(&w.env(), &owner, &acc, &id).unwrap().status,
                Status::Cancelled
            );
            make_member(w, &owner, &acc, "bob");
        },
    );
}

#[test]
fn a_broken_resend_can_be_retried() {
    each_failure(
        |w| {
            let (owner, acc) = account(w);
            let (id, _) = w.invite_one(&owner, &acc, "bob@example.com");
            w.advance(invitations::values::Ttl::MAX.secs() + 1);
            Box::new(move |w| {
                let _ = resend(&w.env(), &owner, &acc, &id);
            })
        },
        |w| {
            let owner = user("owner");
            let acc = only_account(w);
            make_member(w, &owner, &acc, "bob");
        },
    );
}

#[test]
fn a_broken_removal_can_be_retried() {
    each_failure(
        |w| {
            let (owner, acc) = account(w);
            make_member(w, &owner, &acc, "bob");
            Box::new(move |w| {
                let _ = remove_member(&w.env(), &owner, &acc, &UserId::parse("bob").unwrap());
            })
        },
        |w| {
            let owner = user("owner");
            let acc = only_account(w);
            match remove_member(&w.env(), &owner, &acc, &UserId::parse("bob").unwrap()) {
                Ok(_) | Err(Error::MemberNotFound) => {}
                Err(e) => panic!("{e:?}"),
            }
            assert!(!is_member(w, &acc, "bob"));
            make_member(w, &owner, &acc, "bob");
        },
    );
}

#[test]
fn a_broken_sweep_is_finished_by_the_next() {
    each_failure(
        |w| {
            let (owner, acc) = account(w);
            let out = w.invite(&owner, &acc, &EMAILS).unwrap();
            let outcomes: Vec<_> = out
                .mails
                .iter()
                .map(|m| (m.invitation.clone(), Err("down".into())))
                .collect();
            record_deliveries(&w.env(), &outcomes).unwrap();
            cancel(&w.env(), &owner, &acc, out.mails[2].invitation.id()).unwrap();
            w.advance(3600);
            Box::new(move |w| {
                let _ = sweep(&w.env());
            })
        },
        |w| {
            let run = sweep(&w.env()).unwrap();
            assert!(!run.report.more);
            w.advance(invitations::values::Ttl::MAX.secs());
            let mut expired = 0;
            for _ in 0..3 {
                expired += sweep(&w.env()).unwrap().report.expired;
            }
            assert!(expired <= 2);
            let owner = user("owner");
            let acc = only_account(w);
            let statuses: Vec<Status> = first_page(w, &owner, &acc)
                .iter()
                .map(|v| v.status)
                .collect();
            assert_eq!(
                statuses.iter().filter(|s| **s == Status::Expired).count(),
                2
            );
            make_member(w, &owner, &acc, "bob");
        },
    );
}
