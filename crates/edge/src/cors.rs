//! Cross-origin use of the JSON API: which origins may call it from a
//! browser (`cors_allowed_origins`), and the headers that tell the browser so.
//!
//! Origins are matched exactly (scheme, host and port), never by wildcard:
//! the API is called with a bearer token, and a wildcard would let any page
//! that holds one use it. No credentials (cookies) are ever allowed; the token
//! travels in `Authorization`.

/// The methods and request headers a page may use.
const METHODS: &str = "GET, POST, PATCH, DELETE";
const REQUEST_HEADERS: &str = "authorization, content-type, idempotency-key";
/// Response headers a page may read besides the simple ones.
const EXPOSED: &str = "retry-after, location";
/// How long a browser may keep a preflight's answer, in seconds.
const MAX_AGE: &str = "600";

/// The origins allowed to call the API from a browser; empty: same origin only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// A comma- or space-separated list of origins such as
    /// `https://app.example.com, http://localhost:5173`. A `*`, a path or
    /// anything but `http(s)://host[:port]` is refused.
    pub fn parse(list: &str) -> Result<AllowedOrigins, String> {
        let mut origins = Vec::new();
        for item in list.split([',', ' ', '\n', '\t']).filter(|s| !s.is_empty()) {
            let origin = item.trim_end_matches('/').to_ascii_lowercase();
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let valid = rest.is_some_and(|host| {
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
            });
            if !valid {
                return Err(format!(
                    "cors_allowed_origins: {item:?} is not an origin like https://app.example.com"
                ));
            }
            origins.push(origin);
        }
        Ok(AllowedOrigins(origins))
    }

    /// Whether a request's `Origin` header names an allowed origin.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        self.0.contains(&origin)
    }

    /// Headers for an answer to `origin` (none if it is not allowed).
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        match origin {
            Some(o) if self.allows(o) => vec![
                ("access-control-allow-origin", o.to_owned()),
                ("access-control-expose-headers", EXPOSED.to_owned()),
                ("vary", "Origin".to_owned()),
            ],
            _ => Vec::new(),
        }
    }

    /// Headers for a preflight from `origin` (none if it is not allowed, and
    /// the browser then refuses the real request).
    pub fn preflight_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        match origin {
            Some(o) if self.allows(o) => vec![
                ("access-control-allow-origin", o.to_owned()),
                ("access-control-allow-methods", METHODS.to_owned()),
                ("access-control-allow-headers", REQUEST_HEADERS.to_owned()),
                ("access-control-max-age", MAX_AGE.to_owned()),
                ("vary", "Origin".to_owned()),
            ],
            _ => vec![("vary", "Origin".to_owned())],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_exactly_are_allowed() {
        let o = AllowedOrigins::parse("https://app.example.com, http://localhost:5173/").unwrap();
        assert!(o.allows("https://app.example.com"));
        assert!(o.allows("HTTPS://APP.example.com"));
        assert!(o.allows("http://localhost:5173"));
        assert!(!o.allows("https://app.example.com.evil.test"));
        assert!(!o.allows("http://app.example.com"));
        assert!(!o.allows("https://localhost:5173"));
        assert!(!o.allows("null"));
        let h = o.response_headers(Some("https://app.example.com"));
        assert!(h.contains(&(
            "access-control-allow-origin",
            "https://app.example.com".into()
        )));
        assert!(!h
            .iter()
            .any(|(k, _)| *k == "access-control-allow-credentials"));
        assert!(o.response_headers(Some("https://other.test")).is_empty());
        assert!(o.response_headers(None).is_empty());
    }

    #[test]
    fn empty_means_same_origin_only() {
        let o = AllowedOrigins::parse("  ").unwrap();
        assert!(!o.allows("https://app.example.com"));
        let h = o.preflight_headers(Some("https://app.example.com"));
        assert_eq!(h, vec![("vary", "Origin".to_owned())]);
    }

    #[test]
    fn wildcards_and_paths_are_refused() {
        for bad in [
            "*",
            "https://*.example.com",
            "https://a.example/path",
            "app.example.com",
            "ftp://x",
        ] {
            assert!(AllowedOrigins::parse(bad).is_err(), "{bad}");
        }
    }
}
