//! Property tests: email parsing, and random sequences of operations (under
//! each store behaviour, with a random store call broken, with slot shards
//! that split at a few addresses) keeping the invariants.

use crate::common::*;
use invitations::email::Email;
use invitations::ids::{InvitationId, UserId};
use invitations::memstore::{FailMode, Semantics};
use invitations::ops::accept::accept_by_token;
use invitations::ops::accounts::{update_account, AccountPatch};
use invitations::ops::cancel::cancel;
use invitations::ops::deliveries::record_deliveries;
use invitations::ops::members::remove_member;
use invitations::values::SeatLimit;

use invitations::ops::sweep::sweep;
use invitations::token::InvitationToken;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._%+-]{1,20}@[a-zA-Z0-9-]{1,12}(\\.[a-zA-Z0-9-]{1,8}){1,3}",
        "[ ]{0,2}[a-zA-Z0-9.]{1,10}@[a-zA-Zü0-9.-]{1,20}[ ]{0,2}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_is_idempotent(input in address()) {
        if let Ok(email) = Email::parse(&input) {
            prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            prop_assert!(email.as_str().len() <= 254);
            prop_assert_eq!(email.as_str().to_lowercase(), email.as_str());
        }
    }

    #[test]
    fn control_characters_are_never_accepted(
        input in address(),
        at in any::<prop::sample::Index>(),
        control in prop_oneof![0u32..0x20, Just(0x7f), 0x80u32..0xa0],
    ) {
        let c = char::from_u32(control).unwrap();
        let mut s: Vec<char> = input.chars().collect();
        let i = at.index(s.len() + 1);
        s.insert(i, c);
        let s: String = s.into_iter().collect();
        prop_assert!(Email::parse(&s).is_err(), "accepted {:?}", s);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Invite(Vec<usize>),
    Accept { invitation: usize, person: usize },
    Cancel(usize),
    Decline(usize),
    Resend(usize),
    Remove(usize),
    Deliver { invitation: usize, ok: bool },
    Advance(i64),
    Sweep,
    Limit(Option<u32>),
}

