//! The one error type of the domain. Each variant has a stable machine `code`
//! (the `code` member of the problem+json the API returns) and a [`Kind`] that
//! the HTTP edge maps to a status.

use crate::store::StoreError;

/// A field that failed validation, and why (shown to the caller).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What sort of failure an error is; the edge turns it into a status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The request is malformed (400) or semantically invalid (422).
    Invalid,
    Unprocessable,
    Forbidden,
    NotFound,
    Conflict,
    /// The thing existed but is no longer usable (410).
    Gone,
    RateLimited,
    /// The store failed or stayed contended; retrying later may work (503).
    Unavailable,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("the request is invalid")]
    Validation(Vec<FieldError>),
    #[error("the cursor is not one this service issued")]
    InvalidCursor,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("no such account, or you are not a member of it")]
    AccountNotFound,
    #[error("no such invitation")]
    InvitationNotFound,
    #[error("no such member")]
    MemberNotFound,
    #[error("no such join link")]
    JoinLinkNotFound,
    #[error("this join link was revoked by the account's admin")]
    JoinLinkRevoked,
    #[error("this join link has expired; ask the account's admin for a new one")]
    JoinLinkExpired,
    #[error("this join link has been used as many times as it allows")]
    JoinLinkUsedUp,
    #[error("you were removed from this account; ask its admin to invite you again")]
    MemberRemoved,
    #[error("no such event in this account's history: it was never there, or it is older than history_days")]
    EventNotFound,
    #[error("every seat of this account is taken: members and open invitations count")]
    SeatLimitReached,
    #[error("this account was made before seats were counted, so it cannot have a seat limit")]
    SeatsUntracked,
    #[error("none of the addresses could be invited")]
    NothingInvited,
    #[error("this address already has an open invitation to this account")]
    AlreadyInvited,
    #[error("this address already belongs to a member of this account")]
    AlreadyMember,
    #[error("the invitation is not pending")]
    InvitationNotPending,
    #[error("the invitation has expired; ask the account's admin to send a new one")]
    InvitationExpired,
    #[error("the invitation was cancelled by the account's admin")]
    InvitationCancelled,
    #[error("the invitation was declined")]
    InvitationDeclined,
    #[error("the invitation has already been accepted")]
    InvitationAlreadyAccepted,
    #[error(
        "the invitation was sent to a different email address than the one you are signed in with"
    )]
    EmailMismatch,
    #[error("your email address is not verified, so it cannot show which invitations are yours")]
    EmailUnverified,
    #[error("this account only accepts members from certain email domains")]
    DomainNotAllowed,
    #[error("the invitation was sent moments ago; try again in {retry_after_secs} s")]
    ResendTooSoon { retry_after_secs: u64 },
    #[error("an account must keep at least one owner")]
    LastOwner,
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyInProgress,
    #[error("too many concurrent changes to the same record; retry")]
    Contended,
    #[error("the store is unavailable: {0}")]
    StoreUnavailable(String),
}

impl Error {
    /// The stable machine code, as documented in the API contract.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "validation_failed",
            Error::InvalidCursor => "invalid_cursor",
            Error::Forbidden(_) => "forbidden",
            Error::AccountNotFound => "account_not_found",
            Error::InvitationNotFound => "invitation_not_found",
            Error::MemberNotFound => "member_not_found",
            Error::EventNotFound => "event_not_found",
            Error::JoinLinkNotFound => "join_link_not_found",
            Error::JoinLinkRevoked => "join_link_revoked",
            Error::JoinLinkExpired => "join_link_expired",
            Error::JoinLinkUsedUp => "join_link_used_up",
            Error::MemberRemoved => "member_removed",
            Error::SeatLimitReached => "seat_limit_reached",
            Error::SeatsUntracked => "seats_untracked",
            Error::NothingInvited => "nothing_invited",
            Error::AlreadyInvited => "already_invited",
            Error::AlreadyMember => "already_member",
            Error::InvitationNotPending => "invitation_not_pending",
            Error::InvitationExpired => "invitation_expired",
            Error::InvitationCancelled => "invitation_cancelled",
            Error::InvitationDeclined => "invitation_declined",
            Error::InvitationAlreadyAccepted => "invitation_already_accepted",
            Error::EmailMismatch => "email_mismatch",
            Error::EmailUnverified => "email_unverified",
            Error::DomainNotAllowed => "domain_not_allowed",
            Error::ResendTooSoon { .. } => "rate_limited",
            Error::LastOwner => "last_owner",
            Error::IdempotencyKeyReused => "idempotency_key_reused",
            Error::IdempotencyInProgress => "idempotency_in_progress",
            Error::Contended => "contended",
            Error::StoreUnavailable(_) => "store_unavailable",
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Error::Validation(_) | Error::InvalidCursor => Kind::Invalid,
            Error::NothingInvited | Error::IdempotencyKeyReused => Kind::Unprocessable,
            Error::Forbidden(_)
            | Error::EmailMismatch
            | Error::EmailUnverified
            | Error::DomainNotAllowed
            | Error::MemberRemoved => Kind::Forbidden,
            Error::AccountNotFound
            | Error::InvitationNotFound
            | Error::MemberNotFound
            | Error::EventNotFound
            | Error::JoinLinkNotFound => Kind::NotFound,
            Error::AlreadyInvited
            | Error::AlreadyMember
            | Error::InvitationNotPending
            | Error::LastOwner
            | Error::SeatLimitReached
            | Error::SeatsUntracked
            | Error::IdempotencyInProgress => Kind::Conflict,
            Error::InvitationExpired
            | Error::InvitationCancelled
            | Error::InvitationDeclined
            | Error::InvitationAlreadyAccepted
            | Error::JoinLinkRevoked
            | Error::JoinLinkExpired
            | Error::JoinLinkUsedUp => Kind::Gone,
            Error::ResendTooSoon { .. } => Kind::RateLimited,
            Error::Contended | Error::StoreUnavailable(_) => Kind::Unavailable,
        }
    }

    /// Seconds the caller should wait before retrying, where that is known.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Error::ResendTooSoon { retry_after_secs } => Some(*retry_after_secs),
            Error::Contended | Error::StoreUnavailable(_) => Some(1),
            _ => None,
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::StoreUnavailable(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
