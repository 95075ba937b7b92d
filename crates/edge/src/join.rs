//! The invitee's page at `/join?token=…`: what the invitation is, or plainly
//! why the link no longer works and what to do. Everything shown is escaped.

use crate::html;
use crate::text::{escape_html as escape, human_utc};
use invitations::error::Error;
use invitations::model::{Inviter, LinkStatus, Status};
use invitations::ops::join_links::LinkPreview;
use invitations::ops::preview::Preview;

pub struct JoinPage {
    pub status: u16,
    pub html: String,
}

/// The page in the look the mail has ([`html`]).
fn document(title: &str, body: &str) -> String {
    html::document(title, &format!("<main>\n{body}</main>\n"))
}

fn explain(title: &str, what: &str, todo: &str, status: u16) -> JoinPage {
    let body = format!(
        "{}<p>{}</p><p>{}</p>",
        html::heading(title),
        escape(what),
        escape(todo)
    );
    JoinPage {
        status,
        html: document(title, &body),
    }
}

/// `accept_url`: where the host app lets a signed-in person accept (the token
/// is appended); without it the page says to sign in to the app.
pub fn page(
    preview: Result<&Preview, &Error>,
    token: Option<&str>,
    accept_url: Option<&str>,
) -> JoinPage {
    let p = match preview {
        Ok(p) => p,
        Err(Error::InvitationNotFound) => {
            return explain(
                "This invitation link is not valid",
                "The link may be incomplete, or it was replaced by a newer invitation email.",
                "Check your inbox for the most recent invitation, or ask the person who invited you to send it again.",
                404,
            )
        }
        Err(_) => {
            return explain(
                "Something went wrong",
                "We could not look up this invitation right now.",
                "Please try the link again in a minute.",
                503,
            )
        }
    };
    let account = p.account_name.as_str();
    let inviter = person(&p.invited_by);
    match p.status {
        Status::Expired => explain(
            "This invitation has expired",
            &format!("The invitation to join {account} ran out on {}.", human(p)),
            &format!("Ask {inviter} to send it again: they can renew it with one click."),
            410,
        ),
        Status::Cancelled => explain(
            "This invitation was cancelled",
            &format!("{inviter} cancelled the invitation to join {account}."),
            "If you think this is a mistake, ask them to invite you again.",
            410,
        ),
        Status::Declined => explain(
            "This invitation was declined",
            &format!("The invitation to join {account} was declined."),
            &format!("If that was a mistake, ask {inviter} to invite you again."),
            410,
        ),
        Status::Accepted => explain(
            "This invitation has already been used",
            &format!("The invitation to join {account} has been accepted."),
            "If that was you, sign in to get started. Otherwise ask the account's admin for a new invitation.",
            410,
        ),
        Status::Pending => {
            let action = match (accept_url, token) {
                (Some(url), Some(t)) => {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    html::button(&format!("{url}{sep}token={t}"), "Accept the invitation")
                }
                _ => "<p>Sign in to the app with this email address to accept the invitation.</p>".to_owned(),
            };
            // A plain form: declining needs no script and no sign-in (the link
            // is the proof), and a POST is never triggered by a mail scanner
            // that follows links.
            let decline = match token {
                Some(t) => format!(
                    "<form method=\"post\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
<p>Not for you? <button type=\"submit\" style=\"{}\">Decline the invitation</button></p></form>",
                    escape(t),
                    html::SECONDARY_BUTTON
                ),
                None => String::new(),
            };
            let groups = if p.access_groups.as_slice().is_empty() {
                String::new()
            } else {
                format!("<li>Access groups: {}</li>", escape(&p.access_groups.as_slice().join(", ")))
            };
            let body = format!(
                "{heading}\
<p>{inviter} invited <strong>{email}</strong> to join <strong>{account}</strong>.</p>\
<ul><li>Role: {role}</li>{groups}<li>Valid until: {until}</li></ul>{action}{decline}",
                heading = html::heading(&format!("Join {account}")),
                account = escape(account),
                inviter = escape(&inviter),
                email = escape(p.email.as_str()),
                role = escape(p.role.as_str()),
                until = escape(&human(p)),
            );
            JoinPage {
                status: 200,
                html: document(&format!("Join {account}"), &body),
            }
        }
    }
}

/// After the Decline button: what happened, plainly.
pub fn declined(account_name: &str) -> JoinPage {
    explain(
        "You declined the invitation",
        &format!("You will not join {account_name}, and this link no longer works. Whoever invited you can see that you declined."),
        "If you change your mind, ask them to invite you again.",
        200,
    )
}

