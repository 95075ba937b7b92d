//! The key-value store as the domain uses it: exactly the operations Spin
//! offers (`get`, `set`, `delete`, `get-many`, `set-many`, `delete-many`,
//! `increment`, compare-and-swap), plus typed helpers that encode the rules of
//! `docs/design.md` section 2:
//!
//! * compare-and-swap only on keys that already exist ([`update`] refuses to
//!   swap an absent key), because Spin's SQLite store upserts an absent key
//!   unconditionally;
//! * every value written by CAS carries a fresh [`Rev`], and a reported CAS
//!   failure (or an error on the swap) is checked by reading the key again,
//!   because Spin's Redis store writes and then reports `cas-failed`;
//! * counters are touched by `increment` alone.

use crate::error::{Error, Result};
use crate::ids::Rev;
use crate::random::Random;
use crate::Env;
use serde::{de::DeserializeOwned, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// A value read for compare-and-swap. `ticket` lets an adapter find the host
/// resource it opened for this read.
#[derive(Debug)]
pub struct Cas {
    pub key: String,
    pub current: Option<Vec<u8>>,
    pub ticket: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SwapError {
    #[error("the value changed since it was read")]
    CasFailed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One call of each method is one store round trip.
pub trait Store {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError>;
    fn delete(&self, key: &str) -> Result<(), StoreError>;
    fn delete_many(&self, keys: &[String]) -> Result<(), StoreError>;
    /// Adds `delta` to the 8-byte little-endian counter at `key` (absent is 0)
    /// and returns the new value.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError>;
    /// Reads `key` for a later [`Store::cas_swap`].
    fn cas_read(&self, key: &str) -> Result<Cas, StoreError>;
    /// Writes `value` if the key still holds what `cas` read. Beware: on an
    /// absent key Spin's SQLite store writes unconditionally.
    fn cas_swap(&self, cas: Cas, value: &[u8]) -> Result<(), SwapError>;
}

/// A record written by compare-and-swap.
pub trait Versioned: Serialize + DeserializeOwned + Clone {
    fn rev(&self) -> &Rev;
    fn set_rev(&mut self, rev: Rev);
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("domain records always serialize")
}

/// Checks the value's UTF-8 once, then reads it as text: read as bytes,
/// serde_json checks every string and key on its own, which was about a tenth
/// of decoding a list page's records.
pub(crate) fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    let corrupt =
        |e: &dyn std::fmt::Display| Error::StoreUnavailable(format!("corrupt value at {key}: {e}"));
    let text = std::str::from_utf8(bytes).map_err(|e| corrupt(&e))?;
    serde_json::from_str(text).map_err(|e| corrupt(&e))
}

pub(crate) fn get_json<T: DeserializeOwned>(store: &dyn Store, key: &str) -> Result<Option<T>> {
    match store.get(key)? {
        Some(bytes) => decode(key, &bytes).map(Some),
        None => Ok(None),
    }
}

/// The most keys one batch call of Spin's DynamoDB store takes: it sends a
/// whole `get-many` as one `BatchGetItem` (at most 100 keys) and a whole
/// `set-many` or `delete-many` as one `BatchWriteItem` (at most 25), and
/// DynamoDB refuses a batch that names a key twice.
pub(crate) const MAX_BATCH_READ: usize = 100;
pub(crate) const MAX_BATCH_WRITE: usize = 25;

/// Reads many keys: one `get-many` round trip where the store gets it right,
/// else one `get` per key. A key asked for twice is read once.
///
/// Spin's Redis store (3.5 through 4.0.2) implements `get-many` with Redis
/// `KEYS` instead of `MGET`: with several keys Redis refuses the command, and
/// with one key that exists it answers the key's *name*, on which Spin panics
/// and the request dies (seen on Spin 4.0.2 with Redis 7). So a
/// single key is always read with `get`, and a batch that fails (or answers
/// the wrong number of values) is read again key by key. On SQLite a batch
/// costs 1 round trip; on Redis it costs 1 refused call + 1 per key, which a
/// list page bounds by its `limit`. On DynamoDB a batch of more than
/// [`MAX_BATCH_READ`] keys is refused and read again in batches of that size.
/// An empty list costs nothing.
pub(crate) fn get_many_raw(store: &dyn Store, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
    // Sorted, a repeat sits next to its twin: cheaper than hashing every key
    // of a page, where repeats are rare.
    let mut sorted: Vec<&str> = keys.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() == keys.len() {
        return read_distinct(store, keys);
    }
    let distinct: Vec<String> = sorted.iter().map(|k| (*k).to_owned()).collect();
    let values = read_distinct(store, &distinct)?;
    let value = |k: &String| {
        let at = sorted.binary_search(&k.as_str()).ok()?;
        values.get(at)?.clone()
    };
    Ok(keys.iter().map(value).collect())
}

fn read_distinct(store: &dyn Store, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
    match keys {
        [] => Ok(Vec::new()),
        [key] => Ok(vec![store.get(key)?]),
        _ => match store.get_many(keys) {
            Ok(values) if values.len() == keys.len() => Ok(values),
            Err(_) if keys.len() > MAX_BATCH_READ => {
                let mut values = Vec::with_capacity(keys.len());
                for batch in keys.chunks(MAX_BATCH_READ) {
                    values.extend(read_distinct(store, batch)?);
                }
                Ok(values)
            }
            _ => keys.iter().map(|k| Ok(store.get(k)?)).collect(),
        },
    }
}

/// Writes many keys in one `set-many` (a key given twice: the last value).
/// A batch the store refuses that is larger than [`MAX_BATCH_WRITE`] is
/// written again in batches of that size (DynamoDB). A `set-many` is one
/// transaction on SQLite and not one on DynamoDB: nothing here relies on it
/// being atomic (the order of writes is what keeps a crash harmless).
pub(crate) fn set_many(store: &dyn Store, entries: &[(String, Vec<u8>)]) -> Result<()> {
    let mut last: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, (k, _)) in entries.iter().enumerate() {
        last.insert(k, i);
    }
    if last.len() == entries.len() {
        return write_in_batches(entries, |b| store.set_many(b));
    }
    let distinct: Vec<(String, Vec<u8>)> = entries
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| last[k.as_str()] == *i)
        .map(|(_, e)| e.clone())
        .collect();
    write_in_batches(&distinct, |b| store.set_many(b))
}

