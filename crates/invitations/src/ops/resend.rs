//! Resend: mail a fresh link for a pending invitation, or renew an expired one.
//! The old link stops working and the expiry clock starts again.

use crate::effects::{Event, EventKind, MailJob, MailKind};
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId};
use crate::keys;
use crate::model::{Delivery, Invitation, InvitationView};
use crate::ops::invite::TokenRef;
use crate::ops::load_access;
use crate::principal::Principal;
use crate::slots::{self, Claim, ClaimResult};
use crate::store::{self, encode, Decision};
use crate::token::InvitationToken;
use crate::Env;

#[derive(Clone, Debug)]
pub struct Resent {
    pub invitation: InvitationView,
    pub mail: MailJob,
    pub events: Vec<Event>,
}

/// Cost: 7 round trips (access, read, CAS, new token key, old token key,
/// delivery); +2 or 3 to renew an expired invitation (its address's slot).
pub fn resend(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    id: &InvitationId,
) -> Result<Resent> {
    let now = env.clock.now();
    let access = load_access(env, principal, acc)?;
    access.manager(principal)?;
    let key = keys::invitation(id);
    let current = match store::get_json::<Invitation>(env.store, &key)? {
        Some(inv) if inv.account_id == *acc => inv,
        _ => return Err(Error::InvitationNotFound),
    };
    if !current.renewable(now) {
        return Err(Error::InvitationNotPending);
    }
    let token = InvitationToken::generate(env.random);
    if !current.is_open(now) {
        // Renewal reopens the address's slot: it must win it like an invite would.
        let claim = Claim {
            email: current.email.clone(),
            invitation: current.id.clone(),
            expires_at: now.plus_secs(current.ttl.secs()),
        };
        let shard = slots::shard_key(&access.account, &current.email);
        if slots::claim(env, &shard, &[claim])? == [ClaimResult::AlreadyInvited] {
            return Err(Error::AlreadyInvited);
        }
    }
    let cooldown = env.policy.resend_cooldown_secs;
    let (before, after) = store::update::<Invitation, (Invitation, Invitation)>(
        env.store,
        env.random,
        &key,
        |inv| {
            let mut next = inv.clone();
            next.reissue(now, token.hash(), cooldown)?;
            Ok(Decision::Write(next.clone(), (inv, next)))
        },
    )?
    .ok_or(Error::InvitationNotFound)?;
    env.store.set(
        &keys::token(&after.token_hash),
        &encode(&TokenRef::of(&after)),
    )?;
    // The old link already fails (its hash no longer matches); this only tidies up.
    let _ = env.store.delete(&keys::token(&before.token_hash));
    let delivery: Option<Delivery> = store::get_json(env.store, &keys::delivery(id))?;
    let view = InvitationView::new(after.clone(), delivery.unwrap_or_default(), now);
    let event = Event::invitation(env.random, EventKind::InvitationResent, now, view.clone());
    Ok(Resent {
        invitation: view,
        mail: MailJob {
            kind: MailKind::Resend,
            invitation: after,
            account_name: access.account.name,
            token,
        },
        events: vec![event],
    })
}
