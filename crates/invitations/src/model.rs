//! The records the store holds, and the invitation state machine.

use crate::email::{Domain, Email};
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId, JoinLinkId, Rev, UserId};
use crate::store::Versioned;
use crate::time::Timestamp;
use crate::token::TokenHash;
use crate::values::{
    AccessGroups, AccountName, InviteRole, LinkDelivery, MaxUses, MessageId, Metadata, Note,
    PersonName, ReminderDays, Role, Ttl,
};
use serde::{Deserialize, Serialize};

mod stored;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub name: AccountName,
    /// Empty: any domain. Otherwise invitees' domains must be one of these, exactly.
    pub allowed_domains: Vec<Domain>,
    /// Invitations made without a `ttl` get this one; no invitation gets a longer one.
    pub default_ttl: Ttl,
    /// Kept here, not only on memberships, so that removing owners is
    /// serialized by one compare-and-swap and the last one cannot go.
    pub owners: Vec<UserId>,
    pub created_at: Timestamp,
    pub created_by: UserId,
    /// How many slot shards this account's open-invitation index has.
    pub shards: u16,
    /// The sweep mails one reminder this many days before a pending
    /// invitation expires (0: none).
    #[serde(default)]
    pub reminder_days: ReminderDays,
    /// Its list is read from its invitation log (every account made since
    /// the log exists); otherwise from its slot shards, which know every
    /// invitation made before.
    #[serde(default)]
    pub invitation_log: bool,
    pub rev: Rev,
}

impl Account {
    pub fn allows(&self, email: &Email) -> bool {
        self.allowed_domains.is_empty() || self.allowed_domains.contains(&email.domain())
    }
}

impl Versioned for Account {
    fn rev(&self) -> &Rev {
        &self.rev
    }
    fn set_rev(&mut self, rev: Rev) {
        self.rev = rev;
    }
}

/// Who sent an invitation, as they were when they sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inviter {
    pub user_id: UserId,
    pub email: Option<Email>,
    pub name: Option<PersonName>,
}

/// The stored lifecycle of an invitation. `Pending` past its expiry is
/// reported as expired by [`Invitation::status`] whether or not the sweep has
/// written `Expired` yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    Pending,
    Accepted {
        accepted_at: Timestamp,
        accepted_by: UserId,
        /// The membership's place in the member log, reserved before the
        /// accept, so whoever writes the membership writes the same record.
        #[serde(default)]
        member_seq: i64,
    },
    Cancelled {
        cancelled_at: Timestamp,
        cancelled_by: UserId,
    },
    /// The invitee said no: by the link (no sign-in, so nobody is named) or
    /// signed in with the invited address.
    Declined {
        declined_at: Timestamp,
        declined_by: Option<UserId>,
    },
    Expired {
        expired_at: Timestamp,
        /// A newer invitation took this address's slot: this one can no longer be renewed.
        superseded: bool,
    },
}

/// The state as callers see it, with time taken into account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Accepted,
    Cancelled,
    Declined,
    Expired,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "accepted" => Some(Status::Accepted),
            "cancelled" => Some(Status::Cancelled),
            "declined" => Some(Status::Declined),
            "expired" => Some(Status::Expired),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Accepted => "accepted",
            Status::Cancelled => "cancelled",
            Status::Declined => "declined",
            Status::Expired => "expired",
        }
    }
}

