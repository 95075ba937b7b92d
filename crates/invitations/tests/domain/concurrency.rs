//! Races at store-call granularity, over many seeds, with the store behaving
//! like Spin's SQLite store and like its Redis store (swap reported failed).

use crate::common::sched::race;
use crate::common::*;
use invitations::error::Error;
use invitations::ids::UserId;
use invitations::memstore::Semantics;
use invitations::model::{SendFailure, Status};
use invitations::ops::accept::accept_by_token;
use invitations::ops::cancel::cancel;
use invitations::ops::decline::decline_by_token;
use invitations::ops::deliveries::{before_sending, record_deliveries};
use invitations::ops::invite::InviteStatus;
use invitations::ops::list::get_invitation;
use invitations::values::LinkDelivery;
use invitations::Policy;

const SEEDS: u64 = 40;

/// One racing thread's work.
type Task<'a, T> = Box<dyn FnOnce() -> Result<T, Error> + Send + 'a>;

fn modes() -> [Semantics; 3] {
    Semantics::ALL
}

#[test]
fn ten_invites_of_one_address_leave_one_open_invitation() {
    for store in modes() {
        for seed in 0..SEEDS {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let randoms: Vec<SeededRandom> = (0..10).map(|i| task_random(seed, i)).collect();
            let policy = Policy::default();
            type Out = invitations::Result<invitations::ops::invite::Invited>;
            let tasks: Vec<Box<dyn FnOnce() -> Out + Send>> = randoms
                .iter()
                .map(|r| {
                    let (w, owner, acc, policy) = (&w, &owner, &acc, &policy);
                    Box::new(move || {
                        invite(
                            &env_for(w, r, policy),
                            owner,
                            acc,
                            request(&["bob@example.com"]),
                        )
                    }) as Box<dyn FnOnce() -> Out + Send>
                })
                .collect();
            let outs = race(&w.store, seed, tasks);
            let created = outs
                .iter()
                .filter(|o| o.as_ref().unwrap().results[0].status == InviteStatus::Created)
                .count();
            assert_eq!(created, 1, "seed {seed} {store:?}");
            check_invariants(&w.store, w.now());
        }
    }
}

#[test]
fn twenty_accepts_of_one_token_make_one_membership() {
    for store in modes() {
        for seed in 0..SEEDS {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let (_, token) = w.invite_one(&owner, &acc, "bob@example.com");
            // Half are the invitee clicking twice, half other accounts sharing the address.
            let people: Vec<_> = (0..20)
                .map(|i| {
                    if i % 2 == 0 {
                        user("bob")
                    } else {
                        user_with(&format!("imposter{i}"), "bob@example.com", true)
                    }
                })
                .collect();
            let randoms: Vec<SeededRandom> = (0..20).map(|i| task_random(seed, i)).collect();
            let policy = Policy::default();
            type Out = invitations::Result<invitations::ops::accept::Accepted>;
            let tasks: Vec<Box<dyn FnOnce() -> Out + Send>> = people
                .iter()
                .zip(&randoms)
                .map(|(p, r)| {
                    let (w, token, policy) = (&w, &token, &policy);
                    Box::new(move || accept_by_token(&env_for(w, r, policy), p, token))
                        as Box<dyn FnOnce() -> Out + Send>
                })
                .collect();
            let outs = race(&w.store, seed, tasks);
            let winners: std::collections::HashSet<String> = outs
                .iter()
                .filter_map(|o| o.as_ref().ok())
                .map(|a| a.member.user_id.to_string())
                .collect();
            assert_eq!(winners.len(), 1, "seed {seed}: {winners:?}");
            let events: usize = outs
                .iter()
                .filter_map(|o| o.as_ref().ok())
                .map(|a| a.events.len())
                .sum();
            assert_eq!(events, 1, "one accepted event, seed {seed}");
            for o in &outs {
                if let Err(e) = o {
                    assert_eq!(*e, Error::InvitationAlreadyAccepted, "seed {seed}");
                }
            }
            assert_eq!(
                active_members(&w.store, &acc).len(),
                2,
                "owner + one, seed {seed}"
            );
            check_invariants(&w.store, w.now());
        }
    }
}

