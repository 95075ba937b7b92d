//! One error type for the HTTP edge, rendered as RFC 9457 problem+json with a
//! stable machine `code`. Domain errors keep their own codes; the edge adds
//! the few that only HTTP knows (authentication, body, method, route).

use invitations::error::{Error as DomainError, FieldError, Kind};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0}")]
    Unauthorized(String),
    /// A mail provider's event that is not the provider's (no bearer
    /// token would help, so no `WWW-Authenticate`).
    #[error("{0}")]
    Unverified(String),
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("unknown field `{0}`")]
    UnknownField(String),
    #[error("the body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("this route answers only {0}")]
    MethodNotAllowed(&'static str),
    #[error("no such route")]
    NotFound,
    #[error("the service is misconfigured: {0}")]
    Misconfigured(String),
    /// A problem that also carries per-item outcomes (`results`), such as an
    /// invite where no address could be invited.
    #[error("{0}")]
    WithResults(Box<ApiError>, Value),
}

/// A problem ready to be written out.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after_secs: Option<u64>,
    /// For 405: the methods the route answers.
    pub allow: Option<&'static str>,
    /// For 401: ask for a bearer token.
    pub www_authenticate: bool,
    /// Per-item outcomes, when the request had many items.
    pub results: Option<Value>,
    /// For a failure inside the service: names this occurrence, so the
    /// operator finds the internal error the log keeps under the same name.
    pub instance: Option<String>,
}

/// What a caller reads when the store failed: the store's own error (request
/// ids, hosts, SDK internals) stays in the log ([`ApiError::internal`]).
pub const STORE_UNAVAILABLE_DETAIL: &str = "the store did not answer; try again shortly";

fn status_of(kind: Kind) -> (u16, &'static str) {
    match kind {
        Kind::Invalid => (400, "Bad Request"),
        Kind::Unprocessable => (422, "Unprocessable Content"),
        Kind::Forbidden => (403, "Forbidden"),
        Kind::NotFound => (404, "Not Found"),
        Kind::Conflict => (409, "Conflict"),
        Kind::Gone => (410, "Gone"),
        Kind::RateLimited => (429, "Too Many Requests"),
        Kind::Unavailable => (503, "Service Unavailable"),
    }
}

impl From<crate::mail::events::Unverified> for ApiError {
    fn from(e: crate::mail::events::Unverified) -> Self {
        ApiError::Unverified(e.to_string())
    }
}

impl From<crate::mail::events::Unreadable> for ApiError {
    fn from(e: crate::mail::events::Unreadable) -> Self {
        use crate::mail::events::Unreadable;
        match e {
            Unreadable::NotJson(e) => ApiError::InvalidJson(e),
            Unreadable::Field(field, message) => {
                ApiError::Domain(DomainError::Validation(vec![FieldError::new(
                    field, message,
                )]))
            }
        }
    }
}

impl ApiError {
    /// The internal error behind a problem whose detail does not show it: for
    /// the log, never for the caller.
    pub fn internal(&self) -> Option<String> {
        match self {
            ApiError::Domain(DomainError::StoreUnavailable(e)) => Some(e.clone()),
            ApiError::WithResults(inner, _) => inner.internal(),
            _ => None,
        }
    }

