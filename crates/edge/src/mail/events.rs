//! What a provider tells us about a mail after accepting it, and how we know
//! the provider is the one telling.
//!
//! - Resend signs its events as Svix does: `svix-id`, `svix-timestamp` and
//!   `svix-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//!   keyed with the `whsec_` secret's decoded bytes (Standard Webhooks, as
//!   our own webhooks are signed). A timestamp more than 5 minutes off ours
//!   is refused, so a captured event cannot be replayed later; within those
//!   5 minutes a replay carries an id already heard ([`MailEvent::id`]).
//! - Postmark signs nothing: its webhook URL carries a secret, as basic auth
//!   (`https://user:token@…`) or a custom header (`X-Webhook-Token`).

use crate::webhook::{mac, WebhookSecret};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use invitations::model::MailNoteKind;
use invitations::ops::mail_events::MailEvent;
use invitations::values::MessageId;
use serde_json::Value;
use subtle::ConstantTimeEq;

/// How far a signed event's timestamp may be from our clock.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// Why an event was not believed (a 401).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unverified {
    #[error("{0} is not set: events from this provider are not taken")]
    NotConfigured(&'static str),
    #[error("expected the svix-id, svix-timestamp and svix-signature headers")]
    MissingHeaders,
    #[error("the svix-timestamp is more than 5 minutes from now")]
    Stale,
    #[error("no signature in svix-signature matches the body")]
    BadSignature,
    #[error("expected the webhook token as basic auth or X-Webhook-Token")]
    BadToken,
}

/// Why a believed event could not be read (a 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unreadable {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("{0}: {1}")]
    Field(&'static str, String),
}

/// The Svix headers of a request, as sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct SvixHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Checks a Svix-signed request: every `v1,` signature in the header is
/// compared, in constant time, with ours (a provider rotating its secret
/// sends two).
pub fn verify_svix(
    secret: &WebhookSecret,
    headers: SvixHeaders,
    body: &[u8],
    now_secs: i64,
) -> Result<(), Unverified> {
    let (Some(id), Some(timestamp), Some(signatures)) =
        (headers.id, headers.timestamp, headers.signature)
    else {
        return Err(Unverified::MissingHeaders);
    };
    let timestamp = timestamp.trim();
    let secs: i64 = timestamp.parse().map_err(|_| Unverified::MissingHeaders)?;
    if (now_secs - secs).abs() > TOLERANCE_SECS {
        return Err(Unverified::Stale);
    }
    let expected = mac(secret, id.trim(), timestamp, body);
    let matched = signatures
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .fold(false, |found, given| {
            found | bool::from(given.as_slice().ct_eq(&expected[..]))
        });
    if matched {
        Ok(())
    } else {
        Err(Unverified::BadSignature)
    }
}

/// Whether a Postmark request presents `token`: as the password of basic
/// auth (any user name) or as `X-Webhook-Token`. Both sides are hashed and
/// the digests compared in constant time. An empty token matches nothing.
pub fn postmark_token_matches(
    authorization: Option<&str>,
    token_header: Option<&str>,
    token: &str,
) -> bool {
    let from_basic = authorization
        .map(str::trim)
        .and_then(|h| {
            let (scheme, rest) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
        })
        .and_then(|b64| STANDARD.decode(b64).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| pair.split_once(':').map(|(_, p)| p.to_owned()));
    let presented = from_basic
        .or_else(|| token_header.map(|t| t.trim().to_owned()))
        .unwrap_or_default();
    let expected = hmac_sha256::Hash::hash(token.as_bytes());
    let matches = hmac_sha256::Hash::verify(presented.as_bytes(), &expected);
    matches && !token.is_empty()
}

fn json(body: &[u8]) -> Result<Value, Unreadable> {
    serde_json::from_slice(body).map_err(|e| Unreadable::NotJson(e.to_string()))
}

fn message_id(v: &Value, field: &'static str) -> Result<MessageId, Unreadable> {
    let required = || Unreadable::Field(field, "is required: the provider's message id".into());
    let id = v.as_str().ok_or_else(required)?;
    MessageId::parse(id).map_err(|e| Unreadable::Field(field, e.to_string()))
}

