//! Write down how sending went, after the edge sent the mail an operation asked for.

use crate::effects::{Event, EventKind};
use crate::error::Result;
use crate::keys;
use crate::model::{Delivery, Invitation, InvitationView};
use crate::store::{self, decode, encode};
use crate::Env;

/// One send attempt's outcome: `Err` holds the provider's complaint, for the admin to see.
pub type SendOutcome = std::result::Result<(), String>;

/// Records send outcomes and returns `invitation.sent` / `.delivery_failed` events.
/// Cost: 2 round trips for any number of invitations (`get-many`, `set-many`).
///
/// Delivery records are written without compare-and-swap: senders claim an
/// attempt by changing the invitation's token first, and an outcome for an
/// older token than the one recorded is dropped, so a late answer about an
/// old link cannot hide the newest one.
pub fn record_deliveries(env: &Env, outcomes: &[(Invitation, SendOutcome)]) -> Result<Vec<Event>> {
    if outcomes.is_empty() {
        return Ok(Vec::new());
    }
    let now = env.clock.now();
    let keys: Vec<String> = outcomes
        .iter()
        .map(|(inv, _)| keys::delivery(&inv.id))
        .collect();
    let current = store::get_many_raw(env.store, &keys)?;
    let mut writes = Vec::with_capacity(outcomes.len());
    let mut events = Vec::with_capacity(outcomes.len());
    for (((inv, outcome), key), value) in outcomes.iter().zip(&keys).zip(current) {
        let mut delivery: Delivery = value
            .map(|b| decode(key, &b))
            .transpose()?
            .unwrap_or_default();
        if !delivery.record(now, inv, outcome) {
            continue;
        }
        writes.push((key.clone(), encode(&delivery)));
        let kind = match outcome {
            Ok(()) => EventKind::InvitationSent,
            Err(_) => EventKind::InvitationDeliveryFailed,
        };
        let view = InvitationView::new(inv.clone(), delivery, now);
        events.push(Event::invitation(env.random, kind, now, view));
    }
    store::set_many(env.store, &writes)?;
    Ok(events)
}
