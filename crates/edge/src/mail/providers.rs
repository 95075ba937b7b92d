//! How a provider is asked to send (its single and batch endpoints, as it
//! words them) and what its answer means for each message.

use invitations::model::SendFailure;
use invitations::ops::deliveries::SendOutcome;
use invitations::time::Timestamp;
use invitations::values::MessageId;
use serde_json::json;

use super::{header_safe, Message};
use crate::outgoing::{Answer, OutgoingRequest};

/// The mail providers we can talk to, chosen by `mail_provider`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Resend,
    Postmark,
}

impl Provider {
    pub fn parse(name: &str) -> Option<Provider> {
        match name.trim().to_ascii_lowercase().as_str() {
            "resend" => Some(Provider::Resend),
            "postmark" => Some(Provider::Postmark),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Resend => "resend",
            Provider::Postmark => "postmark",
        }
    }
}

impl Provider {
    /// Most messages one batch call may carry (Resend's and Postmark's documented limits).
    pub fn batch_limit(self) -> usize {
        match self {
            Provider::Resend => 100,
            Provider::Postmark => 500,
        }
    }
}

/// Where and as whom mail is sent.
#[derive(Clone, Copy, Debug)]
pub struct MailApi<'a> {
    pub provider: Provider,
    pub api_url: &'a str,
    pub api_token: &'a str,
    pub from: &'a str,
}

impl MailApi<'_> {
    fn base(&self) -> &str {
        self.api_url.trim().trim_end_matches('/')
    }

    fn request(
        &self,
        path: &str,
        extra: &[(&str, &str)],
        body: serde_json::Value,
    ) -> OutgoingRequest {
        let token = header_safe(self.api_token);
        let mut headers = match self.provider {
            Provider::Resend => vec![("Authorization".to_owned(), format!("Bearer {token}"))],
            Provider::Postmark => vec![
                ("X-Postmark-Server-Token".to_owned(), token),
                ("Accept".to_owned(), "application/json".to_owned()),
            ],
        };
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        headers.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        OutgoingRequest {
            method: "POST",
            url: format!("{}{path}", self.base()),
            headers,
            body: body.to_string().into_bytes(),
        }
    }

    /// One message in the provider's JSON shape.
    fn message_json(&self, message: &Message) -> serde_json::Value {
        let from = header_safe(self.from);
        let subject = header_safe(&message.subject);
        match self.provider {
            Provider::Resend => json!({
                "from": from,
                "to": [message.to.as_str()],
                "subject": subject,
                "html": message.html,
                "text": message.text,
            }),
            Provider::Postmark => json!({
                "From": from,
                "To": message.to.as_str(),
                "Subject": subject,
                "HtmlBody": message.html,
                "TextBody": message.text,
                "MessageStream": "outbound",
            }),
        }
    }

    /// The provider's "send one email" request for `message`.
    pub fn single(&self, message: &Message) -> OutgoingRequest {
        let path = match self.provider {
            Provider::Resend => "/emails",
            Provider::Postmark => "/email",
        };
        self.request(path, &[], self.message_json(message))
    }

    /// The provider's batch request: one call for up to [`Provider::batch_limit`]
    /// messages (Resend `POST /emails/batch`, in permissive mode so that one bad
    /// message does not sink the rest; Postmark `POST /email/batch`).
    pub fn batch(&self, messages: &[Message]) -> OutgoingRequest {
        let body =
            serde_json::Value::Array(messages.iter().map(|m| self.message_json(m)).collect());
        match self.provider {
            Provider::Resend => self.request(
                "/emails/batch",
                &[("x-batch-validation", "permissive")],
                body,
            ),
            Provider::Postmark => self.request("/email/batch", &[], body),
        }
    }
}

