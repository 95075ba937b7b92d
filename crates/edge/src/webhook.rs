//! Webhooks the Standard Webhooks way (<https://www.standardwebhooks.com>):
//! the body is `{type, timestamp, data}`, and three headers let a receiver
//! check it: `webhook-id` (the event id, stable across retries),
//! `webhook-timestamp` (Unix seconds of this attempt) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//! keyed with the secret's decoded bytes.

use crate::outgoing::OutgoingRequest;
use crate::render::{
    invitation, join_link, member, rfc3339, InvitationBody, JoinLinkBody, MemberAccessBody,
    MemberBody,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use invitations::effects::{Event, Subject};
use serde::Serialize;
use std::fmt;

/// The signing key, from `whsec_` + base64 of 24 to 64 random bytes.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("webhook_secret must be whsec_ followed by the base64 of 24 to 64 random bytes")]
pub struct BadSecret;

impl WebhookSecret {
    pub fn parse(text: &str) -> Result<WebhookSecret, BadSecret> {
        let encoded = text.trim();
        let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
        let key = STANDARD.decode(encoded).map_err(|_| BadSecret)?;
        if !(24..=64).contains(&key.len()) {
            return Err(BadSecret);
        }
        Ok(WebhookSecret(key))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// The `webhook-signature` header value for one attempt.
pub fn signature(secret: &WebhookSecret, id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let mac = mac(secret, id, &timestamp_secs.to_string(), body);
    format!("v1,{}", STANDARD.encode(mac))
}

/// HMAC-SHA256 of `"{id}.{timestamp}.{body}"`: what a `v1` signature encodes
/// (ours, and the Svix-signed events a provider sends us).
pub(crate) fn mac(secret: &WebhookSecret, id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut mac = hmac_sha256::HMAC::new(&secret.0);
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
}

/// `WebhookEvent` in `openapi.yaml`.
#[derive(Clone, Debug, Serialize)]
pub struct PayloadBody<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub timestamp: String,
    pub data: Data<'a>,
    /// `member.updated`: the role and groups before the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<MemberAccessBody<'a>>,
}

/// The invitation or member an event is about, as the API shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Data<'a> {
    Invitation(Box<InvitationBody<'a>>),
    Member(Box<MemberBody<'a>>),
    JoinLink(Box<JoinLinkBody<'a>>),
}

/// The body of an event: its type, when it happened, and the invitation or
/// member as the API shows it (which never holds a token).
pub fn payload(event: &Event) -> String {
    let (data, previous) = match &event.subject {
        Subject::Invitation(view) => (Data::Invitation(Box::new(invitation(view))), None),
        Subject::Member(m) => (Data::Member(Box::new(member(m))), None),
        Subject::JoinLink(v) => (Data::JoinLink(Box::new(join_link(v))), None),
        Subject::MemberChanged(m, before) => (
            Data::Member(Box::new(member(m))),
            Some(MemberAccessBody {
                role: before.role.as_str(),
                access_groups: before.access_groups.as_slice(),
            }),
        ),
    };
    let body = PayloadBody {
        kind: event.kind.as_str(),
        timestamp: rfc3339(event.at),
        data,
        previous,
    };
    serde_json::to_string(&body).expect("a payload always serializes")
}

/// The POST that delivers `payload` under event `id`, signed at `now_secs`.
pub fn request(
    url: &str,
    secret: &WebhookSecret,
    id: &str,
    payload: &str,
    now_secs: i64,
) -> OutgoingRequest {
    let body = payload.as_bytes().to_vec();
    OutgoingRequest {
        method: "POST",
        url: url.to_owned(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("webhook-id".into(), id.to_owned()),
            ("webhook-timestamp".into(), now_secs.to_string()),
            (
                "webhook-signature".into(),
                signature(secret, id, now_secs, &body),
            ),
        ],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use invitations::effects::{Actor, EventKind};
    use invitations::ids::{AccountId, EventId, UserId};
    use invitations::model::Member;
    use invitations::time::Timestamp;
    use invitations::values::{AccessGroups, Role};

    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        // The example in the Standard Webhooks specification.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            signature(
                &secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_must_be_base64_of_24_to_64_bytes() {
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert_eq!(WebhookSecret::parse("").unwrap_err(), BadSecret);
        assert_eq!(WebhookSecret::parse("whsec_").unwrap_err(), BadSecret);
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!").unwrap_err(),
            BadSecret
        );
        assert_eq!(
            WebhookSecret::parse("whsec_c2hvcnQ=").unwrap_err(),
            BadSecret
        );
        assert_eq!(
            format!(
                "{:?}",
                WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            ),
            "Ok(WebhookSecret(..))"
        );
    }

    #[test]
    fn a_request_carries_the_three_headers_and_the_payload() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let r = request(
            "https://app.example.com/hooks",
            &secret,
            "evt_1",
            "{}",
            1_800_000_000,
        );
        let header = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(r.url, "https://app.example.com/hooks");
        assert_eq!(header("webhook-id"), "evt_1");
        assert_eq!(header("webhook-timestamp"), "1800000000");
        assert_eq!(
            header("webhook-signature"),
            signature(&secret, "evt_1", 1_800_000_000, b"{}")
        );
        assert_eq!(r.body, b"{}");
    }

    #[test]
    fn payload_is_type_timestamp_and_data() {
        struct Sevens;
        impl invitations::random::Random for Sevens {
            fn fill(&self, buf: &mut [u8]) {
                buf.fill(7)
            }
        }
        let member = Member {
            account_id: AccountId::generate(&Sevens),
            user_id: UserId::parse("user-1").unwrap(),
            email: None,
            role: Role::Member,
            access_groups: AccessGroups::default(),
            joined_at: Timestamp::from_unix_secs(1_800_000_000),
            invitation_id: None,
            join_link_id: None,
            invited_by: None,
            seq: 1,
            removed: None,
            rev: Default::default(),
        };
        let event = Event {
            id: EventId::generate(&Sevens),
            kind: EventKind::MemberRemoved,
            at: Timestamp::from_unix_secs(1_800_000_060),
            subject: Subject::Member(Box::new(member)),
            actor: Actor::System,
        };
        let v: serde_json::Value = serde_json::from_str(&payload(&event)).unwrap();
        assert_eq!(v["type"], "member.removed");
        assert_eq!(v["timestamp"], "2027-01-15T08:01:00Z");
        assert_eq!(v["data"]["user_id"], "user-1");
        assert_eq!(v.as_object().unwrap().len(), 3);
    }
}
