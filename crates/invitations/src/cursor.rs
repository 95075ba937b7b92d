//! Opaque, versioned page cursors. Callers must not build them; the format
//! can change with the version prefix.

use crate::error::{Error, Result};
use crate::ids::InvitationId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// Next position to read in an account log, going down.
    Log(i64),
    /// Invitations made before this one (ids sort as they were made).
    Before(InvitationId),
    /// Next offset in an address's invitation history.
    History(usize),
    /// The last position read in an account log, going up.
    Since(i64),
}

const VERSION: &str = "c1";

impl Cursor {
    pub fn encode(&self) -> String {
        let inner = match self {
            Cursor::Log(seq) => format!("{VERSION}:log:{seq}"),
            Cursor::Before(id) => format!("{VERSION}:before:{id}"),
            Cursor::History(offset) => format!("{VERSION}:hist:{offset}"),
            Cursor::Since(seq) => format!("{VERSION}:since:{seq}"),
        };
        URL_SAFE_NO_PAD.encode(inner)
    }

    pub fn parse(input: &str) -> Result<Cursor> {
        let raw = URL_SAFE_NO_PAD
            .decode(input)
            .map_err(|_| Error::InvalidCursor)?;
        let text = String::from_utf8(raw).map_err(|_| Error::InvalidCursor)?;
        let mut parts = text.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(VERSION), Some("log"), Some(n)) => match n.parse::<i64>() {
                Ok(seq) if seq >= 0 => Ok(Cursor::Log(seq)),
                _ => Err(Error::InvalidCursor),
            },
            (Some(VERSION), Some("since"), Some(n)) => match n.parse::<i64>() {
                Ok(seq) if seq >= 0 => Ok(Cursor::Since(seq)),
                _ => Err(Error::InvalidCursor),
            },
            (Some(VERSION), Some("before"), Some(id)) => InvitationId::parse(id)
                .map(Cursor::Before)
                .map_err(|_| Error::InvalidCursor),
            (Some(VERSION), Some("hist"), Some(n)) => n
                .parse()
                .map(Cursor::History)
                .map_err(|_| Error::InvalidCursor),
            _ => Err(Error::InvalidCursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_forgeries() {
        let id = InvitationId::parse("inv_0123456789abcdef01234567").unwrap();
        for c in [
            Cursor::Log(0),
            Cursor::Log(12345),
            Cursor::History(7),
            Cursor::Since(0),
            Cursor::Since(99),
            Cursor::Before(id),
        ] {
            assert_eq!(Cursor::parse(&c.encode()).unwrap(), c);
        }
        for bad in [
            "",
            "abc",
            "!!!",
            &URL_SAFE_NO_PAD.encode("c2:log:5"),
            &URL_SAFE_NO_PAD.encode("c1:log:-1"),
            &URL_SAFE_NO_PAD.encode("c1:since:x"),
            &URL_SAFE_NO_PAD.encode("c1:before:acc_0123456789abcdef01234567"),
        ] {
            assert_eq!(Cursor::parse(bad), Err(Error::InvalidCursor), "{bad}");
        }
    }
}
