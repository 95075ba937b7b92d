//! Carries out what an operation handed back: its mail and its events.

use crate::outbound::{send_all, Limits};
use crate::web::Ctx;
use crate::{mailer, webhooks};
use invitations::effects::{Event, MailJob};
use invitations::model::InvitationView;

/// Sends the change's own events and its mail in one bounded pass (the events
/// first, in the order they were made, so a receiver hears of a change before
/// its mail), records how the mail went, then publishes what the sending led
/// to (`invitation.sent` / `.delivery_failed`). Returns the mailed
/// invitations as they now read, delivery recorded.
pub async fn carry_out(ctx: &Ctx, mails: Vec<MailJob>, events: Vec<Event>) -> Vec<InvitationView> {
    // One list of requests, the events' first; the prepared halves keep
    // what each answer belongs to.
    let (hooks, requests) = webhooks::prepare(ctx, &events).unzip();
    let mut requests = requests.unwrap_or_default();
    let hook_count = requests.len();
    let mail = (!mails.is_empty()).then(|| {
        let (prepared, mail_requests) = mailer::prepare(mails);
        requests.extend(mail_requests);
        prepared
    });
    let mut answers = send_all(&requests, Limits::from_config());
    let mail_answers = answers.split_off(hook_count);
    if let Some(prepared) = hooks {
        webhooks::settle(ctx, prepared, answers);
    }
    let Some(prepared) = mail else {
        return Vec::new();
    };
    let recorded = mailer::settle(ctx, prepared, mail_answers);
    webhooks::publish(ctx, recorded.events).await;
    recorded.views
}
