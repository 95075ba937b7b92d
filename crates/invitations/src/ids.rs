//! Identifiers. Ours carry a type prefix and random bits; user ids come from
//! the identity provider (`sub`) and are only checked to be safe in keys and URLs.

use crate::random::{bytes, hex, Random};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("is not a valid {0} id")]
pub struct IdError(pub &'static str);

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate(random: &dyn Random) -> Self {
                $name(format!("{}{}", $prefix, hex(&bytes::<12>(random))))
            }

            pub fn parse(input: &str) -> Result<Self, IdError> {
                let rest = input.strip_prefix($prefix).ok_or(IdError($what))?;
                let ok = rest.len() == 24
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if ok {
                    Ok($name(input.to_owned()))
                } else {
                    Err(IdError($what))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::parsed::deserialize(d, $name::parse)
            }
        }
    };
}

prefixed_id!(AccountId, "acc_", "account");
prefixed_id!(InvitationId, "inv_", "invitation");
prefixed_id!(EventId, "evt_", "event");
prefixed_id!(JoinLinkId, "lnk_", "join link");

impl InvitationId {
    /// Ids for `n` invitations made at `now`, in the order an account lists
    /// them (oldest first): 48 bits of milliseconds, then 47 random bits
    /// counted up within the batch (the spare bit keeps the count from wrapping). So ids sort as the invitations were made,
    /// which is how an account's invitations are listed without a counter
    /// (`ops::list`), and two batches in the same millisecond still differ.
    pub fn sequence(now: Timestamp, random: &dyn Random, n: usize) -> Vec<Self> {
        let millis = (now.unix_millis().max(0) as u64) & 0xffff_ffff_ffff;
        let start = u64::from_be_bytes({
            let mut b = [0u8; 8];
            b[2..].copy_from_slice(&bytes::<6>(random));
            b
        }) & 0x7fff_ffff_ffff;
        (0..n as u64)
            .map(|k| {
                let low = start + k;
                InvitationId(format!("{}{millis:012x}{low:012x}", Self::PREFIX))
            })
            .collect()
    }
}

/// The identity provider's subject. Visible ASCII without `/`, so it can stand
/// in a store key and a URL path segment as it is.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let ok = !input.is_empty()
            && input.len() <= 255
            && input.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
        if ok {
            Ok(UserId(input.to_owned()))
        } else {
            Err(IdError("user"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::parsed::deserialize(d, UserId::parse)
    }
}

/// A record's revision: fresh random bits on every compare-and-swap write, so
/// a writer can tell its own write from anyone else's (see `store`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Rev(String);

impl Rev {
    pub fn generate(random: &dyn Random) -> Self {
        Rev(hex(&bytes::<8>(random)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_ids_round_trip_and_refuse_others() {
        struct Counter;
        impl Random for Counter {
            fn fill(&self, buf: &mut [u8]) {
                buf.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
            }
        }
        let id = InvitationId::generate(&Counter);
        assert_eq!(InvitationId::parse(id.as_str()).unwrap(), id);
        assert!(id.as_str().starts_with("inv_"));
        assert!(AccountId::parse(id.as_str()).is_err());
        assert!(InvitationId::parse("inv_XYZ").is_err());
        assert!(InvitationId::parse("inv_000102030405060708090A0B").is_err());
    }

    #[test]
    fn invitation_ids_sort_as_they_were_made() {
        struct High;
        impl Random for High {
            fn fill(&self, buf: &mut [u8]) {
                buf.fill(0xff);
            }
        }
        let t = Timestamp::from_unix_millis(1_800_000_000_000);
        let first = InvitationId::sequence(t, &High, 3);
        let later = InvitationId::sequence(t.plus_millis(1), &High, 1);
        for id in first.iter().chain(&later) {
            assert_eq!(InvitationId::parse(id.as_str()).as_ref(), Ok(id));
        }
        assert!(first.windows(2).all(|w| w[0] < w[1]), "{first:?}");
        assert!(first.iter().all(|id| *id < later[0]));
    }

    #[test]
    fn user_ids_are_key_safe() {
        assert!(UserId::parse("auth0|12345").is_ok());
        assert!(UserId::parse("user_2abc").is_ok());
        for bad in ["", "a/b", "a b", "a\nb", &"x".repeat(256)] {
            assert!(UserId::parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}