#[test]
fn accept_racing_cancel_ends_in_exactly_one() {
    for store in modes() {
        for seed in 0..SEEDS {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let (id, token) = w.invite_one(&owner, &acc, "bob@example.com");
            let (r1, r2) = (SeededRandom::new(seed + 1), SeededRandom::new(seed + 2));
            let policy = Policy::default();
            let bob = user("bob");
            let (accept_out, cancel_out) = {
                let tasks: Vec<Box<dyn FnOnce() -> Result<bool, Error> + Send>> = vec![
                    Box::new(|| {
                        accept_by_token(&env_for(&w, &r1, &policy), &bob, &token).map(|_| true)
                    }),
                    Box::new(|| {
                        cancel(&env_for(&w, &r2, &policy), &owner, &acc, &id).map(|_| true)
                    }),
                ];
                let mut outs = race(&w.store, seed, tasks).into_iter();
                (outs.next().unwrap(), outs.next().unwrap())
            };
            assert!(
                accept_out.is_ok() != cancel_out.is_ok(),
                "seed {seed}: {accept_out:?} {cancel_out:?}"
            );
            let status = get_invitation(&w.env(), &owner, &acc, &id).unwrap().status;
            let is_member = active_members(&w.store, &acc)
                .iter()
                .any(|m| m.user_id == UserId::parse("bob").unwrap());
            match (accept_out, cancel_out) {
                (Ok(_), Err(e)) => {
                    assert_eq!((status, is_member), (Status::Accepted, true));
                    assert_eq!(e, Error::InvitationNotPending);
                }
                (Err(e), Ok(_)) => {
                    assert_eq!((status, is_member), (Status::Cancelled, false));
                    assert_eq!(e, Error::InvitationCancelled);
                }
                other => panic!("seed {seed}: {other:?}"),
            }
            check_invariants(&w.store, w.now());
        }
    }
}

#[test]
fn accept_racing_decline_ends_in_exactly_one() {
    for store in modes() {
        for seed in 0..SEEDS {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let (id, token) = w.invite_one(&owner, &acc, "bob@example.com");
            let (r1, r2) = (SeededRandom::new(seed + 1), SeededRandom::new(seed + 2));
            let policy = Policy::default();
            let bob = user("bob");
            let tasks: Vec<Box<dyn FnOnce() -> Result<usize, Error> + Send>> = vec![
                Box::new(|| {
                    accept_by_token(&env_for(&w, &r1, &policy), &bob, &token)
                        .map(|a| a.events.len())
                }),
                Box::new(|| {
                    decline_by_token(&env_for(&w, &r2, &policy), &token).map(|d| d.events.len())
                }),
            ];
            let mut outs = race(&w.store, seed, tasks).into_iter();
            let (accept_out, decline_out) = (outs.next().unwrap(), outs.next().unwrap());
            let status = get_invitation(&w.env(), &owner, &acc, &id).unwrap().status;
            let is_member = active_members(&w.store, &acc)
                .iter()
                .any(|m| m.user_id == UserId::parse("bob").unwrap());
            match (accept_out, decline_out) {
                (Ok(1), Err(e)) => {
                    assert_eq!((status, is_member), (Status::Accepted, true), "seed {seed}");
                    assert_eq!(e, Error::InvitationAlreadyAccepted);
                }
                (Err(e), Ok(1)) => {
                    assert_eq!(
                        (status, is_member),
                        (Status::Declined, false),
                        "seed {seed}"
                    );
                    assert_eq!(e, Error::InvitationDeclined);
                }
                other => panic!("seed {seed} {store:?}: {other:?}"),
            }
            check_invariants(&w.store, w.now());
        }
    }
}