fn words(parts: &[&Value]) -> Option<String> {
    let text: Vec<&str> = parts
        .iter()
        .filter_map(|v| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    (!text.is_empty()).then(|| text.join(": "))
}

/// A Resend event (`{type, created_at, data: {email_id, bounce?, …}}`);
/// `None` for a type that says nothing about delivery (sent,
/// opened, clicked, and any Resend adds later).
pub fn read_resend(event_id: &str, body: &[u8]) -> Result<Option<MailEvent>, Unreadable> {
    let v = json(body)?;
    let data = &v["data"];
    let (kind, detail) = match v["type"].as_str().unwrap_or_default() {
        "email.delivered" => (MailNoteKind::Delivered, None),
        "email.bounced" => {
            let bounce = &data["bounce"];
            let permanent = bounce["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("permanent"));
            let kind = if permanent {
                MailNoteKind::Bounced
            } else {
                MailNoteKind::SoftBounced
            };
            (kind, words(&[&bounce["subType"], &bounce["message"]]))
        }
        "email.complained" => (MailNoteKind::Complained, None),
        "email.delivery_delayed" => (MailNoteKind::Delayed, None),
        "email.failed" => (MailNoteKind::Failed, words(&[&data["failed"]["reason"]])),
        _ => return Ok(None),
    };
    Ok(Some(MailEvent {
        id: event_id.trim().to_owned(),
        message: message_id(&data["email_id"], "data.email_id")?,
        kind,
        detail,
    }))
}

/// Postmark bounce types after which the address takes no mail.
const POSTMARK_PERMANENT: [&str; 4] = [
    "HardBounce",
    "BadEmailAddress",
    "ManuallyDeactivated",
    "SpamNotification",
];

/// A Postmark event (`RecordType` `Delivery`, `Bounce` or `SpamComplaint`);
/// `None` for any other record type (opens, clicks,
/// subscription changes). Postmark gives events no id of their own: a
/// bounce's `ID` or the message and record type stand in, the same on
/// every retry.
pub fn read_postmark(body: &[u8]) -> Result<Option<MailEvent>, Unreadable> {
    let v = json(body)?;
    let record = v["RecordType"].as_str().unwrap_or_default();
    let (kind, detail) = match record {
        "Delivery" => (MailNoteKind::Delivered, None),
        "Bounce" => {
            let bounce_type = v["Type"].as_str().unwrap_or_default();
            let permanent =
                POSTMARK_PERMANENT.contains(&bounce_type) || v["Inactive"].as_bool() == Some(true);
            let kind = if permanent {
                MailNoteKind::Bounced
            } else {
                MailNoteKind::SoftBounced
            };
            (kind, words(&[&v["Type"], &v["Description"]]))
        }
        "SpamComplaint" => (MailNoteKind::Complained, None),
        _ => return Ok(None),
    };
    let message = message_id(&v["MessageID"], "MessageID")?;
    let id = match &v["ID"] {
        Value::Number(n) => format!("postmark:{record}:{n}"),
        Value::String(s) => format!("postmark:{record}:{s}"),
        _ => format!("postmark:{record}:{}", message.as_str()),
    };
    Ok(Some(MailEvent {
        id,
        message,
        kind,
        detail,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector Svix and the Standard Webhooks specification publish.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> SvixHeaders<'a> {
        SvixHeaders {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    fn secret() -> WebhookSecret {
        WebhookSecret::parse(SECRET).unwrap()
    }

    #[test]
    fn the_published_svix_vector_verifies() {
        let ts = TIMESTAMP.to_string();
        assert_eq!(
            verify_svix(&secret(), headers(ID, &ts, SIGNATURE), BODY, TIMESTAMP),
            Ok(())
        );
        // Our own signer makes the same signature.
        assert_eq!(
            crate::webhook::signature(&secret(), ID, TIMESTAMP, BODY),
            SIGNATURE
        );
        // One of several (a secret being rotated), in any place.
        let two = format!("v1,bm90IHRoaXMgb25l {SIGNATURE} v2,whatever");
        assert_eq!(
            verify_svix(&secret(), headers(ID, &ts, &two), BODY, TIMESTAMP + 299),
            Ok(())
        );
    }

    #[test]
    fn anything_changed_or_late_is_refused() {
        let ts = TIMESTAMP.to_string();
        let other = WebhookSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let cases = [
            (
                secret(),
                headers(ID, &ts, SIGNATURE),
                &br#"{"test": 2432232315}"#[..],
                TIMESTAMP,
                Unverified::BadSignature,
            ),
            (
                secret(),
                headers("msg_other", &ts, SIGNATURE),
                BODY,
                TIMESTAMP,
                Unverified::BadSignature,
            ),
            (
                other,
                headers(ID, &ts, SIGNATURE),
                BODY,
                TIMESTAMP,
                Unverified::BadSignature,
            ),
            (
                secret(),
                headers(ID, &ts, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
                BODY,
                TIMESTAMP,
                Unverified::BadSignature,
            ),
            (
                secret(),
                headers(ID, &ts, "v1,not base64!"),
                BODY,
                TIMESTAMP,
                Unverified::BadSignature,
            ),
            (
                secret(),
                headers(ID, &ts, SIGNATURE),
                BODY,
                TIMESTAMP + 301,
                Unverified::Stale,
            ),
            (
                secret(),
                headers(ID, &ts, SIGNATURE),
                BODY,
                TIMESTAMP - 301,
                Unverified::Stale,
            ),
            (
                secret(),
                headers(ID, "soon", SIGNATURE),
                BODY,
                TIMESTAMP,
                Unverified::MissingHeaders,
            ),
            (
                secret(),
                SvixHeaders::default(),
                BODY,
                TIMESTAMP,
                Unverified::MissingHeaders,
            ),
        ];
        for (secret, headers, body, now, why) in cases {
            assert_eq!(
                verify_svix(&secret, headers, body, now),
                Err(why),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn postmark_takes_its_token_as_basic_auth_or_a_header() {
        let basic = |pair: &str| format!("Basic {}", STANDARD.encode(pair));
        let token = "pm-hook-token";
        assert!(postmark_token_matches(
            Some(&basic("postmark:pm-hook-token")),
            None,
            token
        ));
        assert!(postmark_token_matches(
            Some(&basic(":pm-hook-token")),
            None,
            token
        ));
        assert!(postmark_token_matches(None, Some(" pm-hook-token "), token));
        assert!(!postmark_token_matches(
            Some(&basic("postmark:pm-hook-toke")),
            None,
            token
        ));
        assert!(!postmark_token_matches(
            Some(&basic("pm-hook-token")),
            None,
            token
        ));
        assert!(!postmark_token_matches(
            Some("Bearer pm-hook-token"),
            None,
            token
        ));
        assert!(!postmark_token_matches(None, Some("pm-hook-token2"), token));
        assert!(!postmark_token_matches(None, None, token));
        assert!(!postmark_token_matches(None, Some(""), ""));
    }

    #[test]
    fn resend_events_read_as_the_news_they_carry() {
        let bounced = br#"{"type": "email.bounced", "created_at": "2026-11-22T23:41:12.126Z",
            "data": {"email_id": "56761188-7520-42d8-8898-ff6fc54ce618", "to": ["bob@example.com"],
            "bounce": {"type": "Permanent", "subType": "Suppressed", "message": "on the suppression list"}}}"#;
        let event = read_resend("msg_1", bounced).unwrap().unwrap();
        assert_eq!(event.id, "msg_1");
        assert_eq!(
            event.message.as_str(),
            "56761188-7520-42d8-8898-ff6fc54ce618"
        );
        assert_eq!(event.kind, MailNoteKind::Bounced);
        assert_eq!(
            event.detail.as_deref(),
            Some("Suppressed: on the suppression list")
        );
        let soft = br#"{"type": "email.bounced", "data": {"email_id": "m", "bounce": {"type": "Transient", "message": "mailbox full"}}}"#;
        assert_eq!(
            read_resend("e", soft).unwrap().unwrap().kind,
            MailNoteKind::SoftBounced
        );
        for (kind, want) in [
            ("email.delivered", MailNoteKind::Delivered),
            ("email.complained", MailNoteKind::Complained),
            ("email.delivery_delayed", MailNoteKind::Delayed),
            ("email.failed", MailNoteKind::Failed),
        ] {
            let body = format!(r#"{{"type": "{kind}", "data": {{"email_id": "m"}}}}"#);
            assert_eq!(
                read_resend("e", body.as_bytes()).unwrap().unwrap().kind,
                want
            );
        }
        for ignored in ["email.sent", "email.opened", "contact.created", ""] {
            let body = format!(r#"{{"type": "{ignored}", "data": {{}}}}"#);
            assert_eq!(read_resend("e", body.as_bytes()), Ok(None));
        }
        assert!(read_resend("e", br#"{"type": "email.bounced", "data": {}}"#).is_err());
        assert!(read_resend("e", b"not json").is_err());
    }

    #[test]
    fn postmark_records_read_as_the_news_they_carry() {
        let bounce = br#"{"RecordType": "Bounce", "ID": 4323372036854775807, "Type": "HardBounce",
            "TypeCode": 1, "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Description": "The server was unable to deliver your message", "Email": "bob@example.com",
            "Inactive": true}"#;
        let event = read_postmark(bounce).unwrap().unwrap();
        assert_eq!(event.id, "postmark:Bounce:4323372036854775807");
        assert_eq!(
            event.message.as_str(),
            "883953f4-6105-42a2-a16a-77a8eac79483"
        );
        assert_eq!(event.kind, MailNoteKind::Bounced);
        assert_eq!(
            event.detail.as_deref(),
            Some("HardBounce: The server was unable to deliver your message")
        );
        let soft = br#"{"RecordType": "Bounce", "ID": 7, "Type": "SoftBounce", "MessageID": "m", "Inactive": false}"#;
        assert_eq!(
            read_postmark(soft).unwrap().unwrap().kind,
            MailNoteKind::SoftBounced
        );
        let delivered = br#"{"RecordType": "Delivery", "MessageID": "m", "DeliveredAt": "2026-01-01T00:00:00Z"}"#;
        let event = read_postmark(delivered).unwrap().unwrap();
        assert_eq!(
            (event.kind, event.id.as_str()),
            (MailNoteKind::Delivered, "postmark:Delivery:m")
        );
        let spam = br#"{"RecordType": "SpamComplaint", "ID": 9, "MessageID": "m"}"#;
        assert_eq!(
            read_postmark(spam).unwrap().unwrap().kind,
            MailNoteKind::Complained
        );
        assert_eq!(
            read_postmark(br#"{"RecordType": "Open", "MessageID": "m"}"#),
            Ok(None)
        );
        assert!(read_postmark(br#"{"RecordType": "Bounce"}"#).is_err());
    }
}
