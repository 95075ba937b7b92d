//! Each step on its own: what it decides, what it writes, what it costs.
//! The whole run (queue, races, bounds) is tested in `tests/domain/sweep.rs`.

use super::next::{backoff_secs, step, Step, UNCLAIMED_GRACE_SECS};
use super::*;
use crate::effects::MailKind;
use crate::fixtures::{account, invitation, World};
use crate::model::{Delivery, DeliveryStatus};
use crate::store::encode;
use crate::values::{LinkDelivery, ReminderDays};
use crate::Policy;

const DAY: i64 = 24 * 60 * 60;

fn t0() -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000)
}

fn sent(inv: &Invitation) -> Delivery {
    Delivery {
        status: DeliveryStatus::Sent,
        attempts: 1,
        token_issued_at: Some(inv.issued_at),
        last_attempt_at: Some(inv.issued_at),
        sent_count: 1,
        last_sent_at: Some(inv.issued_at),
        ..Delivery::default()
    }
}

fn failed(inv: &Invitation, attempts: u32) -> Delivery {
    Delivery {
        status: DeliveryStatus::Failed,
        attempts,
        token_issued_at: Some(inv.issued_at),
        last_attempt_at: Some(inv.issued_at),
        ..Delivery::default()
    }
}

fn run() -> SweepRun {
    SweepRun {
        report: SweepReport::default(),
        mails: Vec::new(),
        events: Vec::new(),
        webhooks: Vec::new(),
    }
}

fn fresh_work(now: Timestamp) -> Work {
    Work {
        now,
        requeue: Vec::new(),
        writes: Vec::new(),
        deletes: Vec::new(),
    }
}

/// A world at `now` holding `inv`, with its counters at zero.
fn world_with(inv: &Invitation, now: Timestamp) -> World {
    let w = World::at(now);
    w.env()
        .store
        .set(&keys::invitation(&inv.id), &encode(inv))
        .unwrap();
    w.store.reset_stats();
    w
}

#[test]
fn backoff_doubles_per_attempt_and_never_overflows() {
    assert_eq!(backoff_secs(60, 1), 60);
    assert_eq!(backoff_secs(60, 2), 120);
    assert_eq!(backoff_secs(60, 3), 240);
    assert_eq!(backoff_secs(60, 0), 60);
    assert!(backoff_secs(i64::MAX / 2, u32::MAX) > 0);
}

