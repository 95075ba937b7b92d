//! Request and response glue shared by the components.

use crate::config;
use crate::outbound::Limits;
use crate::platform::{HostRandom, WallClock};
use crate::store::SpinStore;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use invitations::ops::idempotency::{self, Begin, IdempotencyKey};
use invitations::principal::Principal;
use invitations::time::Clock;
use invitations::{Env, Policy};
use invitations_edge::problem::ApiError;
use serde::{Deserialize, Serialize};
use spin_sdk::http::{Request, Response};
use std::future::Future;

/// What one request works with: the store, the clock, randomness, policy,
/// and the deployment's settings, all read (and checked) once at its start.
pub struct Ctx {
    pub store: SpinStore,
    pub clock: WallClock,
    pub random: HostRandom,
    pub policy: Policy,
    pub limits: Limits,
    /// `mail_max_per_second`: how fast the sweep calls the provider.
    pub mail_max_per_second: f64,
    /// `send_after_answer`: mail and webhooks after the response (default), or before it.
    pub send_after_answer: bool,
}

/// What a component does, and so which settings it reads (each component
/// declares only the variables it uses in spin.toml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uses {
    /// The store and the domain's rules only (`policy`).
    Store,
    /// Also mail and webhooks: `outbound_*` and `send_after_answer`.
    Outbound,
    /// Also the sweep's pace with the provider: `mail_max_per_second`.
    Sweep,
}

impl Ctx {
    /// Opens the store and reads the settings `uses` needs; a variable that
    /// does not parse is a `misconfigured` problem, at every request until it
    /// is fixed. Settings a component does not use keep their defaults.
    pub fn open(uses: Uses) -> Result<Ctx, ApiError> {
        use invitations_edge::settings;
        let sends = uses != Uses::Store;
        Ok(Ctx {
            policy: config::policy()?,
            limits: if sends {
                config::limits()?
            } else {
                config::default_limits()
            },
            mail_max_per_second: if uses == Uses::Sweep {
                config::mail_max_per_second()?
            } else {
                settings::MAIL_MAX_PER_SECOND
            },
            send_after_answer: if sends {
                config::flag("send_after_answer", settings::SEND_AFTER_ANSWER)?
            } else {
                settings::SEND_AFTER_ANSWER
            },
            store: SpinStore::open_default(config::var("store_redis_url"))
                .map_err(|e| ApiError::Domain(invitations::Error::from(e)))?,
            clock: WallClock,
            random: HostRandom,
        })
    }

    pub fn env(&self) -> Env<'_> {
        Env {
            store: &self.store,
            clock: &self.clock,
            random: &self.random,
            policy: &self.policy,
        }
    }
}

pub fn json(status: u16, body: &impl Serialize) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap_or_default())
        .build()
}

pub fn no_content() -> Response {
    Response::builder().status(204).build()
}

pub fn problem(e: &ApiError) -> Response {
    let mut p = e.problem();
    if let Some(internal) = e.internal() {
        // The caller gets a name for this failure; the log gets the failure.
        let mut bytes = [0u8; 8];
        invitations::random::Random::fill(&crate::platform::HostRandom, &mut bytes);
        let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        eprintln!("incident {name}: {}: {internal}", p.code);
        p.instance = Some(format!("urn:invitations:incident:{name}"));
    }
    let mut b = Response::builder();
    b.status(p.status)
        .header("content-type", "application/problem+json");
    if let Some(secs) = p.retry_after_secs {
        b.header("retry-after", secs.to_string());
    }
    if let Some(allow) = p.allow {
        b.header("allow", allow);
    }
    if p.www_authenticate {
        b.header("www-authenticate", "Bearer");
    }
    b.body(serde_json::to_vec(&p.to_json()).unwrap_or_default())
        .build()
}

/// Turns a handler's outcome into a response, with the CORS headers its
/// `Origin` is allowed (`cors_allowed_origins`).
pub fn finish(req: &Request, outcome: Result<Response, ApiError>) -> Response {
    let mut response = outcome.unwrap_or_else(|e| problem(&e));
    if let Some(origin) = origin(req) {
        match config::cors() {
            Ok(allowed) => {
                for (name, value) in allowed.response_headers(Some(origin)) {
                    response.set_header(name, value);
                }
            }
            Err(e) => return problem(&e),
        }
    }
    response
}

/// Answers a browser's CORS preflight (`OPTIONS` with
/// `Access-Control-Request-Method`); `None` for any other request. An origin
/// not allowed gets no CORS headers, so the browser refuses the real request.
pub fn preflight(req: &Request) -> Option<Response> {
    if *req.method() != spin_sdk::http::Method::Options
        || req.header("access-control-request-method").is_none()
    {
        return None;
    }
    let allowed = match config::cors() {
        Ok(a) => a,
        Err(e) => return Some(problem(&e)),
    };
    let mut b = Response::builder();
    b.status(204);
    for (name, value) in allowed.preflight_headers(origin(req)) {
        b.header(name, value);
    }
    Some(b.build())
}

fn origin(req: &Request) -> Option<&str> {
    req.header("origin").and_then(|v| v.as_str())
}

/// A `:name` segment of the matched route, percent-decoded (Spin passes it raw).
pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.header(&format!("spin-path-match-{name}"))
        .and_then(|v| v.as_str())
        .map(invitations_edge::body::percent_decode)
}

