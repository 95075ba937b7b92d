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
    let hooks = webhooks::prepare(ctx, &events);
    let hook_count = hooks.as_ref().map_or(0, |(_, r)| r.len());
    let mail = (!mails.is_empty()).then(|| mailer::prepare(mails));
    let mut requests = Vec::new();
    if let Some((_, r)) = &hooks {
        requests.extend(r.iter().cloned());
    }
    if let Some((_, r)) = &mail {
        requests.extend(r.iter().cloned());
    }
    let mut answers = send_all(&requests, Limits::from_config());
    let mail_answers = answers.split_off(hook_count);
    if let Some((prepared, _)) = hooks {
        webhooks::settle(ctx, prepared, answers);
    }
    let Some((prepared, _)) = mail else {
        return Vec::new();
    };
    let recorded = mailer::settle(ctx, prepared, mail_answers);
    webhooks::publish(ctx, recorded.events).await;
    recorded.views
}
