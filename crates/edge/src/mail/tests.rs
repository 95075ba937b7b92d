use super::providers::provider_request;
use super::template::header_safe_bounded;
use super::*;
use crate::outgoing::{Answer, OutgoingRequest};
use crate::text::escape_html;
use invitations::effects::{MailJob, MailKind};
use invitations::ids::UserId;
use invitations::memstore::MemStore;
use invitations::model::SendFailure;
use invitations::ops::accounts::create_account;
use invitations::ops::invite::{invite, InviteRequest};
use invitations::principal::{Principal, User};
use invitations::random::Random;
use invitations::time::Clock;
use invitations::time::Timestamp;
use invitations::values::{
    AccessGroups, AccountName, InviteRole, MessageId, Metadata, Note, PersonName, Ttl,
};
use invitations::{Env, Policy};
use serde_json::json;
use serde_json::Value;
use std::sync::atomic::{AtomicU8, Ordering};

/// 2026-12-22 14:03:27 UTC, the expiry of every test invitation.
const EXPIRES_UNIX: i64 = 1_797_948_207;
const TTL_SECS: i64 = 3600;
const BASE: &str = "https://invite.example.com/";

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_secs(EXPIRES_UNIX - TTL_SECS)
    }
}

struct CountingRandom(AtomicU8);
impl Random for CountingRandom {
    fn fill(&self, buf: &mut [u8]) {
        for b in buf {
            *b = self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct Invite<'a> {
    account: &'a str,
    inviter_name: Option<&'a str>,
    inviter_email: Option<&'a str>,
    note: Option<&'a str>,
    groups: &'a [&'a str],
}

impl Default for Invite<'_> {
    fn default() -> Self {
        Invite {
            account: "Acme",
            inviter_name: Some("Alice Example"),
            inviter_email: Some("alice@example.com"),
            note: None,
            groups: &[],
        }
    }
}

/// A mail job as the domain hands it back, made by the real operations.
fn job(spec: Invite) -> MailJob {
    let store = MemStore::new();
    let random = CountingRandom(AtomicU8::new(1));
    let policy = Policy::default();
    let env = Env {
        store: &store,
        clock: &FixedClock,
        random: &random,
        policy: &policy,
    };
    let alice = Principal::User(User {
        id: UserId::parse("user_alice").unwrap(),
        email: spec
            .inviter_email
            .map(|e| invitations::email::Email::parse(e).unwrap()),
        email_verified: true,
        name: spec.inviter_name.map(|n| PersonName::parse(n).unwrap()),
    });
    let created =
        create_account(&env, &alice, AccountName::parse(spec.account).unwrap()).expect("account");
    let invited = invite(
        &env,
        &alice,
        &created.account.account.id,
        InviteRequest {
            emails: vec!["Bob@Example.com".into()],
            role: InviteRole::Admin,
            access_groups: AccessGroups::parse(spec.groups).unwrap(),
            metadata: Metadata::default(),
            ttl: Some(Ttl::from_secs(TTL_SECS).unwrap()),
            message: spec.note.map(|n| Note::parse(n).unwrap()),
            delivery: Default::default(),
        },
    )
    .expect("invite");
    invited.mails.into_iter().next().expect("one mail")
}

fn body_json(request: &OutgoingRequest) -> Value {
    serde_json::from_slice(&request.body).expect("JSON body")
}

