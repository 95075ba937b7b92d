//! A provider's news about a mail: a permanent bounce or a complaint stops
//! all mail to the invitation unasked and is told as `invitation.bounced`;
//! a delivery report moves `sent` to `delivered`; a transient bounce is only
//! noted; replays, older mails and unknown ids change nothing.

use crate::common::*;
use invitations::effects::{EventKind, MailKind};
use invitations::ids::{AccountId, InvitationId};
use invitations::model::{DeliveryStatus, Heard, MailNoteKind};
use invitations::ops::deliveries::record_deliveries;
use invitations::ops::list::get_invitation;
use invitations::ops::mail_events::{hear, Hearing, MailEvent};
use invitations::ops::sweep::sweep;
use invitations::principal::Principal;
use invitations::values::MessageId;

const DAY: i64 = 24 * 60 * 60;

fn message(id: &str) -> MessageId {
    MessageId::parse(id).unwrap()
}

/// One invitation whose mail went out as `msg`.
fn mailed(w: &World, msg: &str) -> (Principal, AccountId, InvitationId) {
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let out = w.invite(&owner, &acc, &["bob@example.com"]).unwrap();
    let job = &out.mails[0];
    let sent = [(job.invitation.clone(), Ok(Some(message(msg))))];
    record_deliveries(&w.env(), &sent).unwrap();
    (owner, acc, job.invitation.id().clone())
}

fn event(id: &str, msg: &str, kind: MailNoteKind) -> MailEvent {
    MailEvent {
        id: id.to_owned(),
        message: message(msg),
        kind,
        detail: Some("mailbox does not exist".to_owned()),
    }
}

/// Every mail kind the sweep sends until `days` from now.
fn mails_over(w: &World, days: i64) -> Vec<MailKind> {
    let mut kinds = Vec::new();
    for _ in 0..days * 4 {
        w.advance(DAY / 4);
        let run = sweep(&w.env()).unwrap();
        kinds.extend(run.mails.iter().map(|m| m.kind));
        all_sent(w, &run.mails);
    }
    kinds
}

#[test]
fn a_permanent_bounce_marks_the_invitation_and_stops_its_mail() {
    let w = World::new(1);
    let (owner, acc, id) = mailed(&w, "msg-1");
    let heard = hear(&w.env(), event("evt-1", "msg-1", MailNoteKind::Bounced)).unwrap();
    let Hearing::Recorded { invitation, events } = heard else {
        panic!("not recorded: {heard:?}");
    };
    assert_eq!(invitation.invitation.id(), &id);
    assert_eq!(invitation.delivery.status, DeliveryStatus::Bounced);
    assert_eq!(
        invitation.delivery.last_error.as_deref(),
        Some("bounced: mailbox does not exist")
    );
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::InvitationBounced]
    );
    let read = get_invitation(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(read.delivery.status, DeliveryStatus::Bounced);
    // The list shows it too (its log entry's copy of the delivery).
    assert_eq!(first_page(&w, &owner, &acc)[0].delivery, read.delivery);
    // No reminder three days before expiry, no retry: nothing is mailed.
    assert_eq!(mails_over(&w, 29), vec![]);
}

