//! HTTP requests a component sends (to the mail provider, to the webhook
//! receiver) and the answers it gets, as plain data: the edge builds and
//! reads them, the Spin adapter carries them.

use std::fmt;

/// An HTTP request for the component to send.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl fmt::Debug for OutgoingRequest {
    // Header values carry the provider's API token: names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OutgoingRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// A peer's answer to an [`OutgoingRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// What it said, briefly, for an admin to read.
    pub fn excerpt(&self, peer: &str) -> String {
        let text: String = String::from_utf8_lossy(&self.body)
            .chars()
            .take(200)
            .collect();
        format!("{peer} answered {}: {text}", self.status)
    }

    /// Seconds the peer asks us to wait before calling again: `retry-after`
    /// (seconds) or `ratelimit-reset` (seconds until the window resets), the
    /// longer of the two. `None` when it said neither.
    pub fn retry_after_secs(&self) -> Option<u64> {
        let secs = |name: &str| self.header(name).and_then(|v| v.trim().parse::<u64>().ok());
        match (secs("retry-after"), secs("ratelimit-reset")) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).max(b.unwrap_or(0))),
        }
    }
}
