//! Configuration from Spin variables. Each component declares only the
//! variables it needs, so each group is read when it is needed; a variable
//! that is undeclared or empty counts as unset.

use crate::outbound::Limits;
use invitations::Policy;
use invitations_edge::auth::AuthConfig;
use invitations_edge::mail::Provider;
use invitations_edge::problem::ApiError;
use invitations_edge::settings;
use invitations_edge::webhook::WebhookSecret;
use spin_sdk::variables;

/// A variable's value, or `None` when it is undeclared or empty.
pub fn var(name: &str) -> Option<String> {
    variables::get(name).ok().filter(|v| !v.trim().is_empty())
}

fn required(name: &str) -> Result<String, ApiError> {
    var(name).ok_or_else(|| ApiError::Misconfigured(format!("variable {name} is not set")))
}

pub fn auth() -> Result<AuthConfig, ApiError> {
    AuthConfig::new(
        var("auth_hs256_secret"),
        var("auth_jwks"),
        var("auth_issuer"),
        var("auth_audience"),
    )
    .map_err(|e| ApiError::Misconfigured(e.to_string()))
}

/// `cors_allowed_origins`: the browser origins that may call the API (empty:
/// same origin only).
pub fn cors() -> Result<invitations_edge::cors::AllowedOrigins, ApiError> {
    let list = var("cors_allowed_origins").unwrap_or_default();
    invitations_edge::cors::AllowedOrigins::parse(&list).map_err(ApiError::Misconfigured)
}

pub struct MailConfig {
    pub provider: Provider,
    pub api_url: String,
    pub api_token: String,
    pub from: String,
    pub public_base_url: String,
}

pub fn mail() -> Result<MailConfig, ApiError> {
    let provider = var("mail_provider").unwrap_or_else(|| "resend".to_owned());
    Ok(MailConfig {
        provider: Provider::parse(&provider)
            .ok_or_else(|| ApiError::Misconfigured(format!("unknown mail_provider {provider}")))?,
        api_url: required("mail_api_url")?,
        api_token: required("mail_api_token")?,
        from: required("mail_from")?,
        public_base_url: public_base_url(),
    })
}

pub struct WebhookConfig {
    pub url: String,
    pub secret: WebhookSecret,
}

/// Where events go, if `webhook_url` is set. `Err` names what is wrong with
/// the settings; events are then kept for the sweep until it is fixed.
pub fn webhooks() -> Option<Result<WebhookConfig, String>> {
    let url = var("webhook_url")?;
    Some(webhook_config(url))
}

fn webhook_config(url: String) -> Result<WebhookConfig, String> {
    let secret = var("webhook_secret")
        .ok_or_else(|| "webhook_url is set but webhook_secret is not".to_owned())
        .and_then(|s| WebhookSecret::parse(&s).map_err(|e| e.to_string()))?;
    // Spin lets a component reach only the origins it declares, and its
    // manifest cannot take the origin out of a URL, so it is set apart.
    let origin = var("webhook_origin").unwrap_or_default();
    let origin = origin.trim_end_matches('/');
    let inside = url
        .strip_prefix(origin)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']));
    if !inside {
        return Err(format!(
            "webhook_url {url} is not on webhook_origin {origin:?}: set webhook_origin to its scheme://host[:port]"
        ));
    }
    Ok(WebhookConfig { url, secret })
}

pub fn public_base_url() -> String {
    var("public_base_url")
        .unwrap_or_else(|| "http://127.0.0.1:3000".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A number a variable holds: `None` when unset; a value that is not a
/// number in `range` is a misconfiguration, reported at the first request
/// (as a bad auth key is), never a silent default.
fn number<T>(name: &str, range: std::ops::RangeInclusive<T>) -> Result<Option<T>, ApiError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(raw) = var(name) else {
        return Ok(None);
    };
    match raw.trim().parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::Misconfigured(format!(
            "variable {name} must be a number from {} to {}, not {raw:?}",
            range.start(),
            range.end()
        ))),
    }
}

/// `true` or `false`; unset is `default`.
pub fn flag(name: &str, default: bool) -> Result<bool, ApiError> {
    match var(name).as_deref().map(str::trim) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ApiError::Misconfigured(format!(
            "variable {name} must be true or false, not {other:?}"
        ))),
    }
}

/// The service's rules, with the knobs a deployment may turn.
pub fn policy() -> Result<Policy, ApiError> {
    let mut p = Policy::default();
    if let Some(days) = number("retention_days", 1..=36_500)? {
        p.retention_days = days;
    }
    if let Some(days) = number("history_days", 1..=36_500)? {
        p.history_days = days;
    }
    if let Some(secs) = number("resend_cooldown_seconds", 0..=86_400)? {
        p.resend_cooldown_secs = secs;
    }
    if let Some(n) = number("sweep_max_items", 1..=10_000)? {
        p.sweep_max_items = n;
    }
    Ok(p)
}

/// Outbound calls: `outbound_max_in_flight` (default 8) open at once, each
/// given up after `outbound_timeout_seconds` (default 10).
pub fn limits() -> Result<Limits, ApiError> {
    Ok(Limits {
        max_in_flight: number("outbound_max_in_flight", 1..=64)?
            .unwrap_or(settings::OUTBOUND_MAX_IN_FLIGHT),
        timeout_ms: number("outbound_timeout_seconds", 1..=120)?
            .unwrap_or(settings::OUTBOUND_TIMEOUT_SECONDS)
            * 1000,
    })
}

/// [`limits`] when the variables are unset.
pub fn default_limits() -> Limits {
    Limits {
        max_in_flight: settings::OUTBOUND_MAX_IN_FLIGHT,
        timeout_ms: settings::OUTBOUND_TIMEOUT_SECONDS * 1000,
    }
}

/// The provider's documented rate, `mail_max_per_second` (default 2, Resend's).
pub fn mail_max_per_second() -> Result<f64, ApiError> {
    Ok(number("mail_max_per_second", 0.01..=10_000.0)?.unwrap_or(settings::MAIL_MAX_PER_SECOND))
}
