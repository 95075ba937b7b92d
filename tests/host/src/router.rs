//! Route matching as Spin's HTTP trigger does it: routefinder's best match, with
//! `/...` as a trailing wildcard and Spin's request headers computed from the match.
use crate::manifest::{Manifest, Route};
use std::collections::BTreeMap;
use std::net::SocketAddr;

#[derive(Debug, Clone)]
struct RouteTarget {
    component: String,
    /// The route as written in the manifest, e.g. `/api/...`.
    raw_route: String,
    /// The route with the base path applied (`/` for manifest version 2).
    based_route: String,
}

pub struct Router {
    inner: routefinder::Router<RouteTarget>,
    /// For printing at start-up, in manifest order.
    listing: Vec<(String, String)>,
}

pub struct RouteMatch {
    pub component: String,
    headers: Vec<(String, String)>,
}

impl RouteMatch {
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }
}

impl Router {
    pub fn build(manifest: &Manifest) -> Result<Self, String> {
        // Later duplicates replace earlier ones, as in Spin.
        let mut by_raw_route: BTreeMap<String, RouteTarget> = BTreeMap::new();
        let mut listing = Vec::new();
        for trigger in &manifest.triggers.http {
            let Route::Pattern(raw_route) = &trigger.route else {
                continue;
            };
            let absolute = if raw_route.starts_with('/') {
                raw_route.clone()
            } else {
                format!("/{raw_route}")
            };
            let based_route = absolute.strip_suffix('/').unwrap_or(&absolute).to_string();
            listing.push((raw_route.clone(), trigger.component.clone()));
            by_raw_route.insert(
                raw_route.clone(),
                RouteTarget {
                    component: trigger.component.clone(),
                    raw_route: raw_route.clone(),
                    based_route,
                },
            );
        }
        let mut inner = routefinder::Router::new();
        for target in by_raw_route.into_values() {
            let spec = match target.based_route.strip_suffix("/...") {
                Some(prefix) => format!("{prefix}/*"),
                None => target.based_route.clone(),
            };
            inner.add(spec.as_str(), target.clone()).map_err(|e| {
                format!(
                    "invalid route `{}` of component `{}`: {e}",
                    target.raw_route, target.component
                )
            })?;
        }
        Ok(Self { inner, listing })
    }

    /// `(route, component)` pairs in manifest order.
    pub fn routes(&self) -> &[(String, String)] {
        &self.listing
    }

    /// Matches a request and computes the `spin-*` headers the component will see.
    pub fn route(
        &self,
        path_and_query: &str,
        scheme: &str,
        host: &str,
        client_addr: SocketAddr,
    ) -> Option<RouteMatch> {
        let path = path_and_query.split('?').next().unwrap_or("");
        let found = self.inner.best_match(path)?;
        let target = found.handler();
        let captures = found.captures();
        // Spin keeps the trailing slash that routefinder drops from the wildcard.
        let path_info = match (captures.wildcard(), path.ends_with('/')) {
            (None, _) => String::new(),
            (Some(""), false) => String::new(),
            (Some(""), true) => "/".into(),
            (Some(rest), false) => format!("/{rest}"),
            (Some(rest), true) => format!("/{rest}/"),
        };
        let component_route = target
            .raw_route
            .strip_suffix("/...")
            .unwrap_or(&target.raw_route)
            .to_string();
        let mut headers = vec![
            ("spin-path-info".to_string(), path_info),
            (
                "spin-full-url".to_string(),
                format!("{scheme}://{host}{path_and_query}"),
            ),
            ("spin-matched-route".to_string(), target.based_route.clone()),
            ("spin-base-path".to_string(), "/".to_string()),
            (
                "spin-raw-component-route".to_string(),
                target.raw_route.clone(),
            ),
            ("spin-component-route".to_string(), component_route),
            ("spin-client-addr".to_string(), client_addr.to_string()),
        ];
        for (name, value) in captures.iter() {
            // Spin builds SPIN_PATH_MATCH_<NAME> and then turns `_` into `-`.
            headers.push((
                format!(
                    "spin-path-match-{}",
                    name.to_ascii_lowercase().replace('_', "-")
                ),
                value.to_string(),
            ));
        }
        Some(RouteMatch {
            component: target.component.clone(),
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn router(routes: &[(&str, &str)]) -> Router {
        let mut text = String::from("spin_manifest_version = 2\n");
        for (route, component) in routes {
            text.push_str(&format!(
                "[[trigger.http]]\nroute = \"{route}\"\ncomponent = \"{component}\"\n"
            ));
        }
        let mut names: Vec<_> = routes.iter().map(|(_, c)| *c).collect();
        names.dedup();
        for name in names {
            text.push_str(&format!("[component.{name}]\nsource = \"x.wasm\"\n"));
        }
        Router::build(&Manifest::parse(&text, Path::new(".")).unwrap()).unwrap()
    }

    fn component(router: &Router, path: &str) -> Option<String> {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        router.route(path, "http", "h", addr).map(|m| m.component)
    }

    #[test]
    fn most_specific_route_wins() {
        let r = router(&[
            ("/v1/accounts/...", "wild"),
            ("/v1/accounts/:account", "account"),
            ("/v1/accounts/:account/invitations", "list"),
            ("/v1/accounts/:account/invitations/:invitation", "one"),
            (
                "/v1/accounts/:account/invitations/:invitation/resend",
                "resend",
            ),
        ]);
        assert_eq!(component(&r, "/v1/accounts/a").as_deref(), Some("account"));
        assert_eq!(
            component(&r, "/v1/accounts/a/invitations").as_deref(),
            Some("list")
        );
        assert_eq!(
            component(&r, "/v1/accounts/a/invitations/i").as_deref(),
            Some("one")
        );
        assert_eq!(
            component(&r, "/v1/accounts/a/invitations/i/resend").as_deref(),
            Some("resend")
        );
        assert_eq!(
            component(&r, "/v1/accounts/a/other/x").as_deref(),
            Some("wild")
        );
        assert_eq!(component(&r, "/v2"), None);
    }

    #[test]
    fn path_match_headers_use_hyphens_like_spin() {
        let r = router(&[("/a/:account_id/...", "c")]);
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let found = r.route("/a/42/rest", "http", "h", addr).unwrap();
        let header = |name: &str| {
            found
                .headers()
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("spin-path-match-account-id"), Some("42"));
        assert_eq!(header("spin-path-info"), Some("/rest"));
        assert_eq!(header("spin-component-route"), Some("/a/:account_id"));
    }

    #[test]
    fn root_routes() {
        let r = router(&[("/", "root"), ("/static/...", "files")]);
        assert_eq!(component(&r, "/").as_deref(), Some("root"));
        assert_eq!(component(&r, "/static/a.css").as_deref(), Some("files"));
        assert_eq!(component(&r, "/other"), None);
        let r = router(&[("/...", "all")]);
        assert_eq!(component(&r, "/").as_deref(), Some("all"));
        assert_eq!(component(&r, "/a/b").as_deref(), Some("all"));
    }
}