/// The verified caller.
pub fn caller(req: &Request, ctx: &Ctx) -> Result<Principal, ApiError> {
    // No credentials is a 401 whatever the configuration says.
    let header = req.header("authorization").and_then(|v| v.as_str());
    if header.is_none_or(|h| h.trim().is_empty()) {
        return Err(ApiError::Unauthorized(
            "expected Authorization: Bearer <JWT>".into(),
        ));
    }
    let auth = config::auth()?;
    let now = (ctx.clock.now().unix_millis() / 1000).max(0) as u64;
    invitations_edge::auth::verify(&auth, header, now)
        .map_err(|e| ApiError::Unauthorized(e.to_string()))
}

/// The JSON body, within the size limit (which `body::json` checks).
pub fn body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    invitations_edge::body::json(req.body())
}

/// A response as kept for `Idempotency-Key` replays.
#[derive(Serialize, Deserialize)]
struct Stored {
    status: u16,
    content_type: Option<String>,
    #[serde(default)]
    location: Option<String>,
    body: String,
}

/// The answer as kept for replays. Links handed over once (`accept_url`)
/// are left out: only their hashes are ever stored, so a replay shows the
/// invitations without them (a resend with delivery none makes a new one).
fn freeze(resp: &Response) -> Vec<u8> {
    let holds_links = resp.body().windows(12).any(|w| w == b"\"accept_url\"");
    let body = match serde_json::from_slice::<serde_json::Value>(resp.body()) {
        Ok(mut json) if holds_links => {
            forget_links(&mut json);
            serde_json::to_vec(&json).unwrap_or_default()
        }
        // Anything else is replayed byte for byte.
        _ => resp.body().to_vec(),
    };
    let stored = Stored {
        status: *resp.status(),
        content_type: resp
            .header("content-type")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        location: resp
            .header("location")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        body: STANDARD.encode(body),
    };
    serde_json::to_vec(&stored).unwrap_or_default()
}

fn forget_links(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::Object(map) => {
            map.remove("accept_url");
            map.values_mut().for_each(forget_links);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(forget_links),
        _ => {}
    }
}

fn thaw(bytes: &[u8]) -> Option<Response> {
    let s: Stored = serde_json::from_slice(bytes).ok()?;
    let mut b = Response::builder();
    b.status(s.status).header("idempotent-replayed", "true");
    if let Some(ct) = s.content_type {
        b.header("content-type", ct);
    }
    if let Some(location) = s.location {
        b.header("location", location);
    }
    Some(b.body(STANDARD.decode(s.body).ok()?).build())
}

/// Runs `act` at most once per `Idempotency-Key` (when the request has one):
/// a retry gets the first answer. Answers that say "try again later" (429,
/// 5xx) are not kept, so the retry acts.
pub async fn idempotent<F, Fut>(
    req: &Request,
    ctx: &Ctx,
    caller: &Principal,
    act: F,
) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let Some(key) = req.header("idempotency-key").and_then(|v| v.as_str()) else {
        return act().await;
    };
    let key = IdempotencyKey::parse(key)?;
    let who = match caller {
        Principal::User(u) => format!("user:{}", u.id),
        Principal::Service { id } => format!("service:{id}"),
    };
    let route = format!("{:?} {}", req.method(), req.path());
    let env = ctx.env();
    match idempotency::begin(&env, &who, &route, &key, req.body())? {
        Begin::Replay(bytes) => thaw(&bytes).ok_or_else(|| {
            ApiError::Domain(invitations::Error::StoreUnavailable(
                "unreadable stored answer".into(),
            ))
        }),
        Begin::Proceed(claim) => {
            let resp = act().await.unwrap_or_else(|e| problem(&e));
            // "Try again later" answers (429, 5xx) are not kept: the retry must act.
            let status = *resp.status();
            if status < 500 && status != 429 {
                // If keeping the answer fails, the action still happened: answer it.
                let _ = idempotency::complete(&env, claim, &freeze(&resp));
            } else {
                let _ = idempotency::release(&env, claim);
            }
            Ok(resp)
        }
    }
}

/// The route pattern Spin matched, as declared for this component.
pub fn route(req: &Request) -> String {
    req.header("spin-component-route")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// A query parameter, percent-decoded.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    invitations_edge::body::query_pairs(req.query())
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Path ids: one that cannot be parsed cannot name anything, so it is "not found".
pub fn account_id(req: &Request) -> Result<invitations::ids::AccountId, ApiError> {
    path_param(req, "account")
        .and_then(|s| invitations::ids::AccountId::parse(&s).ok())
        .ok_or(ApiError::Domain(invitations::Error::AccountNotFound))
}

pub fn invitation_id(req: &Request) -> Result<invitations::ids::InvitationId, ApiError> {
    path_param(req, "invitation")
        .and_then(|s| invitations::ids::InvitationId::parse(&s).ok())
        .ok_or(ApiError::Domain(invitations::Error::InvitationNotFound))
}

pub fn user_id(req: &Request) -> Result<invitations::ids::UserId, ApiError> {
    path_param(req, "user")
        .and_then(|s| invitations::ids::UserId::parse(&s).ok())
        .ok_or(ApiError::Domain(invitations::Error::MemberNotFound))
}

pub fn join_link_id(req: &Request) -> Result<invitations::ids::JoinLinkId, ApiError> {
    path_param(req, "link")
        .and_then(|s| invitations::ids::JoinLinkId::parse(&s).ok())
        .ok_or(ApiError::Domain(invitations::Error::JoinLinkNotFound))
}

/// An HTML page that leaks nothing: no referrer (the URL holds a token), no
/// caching, nothing loaded but its inline style (and the empty `data:` icon
/// that keeps browsers from asking for /favicon.ico).
pub fn html(status: u16, body: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("referrer-policy", "no-referrer")
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        )
        .body(body.as_bytes().to_vec())
        .build()
}
