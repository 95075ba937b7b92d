//! Every rule and every error code, one operation at a time.

mod common;

use common::*;
use invitations::cursor::Cursor;
use invitations::email::{Domain, Email};
use invitations::error::{Error, Kind};
use invitations::ids::{InvitationId, UserId};
use invitations::model::{DeliveryStatus, Status};
use invitations::ops::accept::{accept_by_token, accept_for_account};
use invitations::ops::accounts::{get_account, update_account, AccountPatch};
use invitations::ops::cancel::cancel;
use invitations::ops::deliveries::record_deliveries;
use invitations::ops::invite::InviteStatus;
use invitations::ops::list::{get_invitation, list_invitations, InvitationFilter};
use invitations::ops::members::{get_member, list_members, remove_member};
use invitations::ops::preview::preview;

use invitations::token::InvitationToken;
use invitations::values::{InviteRole, Role, Ttl};
use std::collections::HashSet;

const DAY: i64 = 24 * 60 * 60;

fn setup() -> (
    World,
    invitations::principal::Principal,
    invitations::ids::AccountId,
) {
    let w = World::new(1);
    let owner = user("owner");
    let acc = w.create_account(&owner);
    (w, owner, acc)
}

/// Makes `name` an admin of `acc` through an accepted invitation.
fn admin(
    w: &World,
    owner: &invitations::principal::Principal,
    acc: &invitations::ids::AccountId,
    name: &str,
) -> invitations::principal::Principal {
    let mut req = request(&[&format!("{name}@example.com")]);
    req.role = InviteRole::Admin;
    let out = invite(&w.env(), owner, acc, req).unwrap();
    let p = user(name);
    accept_by_token(&w.env(), &p, &out.mails[0].token).unwrap();
    p
}

fn member(
    w: &World,
    by: &invitations::principal::Principal,
    acc: &invitations::ids::AccountId,
    name: &str,
) -> invitations::principal::Principal {
    let (_, token) = w.invite_one(by, acc, &format!("{name}@example.com"));
    let p = user(name);
    accept_by_token(&w.env(), &p, &token).unwrap();
    p
}

#[test]
fn every_error_has_its_own_stable_code() {
    let all = [
        (
            Error::Validation(vec![]),
            "validation_failed",
            Kind::Invalid,
        ),
        (Error::InvalidCursor, "invalid_cursor", Kind::Invalid),
        (Error::Forbidden("x"), "forbidden", Kind::Forbidden),
        (Error::AccountNotFound, "account_not_found", Kind::NotFound),
        (
            Error::InvitationNotFound,
            "invitation_not_found",
            Kind::NotFound,
        ),
        (Error::MemberNotFound, "member_not_found", Kind::NotFound),
        (
            Error::NothingInvited,
            "nothing_invited",
            Kind::Unprocessable,
        ),
        (Error::AlreadyInvited, "already_invited", Kind::Conflict),
        (Error::AlreadyMember, "already_member", Kind::Conflict),
        (
            Error::InvitationNotPending,
            "invitation_not_pending",
            Kind::Conflict,
        ),
        (Error::InvitationExpired, "invitation_expired", Kind::Gone),
        (
            Error::InvitationCancelled,
            "invitation_cancelled",
            Kind::Gone,
        ),
        (
            Error::InvitationAlreadyAccepted,
            "invitation_already_accepted",
            Kind::Gone,
        ),
        (Error::EmailMismatch, "email_mismatch", Kind::Forbidden),
        (
            Error::DomainNotAllowed,
            "domain_not_allowed",
            Kind::Forbidden,
        ),
        (
            Error::ResendTooSoon {
                retry_after_secs: 5,
            },
            "rate_limited",
            Kind::RateLimited,
        ),
        (Error::LastOwner, "last_owner", Kind::Conflict),
        (
            Error::IdempotencyKeyReused,
            "idempotency_key_reused",
            Kind::Unprocessable,
        ),
        (
            Error::IdempotencyInProgress,
            "idempotency_in_progress",
            Kind::Conflict,
        ),
        (Error::Contended, "contended", Kind::Unavailable),
        (
            Error::StoreUnavailable("x".into()),
            "store_unavailable",
            Kind::Unavailable,
        ),
    ];
    let codes: HashSet<&str> = all.iter().map(|(e, _, _)| e.code()).collect();
    assert_eq!(codes.len(), all.len(), "codes must be unique");
    for (e, code, kind) in &all {
        assert_eq!(e.code(), *code);
        assert_eq!(e.kind(), *kind, "{code}");
    }
    assert_eq!(
        Error::ResendTooSoon {
            retry_after_secs: 5
        }
        .retry_after_secs(),
        Some(5)
    );
}

