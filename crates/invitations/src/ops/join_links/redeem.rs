//! Join an account through a link.

use crate::effects::{Actor, Event, EventKind, Subject};
use crate::email::Email;
use crate::error::{Error, Result};
use crate::keys;
use crate::model::Member;

use super::open;
use crate::ops::members::store_membership;
use crate::principal::Principal;
use crate::seats;
use crate::store;
use crate::token::JoinLinkToken;
use crate::Env;

/// The outcome of a redeem.
#[derive(Clone, Debug)]
pub struct Redeemed {
    pub member: Member,
    /// False: they were a member already, and nothing changed.
    pub joined: bool,
    pub events: Vec<Event>,
}

/// A signed-in person with a verified address joins through a link. A
/// member gets their membership back unchanged and uses nothing; someone an
/// admin removed cannot come back this way (one who left can).
/// Cost: 9 round trips (token, link with count, account and membership, the
/// seat's CAS, the use, the member log, the membership, the seat's mark
/// dropped by CAS), 5 writes; 2 for an existing member.
pub fn redeem_join_link(
    env: &Env,
    principal: &Principal,
    token: &JoinLinkToken,
) -> Result<Redeemed> {
    let now = env.clock.now();
    let user = principal
        .user()
        .ok_or(Error::Forbidden("service principals cannot join accounts"))?;
    // Unverified, an address proves nothing, so it cannot join on its domain.
    let email: &Email = match (&user.email, user.email_verified) {
        (Some(e), true) => e,
        _ => return Err(Error::EmailUnverified),
    };
    let (link, uses, account, membership) = open(env, token, Some(&user.id))?;
    match membership {
        Some(m) if m.is_active() => {
            return Ok(Redeemed {
                member: m,
                joined: false,
                events: Vec::new(),
            })
        }
        Some(m) if m.removed.as_ref().is_some_and(|r| !r.left) => return Err(Error::MemberRemoved),
        _ => {}
    }
    let counted = uses.clamp(0, i64::from(u32::MAX)) as u32;
    link.check_open(counted, now)?;
    if !link.admits(email) || !account.allows(email) {
        return Err(Error::DomainNotAllowed);
    }
    // The seat, then the use: each exact whatever runs at the same time. A
    // full account refuses before the link's use is spent. The seat is
    // marked as joining until the membership is written; a mark a failure
    // leaves behind is settled by the ledger's next change after the grace,
    // which gives the seat back if no membership was written (see `seats`).
    let mark = seats::join(env, &account.id, &user.id, now)?;
    let finish = |done: bool| {
        if let Some(mark) = &mark {
            // Best effort: a mark left behind is settled as above.
            let _ = seats::finish_join(env, &account.id, mark, done);
        }
    };
    let taken = store::increment(env, &keys::join_link_uses(&link.id), 1)?;
    if taken > i64::from(link.max_uses.get()) {
        finish(false);
        return Err(Error::JoinLinkUsedUp);
    }
    let seq = store::increment(env, &keys::member_seq(&account.id), 1)?;
    let member = Member {
        account_id: account.id.clone(),
        user_id: user.id.clone(),
        email: Some(email.clone()),
        role: link.role.role(),
        access_groups: link.access_groups.clone(),
        joined_at: now,
        invitation_id: None,
        join_link_id: Some(link.id.clone()),
        invited_by: Some(link.created_by.clone()),
        seq,
        removed: None,
        rev: Default::default(),
    };
    // A join that stalled stops here and leaves its mark, which the ledger's
    // next change after the grace settles by giving the seat back.
    if mark.as_ref().is_some_and(|m| m.stalled(env.clock.now())) {
        return Err(Error::StoreUnavailable(
            "the join took too long; try again".to_owned(),
        ));
    }
    store_membership(env, &member)?;
    finish(true);
    let event = Event::new(
        env.random,
        EventKind::MemberJoined,
        now,
        Subject::Member(Box::new(member.clone())),
        Actor::user(user),
    );
    Ok(Redeemed {
        member,
        joined: true,
        events: vec![event],
    })
}
