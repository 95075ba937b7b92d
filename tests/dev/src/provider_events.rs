//! Delivery events as the mail providers send them, for the local inbox's
//! buttons and the end-to-end tests: Resend's JSON signed the Svix way,
//! Postmark's records (which carry no signature).

use invitations_edge::webhook::{signature, WebhookSecret};
use serde_json::{json, Value};

/// The `resend_webhook_secret` `cargo up` and the tests use. Local use only.
pub const DEV_RESEND_WEBHOOK_SECRET: &str = "whsec_ZGV2LW9ubHktcmVzZW5kLWV2ZW50cy0yNC1ieXRlcw==";

/// The `postmark_webhook_token` `cargo up` and the tests use. Local use only.
pub const DEV_POSTMARK_WEBHOOK_TOKEN: &str = "dev-only-postmark-webhook-token";

/// What the inbox's buttons report, in Resend's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum News {
    Delivered,
    Bounced,
    SoftBounced,
    Complained,
}

impl News {
    pub fn parse(s: &str) -> Option<News> {
        match s {
            "delivered" => Some(News::Delivered),
            "bounced" => Some(News::Bounced),
            "soft-bounced" => Some(News::SoftBounced),
            "complained" => Some(News::Complained),
            _ => None,
        }
    }
}

/// A Resend event's body about the mail `message_id` to `to`.
pub fn resend_body(news: News, message_id: &str, to: &str) -> Value {
    let mut data = json!({
        "email_id": message_id,
        "from": "Invitations <invitations@localhost>",
        "to": [to],
        "subject": "You are invited",
        "created_at": "2026-12-05T10:00:00.000Z",
    });
    let kind = match news {
        News::Delivered => "email.delivered",
        News::Complained => "email.complained",
        News::Bounced | News::SoftBounced => {
            let (kind, sub, message) = if news == News::Bounced {
                (
                    "Permanent",
                    "General",
                    "The recipient's mail server said the mailbox does not exist.",
                )
            } else {
                (
                    "Transient",
                    "MailboxFull",
                    "The recipient's mailbox is full.",
                )
            };
            data["bounce"] = json!({"type": kind, "subType": sub, "message": message});
            "email.bounced"
        }
    };
    json!({"type": kind, "created_at": "2026-12-05T10:00:01.000Z", "data": data})
}

/// The Svix headers Resend sends with `body`, signed with `secret` at `now_secs`.
pub fn svix_headers(
    secret: &str,
    event_id: &str,
    now_secs: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    let key = WebhookSecret::parse(secret).expect("a whsec_ secret");
    [
        ("svix-id", event_id.to_owned()),
        ("svix-timestamp", now_secs.to_string()),
        ("svix-signature", signature(&key, event_id, now_secs, body)),
    ]
}

/// A Postmark bounce record about the mail `message_id` (`HardBounce`, or
/// `SoftBounce` when not `permanent`).
pub fn postmark_bounce(bounce_id: u64, message_id: &str, to: &str, permanent: bool) -> Value {
    json!({
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": bounce_id,
        "Type": if permanent { "HardBounce" } else { "SoftBounce" },
        "TypeCode": if permanent { 1 } else { 4096 },
        "Name": if permanent { "Hard bounce" } else { "Soft bounce" },
        "MessageID": message_id,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Email": to,
        "BouncedAt": "2026-12-05T10:00:00Z",
        "Inactive": permanent,
        "CanActivate": true,
        "Subject": "You are invited",
    })
}