/// Ten changes to one member at once: on an exact compare-and-swap each that
/// succeeds is applied on top of the one before it (its `previous` is that
/// one's result) and the member ends as the last of them: none is lost.
#[test]
fn ten_concurrent_changes_of_one_member_are_applied_one_after_another() {
    use invitations::effects::Subject;
    use invitations::ops::update_member::{update_member, MemberPatch};
    use invitations::values::AccessGroups;
    for store in modes() {
        for seed in 0..SEEDS / 4 {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let (_, token) = w.invite_one(&owner, &acc, "bob@example.com");
            accept_by_token(&w.env(), &user("bob"), &token).unwrap();
            let bob = UserId::parse("bob").unwrap();
            let randoms: Vec<SeededRandom> = (0..10).map(|i| task_random(seed, i)).collect();
            let policy = Policy::default();
            let tasks: Vec<Task<'_, Vec<invitations::effects::Event>>> = randoms
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let (w, owner, acc, bob, policy) = (&w, &owner, &acc, &bob, &policy);
                    Box::new(move || {
                        let patch = MemberPatch {
                            role: None,
                            access_groups: Some(AccessGroups::parse(&[format!("g{i}")]).unwrap()),
                        };
                        update_member(&env_for(w, r, policy), owner, acc, bob, patch)
                            .map(|u| u.events)
                    }) as Box<dyn FnOnce() -> _ + Send>
                })
                .collect();
            let outs = race(&w.store, seed, tasks);
            let mut changes = Vec::new();
            for out in outs {
                match out {
                    Ok(events) => {
                        let Subject::MemberChanged(m, before) = &events[0].subject else {
                            panic!("seed {seed}: {:?}", events[0].subject)
                        };
                        changes.push((
                            before.access_groups.as_slice().to_vec(),
                            m.access_groups.as_slice().to_vec(),
                        ));
                    }
                    // Out of compare-and-swap attempts: refused whole, retryable.
                    Err(Error::Contended) => {}
                    Err(e) => panic!("seed {seed} {store:?}: {e:?}"),
                }
            }
            assert!(!changes.is_empty(), "seed {seed}");
            let now = invitations::ops::members::get_member(&w.env(), &owner, &acc, &bob).unwrap();
            let now = now.access_groups.as_slice().to_vec();
            if store != Semantics::Redis {
                // An exact compare-and-swap: the changes form one chain from
                // where bob started to where he is.
                let mut at = vec!["eng".to_owned()];
                for _ in 0..changes.len() {
                    let next = changes
                        .iter()
                        .find(|(before, _)| *before == at)
                        .unwrap_or_else(|| panic!("seed {seed}: a lost change: {changes:?}"));
                    at = next.1.clone();
                }
                assert_eq!(now, at, "seed {seed}");
            } else {
                // Spin's Redis store reports every swap failed, so a change
                // whose write someone overwrote before it could read it back
                // is tried again (applied twice, told once). Each told change
                // still started from a state some change made, and the member
                // ends as one of them.
                let made: Vec<Vec<String>> = (0..10).map(|i| vec![format!("g{i}")]).collect();
                for (before, _) in &changes {
                    assert!(
                        *before == ["eng"] || made.contains(before),
                        "seed {seed}: {changes:?}"
                    );
                }
                assert!(
                    changes.iter().any(|(_, after)| *after == now),
                    "seed {seed}"
                );
            }
        }
    }
}

#[test]
fn invite_racing_renewal_of_an_expired_invitation_leaves_one_open() {
    for store in modes() {
        for seed in 0..SEEDS {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let (id, _) = w.invite_one(&owner, &acc, "bob@example.com");
            w.advance(invitations::values::Ttl::MAX.secs() + 10);
            let (r1, r2) = (SeededRandom::new(seed + 1), SeededRandom::new(seed + 2));
            let policy = Policy::default();
            let tasks: Vec<Box<dyn FnOnce() -> bool + Send>> = vec![
                Box::new(|| {
                    invitations::ops::resend::resend(
                        &env_for(&w, &r1, &policy),
                        &owner,
                        &acc,
                        &id,
                        LinkDelivery::Mail,
                    )
                    .is_ok()
                }),
                Box::new(|| {
                    invite(
                        &env_for(&w, &r2, &policy),
                        &owner,
                        &acc,
                        request(&["bob@example.com"]),
                    )
                    .unwrap()
                    .created()
                        == 1
                }),
            ];
            let outs = race(&w.store, seed, tasks);
            assert_eq!(
                outs.iter().filter(|x| **x).count(),
                1,
                "seed {seed} {store:?}: {outs:?}"
            );
            check_invariants(&w.store, w.now());
        }
    }
}

