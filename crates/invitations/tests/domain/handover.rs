//! Delivery by the caller (`delivery: none`): no mail goes out, the answer
//! holds the link once, the link works at once, the sweep never mails it
//! (no retry, no reminder), a resend rotates it, and the invitee's inbox
//! still shows it.

use crate::common::*;
use invitations::effects::EventKind;
use invitations::model::{DeliveryStatus, Status};
use invitations::ops::accept::accept_by_token;
use invitations::ops::inbox::my_invitations;
use invitations::ops::invite::InviteStatus;
use invitations::ops::list::get_invitation;
use invitations::ops::preview::preview;
use invitations::ops::sweep::sweep;
use invitations::values::LinkDelivery;

const DAY: i64 = 24 * 60 * 60;

#[test]
fn an_invite_the_caller_delivers_mails_nothing_and_its_links_work_at_once() {
    let w = World::new(41);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let mut req = request(&["ann@example.com", "ben@example.com"]);
    req.delivery = LinkDelivery::Caller;
    let out = invitations::ops::invite::invite(&w.env(), &owner, &acc, req).unwrap();
    assert!(out.mails.is_empty(), "no mail");
    assert_eq!(out.created(), 2);
    for r in &out.results {
        assert_eq!(r.status, InviteStatus::Created);
        let view = r.invitation.as_ref().unwrap();
        assert_eq!(view.delivery.status, DeliveryStatus::NotMailed);
        assert_eq!(view.invitation.link_delivery(), LinkDelivery::Caller);
    }
    for event in &out.events {
        assert_eq!(event.kind, EventKind::InvitationCreated);
    }
    // Before anything runs after the answer, the links open.
    let ann = out.results[0].link.clone().expect("a link to hand over");
    assert_eq!(
        preview(&w.env(), &ann).unwrap().email.as_str(),
        "ann@example.com"
    );
    let accepted = accept_by_token(&w.env(), &user("ann"), &ann).unwrap();
    assert_eq!(accepted.invitation.status, Status::Accepted);

    // After the answer: named in the invitee's inbox, nothing mailed.
    before_sending_leftovers(&w, &out);
    let inbox = my_invitations(&w.env(), &user("ben"), None, None).unwrap();
    assert_eq!(inbox.items.len(), 1);
    check_invariants(&w.store, w.now());
}

#[test]
fn the_sweep_never_mails_or_reminds_an_invitation_the_caller_delivers() {
    let w = World::new(42);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let mut req = request(&["ann@example.com"]);
    req.delivery = LinkDelivery::Caller;
    let out = invite(&w.env(), &owner, &acc, req).unwrap();
    let id = out.results[0]
        .invitation
        .as_ref()
        .unwrap()
        .invitation
        .id()
        .clone();
    let mut mailed = 0;
    let mut expired = 0;
    // Past every mail check, the reminder window and the expiry.
    for _ in 0..31 {
        w.advance(DAY);
        loop {
            let run = sweep(&w.env()).unwrap();
            mailed += run.mails.len() + run.report.reminded;
            expired += run.report.expired;
            if !run.report.more {
                break;
            }
        }
    }
    assert_eq!(mailed, 0, "nothing mailed, no reminder");
    assert_eq!(expired, 1);
    let view = get_invitation(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(view.status, Status::Expired);
    assert_eq!(view.delivery.status, DeliveryStatus::NotMailed);
}

#[test]
fn a_resend_the_caller_delivers_rotates_the_link_and_a_mailed_one_mails_again() {
    let w = World::new(43);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    let out = w.invite(&owner, &acc, &["ann@example.com"]).unwrap();
    all_sent(&w, &out.mails);
    let (id, first) = (
        out.mails[0].invitation.id().clone(),
        out.mails[0].token.clone(),
    );
    let resent =
        invitations::ops::resend::resend(&w.env(), &owner, &acc, &id, LinkDelivery::Caller)
            .unwrap();
    assert!(resent.mail.is_none(), "no mail");
    assert_eq!(resent.invitation.delivery.status, DeliveryStatus::NotMailed);
    let link = resent.link.clone().expect("the new link, once");
    // The new link works before anything runs after the answer; the old one no longer does.
    assert!(preview(&w.env(), &first).is_err());
    assert_eq!(
        preview(&w.env(), &link).unwrap().email.as_str(),
        "ann@example.com"
    );
    invitations::ops::deliveries::before_sending(&w.env(), &[], &resent.leftovers).unwrap();
    // Listed as it reads: no longer as the mail that went out before.
    let read = get_invitation(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(read.delivery.status, DeliveryStatus::NotMailed);
    assert_eq!(first_page(&w, &owner, &acc)[0].delivery, read.delivery);
    // Mailed once before: its inbox entry stays the only one.
    let inbox = my_invitations(&w.env(), &user("ann"), None, None).unwrap();
    assert_eq!(inbox.items.len(), 1);

    // Resent by mail again, after the cooldown: mailed, and shown so.
    w.advance(3600);
    let again = resend(&w.env(), &owner, &acc, &id).unwrap();
    assert!(again.link.is_none());
    let job = again.mail.expect("mailed");
    assert_eq!(job.invitation.link_delivery(), LinkDelivery::Mail);
    assert!(
        preview(&w.env(), &link).is_err(),
        "the handed-over link is retired"
    );
    assert!(accept_by_token(&w.env(), &user("ann"), &job.token).is_ok());
    check_invariants(&w.store, w.now());
}

/// What the edge does after an invite's answer, with nothing to mail.
fn before_sending_leftovers(w: &World, out: &invitations::ops::invite::Invited) {
    invitations::ops::deliveries::before_sending(&w.env(), &out.mails, &out.leftovers).unwrap();
}
