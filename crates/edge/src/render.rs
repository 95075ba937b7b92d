//! How the API shows things: the JSON of invitations, members, accounts,
//! previews and pages. Never a token, never a token's hash.

use invitations::cursor::Cursor;
use invitations::model::{Account, Invitation, InvitationView, Inviter, Member, State};
use invitations::ops::invite::Invited;
use invitations::ops::preview::Preview;
use invitations::ops::sweep::SweepReport;
use invitations::time::Timestamp;
use invitations::Page;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// RFC 3339 in UTC, to the second (milliseconds are kept when not zero).
pub fn rfc3339(t: Timestamp) -> String {
    let nanos = i128::from(t.unix_millis()) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

fn opt_time(t: Option<Timestamp>) -> Value {
    t.map(|t| Value::String(rfc3339(t))).unwrap_or(Value::Null)
}

fn inviter(by: &Inviter) -> Value {
    json!({
        "user_id": by.user_id.as_str(),
        "email": by.email.as_ref().map(|e| e.as_str()),
        "name": by.name.as_ref().map(|n| n.as_str()),
    })
}

pub fn invitation(view: &InvitationView) -> Value {
    let inv: &Invitation = &view.invitation;
    let d = &view.delivery;
    let (accepted_at, accepted_by) = match &inv.state {
        State::Accepted {
            accepted_at,
            accepted_by,
            ..
        } => (Some(*accepted_at), Some(accepted_by.as_str())),
        _ => (None, None),
    };
    let (cancelled_at, cancelled_by) = match &inv.state {
        State::Cancelled {
            cancelled_at,
            cancelled_by,
        } => (Some(*cancelled_at), Some(cancelled_by.as_str())),
        _ => (None, None),
    };
    json!({
        "id": inv.id.as_str(),
        "account_id": inv.account_id.as_str(),
        "email": inv.email.as_str(),
        "role": inv.role.as_str(),
        "access_groups": inv.access_groups.as_slice(),
        "metadata": inv.metadata.as_map(),
        "message": inv.message.as_ref().map(|m| m.as_str()),
        "state": view.status.as_str(),
        "delivery": {
            "status": d.status.as_str(),
            "attempts": d.attempts,
            "last_attempt_at": opt_time(d.last_attempt_at),
            "last_error": d.last_error,
        },
        "invited_by": inviter(&inv.invited_by),
        "created_at": rfc3339(inv.created_at),
        "expires_at": rfc3339(inv.expires_at),
        "sent_count": d.sent_count,
        "last_sent_at": opt_time(d.last_sent_at),
        "accepted_at": opt_time(accepted_at),
        "accepted_by": accepted_by,
        "cancelled_at": opt_time(cancelled_at),
        "cancelled_by": cancelled_by,
        "expired_at": opt_time(view.expired_at),
    })
}

pub fn member(m: &Member) -> Value {
    json!({
        "account_id": m.account_id.as_str(),
        "user_id": m.user_id.as_str(),
        "email": m.email.as_ref().map(|e| e.as_str()),
        "role": m.role.as_str(),
        "access_groups": m.access_groups.as_slice(),
        "joined_at": rfc3339(m.joined_at),
        "invitation_id": m.invitation_id.as_ref().map(|i| i.as_str()),
        "invited_by": m.invited_by.as_ref().map(inviter),
    })
}

pub fn account(a: &Account) -> Value {
    json!({
        "id": a.id.as_str(),
        "name": a.name.as_str(),
        "allowed_domains": a.allowed_domains.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "default_ttl_seconds": a.default_ttl.secs(),
        "owners": a.owners.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        "created_at": rfc3339(a.created_at),
    })
}

pub fn preview(p: &Preview) -> Value {
    json!({
        "account": {"id": p.account_id.as_str(), "name": p.account_name.as_str()},
        "email": p.email.as_str(),
        "role": p.role.as_str(),
        "access_groups": p.access_groups.as_slice(),
        "invited_by": {
            "name": p.invited_by.name.as_ref().map(|n| n.as_str()),
            "email": p.invited_by.email.as_ref().map(|e| e.as_str()),
        },
        "expires_at": rfc3339(p.expires_at),
        "state": p.status.as_str(),
    })
}

pub fn page<T>(page: &Page<T>, item: impl Fn(&T) -> Value) -> Value {
    json!({
        "data": page.items.iter().map(item).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor.as_ref().map(Cursor::encode),
    })
}

/// What one sweep run did.
pub fn sweep_report(r: &SweepReport) -> Value {
    json!({
        "expired": r.expired,
        "mailed": r.mailed,
        "purged": r.purged,
        "webhooks": r.webhooks,
        "failed": r.failed,
        "more": r.more,
    })
}

pub fn invite_results(out: &Invited) -> Value {
    let results: Vec<Value> = out
        .results
        .iter()
        .map(|r| {
            let mut v = json!({"email": r.input, "status": r.status.as_str()});
            if let Some(inv) = &r.invitation {
                v["invitation"] = invitation(inv);
            }
            v
        })
        .collect();
    json!({ "results": results })
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
    }
}