#[test]
fn resend_racing_expiry_and_a_new_invite_leaves_one_open() {
    // The resend reads the invitation while it is still open; the clock then
    // passes its expiry and an invite for the same address runs.
    for store in modes() {
        for seed in 0..SEEDS {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let mut req = request(&["bob@example.com"]);
            req.ttl = Some(invitations::values::Ttl::from_secs(120).unwrap());
            let out = invite(&w.env(), &owner, &acc, req).unwrap();
            let id = out.mails[0].invitation.id().clone();
            w.advance(119);
            let (r1, r2) = (SeededRandom::new(seed + 1), SeededRandom::new(seed + 2));
            let policy = Policy::default();
            let tasks: Vec<Box<dyn FnOnce() -> bool + Send>> = vec![
                Box::new(|| {
                    invitations::ops::resend::resend(
                        &env_for(&w, &r1, &policy),
                        &owner,
                        &acc,
                        &id,
                        LinkDelivery::Mail,
                    )
                    .is_ok()
                }),
                Box::new(|| {
                    use invitations::store::Store;
                    let _ = w.store.get("ordering point");
                    w.advance(2);
                    invite(
                        &env_for(&w, &r2, &policy),
                        &owner,
                        &acc,
                        request(&["bob@example.com"]),
                    )
                    .unwrap()
                    .created()
                        == 1
                }),
            ];
            let outs = race(&w.store, seed, tasks);
            assert_eq!(
                outs.iter().filter(|x| **x).count(),
                1,
                "seed {seed} {store:?}: {outs:?}"
            );
            check_invariants(&w.store, w.now());
        }
    }
}

#[test]
fn purge_racing_a_renewal_never_deletes_a_renewed_invitation() {
    for store in modes() {
        for seed in 0..SEEDS {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let (id, _) = w.invite_one(&owner, &acc, "bob@example.com");
            // Expired, and past retention: the sweep will purge it.
            w.advance(invitations::values::Ttl::MAX.secs() + 91 * 86_400);
            let mut expired = 0;
            loop {
                let run = invitations::ops::sweep::sweep(&w.env()).unwrap();
                expired += run.report.expired;
                if !run.report.more {
                    break;
                }
            }
            assert_eq!(expired, 1);
            w.advance(180);
            let (r1, r2) = (SeededRandom::new(seed + 1), SeededRandom::new(seed + 2));
            let policy = Policy::default();
            let purged = std::sync::atomic::AtomicUsize::new(0);
            let tasks: Vec<Box<dyn FnOnce() -> bool + Send>> = vec![
                Box::new(|| {
                    invitations::ops::resend::resend(
                        &env_for(&w, &r1, &policy),
                        &owner,
                        &acc,
                        &id,
                        LinkDelivery::Mail,
                    )
                    .is_ok()
                }),
                Box::new(|| {
                    let run = invitations::ops::sweep::sweep(&env_for(&w, &r2, &policy)).unwrap();
                    purged.fetch_add(run.report.purged, std::sync::atomic::Ordering::SeqCst);
                    false
                }),
            ];
            let renewed = race(&w.store, seed, tasks)[0];
            assert!(
                renewed || purged.load(std::sync::atomic::Ordering::SeqCst) == 1,
                "seed {seed}: neither happened"
            );
            for _ in 0..3 {
                invitations::ops::sweep::sweep(&w.env()).unwrap();
            }
            let found = get_invitation(&w.env(), &owner, &acc, &id);
            if renewed {
                assert_eq!(found.unwrap().status, Status::Pending, "seed {seed}");
            }
            check_invariants(&w.store, w.now());
        }
    }
}

