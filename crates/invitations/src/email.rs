//! Email addresses and domains, parsed once into a canonical form.
//!
//! The canonical form is what equality, uniqueness and storage use: the local
//! part lower-cased (the product compares addresses case-insensitively) and the
//! domain in lower-case IDNA ASCII form (`bücher.example` becomes
//! `xn--bcher-kva.example`). Parsing the canonical form again yields itself.

use serde::{Deserialize, Serialize};
use std::fmt;

/// RFC 5321 limits.
const MAX_LOCAL: usize = 64;
const MAX_ADDRESS: usize = 254;
const MAX_DOMAIN: usize = 253;
const MAX_LABEL: usize = 63;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("is empty")]
    Empty,
    #[error("contains a control character or whitespace")]
    ControlOrSpace,
    #[error("must be a bare address like name@example.com, without a display name")]
    NotBare,
    #[error("must contain exactly one @")]
    At,
    #[error("local part is empty or longer than 64 characters")]
    LocalLength,
    #[error("local part contains a character that is not allowed")]
    LocalChar,
    #[error("local part has a misplaced dot")]
    LocalDot,
    #[error("domain is not a valid domain name")]
    Domain,
    #[error("is longer than 254 characters")]
    TooLong,
}

/// A bare email address in canonical form.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

/// A domain name in canonical (lower-case IDNA ASCII) form.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Domain(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        match Email::already_canonical(input) {
            Some(email) => Ok(email),
            None => Email::parse_any(input),
        }
    }

    /// The input itself when it is plain ASCII already in canonical form, as
    /// every stored address is: the same answer [`Email::parse_any`] gives
    /// (a property test holds them to it), without IDNA and the copies. Every
    /// read of a slot shard, invitation or membership parses its addresses
    /// again; IDNA was most of that time.
    fn already_canonical(input: &str) -> Option<Email> {
        let at = input.bytes().position(|b| b == b'@')?;
        let (local, domain) = (&input[..at], &input.as_bytes()[at + 1..]);
        let canonical = input.len() <= MAX_ADDRESS
            && !local.bytes().any(|b| b.is_ascii_uppercase())
            && check_local(local).is_ok()
            && is_mail_domain(domain, true);
        canonical.then(|| Email(input.to_owned()))
    }

    /// Any input: trimmed, checked, lower-cased, the domain through IDNA.
    fn parse_any(input: &str) -> Result<Email, EmailError> {
        let trimmed = input.trim_matches(' ');
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(EmailError::ControlOrSpace);
        }
        if trimmed.contains(['<', '>', '"', ',', ';', '(', ')', '[', ']', '\\', ':']) {
            return Err(EmailError::NotBare);
        }
        let (local, domain) = match trimmed.split_once('@') {
            Some((l, d)) if !d.contains('@') => (l, d),
            _ => return Err(EmailError::At),
        };
        check_local(local)?;
        let domain = Domain::parse(domain).map_err(|_| EmailError::Domain)?;
        let address = format!("{}@{}", local.to_ascii_lowercase(), domain.0);
        if address.len() > MAX_ADDRESS {
            return Err(EmailError::TooLong);
        }
        Ok(Email(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> Domain {
        let at = self.0.rfind('@').expect("a parsed address has an @");
        Domain(self.0[at + 1..].to_owned())
    }
}

/// The local part's rules, whatever its case.
fn check_local(local: &str) -> Result<(), EmailError> {
    if local.is_empty() || local.len() > MAX_LOCAL {
        return Err(EmailError::LocalLength);
    }
    if !local.bytes().all(is_atext_or_dot) {
        return Err(EmailError::LocalChar);
    }
    if local.starts_with('.') || local.ends_with('.') || has_double_dot(local) {
        return Err(EmailError::LocalDot);
    }
    Ok(())
}

/// An ASCII domain a mail can go to: at most 253 characters, at least two
/// labels of letters, digits and inner hyphens (dotless names and IP
/// literals are refused), the last not all digits. `canonical` asks for the
/// form a stored address has besides: lower case, and no punycode label
/// (that is IDNA's to check). One pass over the bytes: every address read
/// from the store is checked so.
fn is_mail_domain(domain: &[u8], canonical: bool) -> bool {
    if domain.len() > MAX_DOMAIN {
        return false;
    }
    let (mut labels, mut start) = (0, 0);
    let (mut digits_only, mut last_digits_only) = (true, true);
    for i in 0..=domain.len() {
        match domain.get(i).copied().unwrap_or(b'.') {
            b'.' => {
                let label = &domain[start..i];
                let fits = !label.is_empty()
                    && label.len() <= MAX_LABEL
                    && label[0] != b'-'
                    && label[label.len() - 1] != b'-'
                    && !(canonical && label.starts_with(b"xn--"));
                if !fits {
                    return false;
                }
                labels += 1;
                start = i + 1;
                last_digits_only = digits_only;
                digits_only = true;
            }
            b'0'..=b'9' => {}
            b'a'..=b'z' | b'-' => digits_only = false,
            b'A'..=b'Z' if !canonical => digits_only = false,
            _ => return false,
        }
    }
    labels >= 2 && !last_digits_only
}

/// `..` anywhere (a byte scan: `str::contains` of a pattern builds a searcher).
fn has_double_dot(s: &str) -> bool {
    s.as_bytes().windows(2).any(|w| w == b"..")
}

fn is_atext_or_dot(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-'
        | b'/' | b'=' | b'?' | b'^' | b'_' | b'`' | b'{' | b'|' | b'}' | b'~')
}

