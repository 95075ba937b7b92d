//! Step: the reminder before expiry.

use super::{SweepRun, Work};
use crate::effects::{Actor, Event, EventKind, MailJob, MailKind};
use crate::error::Result;
use crate::keys;
use crate::model::{Invitation, InvitationView, TokenRef};
use crate::queue::DueItem;
use crate::store::{self, encode, Decision};
use crate::token::InvitationToken;
use crate::values::AccountName;
use crate::Env;

/// Mails the reminder with a new link (the last one stays valid), tells the
/// app (`invitation.expiring`), and looks again when the mail should have
/// gone out. If the invitation changed since it was read (resent, answered,
/// reminded) it is looked at again next run. Cost: 2 round trips (the CAS).
pub(crate) fn remind(
    env: &Env,
    view: &InvitationView,
    account_name: AccountName,
    work: &mut Work,
    run: &mut SweepRun,
) -> Result<()> {
    let now = env.clock.now();
    let seen = &view.invitation;
    let item = DueItem::Invitation(seen.id.clone());
    let token = InvitationToken::generate(env.random);
    let reminded = store::update::<Invitation, Option<Invitation>>(
        env.store,
        env.random,
        &keys::invitation(&seen.id),
        |mut inv| {
            if inv.rev != seen.rev || inv.remind(now, token.hash()).is_err() {
                return Ok(Decision::Keep(None));
            }
            Ok(Decision::Write(inv.clone(), Some(inv)))
        },
    )?
    .flatten();
    let Some(invitation) = reminded else {
        work.requeue.push((now, item));
        return Ok(());
    };
    work.writes.push((
        keys::token(&invitation.token_hash),
        encode(&TokenRef::of(&invitation)),
    ));
    if let Some(old) = seen.previous_token_hash {
        work.deletes.push(keys::token(&old));
    }
    let check = now.plus_secs(env.policy.mail_check_delay_secs);
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