#[test]
fn step_decides_by_state_mail_and_time() {
    let policy = Policy::default();
    let acct = account(t0());
    let inv = invitation(t0());
    let view = |dlv: Delivery, now| InvitationView::new(inv.clone(), dlv, now);
    let decide = |dlv: Delivery, claimed, account: Option<&Account>, now| {
        step(&view(dlv, now), claimed, account, now, &policy)
    };

    // Not claimed: a grace period for an invite under way, then dropped.
    let grace = t0().plus_secs(UNCLAIMED_GRACE_SECS);
    assert_eq!(
        decide(Delivery::default(), false, Some(&acct), t0()),
        Step::Later(grace)
    );
    assert_eq!(
        decide(Delivery::default(), false, Some(&acct), grace),
        Step::DropUnreachable
    );

    // No outcome for its mail: looked at after the check delay, then retried.
    let check = t0().plus_secs(policy.mail_check_delay_secs);
    assert_eq!(
        decide(Delivery::default(), true, Some(&acct), t0()),
        Step::Later(check)
    );
    assert_eq!(
        decide(Delivery::default(), true, Some(&acct), check),
        Step::RetryMail(acct.name.clone())
    );
    assert_eq!(decide(Delivery::default(), true, None, check), Step::Forget);

    // A failed attempt backs off before the retry.
    let after_backoff = t0().plus_secs(backoff_secs(policy.mail_retry_base_secs, 2));
    assert_eq!(
        decide(failed(&inv, 2), true, Some(&acct), t0().plus_secs(1)),
        Step::Later(after_backoff)
    );
    assert_eq!(
        decide(
            failed(&inv, policy.mail_max_attempts),
            true,
            Some(&acct),
            check
        ),
        Step::Later(inv.expires_at),
        "attempts used up: wait for the expiry"
    );

    // Sent: the expiry next, or the reminder when the account has one.
    assert_eq!(
        decide(sent(&inv), true, Some(&acct), check),
        Step::Later(inv.expires_at)
    );
    let mut reminding = acct.clone();
    reminding.reminder_days = ReminderDays::parse(3).unwrap();
    let remind_at = inv.expires_at.plus_secs(-3 * DAY);
    assert_eq!(
        decide(sent(&inv), true, Some(&reminding), check),
        Step::Later(remind_at)
    );
    assert_eq!(
        decide(sent(&inv), true, Some(&reminding), remind_at),
        Step::Remind(acct.name.clone())
    );

    // Bounced, or handed over by the caller: only the expiry.
    let bounced = Delivery {
        status: DeliveryStatus::Bounced,
        ..sent(&inv)
    };
    assert_eq!(
        decide(bounced, true, Some(&reminding), remind_at),
        Step::Later(inv.expires_at)
    );
    let mut handed = inv.clone();
    handed.link_delivery = LinkDelivery::Caller;
    let handed_view = InvitationView::new(handed.clone(), Delivery::default(), check);
    assert_eq!(
        step(&handed_view, true, Some(&acct), check, &policy),
        Step::Later(handed.expires_at)
    );

    // Time is up: written down; then purged after retention.
    assert_eq!(
        decide(sent(&inv), true, Some(&acct), inv.expires_at),
        Step::Expire
    );
    let mut cancelled = inv.clone();
    cancelled.cancel(check, &acct.created_by).unwrap();
    let purge_at = check.plus_secs(policy.retention_days * DAY);
    let closed = |now| {
        let v = InvitationView::new(cancelled.clone(), sent(&inv), now);
        step(&v, false, None, now, &policy)
    };
    assert_eq!(closed(check), Step::Later(purge_at));
    assert_eq!(closed(purge_at), Step::Purge);
}

#[test]
fn expire_writes_the_expiry_once_in_two_round_trips() {
    let inv = invitation(t0());
    let now = inv.expires_at.plus_secs(5);
    let w = world_with(&inv, now);
    let view = InvitationView::new(inv.clone(), sent(&inv), now);
    let (mut work, mut run) = (fresh_work(now), run());

    expire::expire(&w.env(), &view, &mut work, &mut run).unwrap();
    assert_eq!(w.store.stats().calls, 2);
    assert_eq!(run.report.expired, 1);
    assert_eq!(run.events.len(), 1);
    assert_eq!(run.events[0].kind.as_str(), "invitation.expired");
    let stored: Invitation = store::get_json(&w.store, &keys::invitation(&inv.id))
        .unwrap()
        .unwrap();
    assert!(
        matches!(stored.state, State::Expired { .. }),
        "{:?}",
        stored.state
    );
    let purge_at = inv.expires_at.plus_secs(w.policy.retention_days * DAY);
    assert_eq!(
        work.requeue,
        vec![(purge_at, DueItem::Invitation(inv.id.clone()))]
    );

    // Again (a second sweep that read it pending): nothing more, and no write.
    w.store.reset_stats();
    expire::expire(&w.env(), &view, &mut work, &mut run).unwrap();
    assert_eq!(w.store.stats().calls, 1);
    assert_eq!((run.report.expired, run.events.len()), (1, 1));
}

