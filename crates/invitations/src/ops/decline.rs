//! Decline an invitation: by the emailed token (the link is the proof, as for
//! the preview), or signed in with the invited address, by naming the account.
//!
//! Like accept, the invitation's compare-and-swap from pending decides: an
//! accept and a decline racing for one invitation meet there, and exactly one
//! wins. A declined invitation is final; its link opens nothing any more, and
//! its address may be invited again (the slot frees itself: only an open
//! invitation holds it).

use crate::effects::{Actor, Event, EventKind};
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId};
use crate::keys;
use crate::model::TokenRef;
use crate::model::{Account, Delivery, Invitation, InvitationView, State};
use crate::principal::{Principal, User};
use crate::seats;
use crate::store::{self, decode, Decision};
use crate::token::{InvitationToken, TokenHash};
use crate::values::AccountName;
use crate::{slots, Env};

#[derive(Clone, Debug)]
pub struct Declined {
    pub invitation: InvitationView,
    /// For the invitee's page: whom they turned down.
    pub account_name: AccountName,
    /// `invitation.declined`, the first time only.
    pub events: Vec<Event>,
}

/// No sign-in: whoever holds the link may decline it. Cost: 6 round trips
/// (token, CAS, the seat given back, account + delivery), 2 writes;
/// declining again writes nothing.
pub fn decline_by_token(env: &Env, token: &InvitationToken) -> Result<Declined> {
    let hash = token.hash();
    let tok_key = keys::token(&hash);
    let Some(bytes) = env.store.get(&tok_key)? else {
        return Err(Error::InvitationNotFound);
    };
    let r: TokenRef = decode(&tok_key, &bytes)?;
    let by = Decliner::Link(hash);
    let (invitation, newly) = decide(env, Some(&r.account_id), &r.invitation_id, &by)?;
    finish(env, &r.account_id, None, invitation, newly, Actor::Link)
}

/// A signed-in user with a pending invitation to `acc` for their verified
/// address. Cost: 7 round trips (account, slot, CAS, seat, delivery), 2 writes.
pub fn decline_for_account(env: &Env, principal: &Principal, acc: &AccountId) -> Result<Declined> {
    let user = invitee(principal)?;
    let account: Account =
        store::get_json(env.store, &keys::account(acc))?.ok_or(Error::InvitationNotFound)?;
    let Some(slot) = slots::read(env, &account, user.answering_email()?)? else {
        return Err(Error::InvitationNotFound);
    };
    let (invitation, newly) = decide(env, Some(acc), &slot.latest, &Decliner::User(user))?;
    finish(
        env,
        acc,
        Some(account),
        invitation,
        newly,
        Actor::user(user),
    )
}

/// From the inbox: a signed-in user names one of their invitations; only the
/// invited address may decline it. Cost: 5 round trips (CAS, seat, account
/// + delivery), 2 writes.
pub fn decline_by_id(env: &Env, principal: &Principal, id: &InvitationId) -> Result<Declined> {
    let user = invitee(principal)?;
    user.answering_email()?;
    let (invitation, newly) = decide(env, None, id, &Decliner::User(user))?;
    let acc = invitation.account_id.clone();
    finish(env, &acc, None, invitation, newly, Actor::user(user))
}

fn invitee(principal: &Principal) -> Result<&User> {
    principal.user().ok_or(Error::Forbidden(
        "service principals cannot decline invitations",
    ))
}

enum Decliner<'a> {
    Link(TokenHash),
    User(&'a User),
}

/// The compare-and-swap that decides. Answers the invitation and whether this
/// call declined it (false: it was declined before, and stays as it was).
fn decide(
    env: &Env,
    acc: Option<&AccountId>,
    id: &InvitationId,
    by: &Decliner,
) -> Result<(Invitation, bool)> {
    let now = env.clock.now();
    store::update::<Invitation, (Invitation, bool)>(
        env.store,
        env.random,
        &keys::invitation(id),
        |mut inv| {
            let opened = match by {
                Decliner::Link(hash) => inv.token_matches(hash),
                Decliner::User(_) => true,
            };
            if acc.is_some_and(|a| inv.account_id != *a) || !opened {
                return Err(Error::InvitationNotFound);
            }
            if let Decliner::User(user) = by {
                // The same rule as accepting: only the invited address may answer.
                if user.email.as_ref() != Some(&inv.email) {
                    return Err(Error::EmailMismatch);
                }
            }
            if matches!(inv.state, State::Declined { .. }) {
                return Ok(Decision::Keep((inv, false)));
            }
            let who = match by {
                Decliner::Link(_) => None,
                Decliner::User(user) => Some(&user.id),
            };
            inv.decline(now, who)?;
            Ok(Decision::Write(inv.clone(), (inv, true)))
        },
    )?
    .ok_or(Error::InvitationNotFound)
}

fn finish(
    env: &Env,
    acc: &AccountId,
    account: Option<Account>,
    invitation: Invitation,
    newly: bool,
    actor: Actor,
) -> Result<Declined> {
    let now = env.clock.now();
    if newly {
        // Best effort: the change is made. A seat not given back here goes
        // back at the invitation's expiry.
        let _ = seats::release(env, acc, &[seats::Hold::of(&invitation)]);
    }
    // The change is made: a failed read below must not lose its event, so the
    // account's name and the delivery fall back to what is known.
    let (account, delivery) = match account {
        Some(a) => (
            Some(a),
            store::get_json::<Delivery>(env.store, &keys::delivery(&invitation.id))
                .ok()
                .flatten(),
        ),
        None => {
            let keys = [keys::account(acc), keys::delivery(&invitation.id)];
            let values = store::get_many_raw(env.store, &keys).unwrap_or_default();
            let read = |i: usize| values.get(i).cloned().flatten();
            (
                read(0).and_then(|b| decode::<Account>(&keys[0], &b).ok()),
                read(1).and_then(|b| decode::<Delivery>(&keys[1], &b).ok()),
            )
        }
    };
    let account_name = match account {
        Some(a) => a.name,
        None => AccountName::parse(acc.as_str()).map_err(|_| Error::AccountNotFound)?,
    };
    let view = InvitationView::new(invitation, delivery.unwrap_or_default(), now);
    let events = if newly {
        vec![Event::invitation(
            env.random,
            EventKind::InvitationDeclined,
            now,
            view.clone(),
            actor,
        )]
    } else {
        Vec::new()
    };
    Ok(Declined {
        invitation: view,
        account_name,
        events,
    })
}