/// An invitation as stored. Its fields are the crate's: outside it they are
/// read through the accessors below, and only the transitions change them.
/// Read back through `model/stored.rs`, in one pass (the derived reading of the
/// flattened state buffers the whole record).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "stored::StoredInvitation")]
pub struct Invitation {
    pub(crate) id: InvitationId,
    pub(crate) account_id: AccountId,
    pub(crate) email: Email,
    pub(crate) role: InviteRole,
    pub(crate) access_groups: AccessGroups,
    pub(crate) metadata: Metadata,
    pub(crate) message: Option<Note>,
    pub(crate) invited_by: Inviter,
    pub(crate) created_at: Timestamp,
    pub(crate) ttl: Ttl,
    pub(crate) expires_at: Timestamp,
    /// When the current token was made (creation, resend or mail retry).
    pub(crate) issued_at: Timestamp,
    /// When a person last sent it (creation or resend): mail retries count
    /// their attempts from here.
    pub(crate) reissued_at: Timestamp,
    /// When it was last resent; resends are rate-limited from here (the
    /// first resend after the invite is always allowed).
    #[serde(default)]
    pub(crate) resent_at: Option<Timestamp>,
    pub(crate) token_hash: TokenHash,
    /// The token before a mail retry made a new one. It stays valid: the
    /// retried mail may have gone out after all. A resend clears it.
    #[serde(default)]
    pub(crate) previous_token_hash: Option<TokenHash>,
    /// Hashes that no longer open it but whose `v1/tok/` keys a failure may
    /// have left behind (their deletion comes after the change). The purge
    /// deletes them with the rest. The newest [`RETIRED_TOKENS_KEPT`] only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) retired_token_hashes: Vec<TokenHash>,
    /// The expiry a reminder was mailed for: one reminder per expiry (a
    /// renewal that moves it may earn another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reminded_for: Option<Timestamp>,
    /// Its entry in the account's invitation log, which the purge deletes
    /// with it. 0: written before the log (or its account has none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) log_position: i64,
    /// Its invite took its seat before writing it, so if it never becomes
    /// reachable the sweep gives that seat back when it deletes it. False in
    /// records written before (their seat comes back at their expiry).
    #[serde(default)]
    pub(crate) seat_taken: bool,
    /// Who hands over its link: with [`LinkDelivery::Caller`] nothing mails
    /// it, the sweep included (no retries, no reminder).
    #[serde(default, skip_serializing_if = "LinkDelivery::is_mail")]
    pub(crate) link_delivery: LinkDelivery,
    #[serde(flatten)]
    pub(crate) state: State,
    pub(crate) rev: Rev,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Versioned for Invitation {
    fn rev(&self) -> &Rev {
        &self.rev
    }
    fn set_rev(&mut self, rev: Rev) {
        self.rev = rev;
    }
}

/// What an invite grants each of its addresses, and how their links go out.
#[derive(Clone, Debug)]
pub(crate) struct Terms {
    pub role: InviteRole,
    pub access_groups: AccessGroups,
    pub metadata: Metadata,
    pub message: Option<Note>,
    pub invited_by: Inviter,
    pub ttl: Ttl,
    pub link_delivery: LinkDelivery,
}

impl Invitation {
    /// A new pending invitation, as an invite drafts it after taking its seat
    /// (`seat_taken`); nothing can reach it until its slot names it.
    pub(crate) fn draft(
        id: InvitationId,
        account_id: AccountId,
        email: Email,
        terms: &Terms,
        token_hash: TokenHash,
        now: Timestamp,
        rev: Rev,
    ) -> Invitation {
        Invitation {
            id,
            account_id,
            email,
            role: terms.role,
            access_groups: terms.access_groups.clone(),
            metadata: terms.metadata.clone(),
            message: terms.message.clone(),
            invited_by: terms.invited_by.clone(),
            created_at: now,
            ttl: terms.ttl,
            expires_at: now.plus_secs(terms.ttl.secs()),
            issued_at: now,
            reissued_at: now,
            resent_at: None,
            token_hash,
            previous_token_hash: None,
            retired_token_hashes: Vec::new(),
            reminded_for: None,
            log_position: 0,
            seat_taken: true,
            link_delivery: terms.link_delivery,
            state: State::Pending,
            rev,
        }
    }

