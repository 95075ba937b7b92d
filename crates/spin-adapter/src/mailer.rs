//! Sends the mail operations hand back, all at once, and records how it went.

use crate::config;
use crate::outbound::send;
use crate::web::Ctx;
use futures::future::join_all;
use invitations::effects::{Event, MailJob};
use invitations::model::Invitation;
use invitations::ops::deliveries::{record_deliveries, SendOutcome};
use invitations_edge::mail::{provider_request, render};

/// Sends every job concurrently, then records the outcomes in one write.
/// Returns the `invitation.sent` / `.delivery_failed` events.
pub async fn deliver(ctx: &Ctx, jobs: Vec<MailJob>) -> Vec<Event> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let outcomes: Vec<(Invitation, SendOutcome)> = match config::mail() {
        Err(e) => jobs
            .into_iter()
            .map(|j| (j.invitation, Err(e.to_string())))
            .collect(),
        Ok(mail) => {
            let sends = jobs.iter().map(|job| {
                let message = render(job, &mail.public_base_url);
                let request = provider_request(
                    mail.provider,
                    &mail.api_url,
                    &mail.api_token,
                    &mail.from,
                    &message,
                );
                send(request, "mail provider")
            });
            let results = join_all(sends).await;
            jobs.into_iter()
                .map(|j| j.invitation)
                .zip(results)
                .collect()
        }
    };
    // Not recorded means still `queued`: the sweep looks again later.
    record_deliveries(&ctx.env(), &outcomes).unwrap_or_default()
}
