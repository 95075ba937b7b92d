//! What an invitation mail says: subject, text and HTML, from a mail job.

use invitations::effects::{MailJob, MailKind};
use invitations::model::Inviter;

use crate::html;
use crate::text::{escape_html, human_utc};

/// Longest subject we send, in characters; mail clients cut around here anyway.
pub const MAX_SUBJECT_CHARS: usize = 150;

/// One rendered mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub to: invitations::email::Email,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders the invitation mail for `job`; the link goes to `{public_base_url}/join?token=…`.
pub fn render(job: &MailJob, public_base_url: &str) -> Message {
    let invitation = &job.invitation;
    let account = job.account_name.as_str();
    let inviter = inviter_label(invitation.invited_by());
    let inviter_full = inviter_with_address(invitation.invited_by());
    let role = invitation.role().as_str();
    let groups = invitation.access_groups().as_slice();
    let note = invitation
        .message()
        .as_ref()
        .map(|n| normalize_newlines(n.as_str()));
    let link = crate::render::accept_url(public_base_url, &job.token);
    let expires = human_utc(invitation.expires_at());
    let reminder = matches!(job.kind, MailKind::Resend | MailKind::Reminder);

    let subject = header_safe_bounded(
        &format!(
            "{}{inviter} invited you to {account}",
            if reminder { "Reminder: " } else { "" }
        ),
        MAX_SUBJECT_CHARS,
    );

    let mut text = String::new();
    if reminder {
        text.push_str("This is a reminder of your invitation.\n\n");
    }
    text.push_str(&format!(
        "{inviter_full} invited you to join {account} as {role}.\n"
    ));
    if !groups.is_empty() {
        text.push_str(&format!("Access groups: {}\n", groups.join(", ")));
    }
    if let Some(note) = &note {
        text.push_str(&format!("\n{inviter} wrote:\n"));
        for line in note.lines() {
            text.push_str(&format!("> {line}\n"));
        }
    }
    text.push_str(&format!(
        "\nAccept the invitation:\n{link}\n\n\
         This invitation expires on {expires}. \
         If you did not expect it, you can ignore this email.\n"
    ));

    let e = escape_html;
    let mut body = html::heading(&format!(
        "{}You are invited to {account}",
        if reminder { "Reminder: " } else { "" }
    ));
    body.push_str(&format!(
        "<p>{} invited you to join <strong>{}</strong> as <strong>{}</strong>.</p>\n",
        e(&inviter_full),
        e(account),
        e(role)
    ));
    if !groups.is_empty() {
        body.push_str(&format!(
            "<p>Access groups: {}</p>\n",
            e(&groups.join(", "))
        ));
    }
    if let Some(note) = &note {
        let lines: Vec<String> = note.lines().map(escape_html).collect();
        body.push_str(&format!(
            "<p>{} wrote:</p>\n<blockquote style=\"{}\">{}</blockquote>\n",
            e(&inviter),
            html::QUOTE,
            lines.join("<br>\n")
        ));
    }
    body.push_str(&html::button(&link, "Accept the invitation"));
    body.push_str(&format!(
        "<p>Or open this link: <a href=\"{0}\">{0}</a></p>\n\
         <p>This invitation expires on {1}. If you did not expect it, you can ignore this email.</p>\n",
        e(&link),
        e(&expires)
    ));
    let html = html::document(&subject, &body);

    Message {
        to: invitation.email().clone(),
        subject,
        text,
        html,
    }
}

/// The name people know the inviter by: their name, else their address.
/// Who invited, as the mail and the /join page both name them: their name,
/// else their address, else their role (only admins and owners invite).
pub(crate) fn inviter_label(by: &Inviter) -> String {
    match (&by.name, &by.email) {
        (Some(name), _) => name.as_str().to_owned(),
        (None, Some(email)) => email.as_str().to_owned(),
        (None, None) => "An administrator".to_owned(),
    }
}

/// "Alice (alice@example.com)", so the invitee can tell who really sent it.
fn inviter_with_address(by: &Inviter) -> String {
    match (&by.name, &by.email) {
        (Some(name), Some(email)) => format!("{} ({})", name.as_str(), email.as_str()),
        _ => inviter_label(by),
    }
}

fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// One line fit for a mail header: control characters (CR and LF among them)
/// become spaces, runs of whitespace collapse, ends are trimmed.
pub fn header_safe(input: &str) -> String {
    input
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// [`header_safe`], cut to `max_chars` with an ellipsis.
pub(super) fn header_safe_bounded(input: &str, max_chars: usize) -> String {
    let line = header_safe(input);
    if line.chars().count() <= max_chars {
        return line;
    }
    let mut cut: String = line.chars().take(max_chars.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}
