//! What operations hand back for the edge to carry out: mail to send,
//! events to publish, and store writes that can wait until the caller has
//! its answer. The domain does no IO.

use crate::ids::EventId;
use crate::model::{Invitation, InvitationView, Member};
use crate::random::Random;
use crate::time::Timestamp;
use crate::token::InvitationToken;
use crate::values::AccountName;
use crate::values::{AccessGroups, Role};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailKind {
    Invitation,
    Resend,
    Retry,
}

/// One invitation mail to send. Holds the only copy of the token's secret.
#[derive(Clone, Debug)]
pub struct MailJob {
    pub kind: MailKind,
    pub invitation: Invitation,
    pub account_name: AccountName,
    pub token: InvitationToken,
}

/// Keys an operation left behind that nothing reaches any more (a retired
/// link, the record of an address someone else claimed first). Deleting them
/// only tidies up, so it waits until after the answer
/// ([`crate::ops::deliveries::before_sending`]); the sweep's purge deletes
/// whatever a failure leaves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leftovers(pub(crate) Vec<String>);

impl Leftovers {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
    MemberUpdated,
    MemberRemoved,
}

impl EventKind {
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
            EventKind::MemberUpdated => "member.updated",
            EventKind::MemberRemoved => "member.removed",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Subject {
    Invitation(Box<InvitationView>),
    Member(Box<Member>),
    /// A member whose access changed, and what it was before.
    MemberChanged(Box<Member>, MemberAccess),
}

/// A member's role and access groups, as they were before a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAccess {
    pub role: Role,
    pub access_groups: AccessGroups,
}

/// A change the host app hears about. `id` is stable: a receiver drops duplicates by it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub kind: EventKind,
    pub at: Timestamp,
    pub subject: Subject,
}

impl Event {
    pub(crate) fn invitation(
        random: &dyn Random,
        kind: EventKind,
        at: Timestamp,
        view: InvitationView,
    ) -> Event {
        Event {
            id: EventId::generate(random),
            kind,
            at,
            subject: Subject::Invitation(Box::new(view)),
        }
    }
}