    pub fn problem(&self) -> Problem {
        let mut p = Problem {
            status: 400,
            code: "",
            title: "Bad Request",
            detail: self.to_string(),
            errors: Vec::new(),
            retry_after_secs: None,
            allow: None,
            www_authenticate: false,
            results: None,
            instance: None,
        };
        match self {
            ApiError::Domain(e) => {
                let (status, title) = status_of(e.kind());
                p.status = status;
                p.title = title;
                p.code = e.code();
                p.retry_after_secs = e.retry_after_secs();
                if let DomainError::StoreUnavailable(_) = e {
                    p.detail = STORE_UNAVAILABLE_DETAIL.to_owned();
                }
                if let DomainError::Validation(errors) = e {
                    p.errors = errors.clone();
                    p.detail = match errors.as_slice() {
                        [one] => format!("{}: {}", one.field, one.message),
                        _ => "some fields are invalid".to_owned(),
                    };
                }
            }
            ApiError::Unauthorized(_) => {
                p.status = 401;
                p.title = "Unauthorized";
                p.code = "unauthorized";
                p.www_authenticate = true;
            }
            ApiError::Unverified(_) => {
                p.status = 401;
                p.title = "Unauthorized";
                p.code = "unauthorized";
            }
            ApiError::InvalidJson(_) => p.code = "invalid_json",
            ApiError::UnknownField(field) => {
                p.code = "unknown_field";
                p.errors = vec![FieldError::new(
                    field.clone(),
                    "is not a field of this request",
                )];
            }
            ApiError::PayloadTooLarge => {
                p.status = 413;
                p.title = "Content Too Large";
                p.code = "payload_too_large";
            }
            ApiError::MethodNotAllowed(allow) => {
                p.status = 405;
                p.title = "Method Not Allowed";
                p.code = "method_not_allowed";
                p.allow = Some(allow);
            }
            ApiError::NotFound => {
                p.status = 404;
                p.title = "Not Found";
                p.code = "not_found";
            }
            ApiError::Misconfigured(_) => {
                p.status = 503;
                p.title = "Service Unavailable";
                p.code = "misconfigured";
            }
            ApiError::WithResults(inner, results) => {
                p = inner.problem();
                p.results = results.get("results").cloned().or(Some(results.clone()));
            }
        }
        p
    }
}

impl Problem {
    /// The problem+json body: `Problem` in `openapi.yaml`.
    pub fn body(&self) -> ProblemBody<'_> {
        ProblemBody {
            kind: format!("urn:invitations:problem:{}", self.code),
            title: self.title,
            status: self.status,
            detail: &self.detail,
            code: self.code,
            errors: self
                .errors
                .iter()
                .map(|e| FieldErrorBody {
                    field: &e.field,
                    message: &e.message,
                })
                .collect(),
            results: self.results.as_ref(),
            instance: self.instance.as_deref(),
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.body()).unwrap_or_default()
    }
}

/// `Problem` in `openapi.yaml`.
#[derive(Clone, Debug, Serialize)]
pub struct ProblemBody<'a> {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: &'a str,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldErrorBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<&'a str>,
}

/// One field's complaint in a `400`.
#[derive(Clone, Debug, Serialize)]
pub struct FieldErrorBody<'a> {
    pub field: &'a str,
    pub message: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn domain_errors_keep_their_codes_and_get_statuses() {
        let p = ApiError::from(DomainError::AlreadyInvited).problem();
        assert_eq!((p.status, p.code), (409, "already_invited"));
        let p = ApiError::from(DomainError::InvitationExpired).problem();
        assert_eq!((p.status, p.code), (410, "invitation_expired"));
        let p = ApiError::from(DomainError::ResendTooSoon {
            retry_after_secs: 42,
        })
        .problem();
        assert_eq!((p.status, p.retry_after_secs), (429, Some(42)));
        let p = ApiError::from(DomainError::StoreUnavailable("x".into())).problem();
        assert_eq!(p.status, 503);
    }

    #[test]
    fn validation_problems_list_their_fields() {
        let p = ApiError::from(DomainError::field("emails", "give 1 to 100 addresses")).problem();
        let body = p.to_json();
        assert_eq!(body["status"], 400);
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["errors"][0]["field"], "emails");
        assert_eq!(body["type"], "urn:invitations:problem:validation_failed");
    }

    #[test]
    fn edge_errors_have_their_own_codes() {
        let p = ApiError::Unauthorized("missing".into()).problem();
        assert_eq!(
            (p.status, p.code, p.www_authenticate),
            (401, "unauthorized", true)
        );
        assert_eq!(ApiError::PayloadTooLarge.problem().status, 413);
        assert_eq!(
            ApiError::UnknownField("x".into()).problem().code,
            "unknown_field"
        );
        assert_eq!(
            ApiError::MethodNotAllowed("GET, POST").problem().allow,
            Some("GET, POST")
        );
        let nothing = ApiError::WithResults(
            Box::new(ApiError::Domain(DomainError::NothingInvited)),
            json!({"results": [{"email": "x", "status": "invalid_email"}]}),
        );
        let body = nothing.problem().to_json();
        assert_eq!(body["status"], 422);
        assert_eq!(body["results"][0]["status"], "invalid_email");
    }
}