    pub fn id(&self) -> &InvitationId {
        &self.id
    }
    pub fn account_id(&self) -> &AccountId {
        &self.account_id
    }
    pub fn email(&self) -> &Email {
        &self.email
    }
    pub fn role(&self) -> InviteRole {
        self.role
    }
    pub fn access_groups(&self) -> &AccessGroups {
        &self.access_groups
    }
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }
    pub fn message(&self) -> Option<&Note> {
        self.message.as_ref()
    }
    pub fn invited_by(&self) -> &Inviter {
        &self.invited_by
    }
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    pub fn ttl(&self) -> Ttl {
        self.ttl
    }
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
    /// When the current token was made (creation, resend or mail retry).
    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }
    /// When a person last sent it (creation or resend).
    pub fn reissued_at(&self) -> Timestamp {
        self.reissued_at
    }
    pub fn resent_at(&self) -> Option<Timestamp> {
        self.resent_at
    }
    pub fn token_hash(&self) -> &TokenHash {
        &self.token_hash
    }
    pub fn link_delivery(&self) -> LinkDelivery {
        self.link_delivery
    }
    /// The stored state; [`Invitation::status`] is what it reads as at a time.
    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn status(&self, now: Timestamp) -> Status {
        match self.state {
            State::Pending if now >= self.expires_at => Status::Expired,
            State::Pending => Status::Pending,
            State::Accepted { .. } => Status::Accepted,
            State::Cancelled { .. } => Status::Cancelled,
            State::Declined { .. } => Status::Declined,
            State::Expired { .. } => Status::Expired,
        }
    }

    /// When it expired, if it has (by the sweep, or just by time passing).
    pub fn expired_at(&self, now: Timestamp) -> Option<Timestamp> {
        match self.state {
            State::Expired { expired_at, .. } => Some(expired_at),
            State::Pending if now >= self.expires_at => Some(self.expires_at),
            _ => None,
        }
    }

    /// When it stopped being usable, for retention.
    pub fn closed_at(&self, now: Timestamp) -> Option<Timestamp> {
        match self.state {
            State::Accepted { accepted_at, .. } => Some(accepted_at),
            State::Cancelled { cancelled_at, .. } => Some(cancelled_at),
            State::Declined { declined_at, .. } => Some(declined_at),
            _ => self.expired_at(now),
        }
    }

    pub fn is_open(&self, now: Timestamp) -> bool {
        self.status(now) == Status::Pending
    }

    /// Whether a token opens this invitation (constant-time comparisons).
    pub fn token_matches(&self, hash: &TokenHash) -> bool {
        let previous = self.previous_token_hash.is_some_and(|p| p.matches(hash));
        self.token_hash.matches(hash) | previous
    }

    /// Accepted, cancelled and declined invitations never change again.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.state,
            State::Accepted { .. } | State::Cancelled { .. } | State::Declined { .. }
        )
    }

    /// Whether an expired invitation may still be renewed by a resend.
    pub fn renewable(&self, now: Timestamp) -> bool {
        match self.state {
            State::Pending => true,
            State::Expired { superseded, .. } => !superseded,
            _ => {
                let _ = now;
                false
            }
        }
    }

    fn gone(&self, now: Timestamp) -> Error {
        match self.status(now) {
            Status::Accepted => Error::InvitationAlreadyAccepted,
            Status::Cancelled => Error::InvitationCancelled,
            Status::Declined => Error::InvitationDeclined,
            _ => Error::InvitationExpired,
        }
    }

    /// Checks that it can still be accepted.
    pub fn acceptable(&self, now: Timestamp) -> Result<()> {
        if self.is_open(now) {
            Ok(())
        } else {
            Err(self.gone(now))
        }
    }

    pub fn accept(&mut self, now: Timestamp, by: &UserId, member_seq: i64) -> Result<()> {
        self.acceptable(now)?;
        self.state = State::Accepted {
            accepted_at: now,
            accepted_by: by.clone(),
            member_seq,
        };
        Ok(())
    }

    /// The invitee turns it down. Only a pending invitation can be declined;
    /// otherwise the error says what became of it, as accepting would.
    pub fn decline(&mut self, now: Timestamp, by: Option<&UserId>) -> Result<()> {
        self.acceptable(now)?;
        self.state = State::Declined {
            declined_at: now,
            declined_by: by.cloned(),
        };
        Ok(())
    }

    pub fn cancel(&mut self, now: Timestamp, by: &UserId) -> Result<()> {
        if !self.is_open(now) {
            return Err(Error::InvitationNotPending);
        }
        self.state = State::Cancelled {
            cancelled_at: now,
            cancelled_by: by.clone(),
        };
        Ok(())
    }

    /// Writes down an expiry that time has already decided.
    pub fn expire(&mut self, now: Timestamp) -> Result<()> {
        match self.state {
            State::Pending if now >= self.expires_at => {
                self.state = State::Expired {
                    expired_at: self.expires_at,
                    superseded: false,
                };
                Ok(())
            }
            _ => Err(Error::InvitationNotPending),
        }
    }

    /// An expired invitation gives up its address to a newer one for good.
    pub fn supersede(&mut self, now: Timestamp) -> Result<()> {
        let Some(expired_at) = self.expired_at(now) else {
            return Err(Error::InvitationNotPending);
        };
        self.state = State::Expired {
            expired_at,
            superseded: true,
        };
        Ok(())
    }

    /// Resend: a pending or (renewable) expired invitation gets a new token and
    /// a fresh expiry clock, unless a token was issued within `cooldown_secs`.
    /// Every older link stops working. The clock runs for the invitation's TTL,
    /// or the account's current maximum if that is now shorter.
    pub fn reissue(
        &mut self,
        now: Timestamp,
        token: TokenHash,
        cooldown_secs: i64,
        max_ttl: Ttl,
    ) -> Result<()> {
        if !self.renewable(now) {
            return Err(Error::InvitationNotPending);
        }
        if let Some(ready_at) = self.resent_at.map(|t| t.plus_secs(cooldown_secs)) {
            if now < ready_at {
                return Err(Error::ResendTooSoon {
                    retry_after_secs: now.secs_until(ready_at).max(1),
                });
            }
        }
        let old = self.previous_token_hash.take();
        self.retire(std::iter::once(self.token_hash).chain(old));
        self.token_hash = token;
        self.issued_at = now;
        self.reissued_at = now;
        self.resent_at = Some(now);
        self.ttl = self.ttl.min(max_ttl);
        self.expires_at = now.plus_secs(self.ttl.secs());
        self.state = State::Pending;
        Ok(())
    }

    /// Mail retry: a pending invitation gets a new token (the old one was
    /// never delivered, and only its hash was kept). The expiry stays.
    pub fn rotate_token(&mut self, now: Timestamp, token: TokenHash) -> Result<()> {
        if !self.is_open(now) {
            return Err(Error::InvitationNotPending);
        }
        let old = self.previous_token_hash.replace(self.token_hash);
        self.retire(old);
        self.token_hash = token;
        self.issued_at = now;
        Ok(())
    }

    /// When to mail the reminder `days` before expiry: `None` when reminders
    /// are off, the invitation is shorter than twice that, or this expiry
    /// was already reminded of.
    pub fn remind_at(&self, days: ReminderDays) -> Option<Timestamp> {
        let window = days.secs();
        if window == 0 || self.ttl.secs() < 2 * window || self.reminded_for == Some(self.expires_at)
        {
            return None;
        }
        Some(self.expires_at.plus_secs(-window))
    }

    /// Whether a person resent it within the reminder's window: that mail
    /// was the reminder.
    pub fn resent_since(&self, at: Timestamp) -> bool {
        self.resent_at.is_some_and(|r| r >= at)
    }

    /// The reminder: a new link in a new mail (only hashes are kept, so the
    /// earlier link cannot be mailed again); the earlier link stays valid,
    /// as after a mail retry.
    pub(crate) fn remind(&mut self, now: Timestamp, token: TokenHash) -> Result<()> {
        self.rotate_token(now, token)?;
        self.reminded_for = Some(self.expires_at);
        Ok(())
    }

    fn retire(&mut self, hashes: impl IntoIterator<Item = TokenHash>) {
        self.retired_token_hashes.extend(hashes);
        let excess = self
            .retired_token_hashes
            .len()
            .saturating_sub(RETIRED_TOKENS_KEPT);
        self.retired_token_hashes.drain(..excess);
    }

    /// Every hash a `v1/tok/` key of this invitation may be stored under.
    pub fn token_hashes(&self) -> impl Iterator<Item = &TokenHash> {
        std::iter::once(&self.token_hash)
            .chain(&self.previous_token_hash)
            .chain(&self.retired_token_hashes)
    }
}

