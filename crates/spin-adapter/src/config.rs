//! Configuration from Spin variables. Each component declares only the
//! variables it needs, so each group is read when it is needed; a variable
//! that is undeclared or empty counts as unset.

use invitations::Policy;
use invitations_edge::auth::AuthConfig;
use invitations_edge::mail::Provider;
use invitations_edge::problem::ApiError;
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

/// The service's rules, with the knobs a deployment may turn.
pub fn policy() -> Policy {
    let mut p = Policy::default();
    let number = |name: &str| var(name).and_then(|v| v.trim().parse::<i64>().ok());
    if let Some(days) = number("retention_days").filter(|d| *d >= 1) {
        p.retention_days = days;
    }
    if let Some(secs) = number("resend_cooldown_seconds").filter(|s| *s >= 0) {
        p.resend_cooldown_secs = secs;
    }
    if let Some(n) = number("sweep_max_items").filter(|n| (1..=10_000).contains(n)) {
        p.sweep_max_items = n as usize;
    }
    p
}
