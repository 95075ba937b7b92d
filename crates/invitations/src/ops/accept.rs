//! Accept an invitation: by the emailed token, or by naming the account when
//! signed in with the invited address.
//!
//! The invitation's compare-and-swap from pending to accepted is the one
//! moment that decides: N racing accepts and a racing cancel all meet there,
//! and exactly one wins. The membership is written after it; if that write
//! fails, the same user accepting again finishes the job.

use crate::effects::{Actor, Event, EventKind};
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId, Rev};
use crate::keys;
use crate::model::TokenRef;
use crate::model::{Account, Delivery, Invitation, InvitationView, Member, State};
use crate::ops::members::store_membership;
use crate::principal::{Principal, User};
use crate::store::{self, decode, Decision};
use crate::token::{InvitationToken, TokenHash};
use crate::{seats, slots, Env};
use std::cell::Cell;

#[derive(Clone, Debug)]
pub struct Accepted {
    pub member: Member,
    pub invitation: InvitationView,
    pub events: Vec<Event>,
}

/// Cost: 8 round trips (token, account + membership + delivery, member log
/// `increment`, CAS, the seat's CAS, `set-many`); 4 when the caller already
/// accepted it.
pub fn accept_by_token(
    env: &Env,
    principal: &Principal,
    token: &InvitationToken,
) -> Result<Accepted> {
    let user = accepting_user(principal)?;
    let hash = token.hash();
    let tok_key = keys::token(&hash);
    let Some(bytes) = env.store.get(&tok_key)? else {
        return Err(Error::InvitationNotFound);
    };
    let r: TokenRef = decode(&tok_key, &bytes)?;
    let read = account_and_membership(env, &r.account_id, user, Some(&r.invitation_id))?;
    accept(env, user, read, &r.invitation_id, Some(hash))
}

/// For a signed-in user with a pending invitation to `acc` for their verified
/// address. Cost: 9 round trips (account + membership, slot, as by token,
/// delivery).
pub fn accept_for_account(env: &Env, principal: &Principal, acc: &AccountId) -> Result<Accepted> {
    let user = accepting_user(principal)?;
    let email = user.answering_email()?;
    let read = account_and_membership(env, acc, user, None)?;
    let Some(slot) = slots::read(env, &read.account, email)? else {
        return Err(Error::InvitationNotFound);
    };
    accept(env, user, read, &slot.latest, None)
}

/// From the inbox: a signed-in user names one of their invitations. Only the
/// invited address may accept it, as by token. Cost: 8 round trips (the
/// invitation, then as by account).
pub fn accept_by_id(env: &Env, principal: &Principal, id: &InvitationId) -> Result<Accepted> {
    let user = accepting_user(principal)?;
    user.answering_email()?;
    let inv: Invitation =
        store::get_json(env.store, &keys::invitation(id))?.ok_or(Error::InvitationNotFound)?;
    let read = account_and_membership(env, &inv.account_id, user, Some(id))?;
    accept(env, user, read, id, None)
}

fn accepting_user(principal: &Principal) -> Result<&User> {
    principal.user().ok_or(Error::Forbidden(
        "service principals cannot accept invitations",
    ))
}

/// What an accept reads before its compare-and-swap.
struct Read {
    account: Account,
    membership: Option<Member>,
    /// The invitation's delivery, when its id was known in time to read it
    /// with the rest (`None`: read it after the change).
    delivery: Option<Option<Delivery>>,
}

/// The account and the caller's membership, and the delivery of invitation
/// `id` if given. 1 round trip.
fn account_and_membership(
    env: &Env,
    acc: &AccountId,
    user: &User,
    id: Option<&InvitationId>,
) -> Result<Read> {
    let mut keys = vec![keys::account(acc), keys::member(acc, &user.id)];
    keys.extend(id.map(keys::delivery));
    let values = store::get_many_raw(env.store, &keys)?;
    let Some(a) = &values[0] else {
        return Err(Error::InvitationNotFound);
    };
    let membership = values[1]
        .as_deref()
        .map(|b| decode(&keys[1], b))
        .transpose()?;
    let delivery = match (id, values.get(2)) {
        (Some(_), Some(value)) => Some(value.as_deref().map(|b| decode(&keys[2], b)).transpose()?),
        _ => None,
    };
    Ok(Read {
        account: decode(&keys[0], a)?,
        membership,
        delivery,
    })
}

enum Outcome {
    Accepted(Invitation),
    AlreadyMine(Invitation),
}