/// Retired token hashes an invitation remembers for its purge. Each resend
/// retires at most two, so this covers the last eight resends.
pub const RETIRED_TOKENS_KEPT: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Failed,
    /// Not mailed: the caller hands over the link ([`LinkDelivery::Caller`]).
    /// Shown, never stored.
    NotMailed,
    /// The provider reports the mail reached the invitee's mail server.
    Delivered,
    /// The provider reports a permanent bounce: the address takes no mail.
    /// Never retried or reminded.
    Bounced,
    /// The invitee marked the mail as spam. Never retried or reminded.
    Complained,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::NotMailed => "none",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Bounced => "bounced",
            DeliveryStatus::Complained => "complained",
        }
    }

    /// The mail went out (what happened to it after is the provider's news).
    pub fn went_out(self) -> bool {
        matches!(
            self,
            DeliveryStatus::Sent
                | DeliveryStatus::Delivered
                | DeliveryStatus::Bounced
                | DeliveryStatus::Complained
        )
    }

    /// The address must not be mailed again unasked: no retry, no reminder.
    pub fn stops_mail(self) -> bool {
        matches!(self, DeliveryStatus::Bounced | DeliveryStatus::Complained)
    }
}

/// How the invitation's mail fared. Kept under its own key so that a bulk
/// invite records all its sends in one write. `attempts` counts attempts
/// since a person last sent the invitation (the sweep's retries included);
/// `sent_count` counts every mail that went out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// When the token of the last recorded attempt was made.
    #[serde(default)]
    pub token_issued_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub sent_count: u32,
    pub last_sent_at: Option<Timestamp>,
    /// The provider asked us to wait (a rate limit): no try before this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// The ids the provider gave the last mails (oldest first, at most
    /// [`MESSAGE_IDS_KEPT`]), so the purge finds their [`MessageRef`]s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message_ids: Vec<MessageId>,
    /// The provider's last delivery event about the current mail, whether
    /// or not it changed `status` (a transient bounce is only noted here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<MailNote>,
    /// Ids of the provider events already heard (newest last, at most
    /// [`HEARD_KEPT`]): a replay changes nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heard: Vec<String>,
}