impl Domain {
    pub fn parse(input: &str) -> Result<Domain, EmailError> {
        let input = input.trim();
        if input.is_empty() || input.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(EmailError::Domain);
        }
        let ascii = idna::domain_to_ascii(input).map_err(|_| EmailError::Domain)?;
        let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
        if !is_mail_domain(ascii.as_bytes(), false) {
            return Err(EmailError::Domain);
        }
        Ok(Domain(ascii.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Domain({})", self.0)
    }
}

// Stored values are parsed again on the way in, so a hand-edited store cannot
// smuggle a bad address past the type.
impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::parsed::deserialize(d, Email::parse)
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::parsed::deserialize(d, Domain::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_is_lower_case_and_idna() {
        let e = Email::parse("  Alice.Smith@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "alice.smith@example.com");
        let e = Email::parse("x@Bücher.example").unwrap();
        assert_eq!(e.as_str(), "x@xn--bcher-kva.example");
        assert_eq!(e.domain().as_str(), "xn--bcher-kva.example");
        assert_eq!(
            Email::parse("a+tag@sub.example.org").unwrap().as_str(),
            "a+tag@sub.example.org"
        );
    }

    #[test]
    fn refuses_what_is_not_a_bare_address() {
        for bad in [
            "",
            "   ",
            "plainaddress",
            "a@@example.com",
            "a@b@example.com",
            "Alice <alice@example.com>",
            "\"quoted\"@example.com",
            "alice@example.com\r\nBcc: evil@example.com",
            "alice@example.com\nX: y",
            "ali ce@example.com",
            "alice@localhost",
            "alice@127.0.0.1",
            "alice@[127.0.0.1]",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "alice@-example.com",
            "alice@example..com",
            "alice@exa_mple.com",
            "a,b@example.com",
            "ä@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn length_limits_follow_rfc_5321() {
        let local64 = "a".repeat(64);
        assert!(Email::parse(&format!("{local64}@example.com")).is_ok());
        assert_eq!(
            Email::parse(&format!("{}@example.com", "a".repeat(65))),
            Err(EmailError::LocalLength)
        );
        let label = "b".repeat(63);
        let long_domain = format!("{label}.{label}.{label}.{}.com", "c".repeat(50));
        assert_eq!(
            Email::parse(&format!("{local64}@{long_domain}")),
            Err(EmailError::TooLong)
        );
        assert!(Domain::parse(&format!("{}.com", "d".repeat(64))).is_err());
    }

    #[test]
    fn equal_addresses_compare_equal() {
        assert_eq!(
            Email::parse("BOB@EXAMPLE.COM").unwrap(),
            Email::parse("bob@example.com").unwrap()
        );
    }

    proptest::proptest! {
        #[test]
        fn the_canonical_shortcut_answers_as_the_full_parse(
            input in "[a-z0-9._+=-]{0,8}[A-Z]?@?[a-z0-9.-]{0,12}(xn--[a-z0-9-]{0,6})?[.]?[a-z0-9]{0,3}"
        ) {
            match Email::already_canonical(&input) {
                Some(quick) => proptest::prop_assert_eq!(Ok(quick), Email::parse_any(&input)),
                // Punycode labels always take the full parse.
                None if input.contains("xn--") => {}
                None => proptest::prop_assert_ne!(
                    Email::parse_any(&input).map(|e| e.0),
                    Ok(input.clone()),
                    "a canonical address missed the shortcut"
                ),
            }
        }
    }

    #[test]
    fn stored_values_are_parsed_again() {
        let e: Result<Email, _> = serde_json::from_str("\"not an email\"");
        assert!(e.is_err());
        let e: Email = serde_json::from_str("\"Bob@Example.com\"").unwrap();
        assert_eq!(e.as_str(), "bob@example.com");
    }
}