fn accept(
    env: &Env,
    user: &User,
    read: Read,
    id: &InvitationId,
    token: Option<TokenHash>,
) -> Result<Accepted> {
    let now = env.clock.now();
    let Read {
        account,
        membership,
        delivery,
    } = read;
    let account = &account;
    // The member log position is reserved once, on the first try that would
    // write, and recorded in the invitation: every later writer of this
    // membership writes the very same record. (A lost race leaves a gap in
    // the log, which listing skips.)
    let reserved: Cell<Option<i64>> = Cell::new(None);
    let outcome = store::update::<Invitation, Outcome>(
        env.store,
        env.random,
        &keys::invitation(id),
        |mut inv| {
            if inv.account_id != account.id || token.is_some_and(|t| !inv.token_matches(&t)) {
                return Err(Error::InvitationNotFound);
            }
            if let State::Accepted { accepted_by, .. } = &inv.state {
                if *accepted_by == user.id {
                    return Ok(Decision::Keep(Outcome::AlreadyMine(inv)));
                }
            }
            inv.acceptable(now)?;
            // The signed-in user must own the invited address. A mismatch leaves
            // the invitation as it is, for its rightful owner.
            if user.email.as_ref() != Some(&inv.email) {
                return Err(Error::EmailMismatch);
            }
            if !user.email_verified {
                return Err(Error::EmailMismatch);
            }
            if !account.allows(&inv.email) {
                return Err(Error::DomainNotAllowed);
            }
            let seq = match reserved.get() {
                Some(seq) => seq,
                None => {
                    let seq = store::increment(env, &keys::member_seq(&account.id), 1)?;
                    reserved.set(Some(seq));
                    seq
                }
            };
            inv.accept(now, &user.id, seq)?;
            Ok(Decision::Write(inv.clone(), Outcome::Accepted(inv)))
        },
    )?
    .ok_or(Error::InvitationNotFound)?;

    let (invitation, newly) = match outcome {
        Outcome::Accepted(inv) => (inv, true),
        Outcome::AlreadyMine(inv) => (inv, false),
    };
    // Accepted before: look at the membership as it is now, not as it was
    // before the CAS (a concurrent first accept may have written it, or an
    // admin removed it since).
    let membership = if newly {
        membership
    } else {
        store::get_json::<Member>(env.store, &keys::member(&account.id, &user.id))?
    };
    let member = match (membership, newly) {
        // Already a member (the owner, or through another invitation): keep
        // the access they have rather than change it behind an admin's back.
        (Some(m), _) if m.is_active() => {
            if newly {
                // Best effort: a seat not given back goes back at the expiry.
                let _ = seats::release(env, &account.id, &[seats::Hold::of(&invitation)]);
            }
            m
        }
        // Removed since accepting: an old link cannot undo that.
        (Some(_), false) => return Err(Error::InvitationAlreadyAccepted),
        // Newly accepted, or accepted before but not yet (or never) written:
        // the same record whoever writes it. The seat becomes the member's
        // first, so a failure in between is finished by accepting again.
        _ => {
            seats::seat_member(env, &account.id, seats::Hold::of(&invitation))?;
            write_membership(env, user, &invitation)?
        }
    };
    let mut events = Vec::new();
    // The change is made: a failed read below must not lose its event.
    let delivery: Option<Delivery> = match delivery {
        Some(read) => read,
        None => store::get_json(env.store, &keys::delivery(&invitation.id))
            .ok()
            .flatten(),
    };
    let view = InvitationView::new(invitation, delivery.unwrap_or_default(), now);
    if newly {
        events.push(Event::invitation(
            env.random,
            EventKind::InvitationAccepted,
            now,
            view.clone(),
            Actor::user(user),
        ));
    }
    Ok(Accepted {
        member,
        invitation: view,
        events,
    })
}

/// Cost: 1 round trip (`set-many`). Writes the membership an accepted
/// invitation describes; writing it twice writes the same thing.
fn write_membership(env: &Env, user: &User, inv: &Invitation) -> Result<Member> {
    let acc = &inv.account_id;
    let (joined_at, seq) = match &inv.state {
        State::Accepted {
            accepted_at,
            member_seq,
            ..
        } if *member_seq > 0 => (*accepted_at, *member_seq),
        _ => (
            env.clock.now(),
            store::increment(env, &keys::member_seq(acc), 1)?,
        ),
    };
    let member = Member {
        account_id: acc.clone(),
        user_id: user.id.clone(),
        email: Some(inv.email.clone()),
        role: inv.role.role(),
        access_groups: inv.access_groups.clone(),
        joined_at,
        invitation_id: Some(inv.id.clone()),
        join_link_id: None,
        invited_by: Some(inv.invited_by.clone()),
        seq,
        removed: None,
        // No revision yet: two writers of this membership write the same bytes.
        rev: Rev::default(),
    };
    store_membership(env, &member)?;
    Ok(member)
}
