//! Every rule and every error code, one operation at a time.

use crate::common::*;
use invitations::cursor::Cursor;
use invitations::effects::Subject;
use invitations::email::{Domain, Email};
use invitations::error::{Error, Kind};
use invitations::ids::{InvitationId, UserId};
use invitations::model::{DeliveryStatus, State, Status};
use invitations::ops::accept::{accept_by_id, accept_by_token, accept_for_account};
use invitations::ops::accounts::{get_account, update_account, AccountPatch};
use invitations::ops::cancel::cancel;
use invitations::ops::decline::{decline_by_id, decline_by_token, decline_for_account};
use invitations::ops::deliveries::record_deliveries;
use invitations::ops::inbox::my_invitations;
use invitations::ops::invite::InviteStatus;
use invitations::ops::list::{get_invitation, list_invitations, InvitationFilter};
use invitations::ops::members::{get_member, list_members, remove_member};
use invitations::ops::preview::preview;
use invitations::ops::update_member::{update_member, MemberPatch};

use invitations::token::InvitationToken;
use invitations::values::{InviteRole, LinkDelivery, Role, Ttl};
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
    assert_eq!(
        account.account.owners,
        vec![UserId::parse("owner").unwrap()]
    );
    assert_eq!(account.account.default_ttl, Ttl::MAX);
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
    assert_eq!(a.account.allowed_domains.len(), 1);
    assert_eq!(a.account.default_ttl.secs(), 7 * DAY);
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
    let old = early.mail.unwrap().token;
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
    assert!(accept_by_token(&w.env(), &user("bob"), &r.mail.as_ref().unwrap().token).is_ok());
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
    assert!(accept_by_token(&w.env(), &user("bob"), &r.mail.as_ref().unwrap().token).is_ok());
    check_invariants(&w.store, w.now());
}