#[test]
fn creating_an_account_makes_the_caller_its_owner() {
    let (w, owner, acc) = setup();
    let account = get_account(&w.env(), &owner, &acc).unwrap();
    assert_eq!(account.owners, vec![UserId::parse("owner").unwrap()]);
    assert_eq!(account.default_ttl, Ttl::MAX);
    let me = get_member(&w.env(), &owner, &acc, &UserId::parse("owner").unwrap()).unwrap();
    assert_eq!(me.role, Role::Owner);
    assert!(matches!(
        invitations::ops::accounts::create_account(
            &w.env(),
            &service(),
            invitations::values::AccountName::parse("X").unwrap()
        ),
        Err(Error::Forbidden(_))
    ));
    assert_eq!(
        get_account(&w.env(), &user("stranger"), &acc).unwrap_err(),
        Error::AccountNotFound
    );
    assert!(get_account(&w.env(), &service(), &acc).is_ok());
}

#[test]
fn settings_are_for_managers() {
    let (w, owner, acc) = setup();
    let m = member(&w, &owner, &acc, "mia");
    let patch = || AccountPatch {
        allowed_domains: Some(vec![
            Domain::parse("Example.com").unwrap(),
            Domain::parse("example.com").unwrap(),
        ]),
        default_ttl: Some(Ttl::from_secs(7 * DAY).unwrap()),
        ..Default::default()
    };
    assert!(matches!(
        update_account(&w.env(), &m, &acc, patch()),
        Err(Error::Forbidden(_))
    ));
    let a = update_account(&w.env(), &owner, &acc, patch()).unwrap();
    assert_eq!(a.allowed_domains.len(), 1);
    assert_eq!(a.default_ttl.secs(), 7 * DAY);
    let too_many = AccountPatch {
        allowed_domains: Some(
            (0..51)
                .map(|i| Domain::parse(&format!("d{i}.com")).unwrap())
                .collect(),
        ),
        ..Default::default()
    };
    assert!(matches!(
        update_account(&w.env(), &owner, &acc, too_many),
        Err(Error::Validation(_))
    ));
}

#[test]
fn bulk_invite_reports_each_address() {
    let (w, owner, acc) = setup();
    member(&w, &owner, &acc, "mia");
    w.invite_one(&owner, &acc, "pending@example.com");
    update_account(
        &w.env(),
        &owner,
        &acc,
        AccountPatch {
            allowed_domains: Some(vec![Domain::parse("example.com").unwrap()]),
            ..Default::default()
        },
    )
    .unwrap();
    let out = w
        .invite(
            &owner,
            &acc,
            &[
                "new@example.com",
                "NEW@example.com",
                "not an email",
                "x@other.org",
                "pending@example.com",
                "mia@example.com",
                "second@example.com",
            ],
        )
        .unwrap();
    let statuses: Vec<InviteStatus> = out.results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            InviteStatus::Created,
            InviteStatus::DuplicateInRequest,
            InviteStatus::InvalidEmail,
            InviteStatus::DomainNotAllowed,
            InviteStatus::AlreadyInvited,
            InviteStatus::AlreadyMember,
            InviteStatus::Created,
        ]
    );
    assert_eq!(out.mails.len(), 2);
    assert_eq!(out.events.len(), 2);
    assert_eq!(out.results[1].input, "NEW@example.com");
    let inv = &out.results[0].invitation.as_ref().unwrap().invitation;
    assert_eq!(inv.email().as_str(), "new@example.com");
    assert_eq!(inv.expires_at(), w.now().plus_secs(Ttl::MAX.secs()));

    let nothing = w.invite(&owner, &acc, &["new@example.com", "bad"]).unwrap();
    assert_eq!(nothing.created(), 0);
    check_invariants(&w.store, w.now());
}

