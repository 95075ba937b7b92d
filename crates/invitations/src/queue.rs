//! The due queue: what the sweep must look at, by the minute it becomes due.
//!
//! A bucket is one minute of due time: a counter `v1/due/{minute}/n` (touched
//! by `increment` only) and one key per entry `v1/due/{minute}/{i}`. Adding
//! entries costs one `increment` per distinct minute; the entries themselves
//! ride in the caller's `set-many`. The sweep walks buckets from its watermark,
//! so its cost follows what is due, never the size of the store.
//!
//! Entries are hints: the sweep reads the record an entry names and acts only
//! on what is really due then, so a stale or repeated entry is harmless.

use crate::error::Result;
use crate::ids::{EventId, InvitationId};
use crate::keys;
use crate::store::encode;
use crate::time::Timestamp;
use crate::Env;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub(crate) const BUCKET_MS: i64 = 60_000;

pub(crate) fn bucket_of(t: Timestamp) -> i64 {
    t.unix_millis().div_euclid(BUCKET_MS)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DueItem {
    /// Look at this invitation: expire it, retry its mail, or purge it.
    Invitation(InvitationId),
    /// Forget an Idempotency-Key's answer (if still the stale one) and its claim counter.
    Idempotency { scope: String, hour: i64 },
    /// Retry an undelivered webhook event, queued after `after` attempts.
    Webhook { id: EventId, after: u32 },
}

/// Entries go at least this far ahead, so that none lands in a minute a sweep
/// (on a host whose clock runs a little ahead) has already passed.
pub(crate) const MIN_LEAD_MS: i64 = 2 * BUCKET_MS;

/// Reserves queue positions for `items` and returns the entries to write.
/// Cost: one `increment` per distinct minute among the due times.
pub(crate) fn entries(env: &Env, items: &[(Timestamp, DueItem)]) -> Result<Vec<(String, Vec<u8>)>> {
    let earliest = env.clock.now().plus_millis(MIN_LEAD_MS);
    let mut by_bucket: BTreeMap<i64, Vec<&DueItem>> = BTreeMap::new();
    for (at, item) in items {
        by_bucket
            .entry(bucket_of((*at).max(earliest)))
            .or_default()
            .push(item);
    }
    let mut out = Vec::with_capacity(items.len());
    for (bucket, items) in by_bucket {
        let last = env
            .store
            .increment(&keys::due_count(bucket), items.len() as i64)?;
        let first = last - items.len() as i64 + 1;
        for (i, item) in items.into_iter().enumerate() {
            out.push((keys::due_entry(bucket, first + i as i64), encode(item)));
        }
    }
    Ok(out)
}
