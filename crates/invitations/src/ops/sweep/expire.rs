//! Step: write an expiry down.

use super::{SweepRun, Work};
use crate::effects::{Actor, Event, EventKind};
use crate::error::Result;
use crate::keys;
use crate::model::{Invitation, InvitationView};
use crate::queue::DueItem;
use crate::store::{self, Decision};
use crate::Env;

/// Writes the expiry down and tells the app (`invitation.expired`), unless
/// it was answered or written down meanwhile (then nothing: exactly one of
/// racing answers wins the compare-and-swap). Looked at again when it is
/// due for purging. Cost: 2 round trips.
pub(crate) fn expire(
    env: &Env,
    view: &InvitationView,
    work: &mut Work,
    run: &mut SweepRun,
) -> Result<()> {
    let now = env.clock.now();
    let inv = &view.invitation;
    let expired = store::update::<Invitation, Option<Invitation>>(
        env.store,
        env.random,
        &keys::invitation(&inv.id),
        |mut inv| {
            if inv.expire(now).is_err() {
                return Ok(Decision::Keep(None));
            }
            Ok(Decision::Write(inv.clone(), Some(inv)))
        },
    )?
    .flatten();
    if let Some(expired) = expired {
        run.report.expired += 1;
        let view = InvitationView::new(expired, view.delivery.clone(), now);
        run.events.push(Event::invitation(
            env.random,
            EventKind::InvitationExpired,
            now,
            view,
            Actor::System,
        ));
    }
    let retention = env.policy.retention_days * 24 * 60 * 60;
    let purge_at = inv.expires_at.plus_secs(retention);
    work.requeue
        .push((purge_at, DueItem::Invitation(inv.id.clone())));
    Ok(())
}
