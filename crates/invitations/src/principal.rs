//! Who is calling, already authenticated by the edge (a verified JWT).

use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::values::PersonName;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub name: Option<PersonName>,
}

impl User {
    /// The address an invitee answers for: their own, verified. An unverified
    /// address proves nothing, so it cannot answer an invitation to it.
    pub fn answering_email(&self) -> Result<&Email> {
        match (&self.email, self.email_verified) {
            (Some(e), true) => Ok(e),
            (Some(_), false) => Err(Error::EmailMismatch),
            (None, _) => Err(Error::InvitationNotFound),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A person. Only people invite, cancel, resend, remove or accept.
    User(User),
    /// A machine client of the host app: it may read, nothing more.
    Service { id: UserId },
}

impl Principal {
    pub fn user(&self) -> Option<&User> {
        match self {
            Principal::User(u) => Some(u),
            Principal::Service { .. } => None,
        }
    }

    pub fn is_service(&self) -> bool {
        matches!(self, Principal::Service { .. })
    }
}