#[test]
fn the_same_address_unbounced_is_reminded() {
    // The control for the test above: the same invitation, delivered.
    let w = World::new(2);
    let (owner, acc, id) = mailed(&w, "msg-1");
    let heard = hear(&w.env(), event("evt-1", "msg-1", MailNoteKind::Delivered)).unwrap();
    assert!(matches!(heard, Hearing::Recorded { ref events, .. } if events.is_empty()));
    let read = get_invitation(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(read.delivery.status, DeliveryStatus::Delivered);
    assert_eq!(mails_over(&w, 29), vec![MailKind::Reminder]);
}

#[test]
fn a_complaint_stops_mail_and_a_later_bounce_report_keeps_it_a_complaint() {
    let w = World::new(3);
    let (owner, acc, id) = mailed(&w, "msg-1");
    let heard = hear(&w.env(), event("e1", "msg-1", MailNoteKind::Complained)).unwrap();
    assert!(
        matches!(heard, Hearing::Recorded { ref events, .. } if events[0].kind == EventKind::InvitationBounced)
    );
    let heard = hear(&w.env(), event("e2", "msg-1", MailNoteKind::Bounced)).unwrap();
    assert!(matches!(heard, Hearing::Recorded { ref events, .. } if events.is_empty()));
    let read = get_invitation(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(read.delivery.status, DeliveryStatus::Complained);
}

#[test]
fn a_transient_bounce_is_noted_and_changes_nothing_else() {
    let w = World::new(4);
    let (owner, acc, id) = mailed(&w, "msg-1");
    let heard = hear(&w.env(), event("e1", "msg-1", MailNoteKind::SoftBounced)).unwrap();
    assert!(matches!(heard, Hearing::Recorded { ref events, .. } if events.is_empty()));
    let read = get_invitation(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(read.delivery.status, DeliveryStatus::Sent);
    assert_eq!(read.delivery.last_error, None);
    let note = read.delivery.last_event.unwrap();
    assert_eq!(note.kind, MailNoteKind::SoftBounced);
    assert_eq!(note.at, w.now(), "heard at the domain's clock");
    assert_eq!(note.detail.as_deref(), Some("mailbox does not exist"));
}

#[test]
fn replays_older_mails_and_unknown_ids_change_nothing() {
    let w = World::new(5);
    let (owner, acc, id) = mailed(&w, "msg-1");
    assert!(matches!(
        hear(&w.env(), event("e1", "msg-1", MailNoteKind::Delivered)).unwrap(),
        Hearing::Recorded { .. }
    ));
    let before = w.store.entries_with_prefix("v1/");
    // The same event again (a provider retrying it).
    assert_eq!(
        hear(&w.env(), event("e1", "msg-1", MailNoteKind::Delivered)).unwrap(),
        Hearing::Ignored(Heard::Duplicate)
    );
    // A mail nobody sent.
    assert_eq!(
        hear(&w.env(), event("e2", "msg-9", MailNoteKind::Bounced)).unwrap(),
        Hearing::UnknownMessage
    );
    assert_eq!(w.store.entries_with_prefix("v1/"), before);

    // Resent as msg-2: a bounce of msg-1, the older mail, is stale.
    w.advance(3600);
    let out = resend(&w.env(), &owner, &acc, &id).unwrap();
    let job = out.mail.unwrap();
    record_deliveries(
        &w.env(),
        &[(job.invitation.clone(), Ok(Some(message("msg-2"))))],
    )
    .unwrap();
    assert_eq!(
        hear(&w.env(), event("e3", "msg-1", MailNoteKind::Bounced)).unwrap(),
        Hearing::Ignored(Heard::Stale)
    );
    let read = get_invitation(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(read.delivery.status, DeliveryStatus::Sent);
    // About msg-2, it counts.
    let heard = hear(&w.env(), event("e4", "msg-2", MailNoteKind::Bounced)).unwrap();
    assert!(matches!(heard, Hearing::Recorded { ref events, .. } if events.len() == 1));
}

#[test]
fn the_purge_deletes_the_message_references() {
    let w = World::new(6);
    let (owner, acc, id) = mailed(&w, "msg-1");
    assert_eq!(w.store.entries_with_prefix("v1/msg/").len(), 1);
    invitations::ops::cancel::cancel(&w.env(), &owner, &acc, &id).unwrap();
    // Past the retention of a closed invitation (90 days).
    for _ in 0..4 {
        w.advance(30 * DAY);
        while sweep(&w.env()).unwrap().report.more {}
    }
    assert!(w.store.entries_with_prefix("v1/inv/").is_empty());
    assert!(w.store.entries_with_prefix("v1/msg/").is_empty());
    assert_eq!(
        hear(&w.env(), event("e1", "msg-1", MailNoteKind::Bounced)).unwrap(),
        Hearing::UnknownMessage
    );
}

#[test]
fn hearing_costs_what_the_round_trip_table_says() {
    let w = World::new(7);
    mailed(&w, "msg-1");
    let cost = |e: MailEvent| {
        w.store.reset_stats();
        hear(&w.env(), e).unwrap();
        let stats = w.store.stats();
        (stats.calls, stats.writes)
    };
    assert_eq!(cost(event("e1", "msg-1", MailNoteKind::Bounced)), (3, 1));
    assert_eq!(cost(event("e1", "msg-1", MailNoteKind::Bounced)), (2, 0));
    assert_eq!(cost(event("e2", "msg-2", MailNoteKind::Bounced)), (1, 0));
}
