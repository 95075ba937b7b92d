//! Delivers events to `webhook_url`, signed; keeps what fails in the domain's
//! outbox for the sweep to retry.

use crate::config::{self, WebhookConfig};
use crate::outbound::send_all;
use crate::web::Ctx;
use invitations::effects::Event;
use invitations::ids::EventId;
use invitations::ops::history::{self, Entry};
use invitations::ops::webhooks::{delivered, keep_undelivered, Redelivery};
use invitations::time::Clock;
use invitations_edge::outgoing::{Answer, OutgoingRequest};
use invitations_edge::webhook::{payload, request};

const PEER: &str = "webhook receiver";

/// Signed events, ready to send.
pub struct Prepared {
    items: Vec<(EventId, String)>,
    /// Set when the webhook settings are unusable: nothing is sent.
    misconfigured: Option<String>,
}

fn requests_for(
    ctx: &Ctx,
    config: Result<WebhookConfig, String>,
    items: Vec<(EventId, String)>,
) -> (Prepared, Vec<OutgoingRequest>) {
    let now_secs = ctx.clock.now().unix_millis().div_euclid(1000);
    match config {
        Err(e) => (
            Prepared {
                items,
                misconfigured: Some(e),
            },
            Vec::new(),
        ),
        Ok(c) => {
            let requests = items
                .iter()
                .map(|(id, body)| request(&c.url, &c.secret, id.as_str(), body, now_secs))
                .collect();
            (
                Prepared {
                    items,
                    misconfigured: None,
                },
                requests,
            )
        }
    }
}

/// A change's events, each rendered once: their history entries (positions
/// taken, entries not yet written) and their signed deliveries.
pub struct Rendered {
    /// For the caller's `set-many`: the history keeps what was signed.
    pub history: Vec<(String, Vec<u8>)>,
    /// `None` when `webhook_url` is unset.
    pub deliveries: Option<Deliveries>,
}

/// Signed events and their requests, ready to send.
pub type Deliveries = (Prepared, Vec<OutgoingRequest>);

/// Renders `events` for their accounts' histories and for the webhook, in the
/// order they were made. The history is kept whether or not webhooks are set.
pub fn render(ctx: &Ctx, events: &[Event]) -> Rendered {
    if events.is_empty() {
        return Rendered {
            history: Vec::new(),
            deliveries: None,
        };
    }
    let items: Vec<(EventId, String)> = events.iter().map(|e| (e.id.clone(), payload(e))).collect();
    let entries = events
        .iter()
        .zip(&items)
        .map(|(e, (_, body))| (e.account().clone(), Entry::of(e, body.clone())))
        .collect();
    let history = history::appending(&ctx.env(), entries).unwrap_or_else(|e| {
        // The change and its webhooks stand; only its history entry is lost.
        eprintln!("history not kept for {} events: {e}", events.len());
        Vec::new()
    });
    let deliveries = config::webhooks().map(|config| requests_for(ctx, config, items));
    Rendered {
        history,
        deliveries,
    }
}

/// Sends the deliveries and keeps what did not get through for the sweep.
pub fn deliver(ctx: &Ctx, deliveries: Option<Deliveries>) {
    if let Some((prepared, requests)) = deliveries {
        let answers = send_all(&requests, ctx.limits);
        settle(ctx, prepared, answers);
    }
}

fn results(prepared: &Prepared, answers: Vec<Result<Answer, String>>) -> Vec<Result<(), String>> {
    match &prepared.misconfigured {
        Some(e) => vec![Err(e.clone()); prepared.items.len()],
        None => answers
            .into_iter()
            .map(|a| match a {
                Ok(a) if a.is_success() => Ok(()),
                Ok(a) => Err(a.excerpt(PEER)),
                Err(e) => Err(format!("{PEER} unreachable: {e}")),
            })
            .collect(),
    }
}

/// Keeps what did not get through for the sweep.
pub fn settle(ctx: &Ctx, prepared: Prepared, answers: Vec<Result<Answer, String>>) {
    let outcomes = results(&prepared, answers);
    let failed: Vec<(EventId, String, String)> = prepared
        .items
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

/// Delivers events right after the change that made them, their history
/// written first. Nothing is sent when `webhook_url` is unset; a failed
/// delivery is kept for the sweep.
pub fn publish(ctx: &Ctx, events: Vec<Event>) {
    let rendered = render(ctx, &events);
    if !rendered.history.is_empty() {
        if let Err(e) = ctx.env().store.set_many(&rendered.history) {
            eprintln!("history not kept for {} events: {e}", events.len());
        }
    }
    deliver(ctx, rendered.deliveries);
}

/// Tries again what the sweep handed back; forgets what got through.
/// Returns how many were delivered.
pub fn redeliver(ctx: &Ctx, due: Vec<Redelivery>) -> usize {
    if due.is_empty() {
        return 0;
    }
    // Unset since they were kept: they stay until their attempts run out.
    let config =
        config::webhooks().unwrap_or_else(|| Err("webhook_url is no longer set".to_owned()));
    let items: Vec<(EventId, String)> = due.into_iter().map(|r| (r.id, r.payload)).collect();
    let (prepared, requests) = requests_for(ctx, config, items);
    let answers = send_all(&requests, ctx.limits);
    let outcomes = results(&prepared, answers);
    let mut done = Vec::new();
    for ((id, _), outcome) in prepared.items.into_iter().zip(outcomes) {
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