const PEOPLE: [&str; 5] = ["ann", "ben", "cat", "dan", "eve"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::collection::vec(0..PEOPLE.len(), 1..4).prop_map(Op::Invite),
        3 => (0..8usize, 0..PEOPLE.len()).prop_map(|(invitation, person)| Op::Accept { invitation, person }),
        1 => (0..8usize).prop_map(Op::Cancel),
        1 => (0..8usize).prop_map(Op::Decline),
        1 => (0..8usize).prop_map(Op::Resend),
        1 => (0..PEOPLE.len()).prop_map(Op::Remove),
        1 => (0..8usize, any::<bool>()).prop_map(|(invitation, ok)| Op::Deliver { invitation, ok }),
        2 => prop_oneof![Just(30i64), Just(3600), Just(10 * 86400), Just(31 * 86400), Just(95 * 86400)].prop_map(Op::Advance),
        1 => Just(Op::Sweep),
        1 => prop::option::of(1u32..6).prop_map(Op::Limit),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_operations_keep_the_invariants(
        ops in prop::collection::vec(op(), 1..40),
        store in prop_oneof![Just(Semantics::Sqlite), Just(Semantics::Redis), Just(Semantics::Dynamo)],
        seed in any::<u64>(),
        break_at in prop::option::of((1u64..400, any::<bool>())),
        splits in any::<bool>(),
    ) {
        let mut w = World::new(seed);
        if splits {
            // One shard, split past ~2 addresses: slot claims cross splits.
            w.policy.shards = 1;
            w.policy.slot_shard_max_bytes = 200;
        }
        w.store.set_semantics(store);
        let owner = user("owner");
        let acc = w.create_account(&owner);
        if let Some((n, after)) = break_at {
            w.store.fail_call(n, if after { FailMode::After } else { FailMode::Before });
        }
        let mut known: Vec<InvitationId> = Vec::new();
        let mut tokens: BTreeMap<InvitationId, InvitationToken> = BTreeMap::new();
        fn remember(
            jobs: &[invitations::effects::MailJob],
            known: &mut Vec<InvitationId>,
            tokens: &mut BTreeMap<InvitationId, InvitationToken>,
        ) {
            for j in jobs {
                if !known.contains(j.invitation.id()) {
                    known.push(j.invitation.id().clone());
                }
                tokens.insert(j.invitation.id().clone(), j.token.clone());
            }
        }
        let mut before = check_invariants(&w.store, w.now());
        let mut used_before = 1;
        for op in ops {
            let pick = |i: usize| known.get(i % known.len().max(1)).cloned();
            match op.clone() {
                Op::Invite(people) => {
                    let emails: Vec<String> = people.iter().map(|p| format!("{}@example.com", PEOPLE[*p])).collect();
                    let refs: Vec<&str> = emails.iter().map(|s| s.as_str()).collect();
                    if let Ok(out) = w.invite(&owner, &acc, &refs) {
                        remember(&out.mails, &mut known, &mut tokens);
                    }
                }
                Op::Accept { invitation, person } => {
                    if let Some(id) = pick(invitation) {
                        if let Some(token) = tokens.get(&id) {
                            let _ = accept_by_token(&w.env(), &user(PEOPLE[person]), token);
                        }
                    }
                }
                Op::Cancel(i) => {
                    if let Some(id) = pick(i) {
                        let _ = cancel(&w.env(), &owner, &acc, &id);
                    }
                }
                Op::Decline(i) => {
                    if let Some(token) = pick(i).and_then(|id| tokens.get(&id)) {
                        let _ = invitations::ops::decline::decline_by_token(&w.env(), token);
                    }
                }
                Op::Resend(i) => {
                    if let Some(id) = pick(i) {
                        if let Ok(r) = resend(&w.env(), &owner, &acc, &id) {
                            remember(r.mail.as_slice(), &mut known, &mut tokens);
                        }
                    }
                }
                Op::Remove(p) => {
                    let _ = remove_member(&w.env(), &owner, &acc, &UserId::parse(PEOPLE[p]).unwrap());
                }
                Op::Deliver { invitation, ok } => {
                    if let Some(id) = pick(invitation) {
                        let stored = records::<invitations::model::Invitation>(&w.store, &format!("v1/inv/{id}"));
                        if let Some((_, inv)) = stored.into_iter().next() {
                            let outcome = if ok { Ok(None) } else { Err("bounced".into()) };
                            let _ = record_deliveries(&w.env(), &[(inv, outcome)]);
                        }
                    }
                }
                Op::Advance(secs) => w.advance(secs),
                Op::Limit(n) => {
                    let patch = AccountPatch {
                        seat_limit: Some(n.map(|n| SeatLimit::parse(n.into()).unwrap())),
                        ..Default::default()
                    };
                    let _ = update_account(&w.env(), &owner, &acc, patch);
                }
                Op::Sweep => {
                    if let Ok(run) = sweep(&w.env()) {
                        remember(&run.mails, &mut known, &mut tokens);
                    }
                }
            }
            let after = check_invariants(&w.store, w.now());
            check_terminal_stays(&before, &after);
            before = after;
            // No operation but lowering the limit takes an account past it.
            let seats = seat_usage(&w.store, &acc, w.now());
            if let (Some(limit), false) = (seats.limit, matches!(op, Op::Limit(_))) {
                prop_assert!(
                    seats.used() <= limit.max(used_before),
                    "{:?} took {} seats of {}", op, seats.used(), limit
                );
            }
            // Without a failure, the ledger counts exactly what there is.
            if break_at.is_none() {
                prop_assert!(seats.exact(), "after {:?}: {:?}", op, seats);
            }
            used_before = seats.used();
        }
        // One membership per (account, user), and each member's address is unique among active members.
        let members = active_members(&w.store, &acc);
        let mut emails: Vec<String> = members.iter().filter_map(|m| m.email.as_ref().map(|e| e.to_string())).collect();
        emails.sort();
        let n = emails.len();
        emails.dedup();
        prop_assert_eq!(emails.len(), n);
    }
}