#[test]
fn listing_pages_filters_and_refuses_foreign_cursors() {
    let (w, owner, acc) = setup();
    let emails: Vec<String> = (0..25).map(|i| format!("p{i}@example.com")).collect();
    let refs: Vec<&str> = emails.iter().map(|s| s.as_str()).collect();
    let out = w.invite(&owner, &acc, &refs).unwrap();
    cancel(&w.env(), &owner, &acc, out.mails[0].invitation.id()).unwrap();

    let seen: Vec<String> = list_all(&w, &owner, &acc, 10)
        .into_iter()
        .map(|v| v.invitation.email().to_string())
        .collect();
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
        (out.mails[0].invitation.clone(), Ok(None)),
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

#[test]
fn declining_by_link_is_final_and_frees_the_address() {
    let (w, owner, acc) = setup();
    let (id, token) = w.invite_one(&owner, &acc, "bob@example.com");
    let declined = decline_by_token(&w.env(), &token).unwrap();
    assert_eq!(declined.invitation.status, Status::Declined);
    assert_eq!(declined.events.len(), 1);
    assert_eq!(declined.events[0].kind.as_str(), "invitation.declined");
    assert!(matches!(
        declined.invitation.invitation.state(),
        State::Declined {
            declined_by: None,
            ..
        }
    ));

    // Declining again answers the same invitation, and tells nobody twice.
    let again = decline_by_token(&w.env(), &token).unwrap();
    assert_eq!(
        again.invitation.invitation.state(),
        declined.invitation.invitation.state()
    );
    assert!(again.events.is_empty());

    // Its link opens nothing more; it is listed as declined; nobody can renew it.
    assert_eq!(
        accept_by_token(&w.env(), &user("bob"), &token).unwrap_err(),
        Error::InvitationDeclined
    );
    assert_eq!(Error::InvitationDeclined.code(), "invitation_declined");
    assert_eq!(Error::InvitationDeclined.kind(), Kind::Gone);
    assert_eq!(preview(&w.env(), &token).unwrap().status, Status::Declined);
    assert_eq!(
        cancel(&w.env(), &owner, &acc, &id).unwrap_err(),
        Error::InvitationNotPending
    );
    assert_eq!(
        invitations::ops::resend::resend(&w.env(), &owner, &acc, &id, LinkDelivery::Mail)
            .unwrap_err(),
        Error::InvitationNotPending
    );
    let filter = InvitationFilter {
        status: Some(Status::Declined),
        email: None,
    };
    let page = list_invitations(&w.env(), &owner, &acc, &filter, None, None).unwrap();
    assert_eq!(page.items.len(), 1);

    // The address is free: a new invitation goes out.
    let (again_id, _) = w.invite_one(&owner, &acc, "bob@example.com");
    assert_ne!(again_id, id);
    check_invariants(&w.store, w.now());
}

#[test]
fn only_a_pending_invitation_can_be_declined() {
    let (w, owner, acc) = setup();
    let (_, accepted) = w.invite_one(&owner, &acc, "bob@example.com");
    accept_by_token(&w.env(), &user("bob"), &accepted).unwrap();
    let (cancelled_id, cancelled) = w.invite_one(&owner, &acc, "carol@example.com");
    cancel(&w.env(), &owner, &acc, &cancelled_id).unwrap();
    let (_, expired) = w.invite_one(&owner, &acc, "dave@example.com");
    w.advance(Ttl::MAX.secs());
    for (token, error) in [
        (&accepted, Error::InvitationAlreadyAccepted),
        (&cancelled, Error::InvitationCancelled),
        (&expired, Error::InvitationExpired),
    ] {
        assert_eq!(decline_by_token(&w.env(), token).unwrap_err(), error);
    }
    let stranger = InvitationToken::generate(&SeededRandom::new(99));
    assert_eq!(
        decline_by_token(&w.env(), &stranger).unwrap_err(),
        Error::InvitationNotFound
    );
}

#[test]
fn signed_in_the_invited_address_declines_by_account() {
    let (w, owner, acc) = setup();
    let (id, _) = w.invite_one(&owner, &acc, "bob@example.com");
    let unverified = user_with("bob", "bob@example.com", false);
    assert_eq!(
        decline_for_account(&w.env(), &unverified, &acc).unwrap_err(),
        Error::EmailMismatch
    );
    assert_eq!(
        decline_for_account(&w.env(), &user("carol"), &acc).unwrap_err(),
        Error::InvitationNotFound
    );
    assert!(matches!(
        decline_for_account(&w.env(), &service(), &acc).unwrap_err(),
        Error::Forbidden(_)
    ));
    let declined = decline_for_account(&w.env(), &user("bob"), &acc).unwrap();
    assert_eq!(declined.invitation.invitation.id(), &id);
    assert_eq!(declined.account_name.as_str(), "Acme");
    assert!(matches!(
        declined.invitation.invitation.state(),
        State::Declined { declined_by: Some(u), .. } if u.as_str() == "bob"
    ));
    // Nothing is left to accept.
    assert_eq!(
        accept_for_account(&w.env(), &user("bob"), &acc).unwrap_err(),
        Error::InvitationDeclined
    );
}

/// Invites `email` and records its mail as sent: that is when the
/// invitation is named in the address's inbox.
fn invite_mailed(
    w: &World,
    by: &invitations::principal::Principal,
    acc: &invitations::ids::AccountId,
    email: &str,
) -> (InvitationId, InvitationToken) {
    let out = w.invite(by, acc, &[email]).unwrap();
    let job = out.mails.into_iter().next().unwrap();
    record_deliveries(&w.env(), &[(job.invitation.clone(), Ok(None))]).unwrap();
    (job.invitation.id().clone(), job.token)
}

#[test]
fn the_inbox_shows_open_invitations_across_accounts_newest_first() {
    let w = World::new(3);
    let owners: Vec<_> = ["ann", "ben", "cat", "dan"].map(user).into_iter().collect();
    let accounts: Vec<_> = owners.iter().map(|o| w.create_account(o)).collect();
    let mut ids = Vec::new();
    for (o, acc) in owners.iter().zip(&accounts) {
        ids.push(invite_mailed(&w, o, acc, "bob@example.com"));
        w.advance(1);
    }
    // Invited but its mail not yet out: not named yet.
    let zed = user("zed");
    let zed_acc = w.create_account(&zed);
    w.invite_one(&zed, &zed_acc, "bob@example.com");
    let bob = user("bob");
    let page = my_invitations(&w.env(), &bob, None, None).unwrap();
    let listed: Vec<_> = page
        .items
        .iter()
        .map(|i| i.invitation.id().clone())
        .collect();
    let newest_first: Vec<_> = ids.iter().rev().map(|(id, _)| id.clone()).collect();
    assert_eq!(listed, newest_first);
    assert!(page.next_cursor.is_none());
    assert_eq!(page.items[0].account_name.as_str(), "Acme");
    assert_eq!(page.items[0].invitation.account_id(), &accounts[3]);

    // Only open ones: accepted, declined and cancelled drop out.
    accept_by_token(&w.env(), &bob, &ids[0].1).unwrap();
    decline_by_token(&w.env(), &ids[1].1).unwrap();
    cancel(&w.env(), &owners[2], &accounts[2], &ids[2].0).unwrap();
    let page = my_invitations(&w.env(), &bob, None, None).unwrap();
    let listed: Vec<_> = page
        .items
        .iter()
        .map(|i| i.invitation.id().clone())
        .collect();
    assert_eq!(listed, vec![ids[3].0.clone()]);

    // Someone else's inbox is their own; an unverified address shows nothing.
    assert!(my_invitations(&w.env(), &user("carol"), None, None)
        .unwrap()
        .items
        .is_empty());
    let unverified = user_with("bob", "bob@example.com", false);
    assert_eq!(
        my_invitations(&w.env(), &unverified, None, None).unwrap_err(),
        Error::EmailUnverified
    );
    assert_eq!(Error::EmailUnverified.code(), "email_unverified");
    assert_eq!(Error::EmailUnverified.kind(), Kind::Forbidden);
    assert!(matches!(
        my_invitations(&w.env(), &service(), None, None).unwrap_err(),
        Error::Forbidden(_)
    ));
}

#[test]
fn the_inbox_pages_and_answers_by_invitation_id() {
    let w = World::new(4);
    let bob = user("bob");
    let mut ids = Vec::new();
    for i in 0..5 {
        let owner = user(&format!("owner{i}"));
        let acc = w.create_account(&owner);
        ids.push(invite_mailed(&w, &owner, &acc, "bob@example.com").0);
    }
    let first = my_invitations(&w.env(), &bob, Some(2), None).unwrap();
    assert_eq!(first.items.len(), 2);
    let second = my_invitations(&w.env(), &bob, Some(2), first.next_cursor.clone()).unwrap();
    let third = my_invitations(&w.env(), &bob, Some(2), second.next_cursor.clone()).unwrap();
    assert!(third.next_cursor.is_none());
    let all: Vec<_> = [first, second, third]
        .iter()
        .flat_map(|p| p.items.iter().map(|i| i.invitation.id().clone()))
        .collect();
    assert_eq!(all, ids.iter().rev().cloned().collect::<Vec<_>>());

    // From the inbox, by id: only the invited address may answer.
    assert_eq!(
        accept_by_id(&w.env(), &user("eve"), &ids[0]).unwrap_err(),
        Error::EmailMismatch
    );
    assert_eq!(
        decline_by_id(&w.env(), &user("eve"), &ids[0]).unwrap_err(),
        Error::EmailMismatch
    );
    let accepted = accept_by_id(&w.env(), &bob, &ids[0]).unwrap();
    assert_eq!(accepted.invitation.status, Status::Accepted);
    let declined = decline_by_id(&w.env(), &bob, &ids[1]).unwrap();
    assert_eq!(declined.invitation.status, Status::Declined);
    assert_eq!(
        decline_by_id(&w.env(), &bob, &ids[0]).unwrap_err(),
        Error::InvitationAlreadyAccepted
    );
    let missing = InvitationId::generate(&SeededRandom::new(77));
    assert_eq!(
        accept_by_id(&w.env(), &bob, &missing).unwrap_err(),
        Error::InvitationNotFound
    );
    assert_eq!(
        my_invitations(&w.env(), &bob, None, None)
            .unwrap()
            .items
            .len(),
        3
    );
}

fn uid(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn patch(role: Option<Role>, groups: Option<&[&str]>) -> MemberPatch {
    MemberPatch {
        role,
        access_groups: groups.map(|g| invitations::values::AccessGroups::parse(g).unwrap()),
    }
}

#[test]
fn who_may_change_whom() {
    let (w, owner, acc) = setup();
    let ann = admin(&w, &owner, &acc, "ann");
    member(&w, &owner, &acc, "ben");
    let cat = member(&w, &owner, &acc, "cat");

    // An admin changes members' groups and roles, up to admin and back.
    let up = update_member(
        &w.env(),
        &ann,
        &acc,
        &uid("ben"),
        patch(None, Some(&["ops"])),
    )
    .unwrap();
    assert_eq!(up.member.access_groups.as_slice(), ["ops"]);
    assert_eq!(up.events.len(), 1);
    assert_eq!(up.events[0].kind.as_str(), "member.updated");
    match &up.events[0].subject {
        Subject::MemberChanged(m, before) => {
            assert_eq!(m.access_groups.as_slice(), ["ops"]);
            assert_eq!(before.access_groups.as_slice(), ["eng"]);
            assert_eq!(before.role, Role::Member);
        }
        other => panic!("{other:?}"),
    }
    let up = update_member(
        &w.env(),
        &ann,
        &acc,
        &uid("ben"),
        patch(Some(Role::Admin), None),
    )
    .unwrap();
    assert_eq!(up.member.role, Role::Admin);
    update_member(
        &w.env(),
        &ann,
        &acc,
        &uid("ben"),
        patch(Some(Role::Member), None),
    )
    .unwrap();
    // Nothing to change: nothing written, nobody told.
    let same = update_member(
        &w.env(),
        &ann,
        &acc,
        &uid("ben"),
        patch(Some(Role::Member), None),
    )
    .unwrap();
    assert!(same.events.is_empty());

    // But not to or from owner.
    for (who, p) in [
        ("ben", patch(Some(Role::Owner), None)),
        ("owner", patch(None, Some(&["x"]))),
        ("owner", patch(Some(Role::Admin), None)),
    ] {
        assert!(
            matches!(
                update_member(&w.env(), &ann, &acc, &uid(who), p).unwrap_err(),
                Error::Forbidden(_)
            ),
            "{who}"
        );
    }
    // Members and services change no one; nobody changes a stranger.
    assert!(matches!(
        update_member(&w.env(), &cat, &acc, &uid("ben"), patch(None, Some(&[]))).unwrap_err(),
        Error::Forbidden(_)
    ));
    assert!(matches!(
        update_member(
            &w.env(),
            &service(),
            &acc,
            &uid("ben"),
            patch(None, Some(&[]))
        )
        .unwrap_err(),
        Error::Forbidden(_)
    ));
    assert_eq!(
        update_member(&w.env(), &owner, &acc, &uid("zed"), patch(None, Some(&[]))).unwrap_err(),
        Error::MemberNotFound
    );

    // Ownership moves: the owner makes ben an owner, then steps down; ben,
    // now the only owner, cannot.
    update_member(
        &w.env(),
        &owner,
        &acc,
        &uid("ben"),
        patch(Some(Role::Owner), None),
    )
    .unwrap();
    let ben = user("ben");
    assert_eq!(
        get_account(&w.env(), &ben, &acc)
            .unwrap()
            .account
            .owners
            .len(),
        2
    );
    update_member(
        &w.env(),
        &owner,
        &acc,
        &uid("owner"),
        patch(Some(Role::Admin), None),
    )
    .unwrap();
    assert_eq!(
        update_member(
            &w.env(),
            &ben,
            &acc,
            &uid("ben"),
            patch(Some(Role::Member), None)
        )
        .unwrap_err(),
        Error::LastOwner
    );
    let account = get_account(&w.env(), &ben, &acc).unwrap();
    assert_eq!(account.account.owners, vec![uid("ben")]);
    assert_eq!(
        get_member(&w.env(), &ben, &acc, &uid("owner"))
            .unwrap()
            .role,
        Role::Admin
    );
    assert_eq!(
        get_member(&w.env(), &ben, &acc, &uid("ben")).unwrap().role,
        Role::Owner
    );
}

#[test]
fn a_member_may_leave_unless_they_are_the_last_owner() {
    let (w, owner, acc) = setup();
    let ben = member(&w, &owner, &acc, "ben");
    let events = remove_member(&w.env(), &ben, &acc, &uid("ben")).unwrap();
    match &events[0].subject {
        Subject::Member(m) => {
            let r = m.removed.as_ref().unwrap();
            assert!(r.left);
            assert_eq!(r.removed_by, uid("ben"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        get_member(&w.env(), &owner, &acc, &uid("ben")).unwrap_err(),
        Error::MemberNotFound
    );
    // Removed by an admin: not left.
    let ann = admin(&w, &owner, &acc, "ann");
    member(&w, &owner, &acc, "cat");
    let events = remove_member(&w.env(), &ann, &acc, &uid("cat")).unwrap();
    match &events[0].subject {
        Subject::Member(m) => assert!(!m.removed.as_ref().unwrap().left),
        other => panic!("{other:?}"),
    }
    // The last owner cannot leave; once there is another, they can.
    assert_eq!(
        remove_member(&w.env(), &owner, &acc, &uid("owner")).unwrap_err(),
        Error::LastOwner
    );
    update_member(
        &w.env(),
        &owner,
        &acc,
        &uid("ann"),
        patch(Some(Role::Owner), None),
    )
    .unwrap();
    remove_member(&w.env(), &owner, &acc, &uid("owner")).unwrap();
    let ann_view = get_account(&w.env(), &ann, &acc).unwrap();
    assert_eq!(ann_view.account.owners, vec![uid("ann")]);
}
