//! Small value types that cannot hold a bad value: roles, access groups,
//! metadata, TTLs, names and the invitation note.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest an invitation may live, and the default.
pub const MAX_TTL_SECS: u32 = 30 * 24 * 60 * 60;
pub const MAX_ACCESS_GROUPS: usize = 50;
pub const MAX_ACCESS_GROUP_LEN: usize = 64;
pub const MAX_METADATA_BYTES: usize = 4096;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_NOTE_CHARS: usize = 1000;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn invalid<T>(msg: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError(msg.into()))
}

/// A member's role in an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn parse(s: &str) -> Result<Role, ValueError> {
        match s {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            _ => invalid("must be one of owner, admin, member"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// Owners and admins manage invitations and members.
    pub fn manages(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// The role an invitation grants: never `owner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteRole {
    Admin,
    Member,
}

impl InviteRole {
    pub fn parse(s: &str) -> Result<InviteRole, ValueError> {
        match s {
            "admin" => Ok(InviteRole::Admin),
            "member" => Ok(InviteRole::Member),
            "owner" => invalid("an invitation cannot grant owner; invite as admin"),
            _ => invalid("must be admin or member"),
        }
    }

    pub fn role(self) -> Role {
        match self {
            InviteRole::Admin => Role::Admin,
            InviteRole::Member => Role::Member,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.role().as_str()
    }
}

/// Who hands the invitee their link: this service, by mail (`mail`, the
/// default), or the caller (`none`: no mail goes out, and the answer to the
/// invite or resend shows the link once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LinkDelivery {
    #[default]
    #[serde(rename = "mail")]
    Mail,
    #[serde(rename = "none")]
    Caller,
}

impl LinkDelivery {
    pub fn parse(s: &str) -> Result<LinkDelivery, ValueError> {
        match s {
            "mail" => Ok(LinkDelivery::Mail),
            "none" => Ok(LinkDelivery::Caller),
            _ => invalid("must be mail or none"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LinkDelivery::Mail => "mail",
            LinkDelivery::Caller => "none",
        }
    }

    pub fn is_mail(&self) -> bool {
        *self == LinkDelivery::Mail
    }
}

/// The id a mail provider gave a message it accepted (Resend's `id`,
/// Postmark's `MessageID`): 1 to 200 visible ASCII characters. Its delivery
/// events name the message by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MessageId(String);

pub const MAX_MESSAGE_ID_LEN: usize = 200;

impl MessageId {
    pub fn parse(s: &str) -> Result<MessageId, ValueError> {
        let s = s.trim();
        if s.is_empty() || s.len() > MAX_MESSAGE_ID_LEN || !s.bytes().all(|b| b.is_ascii_graphic())
        {
            return invalid(format!(
                "must be 1 to {MAX_MESSAGE_ID_LEN} visible ASCII characters"
            ));
        }
        Ok(MessageId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::parsed::deserialize(d, MessageId::parse)
    }
}

/// Access groups granted with a role: at most 50, each 1 to 64 characters of
/// `[A-Za-z0-9_.:-]`, without duplicates, in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct AccessGroups(Vec<String>);

impl AccessGroups {
    pub fn parse<S: AsRef<str>>(groups: &[S]) -> Result<AccessGroups, ValueError> {
        if groups.len() > MAX_ACCESS_GROUPS {
            return invalid(format!("at most {MAX_ACCESS_GROUPS} access groups"));
        }
        let mut out: Vec<String> = Vec::with_capacity(groups.len());
        for g in groups {
            let g = g.as_ref();
            let ok = !g.is_empty()
                && g.len() <= MAX_ACCESS_GROUP_LEN
                && g.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
            if !ok {
                return invalid(format!(
                    "each access group is 1 to {MAX_ACCESS_GROUP_LEN} characters of letters, digits, _ . : -"
                ));
            }
            if !out.iter().any(|o| o == g) {
                out.push(g.to_owned());
            }
        }
        Ok(AccessGroups(out))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for AccessGroups {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        AccessGroups::parse(&v).map_err(serde::de::Error::custom)
    }
}

/// Free-form data the host app attaches to an invitation: a JSON object of at
/// most 4 KiB when serialized.
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct Metadata(serde_json::Map<String, serde_json::Value>);

impl Metadata {
    pub fn parse(value: serde_json::Value) -> Result<Metadata, ValueError> {
        let serde_json::Value::Object(map) = value else {
            return invalid("must be a JSON object");
        };
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_METADATA_BYTES {
            return invalid(format!(
                "must be at most {MAX_METADATA_BYTES} bytes as JSON"
            ));
        }
        Ok(Metadata(map))
    }

    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }
}

impl Eq for Metadata {}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Metadata::parse(v).map_err(serde::de::Error::custom)
    }
}

/// Days before expiry the sweep mails a reminder: 0 (none) to 15 (an
/// invitation lasts 30 days at most, and gets a reminder only when it lasts
/// at least twice this).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ReminderDays(u8);

impl ReminderDays {
    pub const MAX: u8 = 15;

    pub fn parse(n: i64) -> Result<ReminderDays, ValueError> {
        if (0..=ReminderDays::MAX as i64).contains(&n) {
            Ok(ReminderDays(n as u8))
        } else {
            invalid(format!(
                "must be between 0 (no reminder) and {}",
                ReminderDays::MAX
            ))
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

    pub fn secs(self) -> i64 {
        i64::from(self.0) * 86_400
    }
}

impl Default for ReminderDays {
    fn default() -> Self {
        ReminderDays(3)
    }
}

impl<'de> Deserialize<'de> for ReminderDays {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ReminderDays::parse(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// How many seats an account has: members plus open invitations, 1 to 1,000,000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SeatLimit(u32);

impl SeatLimit {
    pub const MAX: u32 = 1_000_000;

    pub fn parse(n: i64) -> Result<SeatLimit, ValueError> {
        if (1..=SeatLimit::MAX as i64).contains(&n) {
            Ok(SeatLimit(n as u32))
        } else {
            invalid(format!("must be between 1 and {}", SeatLimit::MAX))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for SeatLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SeatLimit::parse(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// How many people a join link lets in: 1 to 10,000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MaxUses(u32);

impl MaxUses {
    pub const MAX: u32 = 10_000;

    pub fn parse(n: i64) -> Result<MaxUses, ValueError> {
        if (1..=MaxUses::MAX as i64).contains(&n) {
            Ok(MaxUses(n as u32))
        } else {
            invalid(format!("must be between 1 and {}", MaxUses::MAX))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for MaxUses {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        MaxUses::parse(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// How long an invitation stays valid: 1 second to 30 days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Ttl(u32);

impl Ttl {
    pub const MAX: Ttl = Ttl(MAX_TTL_SECS);

    pub fn from_secs(secs: i64) -> Result<Ttl, ValueError> {
        if (1..=MAX_TTL_SECS as i64).contains(&secs) {
            Ok(Ttl(secs as u32))
        } else {
            invalid(format!(
                "must be between 1 and {MAX_TTL_SECS} seconds (30 days)"
            ))
        }
    }

    pub fn secs(self) -> i64 {
        self.0 as i64
    }
}

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        Ttl::from_secs(v).map_err(serde::de::Error::custom)
    }
}

/// Text a person typed that we show to another person: trimmed, no control
/// characters (so nothing can break out of a mail header), bounded length.
/// Where newlines are allowed, CRLF and CR (as browsers send them) become LF.
fn clean_text(input: &str, max_chars: usize, allow_newlines: bool) -> Result<String, ValueError> {
    // The limit applies to the text as sent (as a JSON Schema `maxLength`
    // does), before trimming and line-ending changes shorten it.
    if input.chars().count() > max_chars {
        return invalid(format!("must be at most {max_chars} characters"));
    }
    let normalised;
    let input = if allow_newlines && input.contains('\r') {
        normalised = input.replace("\r\n", "\n").replace('\r', "\n");
        normalised.as_str()
    } else {
        input
    };
    let t = input.trim();
    if t.is_empty() {
        return invalid("must contain a character other than white space");
    }
    let bad = t
        .chars()
        .any(|c| c.is_control() && !(allow_newlines && c == '\n'));
    if bad {
        return invalid("must not contain control characters");
    }
    Ok(t.to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $max:expr, $newlines:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(input: &str) -> Result<Self, ValueError> {
                clean_text(input, $max, $newlines).map($name)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::parsed::deserialize(d, $name::parse)
            }
        }
    };
}

text_type!(
    /// An account's display name.
    AccountName, MAX_NAME_CHARS, false
);
text_type!(
    /// A person's display name, from the identity token.
    PersonName, MAX_NAME_CHARS, false
);
text_type!(
    /// The inviter's optional note, shown in the mail. Newlines allowed, other control characters not.
    Note, MAX_NOTE_CHARS, true
);

impl Note {
    /// The `message` field: empty or only white space means no note, though
    /// the length limit still applies to what was sent.
    pub fn parse_optional(input: &str) -> Result<Option<Note>, ValueError> {
        if input.trim().is_empty() && input.chars().count() <= MAX_NOTE_CHARS {
            return Ok(None);
        }
        Note::parse(input).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitations_never_grant_owner() {
        assert!(InviteRole::parse("owner").is_err());
        assert_eq!(InviteRole::parse("admin").unwrap().role(), Role::Admin);
        assert!(Role::parse("Owner").is_err());
        assert!(Role::Owner.manages() && Role::Admin.manages() && !Role::Member.manages());
    }

    #[test]
    fn access_groups_are_bounded_and_deduplicated() {
        let g = AccessGroups::parse(&["eng", "ops:read", "eng"]).unwrap();
        assert_eq!(g.as_slice(), ["eng", "ops:read"]);
        assert!(AccessGroups::parse(&["has space"]).is_err());
        assert!(AccessGroups::parse(&[""]).is_err());
        assert!(AccessGroups::parse(&["x".repeat(65)]).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("g{i}")).collect();
        assert!(AccessGroups::parse(&many).is_err());
    }

    #[test]
    fn metadata_is_a_bounded_object() {
        assert!(Metadata::parse(serde_json::json!({"plan": "pro"})).is_ok());
        assert!(Metadata::parse(serde_json::json!([1, 2])).is_err());
        assert!(Metadata::parse(serde_json::json!({"big": "x".repeat(5000)})).is_err());
    }

    #[test]
    fn ttl_is_one_second_to_thirty_days() {
        assert!(Ttl::from_secs(0).is_err());
        assert!(Ttl::from_secs(1).is_ok());
        assert!(Ttl::from_secs(2_592_000).is_ok());
        assert!(Ttl::from_secs(2_592_001).is_err());
        assert!(Ttl::from_secs(-5).is_err());
    }

    #[test]
    fn text_limits_count_what_was_sent() {
        let name = "a".repeat(MAX_NAME_CHARS);
        assert!(AccountName::parse(&name).is_ok());
        assert!(AccountName::parse(&format!(" {name}")).is_err());
    }

    #[test]
    fn text_refuses_header_injection() {
        assert!(AccountName::parse("Acme\r\nBcc: x@example.com").is_err());
        assert!(AccountName::parse("   ").is_err());
        assert_eq!(
            AccountName::parse("  Acme Inc ").unwrap().as_str(),
            "Acme Inc"
        );
        assert!(Note::parse("line one\nline two").is_ok());
        assert_eq!(
            Note::parse("line one\r\nline two").unwrap().as_str(),
            "line one\nline two"
        );
        assert!(Note::parse("tab\u{7}bell").is_err());
        assert_eq!(Note::parse_optional("  \n ").unwrap(), None);
        assert!(Note::parse_optional(&" ".repeat(MAX_NOTE_CHARS + 1)).is_err());
        assert!(PersonName::parse(&"n".repeat(101)).is_err());
    }
}
