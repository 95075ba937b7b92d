//! What operations hand back for the edge to carry out: mail to send,
//! events to publish, and store writes that can wait until the caller has
//! its answer. The domain does no IO.

use crate::email::Email;
use crate::ids::{AccountId, EventId, UserId};
use crate::model::{Invitation, InvitationView, JoinLinkView, Member};
use crate::principal::{Principal, User};
use crate::random::Random;
use crate::time::Timestamp;
use crate::token::InvitationToken;
use crate::values::AccountName;
use crate::values::{AccessGroups, Role};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailKind {
    Invitation,
    Resend,
    Retry,
    /// The sweep's reminder before expiry.
    Reminder,
}

/// One invitation mail to send. Holds the only copy of the token's secret.
#[derive(Clone, Debug)]
pub struct MailJob {
    pub kind: MailKind,
    pub invitation: Invitation,
    pub account_name: AccountName,
    pub token: InvitationToken,
}

/// Store work an operation leaves for after its answer
/// ([`crate::ops::deliveries::before_sending`]), as none of it changes what
/// the answer says:
/// - keys nothing reaches any more (a retired link): deleting them only
///   tidies up, and the sweep's purge deletes whatever a failure leaves;
/// - invitations whose link the caller hands over (`delivery: none`), to
///   name in their address's inbox, as a mailed invitation's first send
///   outcome does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Leftovers {
    pub(crate) deletes: Vec<String>,
    pub(crate) handed_over: Vec<Invitation>,
}

impl Leftovers {
    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty() && self.handed_over.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    InvitationCreated,
    InvitationSent,
    InvitationDeliveryFailed,
    InvitationResent,
    InvitationAccepted,
    InvitationCancelled,
    InvitationDeclined,
    InvitationExpired,
    InvitationExpiring,
    /// The provider reports a permanent bounce or a spam complaint.
    InvitationBounced,
    MemberUpdated,
    MemberRemoved,
    MemberJoined,
    JoinLinkCreated,
    JoinLinkRevoked,
}

impl EventKind {
    pub const ALL: [EventKind; 15] = [
        EventKind::InvitationCreated,
        EventKind::InvitationSent,
        EventKind::InvitationDeliveryFailed,
        EventKind::InvitationResent,
        EventKind::InvitationAccepted,
        EventKind::InvitationCancelled,
        EventKind::InvitationDeclined,
        EventKind::InvitationExpired,
        EventKind::InvitationExpiring,
        EventKind::InvitationBounced,
        EventKind::MemberUpdated,
        EventKind::MemberRemoved,
        EventKind::MemberJoined,
        EventKind::JoinLinkCreated,
        EventKind::JoinLinkRevoked,
    ];

    /// The kind named by its webhook `type`, such as `invitation.created`.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::InvitationCreated => "invitation.created",
            EventKind::InvitationSent => "invitation.sent",
            EventKind::InvitationDeliveryFailed => "invitation.delivery_failed",
            EventKind::InvitationResent => "invitation.resent",
            EventKind::InvitationAccepted => "invitation.accepted",
            EventKind::InvitationCancelled => "invitation.cancelled",
            EventKind::InvitationDeclined => "invitation.declined",
            EventKind::InvitationExpired => "invitation.expired",
            EventKind::InvitationExpiring => "invitation.expiring",
            EventKind::InvitationBounced => "invitation.bounced",
            EventKind::MemberUpdated => "member.updated",
            EventKind::MemberRemoved => "member.removed",
            EventKind::MemberJoined => "member.joined",
            EventKind::JoinLinkCreated => "join_link.created",
            EventKind::JoinLinkRevoked => "join_link.revoked",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Subject {
    Invitation(Box<InvitationView>),
    Member(Box<Member>),
    /// A member whose access changed, and what it was before.
    MemberChanged(Box<Member>, MemberAccess),
    JoinLink(Box<JoinLinkView>),
}

/// A member's role and access groups, as they were before a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAccess {
    pub role: Role,
    pub access_groups: AccessGroups,
}

/// Stored by its webhook `type`.
impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        EventKind::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event type {name}")))
    }
}

/// Who made a change, as the account's history records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in person, with the address their token carried.
    User { id: UserId, email: Option<Email> },
    /// A machine client of the host app.
    Service { id: UserId },
    /// Whoever held the invitation's link: declining needs no sign-in.
    Link,
    /// The service itself: the sweep, or the mail provider's answer.
    System,
}

impl Actor {
    pub fn user(user: &User) -> Actor {
        Actor::User {
            id: user.id.clone(),
            email: user.email.clone(),
        }
    }

    pub fn of(principal: &Principal) -> Actor {
        match principal {
            Principal::User(u) => Actor::user(u),
            Principal::Service { id } => Actor::Service { id: id.clone() },
        }
    }
}

/// A change the host app hears about. `id` is stable: a receiver drops duplicates by it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub kind: EventKind,
    pub at: Timestamp,
    pub subject: Subject,
    /// Who made it; kept in the account's history, not sent in the webhook.
    pub actor: Actor,
}

impl Event {
    pub(crate) fn invitation(
        random: &dyn Random,
        kind: EventKind,
        at: Timestamp,
        view: InvitationView,
        actor: Actor,
    ) -> Event {
        let subject = Subject::Invitation(Box::new(view));
        Event::new(random, kind, at, subject, actor)
    }

    pub(crate) fn new(
        random: &dyn Random,
        kind: EventKind,
        at: Timestamp,
        subject: Subject,
        actor: Actor,
    ) -> Event {
        Event {
            id: EventId::generate(random),
            kind,
            at,
            subject,
            actor,
        }
    }

    /// The account whose history the event belongs to.
    pub fn account(&self) -> &AccountId {
        match &self.subject {
            Subject::Invitation(view) => &view.invitation.account_id,
            Subject::Member(m) | Subject::MemberChanged(m, _) => &m.account_id,
            Subject::JoinLink(view) => &view.link.account_id,
        }
    }
}
