//! Carries out what an operation handed back: its mail and its events.

use crate::web::Ctx;
use crate::{mailer, webhooks};
use invitations::effects::{Event, MailJob};

/// Sends the mail while the change's own events go out, then publishes what
/// the sending led to (`invitation.sent` / `.delivery_failed`), so a receiver
/// hears of a change before its mail. Returns the sending's events, whose
/// views show the recorded delivery.
pub async fn carry_out(ctx: &Ctx, mails: Vec<MailJob>, events: Vec<Event>) -> Vec<Event> {
    let ((), sent) = futures::join!(webhooks::publish(ctx, events), mailer::deliver(ctx, mails));
    webhooks::publish(ctx, sent.clone()).await;
    sent
}