#[test]
fn retry_mail_rotates_the_link_once_and_backs_off() {
    let inv = invitation(t0());
    let now = t0().plus_secs(600);
    let w = world_with(&inv, now);
    let view = InvitationView::new(inv.clone(), failed(&inv, 2), now);
    let (mut work, mut run) = (fresh_work(now), run());
    let name = account(t0()).name;

    mail::retry(&w.env(), &view, name.clone(), &mut work, &mut run).unwrap();
    assert_eq!(w.store.stats().calls, 2);
    assert_eq!(run.report.mailed, 1);
    let job = &run.mails[0];
    assert_eq!(job.kind, MailKind::Retry);
    assert_ne!(job.invitation.token_hash, inv.token_hash);
    assert_eq!(job.token.hash(), job.invitation.token_hash);
    // Its link is written with the run's closing writes; the third attempt's
    // backoff (4 × base) decides the next look.
    assert_eq!(work.writes.len(), 1);
    let backoff = backoff_secs(w.policy.mail_retry_base_secs, 3);
    let at = now.plus_secs(backoff.max(w.policy.mail_check_delay_secs));
    assert_eq!(
        work.requeue,
        vec![(at, DueItem::Invitation(inv.id.clone()))]
    );

    // A second sweep that read the same state loses: no second mail.
    let mut other = fresh_work(now);
    mail::retry(&w.env(), &view, name, &mut other, &mut run).unwrap();
    assert_eq!(run.mails.len(), 1);
    assert_eq!(
        other.requeue,
        vec![(now, DueItem::Invitation(inv.id.clone()))]
    );
}

#[test]
fn remind_mails_once_with_a_new_link_and_tells_the_app() {
    let inv = invitation(t0());
    let now = inv.expires_at.plus_secs(-DAY);
    let w = world_with(&inv, now);
    let view = InvitationView::new(inv.clone(), sent(&inv), now);
    let (mut work, mut run) = (fresh_work(now), run());
    let name = account(t0()).name;

    remind::remind(&w.env(), &view, name.clone(), &mut work, &mut run).unwrap();
    assert_eq!(w.store.stats().calls, 2);
    assert_eq!(run.report.reminded, 1);
    assert_eq!(run.mails[0].kind, MailKind::Reminder);
    assert_eq!(run.events[0].kind.as_str(), "invitation.expiring");
    let check = now.plus_secs(w.policy.mail_check_delay_secs);
    assert_eq!(
        work.requeue,
        vec![(check, DueItem::Invitation(inv.id.clone()))]
    );

    // The record changed since this view was read: looked at again, no mail.
    let mut again = fresh_work(now);
    remind::remind(&w.env(), &view, name, &mut again, &mut run).unwrap();
    assert_eq!((run.report.reminded, run.mails.len()), (1, 1));
    assert_eq!(
        again.requeue,
        vec![(now, DueItem::Invitation(inv.id.clone()))]
    );
}

#[test]
fn an_unreachable_draft_is_deleted_with_its_handed_over_link_in_no_round_trip() {
    let mut inv = invitation(t0());
    inv.seat_taken = false;
    inv.link_delivery = LinkDelivery::Caller;
    inv.log_position = 7;
    let now = t0().plus_secs(UNCLAIMED_GRACE_SECS);
    let w = world_with(&inv, now);
    let mut work = fresh_work(now);

    purge::unreachable(&w.env(), &inv, &mut work).unwrap();
    assert_eq!(w.store.stats().calls, 0);
    let mut deletes = work.deletes.clone();
    deletes.sort();
    let mut want = vec![
        keys::token(&inv.token_hash),
        keys::invitation(&inv.id),
        keys::delivery(&inv.id),
        keys::invitation_log(&inv.account_id, 7),
    ];
    want.sort();
    assert_eq!(deletes, want);
}

#[test]
fn a_failed_step_is_counted_and_looked_at_again_now() {
    let now = t0();
    let mut work = fresh_work(now);
    let mut report = SweepReport::default();
    let item = DueItem::Invitation(invitation(now).id);
    work.failed(item.clone(), &mut report);
    assert_eq!(report.failed, 1);
    assert_eq!(work.requeue, vec![(now, item)]);
}
