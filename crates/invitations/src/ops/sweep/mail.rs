//! Step: retry mail that did not go out.

use super::next::backoff_secs;
use super::{SweepRun, Work};
use crate::effects::{MailJob, MailKind};
use crate::error::Result;
use crate::keys;
use crate::model::{Invitation, InvitationView, TokenRef};
use crate::queue::DueItem;
use crate::store::{self, encode, Decision};
use crate::token::InvitationToken;
use crate::values::AccountName;
use crate::Env;

/// Claims the retry by giving the invitation a new token (only hashes are
/// kept, so a link cannot be mailed twice) and hands the mail back; the link
/// before last stops working, the last one stays valid. It is looked at again
/// when this attempt's backoff has passed (at least `mail_check_delay`). A
/// concurrent sweep that read the same state loses the compare-and-swap and
/// sends nothing; then it is looked at again next run. Cost: 2 round trips.
pub(crate) fn retry(
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
    let rotated = store::update::<Invitation, Option<Invitation>>(
        env.store,
        env.random,
        &keys::invitation(&seen.id),
        |mut inv| {
            if inv.issued_at != seen.issued_at || inv.rotate_token(now, token.hash()).is_err() {
                return Ok(Decision::Keep(None));
            }
            Ok(Decision::Write(inv.clone(), Some(inv)))
        },
    )?
    .flatten();
    let Some(invitation) = rotated else {
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
    let attempt = view.delivery.attempts_since(seen.reissued_at) + 1;
    let backoff = backoff_secs(env.policy.mail_retry_base_secs, attempt);
    let check = now.plus_secs(backoff.max(env.policy.mail_check_delay_secs));
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
