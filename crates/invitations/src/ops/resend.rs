//! Resend: mail a fresh link for a pending invitation, or renew an expired one.
//! Every older link stops working and the expiry clock starts again. With
//! [`LinkDelivery::Caller`] nothing is mailed: the new link is written before
//! the answer, which shows it once.
//!
//! A renewal needs no slot claim: an invite that takes the address's slot
//! supersedes the expired invitation first (see `slots`), and that CAS and
//! this one meet on the same record, so only one of them can win.

use crate::effects::{Actor, Event, EventKind, Leftovers, MailJob, MailKind};
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId};
use crate::keys;
use crate::model::TokenRef;
use crate::model::{Delivery, Invitation, InvitationView};
use crate::ops::invite::existing_members;
use crate::ops::load_access;
use crate::principal::Principal;
use crate::queue::{self, DueItem};
use crate::seats;
use crate::store::{self, encode, Decision};
use crate::token::InvitationToken;
use crate::values::LinkDelivery;
use crate::Env;

#[derive(Clone, Debug)]
pub struct Resent {
    pub invitation: InvitationView,
    /// The mail to send; none when the caller hands the link over.
    pub mail: Option<MailJob>,
    /// The new link's token when the caller hands it over: shown once.
    pub link: Option<InvitationToken>,
    pub events: Vec<Event>,
    /// The links it retired, to delete after the answer (and the invitation,
    /// handed over for the first time, to name in its inbox).
    pub leftovers: Leftovers,
}

/// Cost: 9 round trips (access, read, the seat's CAS, CAS, due-minute
/// `increment`, `set` of the due entry, delivery), 4 of them writes; +1 read to renew an expired
/// invitation (is the address a member now?); +1 read when the change
/// fails (did it happen after all?). The new link is written after
/// the answer, before the mail, and the old ones deleted
/// ([`crate::ops::deliveries::before_sending`]).
pub fn resend(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    id: &InvitationId,
    delivery: LinkDelivery,
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
    if !current.is_open(now)
        && !existing_members(env, acc, std::iter::once(&current.email))?.is_empty()
    {
        return Err(Error::AlreadyMember);
    }
    let token = InvitationToken::generate(env.random);
    let cooldown = env.policy.resend_cooldown_secs;
    let max_ttl = access.account.default_ttl;
    // The seat first, for the new expiry: an expired invitation takes one
    // again, and is refused if none is free.
    let mut renewed = current.clone();
    renewed.reissue(now, token.hash(), cooldown, max_ttl)?;
    // A renewal that failed after all did not happen, unless the read that
    // settles a lost swap reply failed too: then the hold may have moved to
    // the new expiry, a seat too many until then.
    seats::renew(env, acc, id, current.expires_at, renewed.expires_at)?;
    let changed =
        store::update::<Invitation, (Invitation, Invitation)>(env.store, env.random, &key, |inv| {
            let mut next = inv.clone();
            next.reissue(now, token.hash(), cooldown, max_ttl)?;
            next.link_delivery = delivery;
            Ok(Decision::Write(next.clone(), (inv, next)))
        })
        .and_then(|c| c.ok_or(Error::InvitationNotFound));
    let (before, after) = match changed {
        Ok(c) => c,
        Err(e) => {
            // Best effort: the seat is held as long as before the resend,
            // unless the invitation changed after all (a swap whose reply
            // was lost) or that cannot be told: a hold too long counts a
            // seat too many until it ends, a hold too short one too few.
            let stored = store::get_json::<Invitation>(env.store, &key);
            if stored.is_ok_and(|inv| inv.is_none_or(|inv| inv.token_hash != token.hash())) {
                let _ = seats::restore(env, acc, renewed.expires_at, current.expires_at);
            }
            return Err(e);
        }
    };

    // A look from the sweep, in case this mail does not go out (or at its
    // expiry, if that comes sooner).
    let check_at = now
        .plus_secs(env.policy.mail_check_delay_secs)
        .min(after.expires_at);
    let mut writes = queue::entries(env, &[(check_at, DueItem::Invitation(after.id.clone()))])?;
    if delivery == LinkDelivery::Caller {
        writes.push((
            keys::token(&after.token_hash),
            encode(&TokenRef::of(&after)),
        ));
    }
    store::set_many(env.store, &writes)?;
    // Old links already fail (their hashes no longer match); deleting them only tidies up.
    let mut leftovers = Leftovers {
        deletes: before.token_hashes().map(keys::token).collect(),
        handed_over: Vec::new(),
    };

    // The change is made: a failed read below must not lose its event.
    let recorded = store::get_json::<Delivery>(env.store, &keys::delivery(id));
    if delivery == LinkDelivery::Caller && matches!(recorded, Ok(None)) {
        leftovers.handed_over.push(after.clone());
    }
    let recorded = recorded.ok().flatten();
    let view = InvitationView::new(after.clone(), recorded.unwrap_or_default(), now);
    let event = Event::invitation(
        env.random,
        EventKind::InvitationResent,
        now,
        view.clone(),
        Actor::of(principal),
    );
    let (mail, link) = match delivery {
        LinkDelivery::Mail => {
            let mail = MailJob {
                kind: MailKind::Resend,
                invitation: after,
                account_name: access.account.name,
                token,
            };
            (Some(mail), None)
        }
        LinkDelivery::Caller => (None, Some(token)),
    };
    Ok(Resent {
        invitation: view,
        mail,
        link,
        events: vec![event],
        leftovers,
    })
}