#[test]
fn invite_limits_and_permissions() {
    let (w, owner, acc) = setup();
    let many: Vec<String> = (0..101).map(|i| format!("u{i}@example.com")).collect();
    let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
    assert!(matches!(
        w.invite(&owner, &acc, &many),
        Err(Error::Validation(_))
    ));
    assert_eq!(w.invite(&owner, &acc, &many[..100]).unwrap().created(), 100);
    assert!(matches!(
        w.invite(&owner, &acc, &[]),
        Err(Error::Validation(_))
    ));

    let m = member(&w, &owner, &acc, "mia");
    assert!(matches!(
        w.invite(&m, &acc, &["z@example.com"]),
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.invite(&service(), &acc, &["z@example.com"]),
        Err(Error::Forbidden(_))
    ));
    let other_owner = user("other");
    w.create_account(&other_owner);
    assert_eq!(
        w.invite(&other_owner, &acc, &["z@example.com"])
            .unwrap_err(),
        Error::AccountNotFound
    );

    update_account(
        &w.env(),
        &owner,
        &acc,
        AccountPatch {
            default_ttl: Some(Ttl::from_secs(DAY).unwrap()),
            ..Default::default()
        },
    )
    .unwrap();
    // Never longer than the account allows: a longer request is cut to its maximum.
    let mut req = request(&["z@example.com"]);
    req.ttl = Some(Ttl::from_secs(2 * DAY).unwrap());
    let out = invite(&w.env(), &owner, &acc, req).unwrap();
    assert_eq!(out.mails[0].invitation.expires_at(), w.now().plus_secs(DAY));
    let mut req = request(&["y@example.com"]);
    req.ttl = Some(Ttl::from_secs(60).unwrap());
    let out = invite(&w.env(), &owner, &acc, req).unwrap();
    assert_eq!(out.mails[0].invitation.expires_at(), w.now().plus_secs(60));
}

#[test]
fn admins_invite_and_other_admins_are_refused() {
    let (w, owner, acc) = setup();
    let a = admin(&w, &owner, &acc, "adam");
    assert_eq!(w.invite(&a, &acc, &["q@example.com"]).unwrap().created(), 1);
}

#[test]
fn accept_by_token_makes_a_member_once() {
    let (w, owner, acc) = setup();
    let (id, token) = w.invite_one(&owner, &acc, "bob@example.com");
    let bob = user("bob");
    let first = accept_by_token(&w.env(), &bob, &token).unwrap();
    assert_eq!(first.member.role, Role::Member);
    assert_eq!(first.member.access_groups.as_slice(), ["eng"]);
    assert_eq!(first.member.invitation_id.as_ref(), Some(&id));
    assert_eq!(first.invitation.status, Status::Accepted);
    assert_eq!(first.events.len(), 1);
    let again = accept_by_token(&w.env(), &bob, &token).unwrap();
    assert_eq!(again.member, first.member);
    assert!(again.events.is_empty());
    assert_eq!(
        accept_by_token(
            &w.env(),
            &user_with("bob2", "bob@example.com", true),
            &token
        )
        .unwrap_err(),
        Error::InvitationAlreadyAccepted
    );
    assert_eq!(active_members(&w.store, &acc).len(), 2);
}

#[test]
fn a_wrong_account_does_not_burn_the_invitation() {
    let (w, owner, acc) = setup();
    let (_, token) = w.invite_one(&owner, &acc, "bob@example.com");
    assert_eq!(
        accept_by_token(&w.env(), &user("eve"), &token).unwrap_err(),
        Error::EmailMismatch
    );
    let unverified = user_with("bob", "bob@example.com", false);
    assert_eq!(
        accept_by_token(&w.env(), &unverified, &token).unwrap_err(),
        Error::EmailMismatch
    );
    assert_eq!(preview(&w.env(), &token).unwrap().status, Status::Pending);
    assert!(accept_by_token(&w.env(), &user("bob"), &token).is_ok());
    assert!(matches!(
        accept_by_token(&w.env(), &service(), &token),
        Err(Error::Forbidden(_))
    ));
}