/// Provider message ids a delivery record remembers.
pub const MESSAGE_IDS_KEPT: usize = 8;
/// Provider event ids a delivery record remembers.
pub const HEARD_KEPT: usize = 16;

/// What a provider told us about a mail after it accepted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailNote {
    /// `delivered`, `bounced`, `soft_bounced`, `complained`, `delayed` or `failed`.
    pub kind: MailNoteKind,
    pub at: Timestamp,
    /// The provider's words (a bounce's reason), at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailNoteKind {
    Delivered,
    Bounced,
    SoftBounced,
    Complained,
    Delayed,
    Failed,
}

impl MailNoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailNoteKind::Delivered => "delivered",
            MailNoteKind::Bounced => "bounced",
            MailNoteKind::SoftBounced => "soft_bounced",
            MailNoteKind::Complained => "complained",
            MailNoteKind::Delayed => "delayed",
            MailNoteKind::Failed => "failed",
        }
    }
}

/// What a provider event did to a delivery record ([`Delivery::hear`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// About an older mail than the last one recorded: ignored.
    Stale,
    /// Heard before: ignored.
    Duplicate,
    /// Written down.
    Noted,
    /// Written down, and the address takes no more mail (bounced or complained).
    Stopped,
}

/// The invitation a provider's message carried (`v1/msg/{hash}`), and the
/// token it carried (by when that token was made): an event about an older
/// mail than the last one recorded changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    pub invitation_id: InvitationId,
    pub token_issued_at: Timestamp,
}

/// Why a mail did not go out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendFailure {
    /// Refused, unreachable or timed out: one of the invitation's attempts.
    Failed(String),
    /// The provider is rate limiting us: not an attempt, and no try before `until`.
    Deferred { until: Timestamp, reason: String },
}

impl From<&str> for SendFailure {
    fn from(reason: &str) -> Self {
        SendFailure::Failed(reason.to_owned())
    }
}

impl From<String> for SendFailure {
    fn from(reason: String) -> Self {
        SendFailure::Failed(reason)
    }
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            status: DeliveryStatus::Queued,
            attempts: 0,
            token_issued_at: None,
            last_attempt_at: None,
            last_error: None,
            sent_count: 0,
            last_sent_at: None,
            not_before: None,
            message_ids: Vec::new(),
            last_event: None,
            heard: Vec::new(),
        }
    }
}

impl Delivery {
    /// Records one send attempt for `inv`'s current token. An outcome for an
    /// older token than the last one recorded is stale: it is ignored (returns
    /// false), so a late failure cannot hide a newer success. A deferral (the
    /// provider's rate limit) is not an attempt: the mail stays `queued`.
    pub fn record(
        &mut self,
        now: Timestamp,
        inv: &Invitation,
        outcome: &std::result::Result<Option<MessageId>, SendFailure>,
    ) -> bool {
        if self
            .token_issued_at
            .is_some_and(|known| known > inv.issued_at)
        {
            return false;
        }
        self.attempts = self.attempts_since(inv.reissued_at);
        self.token_issued_at = Some(inv.issued_at);
        self.not_before = None;
        if let Err(SendFailure::Deferred { until, reason }) = outcome {
            self.status = DeliveryStatus::Queued;
            self.last_error = Some(reason.chars().take(500).collect());
            self.not_before = Some(*until);
            return true;
        }
        self.attempts += 1;
        self.last_attempt_at = Some(now);
        match outcome {
            Ok(message) => {
                self.status = DeliveryStatus::Sent;
                self.last_error = None;
                self.last_event = None;
                self.sent_count += 1;
                self.last_sent_at = Some(now);
                if let Some(id) = message {
                    self.message_ids.push(id.clone());
                }
            }
            Err(SendFailure::Failed(e)) | Err(SendFailure::Deferred { reason: e, .. }) => {
                self.status = DeliveryStatus::Failed;
                self.last_error = Some(e.chars().take(500).collect());
            }
        }
        true
    }

