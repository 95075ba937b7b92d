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
//!
//! When: an entry goes in the minute it is due (or the current one, if that
//! has passed). The sweep reads every minute that has ended, so with a cron
//! every minute an entry is read at most one schedule period after it is
//! due. A writer whose clock runs behind the sweep's can still add to a
//! minute that has ended, so the sweep reads such a minute again on each run,
//! from where it stopped, until [`SKEW_MS`] after its end; only then does its
//! reading position ([`Watermark`]) move past it for good.

use crate::error::Result;
use crate::ids::{AccountId, EventId, InvitationId, JoinLinkId, Rev};
use crate::keys;
use crate::store::{self, decode_counter, encode, Decision, Versioned};
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

/// How long after a minute ends a writer's entry may still arrive in it: a
/// writer whose clock runs up to this much behind the sweep's.
pub(crate) const SKEW_MS: i64 = 2 * BUCKET_MS;

/// Reserves queue positions for `items` and returns the entries to write.
/// Cost: one `increment` per distinct minute among the due times.
pub(crate) fn entries(env: &Env, items: &[(Timestamp, DueItem)]) -> Result<Vec<(String, Vec<u8>)>> {
    let now = env.clock.now();
    let mut by_bucket: BTreeMap<i64, Vec<&DueItem>> = BTreeMap::new();
    for (at, item) in items {
        by_bucket
            .entry(bucket_of((*at).max(now)))
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

/// Where the sweep reads the queue next, kept in the store between runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Watermark {
    /// Every minute before this one is read and takes no more entries.
    pub bucket: i64,
    /// The next entry (1-based) to read in `bucket`.
    pub next: i64,
    /// The next entry in each later minute read while entries may still
    /// arrive in it (`SKEW_MS`); a minute not named starts at 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<(i64, i64)>,
    pub rev: Rev,
}

impl Versioned for Watermark {
    fn rev(&self) -> &Rev {
        &self.rev
    }
    fn set_rev(&mut self, rev: Rev) {
        self.rev = rev;
    }
}

impl Watermark {
    /// Where a queue nobody has read yet starts.
    pub(crate) fn at(env: &Env, at: Timestamp) -> Watermark {
        Watermark {
            bucket: bucket_of(at),
            next: 1,
            open: Vec::new(),
            rev: Rev::generate(env.random),
        }
    }

    fn next_in(&self, bucket: i64) -> i64 {
        if bucket == self.bucket {
            return self.next;
        }
        let found = self.open.iter().find(|(b, _)| *b == bucket);
        found.map_or(1, |(_, next)| *next)
    }

    /// The further of two positions, minute by minute: never back past
    /// what a concurrent run read.
    fn furthest(&self, other: &Watermark) -> Watermark {
        let (bucket, next) = (self.bucket, self.next).max((other.bucket, other.next));
        let mut open: BTreeMap<i64, i64> = BTreeMap::new();
        for (b, n) in self.open.iter().chain(&other.open) {
            if *b > bucket {
                let at = open.entry(*b).or_insert(1);
                *at = (*at).max(*n);
            }
        }
        Watermark {
            bucket,
            next,
            open: open.into_iter().collect(),
            rev: self.rev.clone(),
        }
    }

    /// The position read last, or where a first run starts. Cost: 1 round trip.
    pub(crate) fn load(env: &Env, first: Timestamp) -> Result<(Watermark, bool)> {
        let saved: Option<Watermark> = store::get_json(env.store, &keys::sweep_state())?;
        let exists = saved.is_some();
        Ok((saved.unwrap_or_else(|| Watermark::at(env, first)), exists))
    }

    /// Writes the position a run reached, never moving back past a
    /// concurrent run that got further. Cost: 1 round trip, or 2 (the CAS).
    pub(crate) fn save(&self, env: &Env, exists: bool) -> Result<()> {
        if !exists {
            // The first run creates it. Two first runs racing both write a
            // position they reached; either is safe to resume from.
            env.store.set(&keys::sweep_state(), &encode(self))?;
            return Ok(());
        }
        store::update::<Watermark, ()>(env.store, env.random, &keys::sweep_state(), |saved| {
            let merged = saved.furthest(self);
            if merged.bucket == saved.bucket
                && merged.next == saved.next
                && merged.open == saved.open
            {
                return Ok(Decision::Keep(()));
            }
            Ok(Decision::Write(merged, ()))
        })?;
        Ok(())
    }
}

/// The watermark the first account writes: the queue starts now.
pub(crate) fn initial_watermark(env: &Env) -> (String, Vec<u8>) {
    let w = Watermark::at(env, env.clock.now());
    (keys::sweep_state(), encode(&w))
}

/// The queue entries one sweep run handles, and where the next run starts.
pub(crate) struct Scan {
    pub entry_keys: Vec<String>,
    /// Counters of minutes read to their end and settled, to delete with the entries.
    pub finished_buckets: Vec<String>,
    pub watermark: Watermark,
    /// More due work was left for the next run.
    pub more: bool,
}

/// Walks the minutes that have ended by `now`, from the watermark, taking at
/// most `sweep_max_items` entries and stepping over at most
/// `sweep_max_buckets` minutes. A minute that ended less than [`SKEW_MS`]
/// ago is read but kept open. Cost: 1 round trip per 100 minutes.
pub(crate) fn scan(env: &Env, from: &Watermark, now: Timestamp) -> Result<Scan> {
    let policy = env.policy;
    let stop = bucket_of(now); // minutes before this one have ended
    let settled = bucket_of(now.plus_millis(-SKEW_MS)); // and before this one, take no more
    let mut to = from.clone();
    let mut open: BTreeMap<i64, i64> = from.open.iter().copied().collect();
    let mut entry_keys: Vec<String> = Vec::new();
    let mut finished_buckets: Vec<String> = Vec::new();
    let mut buckets_left = policy.sweep_max_buckets;
    let mut at_front = true;
    let mut more = false;
    let mut bucket = from.bucket;
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
            let mut next = from.next_in(bucket);
            if next <= count {
                let room = (policy.sweep_max_items - entry_keys.len()) as i64;
                let take = (count - next + 1).min(room);
                entry_keys.extend((next..next + take).map(|n| keys::due_entry(bucket, n)));
                next += take;
            }
            let read_whole = next > count;
            if at_front && read_whole && bucket < settled {
                if value.is_some() {
                    finished_buckets.push(count_key);
                }
                // The next minute may have been read in part while open.
                (to.bucket, to.next) = (bucket + 1, from.next_in(bucket + 1));
            } else if at_front {
                at_front = false;
                (to.bucket, to.next) = (bucket, next);
            } else {
                open.insert(bucket, next);
            }
            if !read_whole {
                more = true;
                break 'scan;
            }
            bucket += 1;
            if entry_keys.len() >= policy.sweep_max_items && bucket < stop {
                more = true;
                break 'scan;
            }
        }
    }
    to.open = open
        .into_iter()
        .filter(|(b, n)| *b > to.bucket && *n > 1)
        .collect();
    Ok(Scan {
        entry_keys,
        finished_buckets,
        watermark: to,
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::World;

    fn at(bucket: i64, next: i64, open: &[(i64, i64)]) -> Watermark {
        Watermark {
            bucket,
            next,
            open: open.to_vec(),
            rev: Rev::default(),
        }
    }

    #[test]
    fn the_further_of_two_positions_is_taken_minute_by_minute() {
        let a = at(10, 3, &[(11, 4), (12, 2)]);
        let b = at(10, 5, &[(11, 2), (13, 7)]);
        let merged = a.furthest(&b);
        assert_eq!((merged.bucket, merged.next), (10, 5));
        assert_eq!(merged.open, vec![(11, 4), (12, 2), (13, 7)]);
        // A front past a minute drops what was open in it.
        let c = at(12, 1, &[(13, 3)]);
        let merged = a.furthest(&c);
        assert_eq!((merged.bucket, merged.next), (12, 1));
        assert_eq!(merged.open, vec![(13, 3)]);
    }

    #[test]
    fn a_scan_cut_short_resumes_in_a_minute_read_while_open() {
        let now = Timestamp::from_unix_secs(1_700_000_040);
        let mut w = World::at(now);
        w.policy.sweep_max_items = 1;
        let minute = bucket_of(now);
        // Minute-3 is settled; minute-2 was read up to its 3rd entry while
        // open, and holds 4.
        for (bucket, count) in [(minute - 3, 1), (minute - 2, 4)] {
            for n in 1..=count {
                w.env()
                    .store
                    .set(&keys::due_entry(bucket, n), b"{}")
                    .unwrap();
            }
            store::increment(&w.env(), &keys::due_count(bucket), count).unwrap();
        }
        let mut from = at(minute - 3, 1, &[(minute - 2, 3)]);
        let mut read = Vec::new();
        for _ in 0..3 {
            let run = scan(&w.env(), &from, now).unwrap();
            read.push(run.entry_keys);
            from = run.watermark;
        }
        let want = [(minute - 3, 1), (minute - 2, 3), (minute - 2, 4)];
        let want: Vec<Vec<String>> = want
            .iter()
            .map(|(b, n)| vec![keys::due_entry(*b, *n)])
            .collect();
        assert_eq!(read, want);
    }
}
