//! Reminders before expiry: one per expiry, `reminder_days` before it, off
//! the due queue; not for short invitations, not after a resend in the window.

use crate::common::*;
use invitations::effects::{EventKind, MailKind};
use invitations::ids::{AccountId, InvitationId};
use invitations::ops::accept::accept_by_token;
use invitations::ops::accounts::{update_account, AccountPatch};
use invitations::ops::deliveries::record_deliveries;
use invitations::ops::sweep::{sweep, SweepRun};
use invitations::principal::Principal;
use invitations::token::InvitationToken;
use invitations::values::{ReminderDays, Ttl};

const DAY: i64 = 24 * 60 * 60;

/// One invitation of `ttl_days`, its mail recorded as sent.
fn invited(
    w: &World,
    owner: &Principal,
    acc: &AccountId,
    ttl_days: i64,
) -> (InvitationId, InvitationToken) {
    let mut req = request(&["bob@example.com"]);
    req.ttl = Some(Ttl::from_secs(ttl_days * DAY).unwrap());
    let out = invite(&w.env(), owner, acc, req).unwrap();
    let job = out.mails.into_iter().next().unwrap();
    record_deliveries(&w.env(), &[(job.invitation.clone(), Ok(None))]).unwrap();
    (job.invitation.id().clone(), job.token)
}

/// Sweeps until done; the reminder mails and `invitation.expiring` events.
fn sweep_all(w: &World) -> (Vec<MailKind>, usize) {
    let (mut kinds, mut expiring) = (Vec::new(), 0);
    for _ in 0..100 {
        let run: SweepRun = sweep(&w.env()).unwrap();
        kinds.extend(run.mails.iter().map(|m| m.kind));
        expiring += run
            .events
            .iter()
            .filter(|e| e.kind == EventKind::InvitationExpiring)
            .count();
        // What the edge does: record the sends.
        all_sent(w, &run.mails);
        if !run.report.more {
            return (kinds, expiring);
        }
    }
    panic!("the sweep never finished");
}

#[test]
fn one_reminder_three_days_before_with_a_new_link_and_the_old_one_still_good() {
    let w = World::new(1);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let (_, first_link) = invited(&w, &owner, &acc, 30);
    // Looked at for the mail, then nothing until 3 days before expiry.
    w.advance(26 * DAY);
    assert_eq!(sweep_all(&w), (vec![], 0));
    w.advance(DAY + 300);
    let run = sweep(&w.env()).unwrap();
    assert_eq!(run.report.reminded, 1);
    assert_eq!(run.mails[0].kind, MailKind::Reminder);
    assert_eq!(run.events[0].kind, EventKind::InvitationExpiring);
    let reminder_link = run.mails[0].token.clone();
    all_sent(&w, &run.mails);
    // Never twice for the same expiry.
    w.advance(DAY);
    assert_eq!(sweep_all(&w), (vec![], 0));
    // The reminder's link opens it, and so would the first mail's.
    invitations::ops::preview::preview(&w.env(), &first_link).unwrap();
    accept_by_token(&w.env(), &user("bob"), &reminder_link).unwrap();
}

#[test]
fn no_reminder_when_off_short_or_resent_in_the_window() {
    // Off for the account.
    let w = World::new(2);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let off = AccountPatch {
        reminder_days: Some(ReminderDays::parse(0).unwrap()),
        ..Default::default()
    };
    update_account(&w.env(), &owner, &acc, off).unwrap();
    invited(&w, &owner, &acc, 30);
    w.advance(31 * DAY);
    let (kinds, expiring) = sweep_all(&w);
    assert!(!kinds.contains(&MailKind::Reminder) && expiring == 0);

    // Shorter than twice the window: 5 days < 2 × 3.
    let w = World::new(3);
    let acc = w.create_account(&owner);
    invited(&w, &owner, &acc, 5);
    w.advance(6 * DAY);
    assert_eq!(sweep_all(&w).1, 0);

    // Exactly twice the window gets one.
    let w = World::new(4);
    let acc = w.create_account(&owner);
    invited(&w, &owner, &acc, 6);
    w.advance(3 * DAY + 300);
    assert_eq!(sweep_all(&w).1, 1);

    // Resent within the window: that mail was the reminder, and it renewed
    // the clock, so the next reminder is 3 days before the new expiry.
    let w = World::new(5);
    let acc = w.create_account(&owner);
    let (id, _) = invited(&w, &owner, &acc, 10);
    w.advance(8 * DAY);
    resend(&w.env(), &owner, &acc, &id).unwrap();
    w.advance(300);
    let (kinds, expiring) = sweep_all(&w);
    assert!(!kinds.contains(&MailKind::Reminder), "{kinds:?}");
    assert_eq!(expiring, 0);
    w.advance(6 * DAY);
    assert_eq!(sweep_all(&w).1, 0);
    w.advance(DAY);
    assert_eq!(sweep_all(&w).1, 1);
}

#[test]
fn an_account_can_choose_its_window() {
    let w = World::new(6);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let seven = AccountPatch {
        reminder_days: Some(ReminderDays::parse(7).unwrap()),
        ..Default::default()
    };
    let account = update_account(&w.env(), &owner, &acc, seven).unwrap();
    assert_eq!(account.account.reminder_days.get(), 7);
    invited(&w, &owner, &acc, 20);
    w.advance(12 * DAY);
    assert_eq!(sweep_all(&w).1, 0);
    w.advance(DAY + 300);
    assert_eq!(sweep_all(&w).1, 1);
    assert!(ReminderDays::parse(16).is_err() && ReminderDays::parse(-1).is_err());
}