/// The page at `/join?link=…`: whose account, what role, and how to join
/// (signed in at the host app: `accept_url` gets `link=` appended).
pub fn link_page(
    preview: Result<&LinkPreview, &Error>,
    token: Option<&str>,
    accept_url: Option<&str>,
) -> JoinPage {
    let p = match preview {
        Ok(p) => p,
        Err(Error::JoinLinkNotFound) => {
            return explain(
                "This join link is not valid",
                "The link may be incomplete or mistyped.",
                "Ask whoever shared it to send it again.",
                404,
            )
        }
        Err(_) => {
            return explain(
                "Something went wrong",
                "We could not look up this join link right now.",
                "Please try the link again in a minute.",
                503,
            )
        }
    };
    let account = p.account_name.as_str();
    let creator = person(&p.created_by);
    match p.status {
        LinkStatus::Revoked => explain(
            "This join link was turned off",
            &format!("An admin of {account} revoked this link."),
            &format!("Ask {creator} for a new link or an invitation."),
            410,
        ),
        LinkStatus::Expired => explain(
            "This join link has expired",
            &format!(
                "The link to join {account} ran out on {}.",
                human_utc(p.expires_at)
            ),
            &format!("Ask {creator} for a new link or an invitation."),
            410,
        ),
        LinkStatus::UsedUp => explain(
            "This join link is full",
            &format!("As many people have joined {account} through this link as it allows."),
            &format!("Ask {creator} for a new link or an invitation."),
            410,
        ),
        LinkStatus::Active => {
            let action = match (accept_url, token) {
                (Some(url), Some(t)) => {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    html::button(&format!("{url}{sep}link={t}"), "Sign in to join")
                }
                _ => "<p>Sign in to the app with a verified email address, then open this link again to join.</p>".to_owned(),
            };
            let groups = if p.access_groups.as_slice().is_empty() {
                String::new()
            } else {
                format!(
                    "<li>Access groups: {}</li>",
                    escape(&p.access_groups.as_slice().join(", "))
                )
            };
            let body = format!(
                "{heading}\
<p>{creator} shared this link to join <strong>{account}</strong>.</p>\
<ul><li>Role: {role}</li>{groups}<li>Valid until: {until}</li></ul>{action}",
                heading = html::heading(&format!("Join {account}")),
                account = escape(account),
                creator = escape(&creator),
                role = escape(p.role.role().as_str()),
                until = escape(&human_utc(p.expires_at)),
            );
            JoinPage {
                status: 200,
                html: document(&format!("Join {account}"), &body),
            }
        }
    }
}

fn person(by: &Inviter) -> String {
    crate::mail::inviter_label(by)
}

fn human(p: &Preview) -> String {
    human_utc(p.expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use invitations::email::Email;
    use invitations::ids::{AccountId, UserId};
    use invitations::model::Inviter;
    use invitations::random::Random;
    use invitations::time::Timestamp;
    use invitations::values::{AccessGroups, AccountName, InviteRole, PersonName};

    struct Zero;
    impl Random for Zero {
        fn fill(&self, b: &mut [u8]) {
            b.fill(0)
        }
    }

    fn preview(status: Status) -> Preview {
        Preview {
            account_id: AccountId::generate(&Zero),
            account_name: AccountName::parse("<script>alert(1)</script> & Co").unwrap(),
            email: Email::parse("bob@example.com").unwrap(),
            role: InviteRole::Member,
            access_groups: AccessGroups::parse(&["eng"]).unwrap(),
            invited_by: Inviter {
                user_id: UserId::parse("a").unwrap(),
                email: None,
                name: Some(PersonName::parse("Al \"the\" <b>").unwrap()),
            },
            expires_at: Timestamp::from_unix_secs(1_800_000_000),
            status,
        }
    }

    #[test]
    fn pending_page_escapes_everything_and_links_to_the_app() {
        let p = preview(Status::Pending);
        let page = page(
            Ok(&p),
            Some("tok"),
            Some("https://app.example/accept?x=1&y=\"2\""),
        );
        assert_eq!(page.status, 200);
        assert!(!page.html.contains("<script>"));
        assert!(page
            .html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
        assert!(page.html.contains("Al &quot;the&quot; &lt;b&gt;"));
        assert!(page
            .html
            .contains("href=\"https://app.example/accept?x=1&amp;y=&quot;2&quot;&amp;token=tok\""));
        assert!(page.html.contains("2027-01-15 08:00 UTC"));
        assert!(page.html.contains(
            "<form method=\"post\"><input type=\"hidden\" name=\"token\" value=\"tok\">"
        ));
        assert!(page.html.contains("Decline the invitation</button>"));
        // The look the mail has.
        assert!(page
            .html
            .contains(&format!("<body style=\"{}\">", html::BODY)));
        assert!(page.html.contains(&format!(
            "style=\"{}\">Accept the invitation</a>",
            html::BUTTON
        )));
    }

    #[test]
    fn the_declined_page_escapes_the_account_name() {
        let page = declined("<b>Acme</b>");
        assert_eq!(page.status, 200);
        assert!(page
            .html
            .contains("You will not join &lt;b&gt;Acme&lt;/b&gt;"));
    }

    #[test]
    fn dead_links_say_what_happened() {
        for (status, words) in [
            (Status::Expired, "expired"),
            (Status::Cancelled, "cancelled"),
            (Status::Accepted, "already been used"),
            (Status::Declined, "declined"),
        ] {
            let p = preview(status);
            let page = page(Ok(&p), Some("tok"), None);
            assert_eq!(page.status, 410);
            assert!(page.html.contains(words), "{words}");
            assert!(!page.html.contains("tok"));
        }
        let page = page(Err(&Error::InvitationNotFound), None, None);
        assert_eq!(page.status, 404);
        assert!(page.html.contains("not valid"));
    }
}