    /// Takes in a provider's event `id` about the mail `message` names. An
    /// event about an older mail than the last one recorded, or one heard
    /// before, changes nothing. A permanent bounce or a complaint stops all
    /// mail to the invitation unasked; a delivery report moves `sent` to
    /// `delivered`; anything else is only noted.
    pub fn hear(&mut self, message: &MessageRef, id: &str, note: MailNote) -> Heard {
        if self
            .token_issued_at
            .is_some_and(|known| known > message.token_issued_at)
        {
            return Heard::Stale;
        }
        if self.heard.iter().any(|h| h == id) {
            return Heard::Duplicate;
        }
        self.heard.push(id.chars().take(200).collect());
        if self.heard.len() > HEARD_KEPT {
            self.heard.remove(0);
        }
        let before = self.status;
        match note.kind {
            MailNoteKind::Delivered if before == DeliveryStatus::Sent => {
                self.status = DeliveryStatus::Delivered;
            }
            MailNoteKind::Bounced if before != DeliveryStatus::Complained => {
                self.status = DeliveryStatus::Bounced;
                self.last_error = Some(match &note.detail {
                    Some(reason) => format!("bounced: {reason}"),
                    None => "bounced".to_owned(),
                });
            }
            MailNoteKind::Complained => self.status = DeliveryStatus::Complained,
            _ => {}
        }
        let detail = note.detail.map(|d| d.chars().take(500).collect());
        self.last_event = Some(MailNote { detail, ..note });
        if self.status.stops_mail() && !before.stops_mail() {
            Heard::Stopped
        } else {
            Heard::Noted
        }
    }

    pub fn attempts_since(&self, reissued_at: Timestamp) -> u32 {
        match self.token_issued_at {
            Some(t) if t >= reissued_at => self.attempts,
            _ => 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    pub removed_at: Timestamp,
    pub removed_by: UserId,
    /// The member removed themself.
    #[serde(default)]
    pub left: bool,
}

/// A membership. A removed member keeps a tombstone (`removed`), so that an
/// old invitation link cannot bring them back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub account_id: AccountId,
    pub user_id: UserId,
    pub email: Option<Email>,
    pub role: Role,
    pub access_groups: AccessGroups,
    pub joined_at: Timestamp,
    pub invitation_id: Option<InvitationId>,
    /// The join link they came in through, if that is how.
    #[serde(default)]
    pub join_link_id: Option<JoinLinkId>,
    pub invited_by: Option<Inviter>,
    /// Position in the account's member log.
    pub seq: i64,
    pub removed: Option<Removal>,
    /// Changes after joining are compare-and-swaps (records from before
    /// there were any have none).
    #[serde(default)]
    pub rev: Rev,
}

impl Versioned for Member {
    fn rev(&self) -> &Rev {
        &self.rev
    }
    fn set_rev(&mut self, rev: Rev) {
        self.rev = rev;
    }
}

impl Member {
    pub fn is_active(&self) -> bool {
        self.removed.is_none()
    }
}

/// What a token key (`v1/tok/{hash}`) holds: enough to find the invitation without a scan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TokenRef {
    pub invitation_id: InvitationId,
    pub account_id: AccountId,
}

impl TokenRef {
    pub fn of(inv: &Invitation) -> Self {
        TokenRef {
            invitation_id: inv.id.clone(),
            account_id: inv.account_id.clone(),
        }
    }
}

