//! Sends the mail operations hand back, all at once, and records how it went.

use crate::config;
use crate::web::Ctx;
use futures::future::join_all;
use invitations::effects::{Event, MailJob};
use invitations::model::Invitation;
use invitations::ops::deliveries::{record_deliveries, SendOutcome};
use invitations_edge::mail::{provider_request, render, OutgoingRequest};
use spin_sdk::http::{Method, Request, Response};

async fn send(request: OutgoingRequest) -> SendOutcome {
    let mut b = Request::builder();
    b.method(Method::Post).uri(request.url);
    for (k, v) in request.headers {
        b.header(k, v);
    }
    let outgoing = b.body(request.body).build();
    match spin_sdk::http::send::<_, Response>(outgoing).await {
        Ok(resp) if (200..300).contains(resp.status()) => Ok(()),
        Ok(resp) => {
            let excerpt: String = String::from_utf8_lossy(resp.body())
                .chars()
                .take(200)
                .collect();
            Err(format!(
                "mail provider answered {}: {excerpt}",
                resp.status()
            ))
        }
        Err(e) => Err(format!("mail provider unreachable: {e}")),
    }
}

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
                send(provider_request(
                    mail.provider,
                    &mail.api_url,
                    &mail.api_token,
                    &mail.from,
                    &message,
                ))
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
