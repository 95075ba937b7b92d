//! Cancel a pending invitation. Its link stops working at once.

use crate::effects::{Actor, Event, EventKind};
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId};
use crate::keys;
use crate::model::{Delivery, Invitation, InvitationView};
use crate::ops::load_access;
use crate::principal::Principal;
use crate::seats;
use crate::store::{self, Decision};
use crate::Env;

/// Cost: 6 round trips (access, CAS, the seat given back, delivery).
pub fn cancel(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    id: &InvitationId,
) -> Result<(InvitationView, Vec<Event>)> {
    let now = env.clock.now();
    let access = load_access(env, principal, acc)?;
    let by = access.manager(principal)?;
    let inv = store::update::<Invitation, Invitation>(
        env.store,
        env.random,
        &keys::invitation(id),
        |mut inv| {
            if inv.account_id != *acc {
                return Err(Error::InvitationNotFound);
            }
            inv.cancel(now, &by.id)?;
            Ok(Decision::Write(inv.clone(), inv))
        },
    )?
    .ok_or(Error::InvitationNotFound)?;
    // Best effort: the change is made. A seat not given back here goes back
    // at the invitation's expiry.
    let _ = seats::release(env, acc, &[seats::Hold::of(&inv)]);
    // The change is made: a failed read below must not lose its event.
    let delivery: Option<Delivery> = store::get_json(env.store, &keys::delivery(id))
        .ok()
        .flatten();
    let view = InvitationView::new(inv, delivery.unwrap_or_default(), now);
    let event = Event::invitation(
        env.random,
        EventKind::InvitationCancelled,
        now,
        view.clone(),
        Actor::user(by),
    );
    Ok((view, vec![event]))
}
