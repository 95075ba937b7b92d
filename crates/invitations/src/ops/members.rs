//! List, read and remove members; a member may leave.

use crate::cursor::Cursor;
use crate::effects::{Actor, Event, EventKind, Subject};
use crate::error::{Error, Result};
use crate::ids::{AccountId, UserId};
use crate::keys;
use crate::model::{Member, Removal};

use crate::closed::ClosedPositions;
use crate::ops::update_member::set_owner;
use crate::ops::{access_and_start, load_access, log_page, page_size, Access, Page};
use crate::principal::{Principal, User};
use crate::seats;
use crate::store::{self, decode, encode, Decision};
use crate::values::Role;
use crate::Env;

/// Newest first; managers and services. Cost: at most 1 + 2·3 = 7 round
/// trips (the access and the log's counter together, then 2 per batch).
pub fn list_members(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    limit: Option<usize>,
    cursor: Option<Cursor>,
) -> Result<Page<Member>> {
    let (access, position) = access_and_start(env, principal, acc, keys::member_seq(acc), cursor)?;
    access.reader(principal)?;
    let limit = page_size(env, limit);
    log_page(
        env,
        |seq| keys::member_log(acc, seq),
        position,
        limit,
        0,
        &ClosedPositions::default(),
        |entries: Vec<(i64, UserId)>| {
            let member_keys: Vec<String> =
                entries.iter().map(|(_, u)| keys::member(acc, u)).collect();
            let records = store::get_many_raw(env.store, &member_keys)?;
            let mut members = Vec::new();
            for ((value, key), (seq, _)) in records.iter().zip(&member_keys).zip(&entries) {
                if let Some(bytes) = value {
                    let m: Member = decode(key, bytes)?;
                    // A member who left and came back has a newer log entry; show them once.
                    if m.is_active() && m.seq == *seq {
                        members.push((*seq, m));
                    }
                }
            }
            Ok(members)
        },
    )
}

/// Managers and services read anyone's membership; members only their own.
/// Cost: 2 round trips.
pub fn get_member(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    user: &UserId,
) -> Result<Member> {
    let access = load_access(env, principal, acc)?;
    let own = principal.user().is_some_and(|u| u.id == *user);
    if !own {
        access.reader(principal)?;
    } else if access.membership.is_none() {
        return Err(Error::AccountNotFound);
    }
    let m: Option<Member> = store::get_json(env.store, &keys::member(acc, user))?;
    m.filter(Member::is_active).ok_or(Error::MemberNotFound)
}

/// Owners remove anyone, admins anyone but an owner; any member may leave
/// (remove themself), unless they are the last owner. The membership becomes
/// a tombstone by compare-and-swap, so a change racing the removal is not
/// lost into it. Cost: 7 round trips (access; the seat marked leaving, the
/// tombstone and the seat given back, a CAS each); +2 to remove an owner
/// (the account's owner list, the guard that keeps the last one).
pub fn remove_member(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    user: &UserId,
) -> Result<Vec<Event>> {
    let now = env.clock.now();
    let access = load_access(env, principal, acc)?;
    let leaving = principal.user().is_some_and(|u| u.id == *user) && access.membership.is_some();
    let by = match principal.user() {
        Some(u) if leaving => u,
        _ => access.manager(principal)?,
    };
    let key = keys::member(acc, user);
    // The seat is marked as leaving first, so a crash after the tombstone is
    // repaired by the ledger's next change (see `seats`).
    let mark = seats::begin_leave(env, acc, user)?;
    let removed = tombstone(env, &access, &key, user, by, leaving, mark.as_ref());
    if let Some(mark) = &mark {
        // Best effort: a mark left behind is settled by the ledger's next change.
        let _ = seats::finish_leave(env, acc, mark, removed.is_ok());
    }
    Ok(vec![Event::new(
        env.random,
        EventKind::MemberRemoved,
        now,
        Subject::Member(Box::new(removed?)),
        Actor::of(principal),
    )])
}

/// Makes the membership a tombstone. An owner comes off the account's owner
/// list first (refused for the last), so a crash in between leaves more
/// owners than listed, never fewer. A removal that stalled since its seat's
/// `mark` stops before it writes; the ledger's next change after the grace
/// drops the mark and keeps the seat.
fn tombstone(
    env: &Env,
    access: &Access,
    key: &str,
    user: &UserId,
    by: &User,
    leaving: bool,
    mark: Option<&seats::Mark>,
) -> Result<Member> {
    let now = env.clock.now();
    let acc = &access.account.id;
    let mut unlisted = false;
    let removed = loop {
        let step = store::update::<Member, Option<Member>>(env.store, env.random, key, |mut m| {
            if !m.is_active() {
                return Err(Error::MemberNotFound);
            }
            if mark.is_some_and(|m| m.stalled(env.clock.now())) {
                return Err(Error::StoreUnavailable(
                    "the removal took too long; try again".to_owned(),
                ));
            }
            if m.role == Role::Owner && !unlisted {
                if !leaving && access.role() != Some(Role::Owner) {
                    return Err(Error::Forbidden("only an owner can remove an owner"));
                }
                return Ok(Decision::Keep(None));
            }
            m.removed = Some(Removal {
                removed_at: now,
                removed_by: by.id.clone(),
                left: leaving,
            });
            Ok(Decision::Write(m.clone(), Some(m)))
        })?
        .ok_or(Error::MemberNotFound)?;
        match step {
            Some(m) => break m,
            None if unlisted => return Err(Error::Contended),
            None => {
                set_owner(env, acc, user, false)?;
                unlisted = true;
            }
        }
    };
    Ok(removed)
}

/// Writes a new membership with its two index entries (by address, and its
/// place in the member log). Cost: 1 `set-many`.
pub(crate) fn store_membership(env: &Env, member: &Member) -> Result<()> {
    let acc = &member.account_id;
    let mut writes = vec![
        (keys::member(acc, &member.user_id), encode(member)),
        (keys::member_log(acc, member.seq), encode(&member.user_id)),
    ];
    if let Some(email) = &member.email {
        writes.push((keys::member_by_email(acc, email), encode(&member.user_id)));
    }
    store::set_many(env.store, &writes)
}