/// Deletes many keys in one `delete-many` (batched as [`set_many`] is).
pub(crate) fn delete_many(store: &dyn Store, keys: &[String]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let distinct: Vec<String> = keys.iter().filter(|k| seen.insert(*k)).cloned().collect();
    write_in_batches(&distinct, |b| store.delete_many(b))
}

fn write_in_batches<T>(
    items: &[T],
    write: impl Fn(&[T]) -> std::result::Result<(), StoreError>,
) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    match write(items) {
        Ok(()) => Ok(()),
        Err(_) if items.len() > MAX_BATCH_WRITE => {
            for batch in items.chunks(MAX_BATCH_WRITE) {
                write(batch)?;
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// How often an `increment` that failed is tried again. Spin's DynamoDB
/// store reads the counter and then writes it on condition that nobody wrote
/// between, and reports a failure (it does not retry) when somebody did; so
/// every concurrent `increment` of one counter but one fails there. Each
/// failure means another writer got through, so this many writers at once
/// all finish (20 accepts of one link at once each take a member position).
/// A retry after a failure whose effect happened (a lost reply) counts
/// twice; every counter here tolerates that: log and queue positions leave a
/// gap that readers step over, a join link's use count errs on the side of
/// fewer uses.
pub(crate) const INCREMENT_ATTEMPTS: usize = 64;

/// How long after its first try an `increment` is still tried again. A
/// conflict is over in milliseconds; a store that is down or locked is not
/// (Spin's SQLite store waits 5 s on a lock before it fails), and the caller
/// should hear so then, not 64 failures later. 5 s, not 2: twenty accepts of
/// one invitation at once on a loaded 2-core machine (three Spin suites and
/// a local DynamoDB side by side) took a member position each for longer
/// than 2 s, and answered 503.
pub(crate) const INCREMENT_RETRY_WINDOW_MS: i64 = 5_000;

/// `increment`, tried again on failure (see [`INCREMENT_ATTEMPTS`]) while
/// within [`INCREMENT_RETRY_WINDOW_MS`] of the first try.
pub(crate) fn increment(env: &Env, key: &str, delta: i64) -> Result<i64> {
    let give_up_at = env.clock.now().plus_millis(INCREMENT_RETRY_WINDOW_MS);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match env.store.increment(key, delta) {
            Ok(value) => return Ok(value),
            Err(e) if attempts >= INCREMENT_ATTEMPTS || env.clock.now() >= give_up_at => {
                return Err(e.into())
            }
            Err(_) => {}
        }
    }
}

/// Reads a counter written by `increment` without changing it. Spin's SQLite
/// store keeps 8 little-endian bytes; its Redis store (`INCRBY`) keeps decimal
/// text. Eight bytes that are all ASCII digits would be a little-endian value
/// above 3·10^18, which no counter here reaches, so the two never collide.
pub(crate) fn decode_counter(bytes: Option<&[u8]>) -> i64 {
    match bytes {
        Some(b) if !b.is_empty() && b.iter().all(|c| c.is_ascii_digit() || *c == b'-') => {
            std::str::from_utf8(b)
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0)
        }
        Some(b) if b.len() == 8 => i64::from_le_bytes(b.try_into().expect("8 bytes")),
        _ => 0,
    }
}

/// What an [`update`] closure decided.
pub(crate) enum Decision<T, R> {
    /// Write this new value, then return `R`.
    Write(T, R),
    /// Leave the record as it is and return `R`.
    Keep(R),
}

/// How often a contended compare-and-swap is tried before giving up.
pub(crate) const CAS_ATTEMPTS: usize = 8;

/// Read-modify-write of an existing record by compare-and-swap, retried on
/// conflict. Returns `Ok(None)` when the key is absent (it never creates one).
/// `decide` may run several times; it must not have side effects.
///
/// Cost: 2 round trips when uncontended (`cas_read` + `cas_swap`), +1 for
/// each ambiguous swap that has to be checked, +2 for each conflict retried.
pub(crate) fn update<T: Versioned, R>(
    store: &dyn Store,
    random: &dyn Random,
    key: &str,
    decide: impl FnMut(T) -> Result<Decision<T, R>>,
) -> Result<Option<R>> {
    update_tries(store, random, key, CAS_ATTEMPTS, decide)
}

/// [`update`] with its own number of tries, for a record many writers meet
/// on (each conflict means another writer got through, so `tries` writers
/// at once all finish).
pub(crate) fn update_tries<T: Versioned, R>(
    store: &dyn Store,
    random: &dyn Random,
    key: &str,
    tries: usize,
    mut decide: impl FnMut(T) -> Result<Decision<T, R>>,
) -> Result<Option<R>> {
    for _ in 0..tries {
        let cas = store.cas_read(key)?;
        let Some(bytes) = cas.current.as_deref() else {
            return Ok(None);
        };
        let current: T = decode(key, bytes)?;
        match decide(current)? {
            Decision::Keep(r) => return Ok(Some(r)),
            Decision::Write(next, r) => match swap_checked(store, random, key, cas, next)? {
                Swapped::Done => return Ok(Some(r)),
                Swapped::Conflict => continue,
            },
        }
    }
    Err(Error::Contended)
}

pub(crate) enum Swapped {
    Done,
    /// Someone else changed the record first: read it again and retry.
    Conflict,
}

/// Swaps in `next` under a fresh revision. A reported failure is ambiguous
/// (a real conflict, a swap that happened but was reported failed as Spin's
/// Redis store does, or a lost reply), so the stored revision decides.
pub(crate) fn swap_checked<T: Versioned>(
    store: &dyn Store,
    random: &dyn Random,
    key: &str,
    cas: Cas,
    mut next: T,
) -> Result<Swapped> {
    let rev = Rev::generate(random);
    next.set_rev(rev.clone());
    let Err(failure) = store.cas_swap(cas, &encode(&next)) else {
        return Ok(Swapped::Done);
    };
    match get_json::<T>(store, key)? {
        Some(stored) if *stored.rev() == rev => Ok(Swapped::Done),
        _ if failure == SwapError::CasFailed => Ok(Swapped::Conflict),
        _ => Err(Error::StoreUnavailable(failure.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memstore::MemStore;
    use crate::time::{Clock, Timestamp};
    use std::cell::Cell;

    #[test]
    fn a_batch_naming_a_key_twice_reads_it_once_and_answers_in_order() {
        use crate::memstore::Semantics;
        for semantics in Semantics::ALL {
            let store = MemStore::new();
            store.set_semantics(semantics);
            store.set("b", b"2").unwrap();
            store.set("a", b"1").unwrap();
            store.reset_stats();
            let keys = ["b", "a", "b", "absent", "a"].map(str::to_owned);
            let values = get_many_raw(&store, &keys).unwrap();
            let expected = [Some("2"), Some("1"), Some("2"), None, Some("1")]
                .map(|v| v.map(|v| v.as_bytes().to_vec()));
            assert_eq!(values, expected, "{semantics:?}");
            // DynamoDB refuses a batch with a repeat: the three keys were one batch.
            if matches!(semantics, Semantics::Sqlite | Semantics::Dynamo) {
                assert_eq!(store.stats().calls, 1, "{semantics:?}");
            }
        }
    }

    #[test]
    fn a_value_that_is_not_utf8_or_not_its_json_is_corrupt() {
        let ok: Vec<String> = decode("k", br#"["a","b"]"#).unwrap();
        assert_eq!(ok, ["a", "b"]);
        for bad in [&b"[\"\xff\"]"[..], b"[\"a\"", b"{}"] {
            let err = decode::<Vec<String>>("v1/x", bad).unwrap_err();
            let Error::StoreUnavailable(message) = err else {
                panic!("{err:?}");
            };
            assert!(message.starts_with("corrupt value at v1/x: "), "{message}");
        }
    }

    /// A clock that moves `step_ms` every time it is read.
    struct Ticking {
        now: Cell<i64>,
        step_ms: i64,
    }

    impl Clock for Ticking {
        fn now(&self) -> Timestamp {
            self.now.set(self.now.get() + self.step_ms);
            Timestamp::from_unix_millis(self.now.get())
        }
    }

    struct Zero;
    impl Random for Zero {
        fn fill(&self, buf: &mut [u8]) {
            buf.fill(0);
        }
    }

    /// Tries of an `increment` that always fails, on a clock that moves
    /// `step_ms` per read.
    fn tries_of_a_failing_increment(step_ms: i64) -> u64 {
        let store = MemStore::new();
        // Not a counter: every increment of it fails.
        store.set("c", b"{}").unwrap();
        let clock = Ticking {
            now: Cell::new(0),
            step_ms,
        };
        let policy = crate::Policy::default();
        let env = Env {
            store: &store,
            clock: &clock,
            random: &Zero,
            policy: &policy,
        };
        store.reset_stats();
        assert!(increment(&env, "c", 1).is_err());
        store.stats().calls
    }

    #[test]
    fn a_failing_increment_is_tried_again_only_within_its_window() {
        // Failures that come fast (conflicts): every attempt.
        assert_eq!(tries_of_a_failing_increment(0), INCREMENT_ATTEMPTS as u64);
        // A store that takes 5 s to fail (SQLite waiting on a lock): once.
        assert_eq!(tries_of_a_failing_increment(5_000), 1);
        // 700 ms each: the tries that start within 5 s.
        assert_eq!(tries_of_a_failing_increment(700), 8);
    }
}
