//! Change a member's role or access groups.
//!
//! Who may change whom: owners anyone; admins members and admins, but never
//! to or from owner; members and services no one. The last owner cannot stop
//! being one. Ownership moves by an owner making another member an owner.
//!
//! The membership record is changed by compare-and-swap, so concurrent
//! changes of one member are applied one after another and none is lost. A
//! change to or from owner also changes the account's owner list, the guard
//! that keeps the last owner: a promotion writes the member first, a
//! demotion the account first, so a crash between the two leaves more owners
//! than the list has, never fewer. Repeating the request finishes it.

use crate::effects::{Actor, Event, EventKind, MemberAccess, Subject};
use crate::error::{Error, Result};
use crate::ids::{AccountId, UserId};
use crate::keys;
use crate::model::{Account, Member};
use crate::ops::load_access;
use crate::principal::Principal;
use crate::store::{self, Decision};
use crate::values::{AccessGroups, Role};
use crate::Env;

/// What to change; `None` leaves it as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemberPatch {
    pub role: Option<Role>,
    pub access_groups: Option<AccessGroups>,
}

/// The member as they now are, and `member.updated` if anything changed.
#[derive(Clone, Debug)]
pub struct Updated {
    pub member: Member,
    pub events: Vec<Event>,
}

enum Step {
    Done(Box<Member>, Option<MemberAccess>),
    /// A demotion: take them off the owner list first.
    UnlistFirst,
}

/// Cost: 3 round trips (access, CAS); +2 when the role moves to or from
/// owner (the account's owner list). Nothing is written when nothing changes.
pub fn update_member(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    user: &UserId,
    patch: MemberPatch,
) -> Result<Updated> {
    let access = load_access(env, principal, acc)?;
    access.manager(principal)?;
    let caller_is_owner = access.role() == Some(Role::Owner);
    let key = keys::member(acc, user);
    let mut unlisted = false;
    let (member, before) = loop {
        let step = store::update::<Member, Step>(env.store, env.random, &key, |mut m| {
            if !m.is_active() {
                return Err(Error::MemberNotFound);
            }
            if (m.role == Role::Owner || patch.role == Some(Role::Owner)) && !caller_is_owner {
                return Err(Error::Forbidden(
                    "only an owner can change an owner, or make one",
                ));
            }
            if !patch_changes(&m, &patch) {
                return Ok(Decision::Keep(Step::Done(Box::new(m), None)));
            }
            let demotes = m.role == Role::Owner && patch.role.is_some_and(|r| r != Role::Owner);
            if demotes && !unlisted {
                return Ok(Decision::Keep(Step::UnlistFirst));
            }
            let before = MemberAccess {
                role: m.role,
                access_groups: m.access_groups.clone(),
            };
            if let Some(role) = patch.role {
                m.role = role;
            }
            if let Some(groups) = &patch.access_groups {
                m.access_groups = groups.clone();
            }
            Ok(Decision::Write(
                m.clone(),
                Step::Done(Box::new(m), Some(before)),
            ))
        })?
        .ok_or(Error::MemberNotFound)?;
        match step {
            Step::Done(m, before) => break (*m, before),
            Step::UnlistFirst if unlisted => return Err(Error::Contended),
            Step::UnlistFirst => {
                set_owner(env, acc, user, false)?;
                unlisted = true;
            }
        }
    };
    // A promotion lists them after the member changed (and a repeated one
    // finishes a listing a crash cut short).
    if patch.role == Some(Role::Owner) && member.role == Role::Owner {
        set_owner(env, acc, user, true)?;
    }
    let Some(before) = before else {
        return Ok(Updated {
            member,
            events: Vec::new(),
        });
    };
    let event = Event::new(
        env.random,
        EventKind::MemberUpdated,
        env.clock.now(),
        Subject::MemberChanged(Box::new(member.clone()), before),
        Actor::of(principal),
    );
    Ok(Updated {
        member,
        events: vec![event],
    })
}

fn patch_changes(m: &Member, patch: &MemberPatch) -> bool {
    patch.role.is_some_and(|r| r != m.role)
        || patch
            .access_groups
            .as_ref()
            .is_some_and(|g| *g != m.access_groups)
}

/// Adds `user` to the account's owner list, or takes them off it unless they
/// are the last. Cost: 2 round trips (nothing written when already so).
pub(crate) fn set_owner(env: &Env, acc: &AccountId, user: &UserId, owner: bool) -> Result<()> {
    store::update::<Account, ()>(env.store, env.random, &keys::account(acc), |mut a| {
        let listed = a.owners.contains(user);
        match (owner, listed) {
            (true, true) | (false, false) => Ok(Decision::Keep(())),
            (true, false) => {
                a.owners.push(user.clone());
                Ok(Decision::Write(a, ()))
            }
            (false, true) if a.owners.len() <= 1 => Err(Error::LastOwner),
            (false, true) => {
                a.owners.retain(|o| o != user);
                Ok(Decision::Write(a, ()))
            }
        }
    })?
    .ok_or(Error::AccountNotFound)
}