/// The provider's "send one email" request for `message` (tests).
#[cfg(test)]
pub(super) fn provider_request(
    provider: Provider,
    api_url: &str,
    api_token: &str,
    from: &str,
    message: &Message,
) -> OutgoingRequest {
    MailApi {
        provider,
        api_url,
        api_token,
        from,
    }
    .single(message)
}

/// Waiting longer than this for a provider's reset is not waiting, it is a
/// provider that is down; the sweep's ordinary backoff takes over.
const MAX_DEFERRAL_SECS: u64 = 3600;

/// What a provider's answer (or the failure to get one) means for each of the
/// `n` messages of the call. A `429`, or a `503` that says when to come back,
/// is a rate limit: every message is deferred to the provider's reset and no
/// attempt is used. For a batch, per-message errors in the answer fail only
/// those messages.
pub fn outcomes(
    provider: Provider,
    batch: bool,
    n: usize,
    answer: &Result<Answer, String>,
    now: Timestamp,
) -> Vec<SendOutcome> {
    let all = |outcome: SendOutcome| vec![outcome; n];
    let answer = match answer {
        Err(e) => return all(Err(SendFailure::Failed(e.clone()))),
        Ok(a) => a,
    };
    let wait = answer.retry_after_secs();
    if answer.status == 429 || (answer.status == 503 && wait.is_some()) {
        let secs = wait.unwrap_or(1).clamp(1, MAX_DEFERRAL_SECS);
        return all(Err(SendFailure::Deferred {
            until: now.plus_secs(secs as i64),
            reason: format!(
                "rate limited by the mail provider ({}): next try in {secs} s",
                answer.status
            ),
        }));
    }
    if !answer.is_success() {
        return all(Err(SendFailure::Failed(answer.excerpt("mail provider"))));
    }
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&answer.body).ok();
    // The id the provider gave a message: its delivery events name it so.
    let id_field = match provider {
        Provider::Resend => "id",
        Provider::Postmark => "MessageID",
    };
    let id_of = |v: &serde_json::Value| v[id_field].as_str().and_then(|s| MessageId::parse(s).ok());
    if !batch {
        return all(Ok(parsed.as_ref().and_then(id_of)));
    }
    let mut out = all(Ok(None));
    match (provider, parsed) {
        // {"data": [{"id": …}, …], "errors": [{"index": i, "message": "..."}]}:
        // `data` holds the messages taken, in the order sent.
        (Provider::Resend, Some(body)) => {
            for error in body["errors"].as_array().into_iter().flatten() {
                if let Some(slot) = error["index"]
                    .as_u64()
                    .and_then(|i| out.get_mut(i as usize))
                {
                    let message = error["message"].as_str().unwrap_or("refused");
                    *slot = Err(SendFailure::Failed(format!(
                        "mail provider refused it: {message}"
                    )));
                }
            }
            let mut ids = body["data"].as_array().into_iter().flatten().map(id_of);
            for slot in out.iter_mut().filter(|o| o.is_ok()) {
                *slot = Ok(ids.next().flatten());
            }
        }
        // [{"ErrorCode": 0, "Message": "OK", ...}, ...] in the order sent.
        (Provider::Postmark, Some(serde_json::Value::Array(items))) => {
            for (slot, item) in out
                .iter_mut()
                .zip(items.iter().map(Some).chain(std::iter::repeat(None)))
            {
                match item.map(|i| (i["ErrorCode"].as_i64(), i["Message"].as_str())) {
                    Some((Some(0), _)) => *slot = Ok(item.and_then(id_of)),
                    Some((code, message)) => {
                        *slot = Err(SendFailure::Failed(format!(
                            "mail provider refused it: {} ({})",
                            message.unwrap_or("error"),
                            code.unwrap_or(-1)
                        )))
                    }
                    None => {
                        *slot = Err(SendFailure::Failed(
                            "mail provider answered no result for this message".into(),
                        ))
                    }
                }
            }
        }
        // A 2xx we cannot read: the provider accepted the call.
        _ => {}
    }
    out
}
