//! Invitation tokens: the secret in the emailed link.
//!
//! 32 random bytes, shown once as unpadded base64url. Only the SHA-256 of a
//! token is ever stored, and hashes are compared in constant time.

use crate::random::{bytes, hex, Random};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

const TOKEN_BYTES: usize = 32;

/// The secret itself. Never stored, never logged (its `Debug` is redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct InvitationToken([u8; TOKEN_BYTES]);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("is not an invitation token")]
pub struct TokenError;

impl InvitationToken {
    pub fn generate(random: &dyn Random) -> Self {
        InvitationToken(bytes::<TOKEN_BYTES>(random))
    }

    pub fn parse(input: &str) -> Result<Self, TokenError> {
        // 32 bytes are exactly 43 base64url characters without padding.
        if input.len() != 43 {
            return Err(TokenError);
        }
        let raw = URL_SAFE_NO_PAD.decode(input).map_err(|_| TokenError)?;
        let raw: [u8; TOKEN_BYTES] = raw.try_into().map_err(|_| TokenError)?;
        Ok(InvitationToken(raw))
    }

    /// The form that goes into the link.
    pub fn reveal(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for InvitationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InvitationToken(<redacted>)")
    }
}

/// The secret of a shareable join link: the same form as an invitation's,
/// kept apart by type so neither opens the other.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinLinkToken(InvitationToken);

impl JoinLinkToken {
    pub fn generate(random: &dyn Random) -> Self {
        JoinLinkToken(InvitationToken::generate(random))
    }

    pub fn parse(input: &str) -> Result<Self, TokenError> {
        InvitationToken::parse(input).map(JoinLinkToken)
    }

    pub fn reveal(&self) -> String {
        self.0.reveal()
    }

    pub fn hash(&self) -> TokenHash {
        self.0.hash()
    }
}

impl fmt::Debug for JoinLinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinLinkToken(<redacted>)")
    }
}

/// SHA-256 of a token: what the store keeps, as 64 hex digits.
#[derive(Clone, Copy, Debug)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// 64 hex digits, either case.
    pub fn parse(hex: &str) -> Result<TokenHash, TokenError> {
        let mut out = [0u8; 32];
        // Lower case first, as every hash is written: the mixed-case decoder
        // took about three times as long.
        let decoded = match base16ct::lower::decode(hex, &mut out) {
            Ok(decoded) => Ok(decoded.len()),
            Err(_) => base16ct::mixed::decode(hex, &mut out).map(<[u8]>::len),
        };
        match decoded {
            Ok(32) => Ok(TokenHash(out)),
            _ => Err(TokenError),
        }
    }

    /// Constant-time comparison, so response timing says nothing about a guess.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other)
    }
}

impl Eq for TokenHash {}

impl Serialize for TokenHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 64];
        let hex =
            base16ct::lower::encode_str(&self.0, &mut buf).map_err(serde::ser::Error::custom)?;
        s.serialize_str(hex)
    }
}

/// Read from the stored text without copying it first (a list page reads
/// one per invitation).
impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::parsed::deserialize(d, TokenHash::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u8);
    impl Random for Fixed {
        fn fill(&self, buf: &mut [u8]) {
            buf.fill(self.0);
        }
    }

    #[test]
    fn round_trips_through_the_link_form() {
        let t = InvitationToken::generate(&Fixed(7));
        let shown = t.reveal();
        assert_eq!(shown.len(), 43);
        assert_eq!(InvitationToken::parse(&shown).unwrap(), t);
        assert!(t
            .hash()
            .matches(&InvitationToken::parse(&shown).unwrap().hash()));
        assert!(!t
            .hash()
            .matches(&InvitationToken::generate(&Fixed(8)).hash()));
    }

    #[test]
    fn refuses_malformed_tokens() {
        let shown = InvitationToken::generate(&Fixed(1)).reveal();
        for bad in [
            String::new(),
            shown[..42].to_owned(),
            format!("{shown}A"),
            shown.replace(|_| true, "+"),
            format!("{}=", &shown[..42]),
        ] {
            assert!(InvitationToken::parse(&bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = InvitationToken::generate(&Fixed(9));
        assert!(!format!("{t:?}").contains(&t.reveal()));
    }

    #[test]
    fn hash_survives_storage() {
        let h = InvitationToken::generate(&Fixed(3)).hash();
        let json = serde_json::to_string(&h).unwrap();
        let back: TokenHash = serde_json::from_str(&json).unwrap();
        assert!(back.matches(&h));
        let upper: TokenHash = serde_json::from_str(&json.to_uppercase()).unwrap();
        assert!(upper.matches(&h));
        for bad in ["\"abc\"", "12", "null"] {
            assert!(serde_json::from_str::<TokenHash>(bad).is_err(), "{bad}");
        }
        let not_hex = json.replacen(|c: char| c.is_ascii_hexdigit(), "g", 1);
        assert!(serde_json::from_str::<TokenHash>(&not_hex).is_err());
    }
}