#[test]
fn unknown_expired_and_cancelled_links_say_what_happened() {
    let (w, owner, acc) = setup();
    let stranger = InvitationToken::generate(&SeededRandom::new(99));
    assert_eq!(
        preview(&w.env(), &stranger).unwrap_err(),
        Error::InvitationNotFound
    );
    assert_eq!(
        accept_by_token(&w.env(), &user("bob"), &stranger).unwrap_err(),
        Error::InvitationNotFound
    );

    let (id, token) = w.invite_one(&owner, &acc, "bob@example.com");
    cancel(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(
        accept_by_token(&w.env(), &user("bob"), &token).unwrap_err(),
        Error::InvitationCancelled
    );
    assert_eq!(preview(&w.env(), &token).unwrap().status, Status::Cancelled);

    let (_, token) = w.invite_one(&owner, &acc, "carol@example.com");
    w.advance(Ttl::MAX.secs());
    assert_eq!(preview(&w.env(), &token).unwrap().status, Status::Expired);
    assert_eq!(
        accept_by_token(&w.env(), &user("carol"), &token).unwrap_err(),
        Error::InvitationExpired
    );
}

#[test]
fn default_ttl_is_thirty_days_to_the_second() {
    let (w, owner, acc) = setup();
    let (id, _) = w.invite_one(&owner, &acc, "bob@example.com");
    w.advance(Ttl::MAX.secs() - 1);
    assert_eq!(
        get_invitation(&w.env(), &owner, &acc, &id).unwrap().status,
        Status::Pending
    );
    w.advance(1);
    let v = get_invitation(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(v.status, Status::Expired);
    assert_eq!(v.expired_at, Some(v.invitation.expires_at()));
}

#[test]
fn domain_restriction_is_checked_again_at_accept() {
    let (w, owner, acc) = setup();
    let (_, token) = w.invite_one(&owner, &acc, "bob@example.com");
    update_account(
        &w.env(),
        &owner,
        &acc,
        AccountPatch {
            allowed_domains: Some(vec![Domain::parse("corp.example").unwrap()]),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        accept_by_token(&w.env(), &user("bob"), &token).unwrap_err(),
        Error::DomainNotAllowed
    );
}

#[test]
fn accept_by_account_for_a_signed_in_invitee() {
    let (w, owner, acc) = setup();
    assert_eq!(
        accept_for_account(&w.env(), &user("bob"), &acc).unwrap_err(),
        Error::InvitationNotFound
    );
    w.invite_one(&owner, &acc, "bob@example.com");
    assert_eq!(
        accept_for_account(&w.env(), &user_with("bob", "bob@example.com", false), &acc)
            .unwrap_err(),
        Error::EmailMismatch
    );
    let done = accept_for_account(&w.env(), &user("bob"), &acc).unwrap();
    assert_eq!(done.member.user_id.as_str(), "bob");
    assert_eq!(
        accept_for_account(&w.env(), &user("bob"), &acc)
            .unwrap()
            .member,
        done.member
    );
}

#[test]
fn cancel_acts_on_pending_only() {
    let (w, owner, acc) = setup();
    let (id, _) = w.invite_one(&owner, &acc, "bob@example.com");
    let m = member(&w, &owner, &acc, "mia");
    assert!(matches!(
        cancel(&w.env(), &m, &acc, &id),
        Err(Error::Forbidden(_))
    ));
    let (view, events) = cancel(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(view.status, Status::Cancelled);
    assert_eq!(events[0].kind.as_str(), "invitation.cancelled");
    assert_eq!(
        cancel(&w.env(), &owner, &acc, &id).unwrap_err(),
        Error::InvitationNotPending
    );
    let (old, _) = w.invite_one(&owner, &acc, "carol@example.com");
    w.advance(Ttl::MAX.secs());
    assert_eq!(
        cancel(&w.env(), &owner, &acc, &old).unwrap_err(),
        Error::InvitationNotPending
    );
    let other = w.create_account(&user("olga"));
    assert_eq!(
        cancel(&w.env(), &user("olga"), &other, &old).unwrap_err(),
        Error::InvitationNotFound
    );
}

#[test]
fn reinvite_after_cancel_and_after_expiry() {
    let (w, owner, acc) = setup();
    let (id, _) = w.invite_one(&owner, &acc, "bob@example.com");
    assert_eq!(
        w.invite(&owner, &acc, &["bob@example.com"])
            .unwrap()
            .results[0]
            .status,
        InviteStatus::AlreadyInvited
    );
    cancel(&w.env(), &owner, &acc, &id).unwrap();
    let (second, _) = w.invite_one(&owner, &acc, "bob@example.com");
    w.advance(Ttl::MAX.secs());
    let (third, token) = w.invite_one(&owner, &acc, "bob@example.com");
    assert_ne!(second, third);
    // The expired one lost its address for good: it cannot be renewed now.
    w.advance(60);
    assert_eq!(
        resend(&w.env(), &owner, &acc, &second).unwrap_err(),
        Error::InvitationNotPending
    );
    assert!(accept_by_token(&w.env(), &user("bob"), &token).is_ok());
    check_invariants(&w.store, w.now());
}

#[test]
fn resend_rotates_the_token_restarts_the_clock_and_cools_down() {
    let (w, owner, acc) = setup();
    let (id, first) = w.invite_one(&owner, &acc, "bob@example.com");
    // The first resend may follow the invite at once; the next one waits.
    let early = resend(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(
        preview(&w.env(), &first).unwrap_err(),
        Error::InvitationNotFound
    );
    w.advance(20);
    match resend(&w.env(), &owner, &acc, &id) {
        Err(Error::ResendTooSoon { retry_after_secs }) => assert_eq!(retry_after_secs, 40),
        other => panic!("{other:?}"),
    }
    let old = early.mail.token;
    w.advance(3600);
    let r = resend(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(
        r.invitation.invitation.expires_at(),
        w.now().plus_secs(Ttl::MAX.secs())
    );
    assert_eq!(r.events[0].kind.as_str(), "invitation.resent");
    assert_eq!(
        preview(&w.env(), &old).unwrap_err(),
        Error::InvitationNotFound
    );
    assert_eq!(
        accept_by_token(&w.env(), &user("bob"), &old).unwrap_err(),
        Error::InvitationNotFound
    );
    assert!(accept_by_token(&w.env(), &user("bob"), &r.mail.token).is_ok());
    w.advance(3600);
    assert_eq!(
        resend(&w.env(), &owner, &acc, &id).unwrap_err(),
        Error::InvitationNotPending
    );
    let m = member(&w, &owner, &acc, "mia");
    let (other, _) = w.invite_one(&owner, &acc, "zed@example.com");
    w.advance(3600);
    assert!(matches!(
        resend(&w.env(), &m, &acc, &other),
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        resend(&w.env(), &service(), &acc, &other),
        Err(Error::Forbidden(_))
    ));
}

#[test]
fn resend_renews_an_expired_invitation() {
    let (w, owner, acc) = setup();
    let (id, _) = w.invite_one(&owner, &acc, "bob@example.com");
    w.advance(Ttl::MAX.secs() + 5);
    let r = resend(&w.env(), &owner, &acc, &id).unwrap();
    assert_eq!(r.invitation.status, Status::Pending);
    assert_eq!(
        w.invite(&owner, &acc, &["bob@example.com"])
            .unwrap()
            .results[0]
            .status,
        InviteStatus::AlreadyInvited
    );
    assert!(accept_by_token(&w.env(), &user("bob"), &r.mail.token).is_ok());
    check_invariants(&w.store, w.now());
}

#[test]
fn listing_pages_filters_and_refuses_foreign_cursors() {
    let (w, owner, acc) = setup();
    let emails: Vec<String> = (0..25).map(|i| format!("p{i}@example.com")).collect();
    let refs: Vec<&str> = emails.iter().map(|s| s.as_str()).collect();
    let out = w.invite(&owner, &acc, &refs).unwrap();
    cancel(&w.env(), &owner, &acc, out.mails[0].invitation.id()).unwrap();

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = list_invitations(
            &w.env(),
            &owner,
            &acc,
            &InvitationFilter::default(),
            Some(10),
            cursor,
        )
        .unwrap();
        assert!(page.items.len() <= 10);
        seen.extend(
            page.items
                .into_iter()
                .map(|v| v.invitation.email().to_string()),
        );
        match page.next_cursor {
            Some(c) => cursor = Some(Cursor::parse(&c.encode()).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0], "p24@example.com", "newest first");

    let cancelled = InvitationFilter {
        status: Some(Status::Cancelled),
        email: None,
    };
    let page = list_invitations(&w.env(), &owner, &acc, &cancelled, Some(100), None).unwrap();
    assert_eq!(page.items.len(), 1);
    let by_email = InvitationFilter {
        status: None,
        email: Some(Email::parse("P3@example.com").unwrap()),
    };
    let page = list_invitations(&w.env(), &owner, &acc, &by_email, None, None).unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].invitation.email().as_str(), "p3@example.com");
    assert_eq!(
        list_invitations(
            &w.env(),
            &owner,
            &acc,
            &by_email,
            None,
            Some(Cursor::Log(3))
        )
        .unwrap_err(),
        Error::InvalidCursor
    );
    let m = member(&w, &owner, &acc, "mia");
    assert!(matches!(
        list_invitations(&w.env(), &m, &acc, &InvitationFilter::default(), None, None),
        Err(Error::Forbidden(_))
    ));
    assert!(list_invitations(
        &w.env(),
        &service(),
        &acc,
        &InvitationFilter::default(),
        None,
        None
    )
    .is_ok());
    let missing = InvitationId::generate(&SeededRandom::new(5));
    assert_eq!(
        get_invitation(&w.env(), &owner, &acc, &missing).unwrap_err(),
        Error::InvitationNotFound
    );
}

#[test]
fn members_read_their_own_membership_only_and_owners_stay() {
    let (w, owner, acc) = setup();
    let a = admin(&w, &owner, &acc, "adam");
    let m = member(&w, &owner, &acc, "mia");
    let mia = UserId::parse("mia").unwrap();
    let adam = UserId::parse("adam").unwrap();
    let own = UserId::parse("owner").unwrap();
    assert_eq!(get_member(&w.env(), &m, &acc, &mia).unwrap().user_id, mia);
    assert!(matches!(
        get_member(&w.env(), &m, &acc, &adam),
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        list_members(&w.env(), &m, &acc, None, None),
        Err(Error::Forbidden(_))
    ));
    let page = list_members(&w.env(), &owner, &acc, Some(2), None).unwrap();
    assert_eq!(page.items.len(), 2);
    let rest = list_members(&w.env(), &owner, &acc, Some(2), page.next_cursor).unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_cursor.is_none());

    assert!(matches!(
        remove_member(&w.env(), &m, &acc, &adam),
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        remove_member(&w.env(), &service(), &acc, &mia),
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        remove_member(&w.env(), &a, &acc, &own),
        Err(Error::Forbidden(_))
    ));
    assert_eq!(
        remove_member(&w.env(), &owner, &acc, &own).unwrap_err(),
        Error::LastOwner
    );
    let events = remove_member(&w.env(), &a, &acc, &mia).unwrap();
    assert_eq!(events[0].kind.as_str(), "member.removed");
    assert_eq!(
        get_member(&w.env(), &owner, &acc, &mia).unwrap_err(),
        Error::MemberNotFound
    );
    assert_eq!(
        remove_member(&w.env(), &a, &acc, &mia).unwrap_err(),
        Error::MemberNotFound
    );
    assert_eq!(
        get_account(&w.env(), &m, &acc).unwrap_err(),
        Error::AccountNotFound
    );
    let page = list_members(&w.env(), &owner, &acc, None, None).unwrap();
    assert_eq!(page.items.len(), 2);
}

#[test]
fn a_removed_member_cannot_come_back_through_the_old_link() {
    let (w, owner, acc) = setup();
    let (_, token) = w.invite_one(&owner, &acc, "bob@example.com");
    let bob = user("bob");
    accept_by_token(&w.env(), &bob, &token).unwrap();
    remove_member(&w.env(), &owner, &acc, &UserId::parse("bob").unwrap()).unwrap();
    assert_eq!(
        accept_by_token(&w.env(), &bob, &token).unwrap_err(),
        Error::InvitationAlreadyAccepted
    );
    // A new invitation brings them back.
    let (_, token) = w.invite_one(&owner, &acc, "bob@example.com");
    assert!(accept_by_token(&w.env(), &bob, &token)
        .unwrap()
        .member
        .is_active());
    assert_eq!(
        list_members(&w.env(), &owner, &acc, None, None)
            .unwrap()
            .items
            .len(),
        2
    );
}

#[test]
fn deliveries_are_recorded_with_events() {
    let (w, owner, acc) = setup();
    let out = w
        .invite(&owner, &acc, &["a@example.com", "b@example.com"])
        .unwrap();
    let outcomes = vec![
        (out.mails[0].invitation.clone(), Ok(())),
        (
            out.mails[1].invitation.clone(),
            Err("provider said 503".into()),
        ),
    ];
    let events = record_deliveries(&w.env(), &outcomes).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["invitation.sent", "invitation.delivery_failed"]);
    let b = get_invitation(&w.env(), &owner, &acc, out.mails[1].invitation.id()).unwrap();
    assert_eq!(b.delivery.status, DeliveryStatus::Failed);
    assert_eq!(b.delivery.attempts, 1);
    assert_eq!(b.delivery.last_error.as_deref(), Some("provider said 503"));
    let a = get_invitation(&w.env(), &owner, &acc, out.mails[0].invitation.id()).unwrap();
    assert_eq!(
        (a.delivery.status, a.delivery.sent_count),
        (DeliveryStatus::Sent, 1)
    );
}

#[test]
fn idempotency_keys_replay_the_first_answer() {
    use invitations::ops::idempotency::{begin, complete, release, Begin, IdempotencyKey};
    let w = World::new(3);
    let key = IdempotencyKey::parse("k-1").unwrap();
    assert!(IdempotencyKey::parse("has space").is_err());
    let Begin::Proceed(claim) = begin(&w.env(), "alice", "POST /x", &key, b"body").unwrap() else {
        panic!()
    };
    assert_eq!(
        begin(&w.env(), "alice", "POST /x", &key, b"body").unwrap_err(),
        Error::IdempotencyInProgress
    );
    complete(&w.env(), claim, b"{\"answer\":1}").unwrap();
    match begin(&w.env(), "alice", "POST /x", &key, b"body").unwrap() {
        Begin::Replay(body) => assert_eq!(body, b"{\"answer\":1}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        begin(&w.env(), "alice", "POST /x", &key, b"other").unwrap_err(),
        Error::IdempotencyKeyReused
    );
    // Another caller's identical key is another key.
    let Begin::Proceed(claim) = begin(&w.env(), "bob", "POST /x", &key, b"body").unwrap() else {
        panic!()
    };
    release(&w.env(), claim).unwrap();
    assert!(matches!(
        begin(&w.env(), "bob", "POST /x", &key, b"body").unwrap(),
        Begin::Proceed(_)
    ));
    // Answers are forgotten by the sweep after a day.
    w.advance(DAY + 120);
    invitations::ops::sweep::sweep(&w.env()).unwrap();
    let left: Vec<String> = w
        .store
        .entries_with_prefix("v1/idem/")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(left.len(), 1, "only bob's open claim stays: {left:?}");
    assert!(left[0].contains("/claim/"));
}

#[test]
fn a_state_filter_fills_its_page_past_skipped_entries() {
    let (w, owner, acc) = setup();
    w.invite_one(&owner, &acc, "keep@example.com");
    // Lists are newest first to the millisecond.
    w.advance(1);
    for i in 0..5 {
        let (id, _) = w.invite_one(&owner, &acc, &format!("gone{i}@example.com"));
        cancel(&w.env(), &owner, &acc, &id).unwrap();
    }
    let pending = InvitationFilter {
        status: Some(Status::Pending),
        email: None,
    };
    let page = list_invitations(&w.env(), &owner, &acc, &pending, Some(1), None).unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0].invitation.email().as_str(),
        "keep@example.com"
    );
    assert!(page.next_cursor.is_none());
    let cancelled = InvitationFilter {
        status: Some(Status::Cancelled),
        email: None,
    };
    let page = list_invitations(&w.env(), &owner, &acc, &cancelled, Some(2), None).unwrap();
    assert_eq!(page.items.len(), 2);
    let rest = list_invitations(
        &w.env(),
        &owner,
        &acc,
        &cancelled,
        Some(10),
        page.next_cursor,
    )
    .unwrap();
    assert_eq!(
        rest.items.len(),
        3,
        "the next page resumes right after the last item shown"
    );
}
