//! The webhook outbox: events whose delivery failed, kept until the sweep
//! gets them through or gives up.
//!
//! The edge delivers every event right after the change. Only a failed
//! delivery is written down ([`keep_undelivered`]), with the exact payload it
//! signed, so each retry sends the same bytes under the same event id and a
//! receiver can drop duplicates by `webhook-id`.
//!
//! The sweep claims a due record by compare-and-swap (counting the attempt)
//! and queues the next look *before* handing it out, so a crash between the
//! claim and the delivery loses nothing: the record waits for that look.
//! A delivery that then succeeds deletes the record ([`delivered`]).

use crate::error::Result;
use crate::ids::{EventId, Rev};
use crate::keys;
use crate::ops::sweep::backoff_secs;
use crate::queue::{self, DueItem};
use crate::store::{self, encode, Decision, Versioned};
use crate::time::Timestamp;
use crate::{Env, Policy};
use serde::{Deserialize, Serialize};

/// An event the receiver has not taken yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Undelivered {
    pub id: EventId,
    /// The body as first rendered and signed; opaque to the domain.
    pub payload: String,
    /// Delivery attempts made or claimed so far.
    pub attempts: u32,
    pub first_failed_at: Timestamp,
    pub last_error: String,
    rev: Rev,
}

impl Versioned for Undelivered {
    fn rev(&self) -> &Rev {
        &self.rev
    }
    fn set_rev(&mut self, rev: Rev) {
        self.rev = rev;
    }
}

/// How long after attempt `attempt` (1-based) the next one is due: the
/// sweep's backoff, capped at `webhook_retry_max_delay_secs`.
fn retry_delay_secs(policy: &Policy, attempt: u32) -> i64 {
    backoff_secs(policy.webhook_retry_base_secs, attempt).min(policy.webhook_retry_max_delay_secs)
}

/// An event the sweep hands back for another delivery attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct Redelivery {
    pub id: EventId,
    pub payload: String,
    /// This attempt's number (the first delivery was attempt 1).
    pub attempt: u32,
}

/// Keeps events whose first delivery failed, for the sweep to retry.
/// `failed` holds (event id, signed payload, error).
/// Cost: 2 round trips for any number of events (one `increment` per queue
/// minute, here one; one `set-many`), none when nothing failed.
pub fn keep_undelivered(env: &Env, failed: Vec<(EventId, String, String)>) -> Result<()> {
    if failed.is_empty() {
        return Ok(());
    }
    let now = env.clock.now();
    let retry_at = now.plus_secs(retry_delay_secs(env.policy, 1));
    let due: Vec<(Timestamp, DueItem)> = failed
        .iter()
        .map(|(id, _, _)| {
            let item = DueItem::Webhook {
                id: id.clone(),
                after: 1,
            };
            (retry_at, item)
        })
        .collect();
    let mut writes = queue::entries(env, &due)?;
    for (id, payload, error) in failed {
        let record = Undelivered {
            id: id.clone(),
            payload,
            attempts: 1,
            first_failed_at: now,
            last_error: error,
            rev: Rev::generate(env.random),
        };
        writes.push((keys::undelivered(&id), encode(&record)));
    }
    store::set_many(env.store, &writes)
}

/// Forgets events the receiver took. Cost: 1 round trip, none for no events.
pub fn delivered(env: &Env, ids: &[EventId]) -> Result<()> {
    let keys: Vec<String> = ids.iter().map(keys::undelivered).collect();
    store::delete_many(env.store, &keys)
}

/// What the sweep decided for one due outbox entry.
pub(crate) enum Claim {
    /// Deliver this now; look again at the given time in case it fails.
    Retry(Redelivery, Timestamp),
    /// Attempts are used up: the record was dropped.
    GaveUp,
    /// Delivered, or claimed by a concurrent sweep: nothing to do.
    Nothing,
}

/// Claims the next attempt of a due outbox entry, queued when `after`
/// attempts had been made. Two sweeps that look at the same entry at once:
/// one wins the compare-and-swap, the other finds the count moved on and gets
/// `Nothing`. Cost: 2 round trips (3 to give up).
pub(crate) fn claim(env: &Env, id: &EventId, after: u32) -> Result<Claim> {
    let now = env.clock.now();
    let max = env.policy.webhook_max_attempts;
    let key = keys::undelivered(id);
    let decided =
        store::update::<Undelivered, Claim>(env.store, env.random, &key, |mut record| {
            if record.attempts != after {
                return Ok(Decision::Keep(Claim::Nothing));
            }
            if record.attempts >= max {
                return Ok(Decision::Keep(Claim::GaveUp));
            }
            record.attempts += 1;
            let next = now.plus_secs(retry_delay_secs(env.policy, record.attempts));
            let retry = Redelivery {
                id: record.id.clone(),
                payload: record.payload.clone(),
                attempt: record.attempts,
            };
            Ok(Decision::Write(record, Claim::Retry(retry, next)))
        })?;
    match decided {
        // Gone: delivered, or given up by another run.
        None => Ok(Claim::Nothing),
        Some(Claim::GaveUp) => {
            env.store.delete(&key)?;
            Ok(Claim::GaveUp)
        }
        Some(claim) => Ok(claim),
    }
}