#[test]
fn renders_link_subject_and_details() {
    let job = job(Invite {
        groups: &["eng", "ops:read"],
        ..Invite::default()
    });
    let token = job.token.reveal();
    let message = render(&job, BASE);
    let link = format!("https://invite.example.com/join?token={token}");

    assert_eq!(message.to.as_str(), "bob@example.com");
    assert_eq!(message.subject, "Alice Example invited you to Acme");
    for body in [&message.text, &message.html] {
        assert!(body.contains(&link), "link missing in {body}");
        assert!(body.contains("Alice Example (alice@example.com)"));
        assert!(body.contains("Acme"));
        assert!(body.contains("admin"));
        assert!(body.contains("eng, ops:read"));
        assert!(body.contains("2026-12-22 14:03 UTC"));
    }
    assert!(message.html.contains(&format!("<a href=\"{link}\">")));
    assert!(message
        .html
        .starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(message.html.contains("<h1"));
    // The look the /join page has.
    let body = format!("<body style=\"{}\">", crate::html::BODY);
    assert!(message.html.contains(&body));
    let button = format!(
        "style=\"{}\">Accept the invitation</a>",
        crate::html::BUTTON
    );
    assert!(message.html.contains(&button));
    assert!(!message.text.contains('<'), "the text body is plain");
    // A base URL without the trailing slash gives the same link.
    assert!(render(&job, "https://invite.example.com")
        .text
        .contains(&link));
}

#[test]
fn subject_falls_back_to_the_inviter_address_then_to_someone() {
    let by_address = job(Invite {
        inviter_name: None,
        ..Invite::default()
    });
    assert_eq!(
        render(&by_address, BASE).subject,
        "alice@example.com invited you to Acme"
    );
    let anonymous = job(Invite {
        inviter_name: None,
        inviter_email: None,
        ..Invite::default()
    });
    assert_eq!(
        render(&anonymous, BASE).subject,
        "An administrator invited you to Acme"
    );
}

#[test]
fn resend_is_a_reminder_and_retry_is_not() {
    let mut job = job(Invite::default());
    job.kind = MailKind::Resend;
    let message = render(&job, BASE);
    assert_eq!(
        message.subject,
        "Reminder: Alice Example invited you to Acme"
    );
    assert!(message.html.contains("Reminder: You are invited to Acme"));
    assert!(message.text.starts_with("This is a reminder"));
    job.kind = MailKind::Retry;
    assert_eq!(
        render(&job, BASE).subject,
        "Alice Example invited you to Acme"
    );
    job.kind = MailKind::Invitation;
    assert!(!render(&job, BASE).text.contains("reminder"));
}

#[test]
fn user_text_is_escaped_in_html() {
    let job = job(Invite {
        account: "<script>alert(1)</script> & \"Sons\" 'Ltd'",
        inviter_name: Some("Eve <eve@evil.example>"),
        note: Some("Hi <b>Bob</b> & co,\n\"quoted\" 'single'\n<script>x()</script>"),
        ..Invite::default()
    });
    let message = render(&job, "https://x.example/a\"b<c>&'");
    let html = &message.html;
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("<b>"));
    assert!(!html.contains("Eve <eve"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Sons&quot; &#39;Ltd&#39;")
    );
    assert!(html.contains(
        "Hi &lt;b&gt;Bob&lt;/b&gt; &amp; co,<br>\n&quot;quoted&quot; &#39;single&#39;<br>\n&lt;script&gt;x()&lt;/script&gt;"
    ));
    assert!(html.contains("Eve &lt;eve@evil.example&gt;"));
    // The link, in the href too.
    let escaped_link = format!(
        "https://x.example/a&quot;b&lt;c&gt;&amp;&#39;/join?token={}",
        job.token.reveal()
    );
    assert!(
        html.contains(&format!("<a href=\"{escaped_link}\"")),
        "{html}"
    );
    // The plain text alternative keeps the note as written.
    assert!(message
        .text
        .contains("> Hi <b>Bob</b> & co,\n> \"quoted\" 'single'\n"));
    // The subject is plain text too: it is escaped only inside <title>.
    assert!(message.subject.contains("<script>"));
    assert!(html.contains(&format!("<title>{}</title>", escape_html(&message.subject))));
}

#[test]
fn subject_is_one_bounded_line() {
    let long_name = "N".repeat(100);
    let job = job(Invite {
        account: &long_name,
        inviter_name: Some(&"I".repeat(100)),
        note: Some("line one\nBcc: victim@example.com\nline three"),
        ..Invite::default()
    });
    let message = render(&job, BASE);
    assert_eq!(message.subject.chars().count(), MAX_SUBJECT_CHARS);
    assert!(message.subject.ends_with('…'));
    assert!(!message.subject.contains(|c: char| c.is_control()));
    assert!(!message.subject.contains("Bcc"));
}

#[test]
fn header_safe_strips_control_characters() {
    assert_eq!(
        header_safe("Acme\r\nBcc: victim@example.com"),
        "Acme Bcc: victim@example.com"
    );
    assert_eq!(header_safe("  a\tb\u{0}c\u{7f}d\u{85}e\n"), "a b c d e");
    assert_eq!(header_safe("\r\n"), "");
    assert_eq!(header_safe_bounded("abcdef", 4), "abc…");
    assert_eq!(header_safe_bounded("ab   cd", 4), "ab…");
    assert_eq!(header_safe_bounded("ab\ncd", 5), "ab cd");
}

#[test]
fn provider_names() {
    assert_eq!(Provider::parse("resend"), Some(Provider::Resend));
    assert_eq!(Provider::parse(" Postmark "), Some(Provider::Postmark));
    assert_eq!(Provider::parse("sendgrid"), None);
    assert_eq!(Provider::parse(""), None);
    for p in [Provider::Resend, Provider::Postmark] {
        assert_eq!(Provider::parse(p.as_str()), Some(p));
    }
}

fn sample_message() -> Message {
    Message {
        to: invitations::email::Email::parse("bob@example.com").unwrap(),
        subject: "Alice invited you to Acme".into(),
        text: "text body".into(),
        html: "<p>html body</p>".into(),
    }
}

#[test]
fn resend_request_shape() {
    let request = provider_request(
        Provider::Resend,
        "https://api.resend.com/",
        "re_123",
        "Acme <invites@acme.example>",
        &sample_message(),
    );
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "https://api.resend.com/emails");
    assert_eq!(
        request.headers,
        [
            ("Authorization".to_owned(), "Bearer re_123".to_owned()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ]
    );
    assert_eq!(
        body_json(&request),
        json!({
            "from": "Acme <invites@acme.example>",
            "to": ["bob@example.com"],
            "subject": "Alice invited you to Acme",
            "html": "<p>html body</p>",
            "text": "text body",
        })
    );
    assert!(!format!("{request:?}").contains("re_123"));
}

#[test]
fn postmark_request_shape() {
    let request = provider_request(
        Provider::Postmark,
        "https://api.postmarkapp.com",
        "pm-token",
        "invites@acme.example",
        &sample_message(),
    );
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "https://api.postmarkapp.com/email");
    assert_eq!(
        request.headers,
        [
            ("X-Postmark-Server-Token".to_owned(), "pm-token".to_owned()),
            ("Accept".to_owned(), "application/json".to_owned()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ]
    );
    assert_eq!(
        body_json(&request),
        json!({
            "From": "invites@acme.example",
            "To": "bob@example.com",
            "Subject": "Alice invited you to Acme",
            "HtmlBody": "<p>html body</p>",
            "TextBody": "text body",
            "MessageStream": "outbound",
        })
    );
}

#[test]
fn requests_carry_no_line_breaks_into_headers_or_subject() {
    let mut message = sample_message();
    message.subject = "Hi\r\nBcc: victim@example.com".into();
    for provider in [Provider::Resend, Provider::Postmark] {
        let request = provider_request(
            provider,
            "https://mail.example/",
            "tok\r\nX-Evil: 1",
            "Acme <a@acme.example>\r\nBcc: victim@example.com",
            &message,
        );
        for (name, value) in &request.headers {
            assert!(!value.contains(['\r', '\n']), "{name}: {value:?}");
        }
        let body = body_json(&request);
        let (from, subject) = match provider {
            Provider::Resend => (&body["from"], &body["subject"]),
            Provider::Postmark => (&body["From"], &body["Subject"]),
        };
        assert_eq!(from, "Acme <a@acme.example> Bcc: victim@example.com");
        assert_eq!(subject, "Hi Bcc: victim@example.com");
    }
}

#[test]
fn rendered_mail_goes_out_through_both_providers() {
    let job = job(Invite::default());
    let message = render(&job, BASE);
    let resend = body_json(&provider_request(
        Provider::Resend,
        "http://127.0.0.1:8025",
        "t",
        "a@b.example",
        &message,
    ));
    assert_eq!(resend["html"], message.html.as_str());
    assert_eq!(resend["text"], message.text.as_str());
    assert_eq!(resend["to"], json!(["bob@example.com"]));
    let postmark = body_json(&provider_request(
        Provider::Postmark,
        "http://127.0.0.1:8025",
        "t",
        "a@b.example",
        &message,
    ));
    assert_eq!(postmark["Subject"], message.subject.as_str());
    assert_eq!(postmark["TextBody"], message.text.as_str());
}

fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Answer, String> {
    Ok(Answer {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
    })
}

fn now() -> Timestamp {
    Timestamp::from_unix_secs(1_800_000_000)
}

#[test]
fn batch_requests_use_the_batch_endpoints() {
    let message = render(&job(Invite::default()), BASE);
    let api = |provider| MailApi {
        provider,
        api_url: "https://api.example/",
        api_token: "t",
        from: "Acme <a@example.com>",
    };
    let resend = api(Provider::Resend).batch(&[message.clone(), message.clone()]);
    assert_eq!(resend.url, "https://api.example/emails/batch");
    assert!(resend
        .headers
        .contains(&("x-batch-validation".into(), "permissive".into())));
    let body = body_json(&resend);
    assert_eq!(body.as_array().unwrap().len(), 2);
    assert_eq!(body[1]["to"][0], "bob@example.com");
    let postmark = api(Provider::Postmark).batch(&[message]);
    assert_eq!(postmark.url, "https://api.example/email/batch");
    assert_eq!(body_json(&postmark)[0]["To"], "bob@example.com");
    assert_eq!(
        (
            Provider::Resend.batch_limit(),
            Provider::Postmark.batch_limit()
        ),
        (100, 500)
    );
}

#[test]
fn a_rate_limit_defers_every_message_to_the_reset() {
    for (status, headers, secs) in [
        (429, vec![("retry-after", "7")], 7),
        (429, vec![("ratelimit-reset", "3"), ("retry-after", "1")], 3),
        (429, vec![], 1),
        (503, vec![("Retry-After", "30")], 30),
    ] {
        let got = outcomes(
            Provider::Resend,
            true,
            3,
            &answer(status, &headers, ""),
            now(),
        );
        assert_eq!(got.len(), 3);
        for outcome in got {
            match outcome {
                Err(SendFailure::Deferred { until, .. }) => {
                    assert_eq!(until, now().plus_secs(secs), "{status} {headers:?}")
                }
                other => panic!("{status} {headers:?}: {other:?}"),
            }
        }
    }
    // A 503 that names no time is an outage: an attempt.
    let got = outcomes(Provider::Resend, false, 1, &answer(503, &[], "down"), now());
    assert!(matches!(&got[0], Err(SendFailure::Failed(e)) if e.contains("503")));
    let got = outcomes(Provider::Postmark, true, 2, &Err("timed out".into()), now());
    assert_eq!(got, vec![Err(SendFailure::Failed("timed out".into())); 2]);
}

#[test]
fn batch_answers_fail_only_the_messages_they_name_and_give_each_sent_one_its_id() {
    let id = |s: &str| Ok(Some(MessageId::parse(s).unwrap()));
    let resend = answer(
        200,
        &[],
        r#"{"data": [{"id": "a"}, {"id": "c"}], "errors": [{"index": 1, "message": "bad to"}]}"#,
    );
    let got = outcomes(Provider::Resend, true, 3, &resend, now());
    assert_eq!(got[0], id("a"));
    assert!(matches!(&got[1], Err(SendFailure::Failed(e)) if e.contains("bad to")));
    assert_eq!(got[2], id("c"));
    let postmark = answer(
        200,
        &[],
        r#"[{"ErrorCode": 0, "Message": "OK", "MessageID": "m-1"}, {"ErrorCode": 406, "Message": "Inactive recipient"}]"#,
    );
    let got = outcomes(Provider::Postmark, true, 3, &postmark, now());
    assert_eq!(got[0], id("m-1"));
    assert!(
        matches!(&got[1], Err(SendFailure::Failed(e)) if e.contains("Inactive") && e.contains("406"))
    );
    assert!(
        matches!(&got[2], Err(SendFailure::Failed(_))),
        "no answer for the third"
    );
    // Single sends: the id if the answer has one.
    assert_eq!(
        outcomes(Provider::Postmark, false, 1, &answer(200, &[], "{}"), now()),
        vec![Ok(None)]
    );
    let single = answer(200, &[], r#"{"MessageID": "m-2", "ErrorCode": 0}"#);
    assert_eq!(
        outcomes(Provider::Postmark, false, 1, &single, now()),
        vec![id("m-2")]
    );
    let single = answer(
        200,
        &[],
        r#"{"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}"#,
    );
    assert_eq!(
        outcomes(Provider::Resend, false, 1, &single, now()),
        vec![id("49a3999c-0ce1-4ea6-ab68-afcd6dc2e794")]
    );
}