/// Invites racing through a shard that splits under them (one shard, split
/// past ~2 addresses): every address ends with exactly one open invitation,
/// found through the slots.
#[test]
fn invites_racing_through_splitting_shards_leave_one_open_invitation_per_address() {
    let addresses = ["a", "b", "c", "d", "e", "f", "g", "h"].map(|n| format!("{n}@example.com"));
    for store in modes() {
        for seed in 0..SEEDS {
            let mut w = World::new(seed);
            w.policy.shards = 1;
            w.policy.slot_shard_max_bytes = 200;
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let randoms: Vec<SeededRandom> = (0..6).map(|i| task_random(seed, i)).collect();
            let policy = w.policy.clone();
            type Out = invitations::Result<invitations::ops::invite::Invited>;
            let tasks: Vec<Box<dyn FnOnce() -> Out + Send>> = randoms
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let (w, owner, acc, policy) = (&w, &owner, &acc, &policy);
                    // Each task invites three neighbouring addresses: every
                    // address is wanted by two or three tasks.
                    let mine: Vec<String> = (0..3)
                        .map(|k| addresses[(i + k) % addresses.len()].clone())
                        .collect();
                    Box::new(move || {
                        let refs: Vec<&str> = mine.iter().map(String::as_str).collect();
                        invite(&env_for(w, r, policy), owner, acc, request(&refs))
                    }) as Box<dyn FnOnce() -> Out + Send>
                })
                .collect();
            let outs = race(&w.store, seed, tasks);
            let created = outs
                .iter()
                .flat_map(|o| o.as_ref().unwrap().results.iter())
                .filter(|r| r.status == InviteStatus::Created)
                .count();
            assert_eq!(created, addresses.len(), "seed {seed} {store:?}");
            // At most one open invitation per address among those reachable.
            check_invariants(&w.store, w.now());
            let shards = w
                .store
                .entries_with_prefix(&format!("v1/acct/{acc}/slots/"));
            assert!(
                shards.iter().any(|(k, _)| !is_account_shard(k)),
                "seed {seed} {store:?}: the shard split"
            );
        }
    }
}

/// An invite's work after its answer (its link, then its mail's outcome, or
/// none if its instance stops) racing a resend of the same invitation (its
/// link, mail and outcome):
/// whatever order their writes land in, the list shows the delivery the
/// invitation reads by id (`check_invariants` compares them), though the
/// list reads it from the copy in the log entry when there is one.
#[test]
fn an_invites_outcome_racing_a_resends_is_listed_as_it_reads() {
    for store in modes() {
        for seed in 0..SEEDS {
            let w = World::new(seed);
            w.store.set_semantics(store);
            let owner = user("owner");
            let acc = w.create_account(&owner);
            let invited = invitations::ops::invite::invite(
                &w.env(),
                &owner,
                &acc,
                request(&["bob@example.com"]),
            )
            .unwrap();
            let job = &invited.mails[0];
            let id = job.invitation.id().clone();
            let randoms: Vec<SeededRandom> = (0..2).map(|i| task_random(seed, i)).collect();
            let policy = Policy::default();
            let (w, owner, acc, id, policy) = (&w, &owner, &acc, &id, &policy);
            let (first, second, invited) = (&randoms[0], &randoms[1], &invited);
            let tasks: Vec<Task<()>> = vec![
                Box::new(move || {
                    let env = env_for(w, first, policy);
                    before_sending(&env, &invited.mails, &invited.leftovers)?;
                    // Odd seeds: the invite's instance stops before its mail.
                    if seed % 2 == 0 {
                        record_deliveries(&env, &[(job.invitation.clone(), Ok(None))])?;
                    }
                    Ok(())
                }),
                Box::new(move || {
                    let env = env_for(w, second, policy);
                    let resent = resend(&env, owner, acc, id)?;
                    let mail = resent.mail.expect("a resend by mail");
                    let failed = Err(SendFailure::Failed("503 from the provider".into()));
                    record_deliveries(&env, &[(mail.invitation, failed)])?;
                    Ok(())
                }),
            ];
            // Seeds 0 and 1 run the resend whole first (the invite's link
            // written last): the order the random interleavings rarely reach.
            let outs = if seed < 2 {
                tasks.into_iter().rev().map(|task| task()).collect()
            } else {
                race(&w.store, seed, tasks)
            };
            for out in outs {
                out.unwrap_or_else(|e| panic!("seed {seed} {store:?}: {e}"));
            }
            let listed = first_page(w, owner, acc);
            assert_eq!(listed.len(), 1, "seed {seed} {store:?}");
            check_invariants(&w.store, w.now());
        }
    }
}
