//! Which step is due for an invitation the queue named: a pure decision on
//! what was read, so every branch is tested without a store.

use crate::model::{Account, Delivery, DeliveryStatus, Invitation, InvitationView, State, Status};
use crate::time::Timestamp;
use crate::values::{AccountName, LinkDelivery};
use crate::Policy;

/// How long after its creation an invitation its slot does not name is taken
/// for one whose invite failed or lost, rather than one still being claimed.
pub(crate) const UNCLAIMED_GRACE_SECS: i64 = 10 * 60;

/// The retry delay after attempt `attempt` (1-based): `base_secs`, doubling
/// per attempt. Mail retries and webhook redeliveries both follow it.
pub(crate) fn backoff_secs(base_secs: i64, attempt: u32) -> i64 {
    base_secs.saturating_mul(1 << attempt.saturating_sub(1).min(30))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing is due yet: look again then.
    Later(Timestamp),
    /// Its account is gone: nothing to do, ever.
    Forget,
    /// Its invite lost the slot, or stopped before claiming it, long enough
    /// ago: nobody can reach it ([`super::purge::unreachable`]).
    DropUnreachable,
    /// Its mail did not go out ([`super::mail::retry`]); the mail names its account.
    RetryMail(AccountName),
    /// Its reminder is due ([`super::remind::remind`]).
    Remind(AccountName),
    /// Its time is up and the expiry is not written down yet ([`super::expire::expire`]).
    Expire,
    /// Closed longer ago than `retention_days` ([`super::purge::closed`]).
    Purge,
}

/// What is due for `view` at `now`. `claimed`: its address's slot names it.
/// `account`: its account, needed only while it is pending.
pub(crate) fn step(
    view: &InvitationView,
    claimed: bool,
    account: Option<&Account>,
    now: Timestamp,
    policy: &Policy,
) -> Step {
    let inv = &view.invitation;
    if inv.state == State::Pending && !claimed {
        // Give an invite still under way time to claim it.
        let settled = inv.created_at.plus_secs(UNCLAIMED_GRACE_SECS);
        return if settled > now {
            Step::Later(settled)
        } else {
            Step::DropUnreachable
        };
    }
    match view.status {
        Status::Pending => match mail_due_at(inv, &view.delivery, policy) {
            Some(at) if at <= now => match account {
                Some(account) => Step::RetryMail(account.name.clone()),
                None => Step::Forget,
            },
            Some(at) => Step::Later(at.min(inv.expires_at)),
            // Handed over by the caller: never mailed, so never reminded.
            // Bounced, or marked as spam: never mailed again unasked.
            None if inv.link_delivery == LinkDelivery::Caller
                || view.delivery.status.stops_mail() =>
            {
                Step::Later(inv.expires_at)
            }
            // Mailed: next, the reminder (if one is due) or the expiry.
            None => {
                let days = account.map(|a| a.reminder_days).unwrap_or_default();
                match (inv.remind_at(days), account) {
                    (Some(at), Some(account)) if at <= now && !inv.resent_since(at) => {
                        Step::Remind(account.name.clone())
                    }
                    (Some(at), _) if at > now => Step::Later(at),
                    _ => Step::Later(inv.expires_at),
                }
            }
        },
        Status::Expired if inv.state == State::Pending => Step::Expire,
        _ => {
            let closed = inv.closed_at(now).unwrap_or(now);
            let purge_at = closed.plus_secs(policy.retention_days * 24 * 60 * 60);
            if purge_at > now {
                Step::Later(purge_at)
            } else {
                Step::Purge
            }
        }
    }
}

/// When the mail for the invitation's current token should be tried (again),
/// or `None` if it went out, the attempts since a person last sent it are
/// used up (the admin can still resend), or the caller hands its link over.
pub(crate) fn mail_due_at(inv: &Invitation, dlv: &Delivery, policy: &Policy) -> Option<Timestamp> {
    if inv.link_delivery == LinkDelivery::Caller {
        return None;
    }
    let current = dlv.token_issued_at == Some(inv.issued_at);
    let attempts = dlv.attempts_since(inv.reissued_at);
    if (current && dlv.status.went_out()) || attempts >= policy.mail_max_attempts {
        return None;
    }
    match dlv.last_attempt_at {
        // The provider asked us to wait: not before then.
        _ if current && dlv.status == DeliveryStatus::Queued && dlv.not_before.is_some() => {
            dlv.not_before
        }
        // The current token's last attempt failed: back off.
        Some(at) if current => {
            Some(at.plus_secs(backoff_secs(policy.mail_retry_base_secs, attempts)))
        }
        // No outcome for the current token yet: in flight, or lost.
        _ => Some(inv.issued_at.plus_secs(policy.mail_check_delay_secs)),
    }
}
