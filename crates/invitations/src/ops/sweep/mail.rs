//! Step: retry mail that did not go out.

use super::link::new_link;
use super::next::backoff_secs;
use super::{SweepRun, Work};
use crate::effects::{MailJob, MailKind};
use crate::error::Result;
use crate::model::InvitationView;
use crate::queue::DueItem;
use crate::values::AccountName;
use crate::Env;

/// Claims the retry with a new link ([`new_link`]) and hands the mail back.
/// It is looked at again when this attempt's backoff has passed (at least
/// `mail_check_delay`). Cost: 2 round trips.
pub(crate) fn retry(
    env: &Env,
    view: &InvitationView,
    account_name: AccountName,
    work: &mut Work,
    run: &mut SweepRun,
) -> Result<()> {
    let now = env.clock.now();
    let seen = &view.invitation;
    let rotated = new_link(env, seen, work, |inv, now, hash| {
        inv.issued_at == seen.issued_at && inv.rotate_token(now, hash).is_ok()
    })?;
    let Some((invitation, token)) = rotated else {
        return Ok(());
    };
    let attempt = view.delivery.attempts_since(seen.reissued_at) + 1;
    let backoff = backoff_secs(env.policy.mail_retry_base_secs, attempt);
    let check = now.plus_secs(backoff.max(env.policy.mail_check_delay_secs));
    let item = DueItem::Invitation(seen.id.clone());
    work.requeue.push((check.min(invitation.expires_at), item));
    run.report.mailed += 1;
    run.mails.push(MailJob {
        kind: MailKind::Retry,
        invitation,
        account_name,
        token,
    });
    Ok(())
}
