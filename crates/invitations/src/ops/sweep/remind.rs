//! Step: the reminder before expiry.

use super::link::new_link;
use super::{SweepRun, Work};
use crate::effects::{Actor, Event, EventKind, MailJob, MailKind};
use crate::error::Result;
use crate::model::InvitationView;
use crate::queue::DueItem;
use crate::values::AccountName;
use crate::Env;

/// Mails the reminder with a new link ([`new_link`]; not if the invitation
/// changed since it was read: resent, answered, reminded), tells the app
/// (`invitation.expiring`), and looks again when the mail should have gone
/// out. Cost: 2 round trips.
pub(crate) fn remind(
    env: &Env,
    view: &InvitationView,
    account_name: AccountName,
    work: &mut Work,
    run: &mut SweepRun,
) -> Result<()> {
    let now = env.clock.now();
    let seen = &view.invitation;
    let reminded = new_link(env, seen, work, |inv, now, hash| {
        inv.rev == seen.rev && inv.remind(now, hash).is_ok()
    })?;
    let Some((invitation, token)) = reminded else {
        return Ok(());
    };
    let check = now.plus_secs(env.policy.mail_check_delay_secs);
    let item = DueItem::Invitation(seen.id.clone());
    work.requeue.push((check.min(invitation.expires_at), item));
    let event_view = InvitationView::new(invitation.clone(), view.delivery.clone(), now);
    run.events.push(Event::invitation(
        env.random,
        EventKind::InvitationExpiring,
        now,
        event_view,
        Actor::System,
    ));
    run.report.reminded += 1;
    run.mails.push(MailJob {
        kind: MailKind::Reminder,
        invitation,
        account_name,
        token,
    });
    Ok(())
}