/// An entry of an account's invitation log (`v1/acct/{acc}/ilog/{position}`):
/// written untagged (a map or a string), read back by its JSON type
/// ([`stored`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum LogEntry {
    /// Rewritten once its slot named it (with its link, before its mail):
    /// listed without reading the slot. Every write of its delivery record
    /// after a send writes a copy here too, in the same `set-many`, so a list
    /// page reads the record alone; without a copy (an entry as its link
    /// wrote it) the list reads the delivery record.
    Claimed {
        claimed: InvitationId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery: Option<Delivery>,
    },
    /// As the invite writes it with the draft: listed once its slot names
    /// the invitation, which the reader checks.
    Drafted(InvitationId),
}

impl LogEntry {
    /// Its invitation, and the copy of its delivery record it carries, if any.
    pub fn into_parts(self) -> (InvitationId, Option<Delivery>) {
        match self {
            LogEntry::Claimed { claimed, delivery } => (claimed, delivery),
            LogEntry::Drafted(id) => (id, None),
        }
    }
}

/// An invitation with its delivery, as the API and webhooks show it.
#[derive(Clone, Debug, PartialEq)]
pub struct InvitationView {
    pub invitation: Invitation,
    pub delivery: Delivery,
    pub status: Status,
    pub expired_at: Option<Timestamp>,
}

impl InvitationView {
    pub fn new(invitation: Invitation, mut delivery: Delivery, now: Timestamp) -> Self {
        if invitation.link_delivery == LinkDelivery::Caller {
            delivery.status = DeliveryStatus::NotMailed;
        }
        InvitationView {
            status: invitation.status(now),
            expired_at: invitation.expired_at(now),
            invitation,
            delivery,
        }
    }
}

/// A link an admin shares (in a chat, say) that lets up to `max_uses` people
/// with a verified address join the account. Only its token's hash is kept.
/// How often it was used is a counter of its own, moved by `increment`, so
/// that concurrent redeems never pass `max_uses` and never contend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinLink {
    pub id: JoinLinkId,
    pub account_id: AccountId,
    pub role: InviteRole,
    pub access_groups: AccessGroups,
    pub max_uses: MaxUses,
    /// Empty: any domain the account allows. Otherwise also one of these.
    pub allowed_domains: Vec<Domain>,
    pub created_by: Inviter,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked: Option<Revocation>,
    /// Position in the account's link log.
    pub seq: i64,
    pub(crate) token_hash: TokenHash,
    rev: Rev,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub revoked_at: Timestamp,
    pub revoked_by: UserId,
}

impl Versioned for JoinLink {
    fn rev(&self) -> &Rev {
        &self.rev
    }
    fn set_rev(&mut self, rev: Rev) {
        self.rev = rev;
    }
}

/// What a join link can do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkStatus {
    Active,
    Revoked,
    Expired,
    UsedUp,
}

impl LinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Active => "active",
            LinkStatus::Revoked => "revoked",
            LinkStatus::Expired => "expired",
            LinkStatus::UsedUp => "used_up",
        }
    }
}

impl JoinLink {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: JoinLinkId,
        account_id: AccountId,
        role: InviteRole,
        access_groups: AccessGroups,
        max_uses: MaxUses,
        allowed_domains: Vec<Domain>,
        created_by: Inviter,
        created_at: Timestamp,
        expires_at: Timestamp,
        seq: i64,
        token_hash: TokenHash,
    ) -> JoinLink {
        JoinLink {
            id,
            account_id,
            role,
            access_groups,
            max_uses,
            allowed_domains,
            created_by,
            created_at,
            expires_at,
            revoked: None,
            seq,
            token_hash,
            rev: Rev::default(),
        }
    }

    /// Revoked first, then expired, then used up: what a person is told.
    pub fn status(&self, uses: u32, now: Timestamp) -> LinkStatus {
        if self.revoked.is_some() {
            LinkStatus::Revoked
        } else if now >= self.expires_at {
            LinkStatus::Expired
        } else if uses >= self.max_uses.get() {
            LinkStatus::UsedUp
        } else {
            LinkStatus::Active
        }
    }

    /// Whether `uses` earlier redeems leave it open: the error a redeem gets otherwise.
    pub(crate) fn check_open(&self, uses: u32, now: Timestamp) -> Result<()> {
        match self.status(uses, now) {
            LinkStatus::Active => Ok(()),
            LinkStatus::Revoked => Err(Error::JoinLinkRevoked),
            LinkStatus::Expired => Err(Error::JoinLinkExpired),
            LinkStatus::UsedUp => Err(Error::JoinLinkUsedUp),
        }
    }

    /// Whether an address may join through it (the account's own rule aside).
    pub fn admits(&self, email: &Email) -> bool {
        self.allowed_domains.is_empty() || self.allowed_domains.contains(&email.domain())
    }

    /// Revokes it; false when it already was (it stays as it was).
    pub(crate) fn revoke(&mut self, now: Timestamp, by: &UserId) -> bool {
        if self.revoked.is_some() {
            return false;
        }
        self.revoked = Some(Revocation {
            revoked_at: now,
            revoked_by: by.clone(),
        });
        true
    }
}

