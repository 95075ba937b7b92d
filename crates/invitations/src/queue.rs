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
use crate::ids::{AccountId, EventId, InvitationId, JoinLinkId};
use crate::keys;
use crate::store::{self, decode_counter, encode};
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
    /// Purge an account's history up to this position.
    History { account: AccountId, upto: i64 },
    /// Purge a join link `retention_days` after it stopped working.
    JoinLink(JoinLinkId),
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
        let last = store::increment(env, &keys::due_count(bucket), items.len() as i64)?;
        let first = last - items.len() as i64 + 1;
        for (i, item) in items.into_iter().enumerate() {
            out.push((keys::due_entry(bucket, first + i as i64), encode(item)));
        }
    }
    Ok(out)
}

/// Counter reads per `get-many` while stepping over queue minutes: as many
/// as one DynamoDB `BatchGetItem` takes.
const BUCKETS_PER_READ: i64 = store::MAX_BATCH_READ as i64;

/// The queue entries one sweep run handles, and where the next run starts.
pub(crate) struct Scan {
    pub entry_keys: Vec<String>,
    /// Counters of minutes read to their end, to delete with the entries.
    pub finished_buckets: Vec<String>,
    /// Where the next run starts: a minute and its next entry (1-based).
    pub bucket: i64,
    pub next: i64,
    /// More due work was left for the next run.
    pub more: bool,
}

/// Walks the minutes from `bucket` (entry `next`) up to `stop` (exclusive),
/// taking at most `sweep_max_items` entries and stepping over at most
/// `sweep_max_buckets` minutes. Cost: 1 round trip per 100 minutes.
pub(crate) fn scan(env: &Env, mut bucket: i64, mut next: i64, stop: i64) -> Result<Scan> {
    let policy = env.policy;
    let mut entry_keys: Vec<String> = Vec::new();
    let mut finished_buckets: Vec<String> = Vec::new();
    let mut buckets_left = policy.sweep_max_buckets;
    let mut more = false;
    'scan: while bucket < stop {
        if buckets_left <= 0 || entry_keys.len() >= policy.sweep_max_items {
            more = true;
            break;
        }
        let window = (stop - bucket).min(BUCKETS_PER_READ).min(buckets_left);
        let count_keys: Vec<String> = (bucket..bucket + window).map(keys::due_count).collect();
        let counts = store::get_many_raw(env.store, &count_keys)?;
        for (count_key, value) in count_keys.into_iter().zip(counts) {
            buckets_left -= 1;
            let count = decode_counter(value.as_deref());
            if next <= count {
                let room = (policy.sweep_max_items - entry_keys.len()) as i64;
                let take = (count - next + 1).min(room);
                entry_keys.extend((next..next + take).map(|n| keys::due_entry(bucket, n)));
                next += take;
                if next <= count {
                    more = true;
                    break 'scan;
                }
            }
            if value.is_some() {
                finished_buckets.push(count_key);
            }
            bucket += 1;
            next = 1;
            if entry_keys.len() >= policy.sweep_max_items && bucket < stop {
                more = true;
                break 'scan;
            }
        }
    }
    Ok(Scan {
        entry_keys,
        finished_buckets,
        bucket,
        next,
        more,
    })
}
