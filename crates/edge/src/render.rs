//! How the API shows things: the JSON of invitations, members, accounts,
//! previews and pages. Never a token, never a token's hash.

use invitations::cursor::Cursor;
use invitations::effects::Actor;
use invitations::model::{Heard, Invitation, InvitationView, Inviter, JoinLinkView, Member, State};
use invitations::ops::accounts::AccountView;
use invitations::ops::history::Entry;
use invitations::ops::inbox::InboxItem;
use invitations::ops::invite::Invited;
use invitations::ops::mail_events::Hearing;
use invitations::ops::preview::Preview;
use invitations::ops::sweep::SweepReport;
use invitations::time::Timestamp;
use invitations::token::{InvitationToken, JoinLinkToken};
use invitations::Page;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

/// RFC 3339 in UTC, to the second (milliseconds are kept when not zero).
pub fn rfc3339(t: Timestamp) -> String {
    UtcTime(t).to_string()
}

/// A time as the API shows it ([`rfc3339`]), written where it is serialised:
/// a page shows several per invitation, and a `String` each, with the
/// formatter's small writes, was a measurable part of rendering one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcTime(pub Timestamp);

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` at the longest.
const UTC_TIME_MAX: usize = 24;

impl UtcTime {
    /// A time outside years 0 to 9999 (never stored) shows as the epoch.
    fn write(self, buf: &mut [u8; UTC_TIME_MAX]) -> &str {
        const EPOCH: &str = "1970-01-01T00:00:00Z";
        let nanos = i128::from(self.0.unix_millis()) * 1_000_000;
        let Some(t) = OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .filter(|t| (0..=9999).contains(&t.year()))
        else {
            return EPOCH;
        };
        let digits = |buf: &mut [u8; UTC_TIME_MAX], at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        *buf = *b"0000-00-00T00:00:00.000Z";
        digits(buf, 0, 4, t.year().unsigned_abs());
        digits(buf, 5, 2, u32::from(u8::from(t.month())));
        digits(buf, 8, 2, u32::from(t.day()));
        digits(buf, 11, 2, u32::from(t.hour()));
        digits(buf, 14, 2, u32::from(t.minute()));
        digits(buf, 17, 2, u32::from(t.second()));
        let millis = u32::from(t.millisecond());
        let len = if millis == 0 {
            19
        } else {
            digits(buf, 20, 3, millis);
            // Trailing zeros dropped: .5, .25, .125.
            20 + [3, 2, 1][usize::from(millis % 10 == 0) + usize::from(millis % 100 == 0)]
        };
        buf[len] = b'Z';
        std::str::from_utf8(&buf[..=len]).unwrap_or(EPOCH)
    }
}

impl std::fmt::Display for UtcTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.write(&mut [0; UTC_TIME_MAX]))
    }
}

impl Serialize for UtcTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.write(&mut [0; UTC_TIME_MAX]))
    }
}

fn opt_time(t: Option<Timestamp>) -> Option<UtcTime> {
    t.map(UtcTime)
}

/// Who invited: `Person` in `openapi.yaml`.
#[derive(Clone, Debug, Serialize)]
pub struct PersonBody<'a> {
    pub user_id: &'a str,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
}

fn inviter(by: &Inviter) -> PersonBody<'_> {
    PersonBody {
        user_id: by.user_id.as_str(),
        email: by.email.as_ref().map(|e| e.as_str()),
        name: by.name.as_ref().map(|n| n.as_str()),
    }
}

/// How sending an invitation's mail went.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryBody<'a> {
    pub status: &'static str,
    pub attempts: u32,
    pub last_attempt_at: Option<UtcTime>,
    pub last_error: Option<&'a str>,
    /// The provider's last news about the mail (`POST /v1/mail-events/…`).
    pub last_event: Option<MailNoteBody<'a>>,
}

/// What the mail provider last reported about an invitation's mail.
#[derive(Clone, Debug, Serialize)]
pub struct MailNoteBody<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub at: UtcTime,
    pub detail: Option<&'a str>,
}

/// `Invitation` in `openapi.yaml`; also the `data` of `invitation.*` webhooks.
#[derive(Clone, Debug, Serialize)]
pub struct InvitationBody<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub email: &'a str,
    pub role: &'static str,
    pub access_groups: &'a [String],
    pub metadata: &'a serde_json::Map<String, Value>,
    pub message: Option<&'a str>,
    pub state: &'static str,
    pub delivery: DeliveryBody<'a>,
    pub invited_by: PersonBody<'a>,
    pub created_at: UtcTime,
    pub expires_at: UtcTime,
    pub sent_count: u32,
    pub last_sent_at: Option<UtcTime>,
    pub accepted_at: Option<UtcTime>,
    pub accepted_by: Option<&'a str>,
    pub cancelled_at: Option<UtcTime>,
    pub cancelled_by: Option<&'a str>,
    pub declined_at: Option<UtcTime>,
    pub declined_by: Option<&'a str>,
    pub expired_at: Option<UtcTime>,
    /// Only in the answer to an invite or resend whose caller hands the link
    /// over (`delivery: none`): shown once, as only its hash is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_url: Option<String>,
}

/// The link an invitee opens: `{public_base_url}/join?token=…` (in the mail,
/// or handed over by the caller).
pub fn accept_url(public_base_url: &str, token: &InvitationToken) -> String {
    format!(
        "{}/join?token={}",
        public_base_url.trim().trim_end_matches('/'),
        token.reveal()
    )
}

/// An invitation with the link the caller hands over, if any.
pub fn invitation_with_link(
    view: &InvitationView,
    accept_url: Option<String>,
) -> InvitationBody<'_> {
    InvitationBody {
        accept_url,
        ..invitation(view)
    }
}

pub fn invitation(view: &InvitationView) -> InvitationBody<'_> {
    let inv: &Invitation = &view.invitation;
    let d = &view.delivery;
    let (accepted_at, accepted_by) = match inv.state() {
        State::Accepted {
            accepted_at,
            accepted_by,
            ..
        } => (Some(*accepted_at), Some(accepted_by.as_str())),
        _ => (None, None),
    };
    let (cancelled_at, cancelled_by) = match inv.state() {
        State::Cancelled {
            cancelled_at,
            cancelled_by,
        } => (Some(*cancelled_at), Some(cancelled_by.as_str())),
        _ => (None, None),
    };
    let (declined_at, declined_by) = match inv.state() {
        State::Declined {
            declined_at,
            declined_by,
        } => (Some(*declined_at), declined_by.as_ref().map(|u| u.as_str())),
        _ => (None, None),
    };
    InvitationBody {
        id: inv.id().as_str(),
        account_id: inv.account_id().as_str(),
        email: inv.email().as_str(),
        role: inv.role().as_str(),
        access_groups: inv.access_groups().as_slice(),
        metadata: inv.metadata().as_map(),
        message: inv.message().map(|m| m.as_str()),
        state: view.status.as_str(),
        delivery: DeliveryBody {
            status: d.status.as_str(),
            attempts: d.attempts,
            last_attempt_at: opt_time(d.last_attempt_at),
            last_error: d.last_error.as_deref(),
            last_event: d.last_event.as_ref().map(|n| MailNoteBody {
                kind: n.kind.as_str(),
                at: UtcTime(n.at),
                detail: n.detail.as_deref(),
            }),
        },
        invited_by: inviter(inv.invited_by()),
        created_at: UtcTime(inv.created_at()),
        expires_at: UtcTime(inv.expires_at()),
        sent_count: d.sent_count,
        last_sent_at: opt_time(d.last_sent_at),
        accepted_at: opt_time(accepted_at),
        accepted_by,
        cancelled_at: opt_time(cancelled_at),
        cancelled_by,
        declined_at: opt_time(declined_at),
        declined_by,
        accept_url: None,
        expired_at: opt_time(view.expired_at),
    }
}

/// `Member` in `openapi.yaml`; also the `data` of `member.*` webhooks.
#[derive(Clone, Debug, Serialize)]
pub struct MemberBody<'a> {
    pub account_id: &'a str,
    pub user_id: &'a str,
    pub email: Option<&'a str>,
    pub role: &'static str,
    pub access_groups: &'a [String],
    pub joined_at: UtcTime,
    pub invitation_id: Option<&'a str>,
    /// Only on a member who joined through a join link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_link_id: Option<&'a str>,
    pub invited_by: Option<PersonBody<'a>>,
    /// Only on a removed member (the `member.removed` webhook).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<RemovalBody<'a>>,
}

/// How a member went: removed by someone, or left (`by` is themself).
#[derive(Clone, Debug, Serialize)]
pub struct RemovalBody<'a> {
    pub at: UtcTime,
    pub by: &'a str,
    pub left: bool,
}

pub fn member(m: &Member) -> MemberBody<'_> {
    MemberBody {
        account_id: m.account_id.as_str(),
        user_id: m.user_id.as_str(),
        email: m.email.as_ref().map(|e| e.as_str()),
        role: m.role.as_str(),
        access_groups: m.access_groups.as_slice(),
        joined_at: UtcTime(m.joined_at),
        invitation_id: m.invitation_id.as_ref().map(|i| i.as_str()),
        join_link_id: m.join_link_id.as_ref().map(|i| i.as_str()),
        invited_by: m.invited_by.as_ref().map(inviter),
        removed: m.removed.as_ref().map(|r| RemovalBody {
            at: UtcTime(r.removed_at),
            by: r.removed_by.as_str(),
            left: r.left,
        }),
    }
}

/// `JoinLink` in `openapi.yaml`.
#[derive(Clone, Debug, Serialize)]
pub struct JoinLinkBody<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub role: &'static str,
    pub access_groups: &'a [String],
    pub max_uses: u32,
    pub uses: u32,
    pub status: &'static str,
    pub allowed_domains: Vec<&'a str>,
    pub created_by: PersonBody<'a>,
    pub created_at: UtcTime,
    pub expires_at: UtcTime,
    pub revoked_at: Option<UtcTime>,
    pub revoked_by: Option<&'a str>,
    /// Only in the answer that made it: the one time its secret is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

pub fn join_link(v: &JoinLinkView) -> JoinLinkBody<'_> {
    let l = &v.link;
    JoinLinkBody {
        id: l.id.as_str(),
        account_id: l.account_id.as_str(),
        role: l.role.role().as_str(),
        access_groups: l.access_groups.as_slice(),
        max_uses: l.max_uses.get(),
        uses: v.uses,
        status: v.status.as_str(),
        allowed_domains: l.allowed_domains.iter().map(|d| d.as_str()).collect(),
        created_by: inviter(&l.created_by),
        created_at: UtcTime(l.created_at),
        expires_at: UtcTime(l.expires_at),
        revoked_at: l.revoked.as_ref().map(|r| UtcTime(r.revoked_at)),
        revoked_by: l.revoked.as_ref().map(|r| r.revoked_by.as_str()),
        url: None,
    }
}

/// A new link, with its URL `{public_base_url}/join?link=…`.
pub fn created_join_link<'a>(
    v: &'a JoinLinkView,
    token: &JoinLinkToken,
    base_url: &str,
) -> JoinLinkBody<'a> {
    let base = base_url.trim_end_matches('/');
    JoinLinkBody {
        url: Some(format!("{base}/join?link={}", token.reveal())),
        ..join_link(v)
    }
}

/// A member's role and groups before a change (`member.updated`).
#[derive(Clone, Debug, Serialize)]
pub struct MemberAccessBody<'a> {
    pub role: &'static str,
    pub access_groups: &'a [String],
}

/// `Account` in `openapi.yaml`.
#[derive(Clone, Debug, Serialize)]
pub struct AccountBody<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub allowed_domains: Vec<&'a str>,
    pub default_ttl_seconds: i64,
    pub reminder_days: u8,
    pub owners: Vec<&'a str>,
    pub created_at: UtcTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<SeatsBody>,
}

/// `Seats` in `openapi.yaml`.
#[derive(Clone, Debug, Serialize)]
pub struct SeatsBody {
    /// `null`: unlimited.
    pub limit: Option<u32>,
    pub members: u32,
    pub pending: u32,
}

pub fn account(view: &AccountView) -> AccountBody<'_> {
    let a = &view.account;
    AccountBody {
        id: a.id.as_str(),
        name: a.name.as_str(),
        allowed_domains: a.allowed_domains.iter().map(|d| d.as_str()).collect(),
        default_ttl_seconds: a.default_ttl.secs(),
        reminder_days: a.reminder_days.get(),
        owners: a.owners.iter().map(|o| o.as_str()).collect(),
        created_at: UtcTime(a.created_at),
        seats: view.seats.map(|s| SeatsBody {
            limit: s.limit.map(|l| l.get()),
            members: s.members,
            pending: s.pending,
        }),
    }
}

/// The account an invitation is into, as a preview shows it.
#[derive(Clone, Debug, Serialize)]
pub struct AccountRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// The inviter, as a preview shows them (no user id).
#[derive(Clone, Debug, Serialize)]
pub struct InviterRef<'a> {
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
}

/// `Preview` in `openapi.yaml`: what a link's holder may see.
#[derive(Clone, Debug, Serialize)]
pub struct PreviewBody<'a> {
    pub account: AccountRef<'a>,
    pub email: &'a str,
    pub role: &'static str,
    pub access_groups: &'a [String],
    pub invited_by: InviterRef<'a>,
    pub expires_at: UtcTime,
    pub state: &'static str,
}

pub fn preview(p: &Preview) -> PreviewBody<'_> {
    PreviewBody {
        account: AccountRef {
            id: p.account_id.as_str(),
            name: p.account_name.as_str(),
        },
        email: p.email.as_str(),
        role: p.role.as_str(),
        access_groups: p.access_groups.as_slice(),
        invited_by: InviterRef {
            name: p.invited_by.name.as_ref().map(|n| n.as_str()),
            email: p.invited_by.email.as_ref().map(|e| e.as_str()),
        },
        expires_at: UtcTime(p.expires_at),
        state: p.status.as_str(),
    }
}

/// `InboxItem` in `openapi.yaml`: an open invitation, as its invitee sees it.
#[derive(Clone, Debug, Serialize)]
pub struct InboxItemBody<'a> {
    pub invitation_id: &'a str,
    pub account: AccountRef<'a>,
    pub email: &'a str,
    pub role: &'static str,
    pub access_groups: &'a [String],
    pub message: Option<&'a str>,
    pub invited_by: InviterRef<'a>,
    pub expires_at: UtcTime,
}

pub fn inbox_item(item: &InboxItem) -> InboxItemBody<'_> {
    let inv = &item.invitation;
    let by = inv.invited_by();
    InboxItemBody {
        invitation_id: inv.id().as_str(),
        account: AccountRef {
            id: inv.account_id().as_str(),
            name: item.account_name.as_str(),
        },
        email: inv.email().as_str(),
        role: inv.role().as_str(),
        access_groups: inv.access_groups().as_slice(),
        message: inv.message().map(|m| m.as_str()),
        invited_by: InviterRef {
            name: by.name.as_ref().map(|n| n.as_str()),
            email: by.email.as_ref().map(|e| e.as_str()),
        },
        expires_at: UtcTime(inv.expires_at()),
    }
}

/// Who made a change: `Actor` in `openapi.yaml`.
#[derive(Clone, Debug, Serialize)]
pub struct ActorBody<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}

pub fn actor(a: &Actor) -> ActorBody<'_> {
    let (kind, id, email) = match a {
        Actor::User { id, email } => ("user", Some(id.as_str()), email.as_ref()),
        Actor::Service { id } => ("service", Some(id.as_str()), None),
        Actor::Link => ("link", None, None),
        Actor::System => ("system", None, None),
    };
    ActorBody {
        kind,
        id,
        email: email.map(|e| e.as_str()),
    }
}

/// `HistoryEvent` in `openapi.yaml`: the webhook body as it was signed, with
/// the event's id (a webhook carries it in `webhook-id`) and its actor.
pub fn history_entry(entry: &Entry) -> Value {
    let mut body = match serde_json::from_str::<Value>(&entry.payload) {
        Ok(Value::Object(fields)) => fields,
        // Never written so; shown without its data rather than not at all.
        _ => serde_json::Map::from_iter([
            ("type".to_owned(), Value::from(entry.kind.as_str())),
            ("timestamp".to_owned(), Value::from(rfc3339(entry.at))),
            ("data".to_owned(), Value::Object(Default::default())),
        ]),
    };
    body.insert("id".to_owned(), Value::from(entry.id.as_str()));
    let actor = serde_json::to_value(actor(&entry.actor)).unwrap_or(Value::Null);
    body.insert("actor".to_owned(), actor);
    Value::Object(body)
}

/// A page of a list, with the cursor of the next one.
#[derive(Clone, Debug, Serialize)]
pub struct PageBody<B> {
    pub data: Vec<B>,
    pub next_cursor: Option<String>,
}

pub fn page<'a, T, B: Serialize>(page: &'a Page<T>, item: impl Fn(&'a T) -> B) -> PageBody<B> {
    PageBody {
        data: page.items.iter().map(item).collect(),
        next_cursor: page.next_cursor.as_ref().map(Cursor::encode),
    }
}

/// What one sweep run did.
#[derive(Clone, Debug, Serialize)]
pub struct SweepBody {
    pub expired: usize,
    pub mailed: usize,
    pub reminded: usize,
    pub purged: usize,
    pub webhooks: usize,
    pub webhooks_dropped: usize,
    pub history_purged: usize,
    pub join_links_purged: usize,
    pub failed: usize,
    pub more: bool,
}

pub fn sweep_report(r: &SweepReport) -> SweepBody {
    SweepBody {
        expired: r.expired,
        mailed: r.mailed,
        reminded: r.reminded,
        purged: r.purged,
        webhooks: r.webhooks,
        webhooks_dropped: r.webhooks_dropped,
        history_purged: r.history_purged,
        join_links_purged: r.join_links_purged,
        failed: r.failed,
        more: r.more,
    }
}

/// One address of an invite and what came of it.
#[derive(Clone, Debug, Serialize)]
pub struct InviteResultBody<'a> {
    pub email: &'a str,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<InvitationBody<'a>>,
}

/// `InviteResults` in `openapi.yaml`.
#[derive(Clone, Debug, Serialize)]
pub struct InviteResultsBody<'a> {
    pub results: Vec<InviteResultBody<'a>>,
}

/// The results, with the link of each invitation the caller hands over.
pub fn invite_results<'a>(out: &'a Invited, public_base_url: &str) -> InviteResultsBody<'a> {
    InviteResultsBody {
        results: out
            .results
            .iter()
            .map(|r| InviteResultBody {
                email: &r.input,
                status: r.status.as_str(),
                invitation: r.invitation.as_ref().map(|v| {
                    let link = r.link.as_ref().map(|t| accept_url(public_base_url, t));
                    invitation_with_link(v, link)
                }),
            })
            .collect(),
    }
}

/// An accept's answer: the membership and the invitation it came from.
#[derive(Clone, Debug, Serialize)]
pub struct AcceptedBody<'a> {
    pub member: MemberBody<'a>,
    pub invitation: InvitationBody<'a>,
}

/// A decline's answer: the invitation as it now is.
#[derive(Clone, Debug, Serialize)]
pub struct DeclinedBody<'a> {
    pub invitation: InvitationBody<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(
            rfc3339(Timestamp::from_unix_secs(0)),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            rfc3339(Timestamp::from_unix_secs(1_800_000_000)),
            "2027-01-15T08:00:00Z"
        );
        assert_eq!(
            rfc3339(Timestamp::from_unix_millis(1_500)),
            "1970-01-01T00:00:01.5Z"
        );
        assert_eq!(
            rfc3339(Timestamp::from_unix_millis(1_797_948_207_250)),
            "2026-12-22T14:03:27.25Z"
        );
        assert_eq!(
            rfc3339(Timestamp::from_unix_millis(-1)),
            "1969-12-31T23:59:59.999Z"
        );
        // Year 10000 and before year 0: never stored, shown as the epoch.
        for secs in [253_402_300_800, -62_167_219_201] {
            assert_eq!(
                rfc3339(Timestamp::from_unix_secs(secs)),
                "1970-01-01T00:00:00Z"
            );
        }
    }

    #[test]
    fn utc_times_read_as_the_time_crate_writes_rfc3339() {
        use time::format_description::well_known::Rfc3339;
        let mut millis: i64 = -62_167_219_200_000; // 0000-01-01
        while millis < 253_402_300_800_000 {
            let t = Timestamp::from_unix_millis(millis);
            let expected =
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
                    .unwrap()
                    .format(&Rfc3339)
                    .unwrap();
            assert_eq!(UtcTime(t).to_string(), expected);
            assert_eq!(
                serde_json::to_string(&UtcTime(t)).unwrap(),
                format!("\"{expected}\"")
            );
            millis += 7_777_777_777_777 / 1_000 + 1; // years, days, seconds and milliseconds all move
        }
    }
}

/// The answer to a mail provider's event: `result` says what became of it
/// (`recorded`, `duplicate`, `stale`, `unknown_message`, or `ignored` for
/// news we do not act on). Always a 200: the provider need not retry.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MailEventAnswer {
    pub result: &'static str,
}

pub fn mail_event_answer(hearing: Option<&Hearing>) -> MailEventAnswer {
    let result = match hearing {
        None => "ignored",
        Some(Hearing::UnknownMessage) => "unknown_message",
        Some(Hearing::Ignored(Heard::Stale)) => "stale",
        Some(Hearing::Ignored(_)) => "duplicate",
        Some(Hearing::Recorded { .. }) => "recorded",
    };
    MailEventAnswer { result }
}