/// A join link with how often it was used, as the API and webhooks show it.
#[derive(Clone, Debug, PartialEq)]
pub struct JoinLinkView {
    pub link: JoinLink,
    /// Redeems that made (or were to make) a member, at most `max_uses`.
    pub uses: u32,
    pub status: LinkStatus,
}

impl JoinLinkView {
    pub fn new(link: JoinLink, counted: i64, now: Timestamp) -> JoinLinkView {
        let uses = counted.clamp(0, link.max_uses.get() as i64) as u32;
        let status = link.status(uses, now);
        JoinLinkView { link, uses, status }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::invitation;

    #[test]
    fn pending_reads_expired_once_time_is_up() {
        let t0 = Timestamp::from_unix_secs(1_000_000);
        let inv = invitation(t0);
        assert_eq!(
            inv.status(t0.plus_secs(Ttl::MAX.secs() - 1)),
            Status::Pending
        );
        assert_eq!(inv.status(t0.plus_secs(Ttl::MAX.secs())), Status::Expired);
    }

    #[test]
    fn terminal_states_stay_terminal() {
        let t0 = Timestamp::from_unix_secs(1_000_000);
        let u = UserId::parse("u2").unwrap();
        let mut inv = invitation(t0);
        inv.accept(t0, &u, 1).unwrap();
        assert_eq!(
            inv.clone().accept(t0, &u, 2),
            Err(Error::InvitationAlreadyAccepted)
        );
        assert_eq!(inv.clone().cancel(t0, &u), Err(Error::InvitationNotPending));
        assert_eq!(
            inv.clone()
                .reissue(t0.plus_secs(999), inv.token_hash, 0, Ttl::MAX),
            Err(Error::InvitationNotPending)
        );
        assert!(inv.clone().expire(t0.plus_secs(Ttl::MAX.secs())).is_err());

        let mut inv = invitation(t0);
        inv.cancel(t0, &u).unwrap();
        assert_eq!(
            inv.clone().accept(t0, &u, 2),
            Err(Error::InvitationCancelled)
        );
    }

    #[test]
    fn expired_can_be_renewed_unless_superseded() {
        let t0 = Timestamp::from_unix_secs(1_000_000);
        let later = t0.plus_secs(Ttl::MAX.secs() + 10);
        let mut inv = invitation(t0);
        assert_eq!(
            inv.clone().accept(later, &UserId::parse("x").unwrap(), 2),
            Err(Error::InvitationExpired)
        );
        inv.expire(later).unwrap();
        let mut renewed = inv.clone();
        renewed
            .reissue(later, inv.token_hash, 60, Ttl::MAX)
            .unwrap();
        assert_eq!(renewed.status(later), Status::Pending);
        assert_eq!(renewed.expires_at, later.plus_secs(Ttl::MAX.secs()));
        inv.supersede(later).unwrap();
        assert_eq!(
            inv.reissue(later, inv.token_hash, 60, Ttl::MAX),
            Err(Error::InvitationNotPending)
        );
    }

    #[test]
    fn resend_cooldown_reports_seconds_left() {
        let t0 = Timestamp::from_unix_secs(1_000_000);
        let mut inv = invitation(t0);
        let h = inv.token_hash;
        // The first resend right after the invite is allowed; the next waits.
        inv.reissue(t0.plus_secs(1), h, 60, Ttl::MAX).unwrap();
        assert_eq!(
            inv.reissue(t0.plus_secs(21), h, 60, Ttl::MAX),
            Err(Error::ResendTooSoon {
                retry_after_secs: 40
            })
        );
        inv.reissue(t0.plus_secs(61), h, 60, Ttl::from_secs(3600).unwrap())
            .unwrap();
        assert_eq!(
            inv.expires_at,
            t0.plus_secs(61 + 3600),
            "clamped to the account's maximum"
        );
    }
}
