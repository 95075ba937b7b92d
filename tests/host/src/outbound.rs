//! `allowed_outbound_hosts`, parsed and matched as Spin does: `scheme://host[:port]`
//! with `*` for any scheme, host or port, `*.domain` for any subdomain, port
//! ranges `a..b`, and the scheme's well-known port when none is given.
use std::ops::Range;

#[derive(Debug, Clone)]
pub struct AllowedHosts(Vec<AllowedHost>);

#[derive(Debug, Clone)]
struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone)]
enum HostPattern {
    Any,
    /// Stored with its leading dot: `*.example.com` is `.example.com`.
    AnySubdomain(String),
    Literal(String),
}

#[derive(Debug, Clone)]
enum PortPattern {
    Any,
    Port(u16),
    Range(Range<u16>),
}

fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        _ => None,
    }
}

impl AllowedHosts {
    /// Parses already-rendered entries (templates resolved by the caller).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut hosts = Vec::new();
        for entry in entries {
            if entry == "insecure:allow-all" {
                hosts.push(AllowedHost {
                    scheme: None,
                    host: HostPattern::Any,
                    port: PortPattern::Any,
                });
                continue;
            }
            hosts.push(AllowedHost::parse(entry)?);
        }
        Ok(Self(hosts))
    }

    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        self.0
            .iter()
            .any(|allowed| allowed.allows(scheme, &host, port))
    }
}

impl AllowedHost {
    fn parse(entry: &str) -> Result<Self, String> {
        let trimmed = entry.trim();
        let (scheme, rest) = trimmed.split_once("://").ok_or_else(|| {
            format!("{entry:?} does not contain a scheme (e.g. 'http://' or '*://')")
        })?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(format!("{entry:?} has a path but is not allowed to"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            // An IPv6 literal's colons are not a port separator.
            Some((h, p)) if !p.contains(']') && (!h.contains(':') || h.ends_with(']')) => (h, p),
            _ => (rest, ""),
        };
        let port = match port {
            "" => PortPattern::Port(well_known_port(scheme).ok_or_else(|| {
                format!("{entry:?}: no port given and scheme {scheme:?} has no well-known port")
            })?),
            "*" => PortPattern::Any,
            p => match p.split_once("..") {
                Some((start, end)) => {
                    PortPattern::Range(parse_port(start, entry)?..parse_port(end, entry)?)
                }
                None => PortPattern::Port(parse_port(p, entry)?),
            },
        };
        let scheme = match scheme {
            "*" => None,
            s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) => Some(s.to_string()),
            s => return Err(format!("{entry:?}: invalid scheme {s:?}")),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            if domain.contains('*') {
                return Err(format!("{entry:?}: wildcards are allowed only as prefixes"));
            }
            HostPattern::AnySubdomain(format!(".{domain}"))
        } else if host.contains('*') || host.is_empty() {
            return Err(format!(
                "{entry:?}: wildcards are allowed only as subdomains"
            ));
        } else {
            HostPattern::Literal(host)
        };
        Ok(Self { scheme, host, port })
    }

    fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme_ok = self.scheme.as_deref().is_none_or(|s| s == scheme);
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::AnySubdomain(suffix) => host.ends_with(suffix.as_str()),
            HostPattern::Literal(literal) => literal == host,
        };
        let port_ok = match (&self.port, port.or_else(|| well_known_port(scheme))) {
            (PortPattern::Any, _) => true,
            (_, None) => false,
            (PortPattern::Port(allowed), Some(p)) => *allowed == p,
            (PortPattern::Range(range), Some(p)) => range.contains(&p),
        };
        scheme_ok && host_ok && port_ok
    }
}

fn parse_port(text: &str, entry: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("{entry:?}: invalid port {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn full_url_with_port_matches_only_that_origin() {
        let allowed = hosts(&["http://127.0.0.1:8025"]);
        assert!(allowed.allows("http", "127.0.0.1", Some(8025)));
        assert!(!allowed.allows("http", "127.0.0.1", Some(8026)));
        assert!(!allowed.allows("https", "127.0.0.1", Some(8025)));
        assert!(!allowed.allows("http", "localhost", Some(8025)));
    }

    #[test]
    fn default_ports_and_wildcards() {
        let allowed = hosts(&["https://api.example.com", "*://*.mail.example:*"]);
        assert!(allowed.allows("https", "api.example.com", None));
        assert!(allowed.allows("https", "api.example.com", Some(443)));
        assert!(!allowed.allows("https", "api.example.com", Some(8443)));
        assert!(allowed.allows("http", "eu.mail.example", Some(1234)));
        assert!(!allowed.allows("http", "mail.example", Some(1234)));
        assert!(hosts(&["*://*:*"]).allows("ftp", "anything", Some(1)));
    }

    #[test]
    fn port_ranges_and_bad_entries() {
        let allowed = hosts(&["http://localhost:3000..3010"]);
        assert!(allowed.allows("http", "localhost", Some(3005)));
        assert!(!allowed.allows("http", "localhost", Some(3010)));
        assert!(AllowedHosts::parse(&["example.com".into()]).is_err());
        assert!(AllowedHosts::parse(&["http://example.com/path".into()]).is_err());
        assert!(AllowedHosts::parse(&["*://example.com".into()]).is_err());
    }
}
