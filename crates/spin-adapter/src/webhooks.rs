//! Delivers events to `webhook_url`, signed, all at once; keeps what fails in
//! the domain's outbox for the sweep to retry.

use crate::config::{self, WebhookConfig};
use crate::outbound::send;
use crate::web::Ctx;
use futures::future::join_all;
use invitations::effects::Event;
use invitations::ids::EventId;
use invitations::ops::webhooks::{delivered, keep_undelivered, Redelivery};
use invitations::time::Clock;
use invitations_edge::webhook::{payload, request};

const PEER: &str = "webhook receiver";

/// Sends each `(id, payload)` once, concurrently; returns the outcome of each.
async fn attempt(
    ctx: &Ctx,
    config: &Result<WebhookConfig, String>,
    items: &[(EventId, String)],
) -> Vec<Result<(), String>> {
    let now_secs = ctx.clock.now().unix_millis().div_euclid(1000);
    match config {
        Err(e) => items.iter().map(|_| Err(e.clone())).collect(),
        Ok(c) => {
            let sends = items.iter().map(|(id, body)| {
                send(
                    request(&c.url, &c.secret, id.as_str(), body, now_secs),
                    PEER,
                )
            });
            join_all(sends).await
        }
    }
}

/// Delivers events right after the change that made them. Nothing happens
/// when `webhook_url` is unset; a failed delivery is kept for the sweep.
pub async fn publish(ctx: &Ctx, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    let Some(config) = config::webhooks() else {
        return;
    };
    let items: Vec<(EventId, String)> = events.iter().map(|e| (e.id.clone(), payload(e))).collect();
    let outcomes = attempt(ctx, &config, &items).await;
    let failed: Vec<(EventId, String, String)> = items
        .into_iter()
        .zip(outcomes)
        .filter_map(|((id, body), outcome)| outcome.err().map(|e| (id, body, e)))
        .collect();
    for (id, _, error) in &failed {
        eprintln!("webhook {id} not delivered, kept for retry: {error}");
    }
    if let Err(e) = keep_undelivered(&ctx.env(), failed) {
        eprintln!("undelivered webhooks could not be kept: {e}");
    }
}

/// Tries again what the sweep handed back; forgets what got through.
/// Returns how many were delivered.
pub async fn redeliver(ctx: &Ctx, due: Vec<Redelivery>) -> usize {
    if due.is_empty() {
        return 0;
    }
    // Unset since they were kept: they stay until their attempts run out.
    let config =
        config::webhooks().unwrap_or_else(|| Err("webhook_url is no longer set".to_owned()));
    let items: Vec<(EventId, String)> = due.into_iter().map(|r| (r.id, r.payload)).collect();
    let outcomes = attempt(ctx, &config, &items).await;
    let mut done = Vec::new();
    for ((id, _), outcome) in items.into_iter().zip(outcomes) {
        match outcome {
            Ok(()) => done.push(id),
            Err(e) => eprintln!("webhook {id} retry failed: {e}"),
        }
    }
    if let Err(e) = delivered(&ctx.env(), &done) {
        eprintln!("delivered webhooks could not be forgotten (they will be sent again): {e}");
    }
    done.len()
}
