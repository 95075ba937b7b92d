//! An in-memory [`Store`] with the semantics of Spin's SQLite key-value store,
//! faults included, for tests:
//!
//! * CAS compares the value read with the value stored; on an **absent** key
//!   the swap writes unconditionally, as Spin's SQLite store does;
//! * `increment` keeps 8-byte little-endian integers and fails on any other value;
//! * [`MemStore::set_redis_semantics`] switches to what Spin 4.0.2's Redis
//!   store does instead: a successful swap reports `cas-failed`; `get-many`
//!   of several keys fails, and of one existing key kills the request (it
//!   sends `KEYS`, not `MGET`); `increment` keeps decimal text (`INCRBY`); a swap of
//!   an absent key that someone created meanwhile fails (`WATCH`);
//! * [`Semantics::Dynamo`] is what Spin 4.0.2's `aws_dynamo` store does:
//!   `increment` reads, then writes on condition that the value is unchanged,
//!   and fails (it does not retry) when another writer came between; it keeps
//!   decimal text; `get-many` takes at most 100 distinct keys (`BatchGetItem`),
//!   `set-many` and `delete-many` at most 25 distinct keys (`BatchWriteItem`),
//!   and refuse more or repeated keys before writing anything; a swap of an
//!   absent key fails if someone created it meanwhile (`attribute_not_exists`);
//! * [`MemStore::fail_call`] breaks the Nth call from now, before or after its
//!   effect (a lost reply);
//! * every call is counted ([`MemStore::stats`]), writes apart;
//! * a hook runs before every call, so a test scheduler can interleave threads
//!   at store-call granularity.

use crate::store::{Cas, Store, StoreError, SwapError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// Round trips counted since the last reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub calls: u64,
    pub writes: u64,
    /// Bytes of the values read and written.
    pub bytes: u64,
}

/// Whether an injected failure happens before the call takes effect, or after
/// (the write happened, the caller hears an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    Before,
    After,
}

type Hook = Arc<dyn Fn() + Send + Sync>;

/// Which of Spin's key-value stores a [`MemStore`] behaves like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Semantics {
    Sqlite,
    Redis,
    Dynamo,
}

impl Semantics {
    pub const ALL: [Semantics; 3] = [Semantics::Sqlite, Semantics::Redis, Semantics::Dynamo];
}

/// DynamoDB's limits on one `BatchGetItem` and one `BatchWriteItem`.
const DYNAMO_MAX_GET: usize = 100;
const DYNAMO_MAX_WRITE: usize = 25;

fn has_repeats<'a>(keys: impl Iterator<Item = &'a String>) -> bool {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter().any(|k| !seen.insert(k))
}

#[derive(Default)]
pub struct MemStore {
    data: Mutex<BTreeMap<String, Vec<u8>>>,
    calls: AtomicU64,
    writes: AtomicU64,
    bytes: AtomicU64,
    semantics: AtomicU8,
    fail_at: Mutex<Option<(u64, FailMode)>>,
    hook: Mutex<Option<Hook>>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            calls: self.calls.load(Ordering::SeqCst),
            writes: self.writes.load(Ordering::SeqCst),
            bytes: self.bytes.load(Ordering::SeqCst),
        }
    }

    pub fn reset_stats(&self) {
        self.calls.store(0, Ordering::SeqCst);
        self.writes.store(0, Ordering::SeqCst);
        self.bytes.store(0, Ordering::SeqCst);
    }

    /// Spin's Redis store instead of its SQLite store (see the module docs).
    pub fn set_redis_semantics(&self, on: bool) {
        self.set_semantics(if on {
            Semantics::Redis
        } else {
            Semantics::Sqlite
        });
    }

    /// Behave like this Spin store (see the module docs).
    pub fn set_semantics(&self, semantics: Semantics) {
        self.semantics.store(semantics as u8, Ordering::SeqCst);
    }

    pub fn semantics(&self) -> Semantics {
        match self.semantics.load(Ordering::SeqCst) {
            1 => Semantics::Redis,
            2 => Semantics::Dynamo,
            _ => Semantics::Sqlite,
        }
    }

    fn redis(&self) -> bool {
        self.semantics() == Semantics::Redis
    }

    fn dynamo(&self) -> bool {
        self.semantics() == Semantics::Dynamo
    }

    /// Refuses a batch write DynamoDB's `BatchWriteItem` would refuse.
    fn check_batch_write<'a>(
        &self,
        keys: impl Iterator<Item = &'a String> + Clone,
    ) -> Result<(), StoreError> {
        if self.dynamo() && (keys.clone().count() > DYNAMO_MAX_WRITE || has_repeats(keys)) {
            return Err(StoreError(
                "ValidationException: too many or repeated items in BatchWriteItem".into(),
            ));
        }
        Ok(())
    }

    /// Makes the `n`th call from now (1 is the next call) fail.
    pub fn fail_call(&self, n: u64, mode: FailMode) {
        let at = self.calls.load(Ordering::SeqCst) + n;
        *self.fail_at.lock().unwrap() = Some((at, mode));
    }

    pub fn set_hook(&self, hook: Option<Hook>) {
        *self.hook.lock().unwrap() = hook;
    }

    /// Every key with its value, in order (for test inspection only: the
    /// domain never lists keys).
    pub fn entries_with_prefix(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        let data = self.data.lock().unwrap();
        data.range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.data.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts the call, runs the hook, and reports whether an injected failure
    /// applies to it.
    fn enter(&self, writes: bool) -> Option<FailMode> {
        let hook = self.hook.lock().unwrap().clone();
        if let Some(hook) = hook {
            hook();
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if writes {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        let mut fail = self.fail_at.lock().unwrap();
        match *fail {
            Some((at, mode)) if at == n => {
                *fail = None;
                Some(mode)
            }
            _ => None,
        }
    }

    fn moved(&self, bytes: usize) {
        self.bytes.fetch_add(bytes as u64, Ordering::SeqCst);
    }

    fn run<T>(
        &self,
        writes: bool,
        op: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let fail = self.enter(writes);
        if fail == Some(FailMode::Before) {
            return Err(StoreError("injected failure".into()));
        }
        let out = op(&mut self.data.lock().unwrap());
        if fail == Some(FailMode::After) {
            return Err(StoreError("injected failure after the effect".into()));
        }
        out
    }
}

impl MemStore {
    /// Spin's DynamoDB `increment`: a consistent read, then a write on
    /// condition that the value is still what was read. One call for the
    /// caller; other threads may run between the read and the write.
    fn dynamo_increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let fail = self.enter(true);
        if fail == Some(FailMode::Before) {
            return Err(StoreError("injected failure".into()));
        }
        let read = self.data.lock().unwrap().get(key).cloned();
        let hook = self.hook.lock().unwrap().clone();
        if let Some(hook) = hook {
            hook();
        }
        let mut d = self.data.lock().unwrap();
        if d.get(key) != read.as_ref() {
            return Err(StoreError(
                "TransactionCanceledException: ConditionalCheckFailed".into(),
            ));
        }
        let current = match &read {
            None => 0,
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| StoreError(format!("{key} does not hold a counter")))?,
        };
        let next = current + delta;
        d.insert(key.to_owned(), next.to_string().into_bytes());
        if fail == Some(FailMode::After) {
            return Err(StoreError("injected failure after the effect".into()));
        }
        Ok(next)
    }
}

impl Store for MemStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self.run(false, |d| Ok(d.get(key).cloned()))?;
        self.moved(value.as_ref().map_or(0, Vec::len));
        Ok(value)
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let redis = self.redis();
        let dynamo = self.dynamo();
        self.run(false, |d| match keys {
            _ if dynamo && (keys.len() > DYNAMO_MAX_GET || has_repeats(keys.iter())) => Err(
                StoreError("ValidationException: too many or repeated keys in BatchGetItem".into()),
            ),
            // Spin's Redis store sends `KEYS k1 k2 ...`: Redis refuses it...
            [_, _, ..] if redis => Err(StoreError(
                "ResponseError: wrong number of arguments for 'keys' command".into(),
            )),
            // ...and with one key that exists, `KEYS` answers its name, which
            // Spin cannot read as a value: it panics and the request dies.
            [key] if redis => match d.get(key) {
                Some(_) => Err(StoreError(
                    "Spin's Redis get-many of one existing key panics the host".into(),
                )),
                None => Ok(vec![None]),
            },
            _ => Ok(keys.iter().map(|k| d.get(k).cloned()).collect()),
        })
        .inspect(|values: &Vec<Option<Vec<u8>>>| {
            self.moved(values.iter().flatten().map(Vec::len).sum())
        })
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.moved(value.len());
        self.run(true, |d| {
            d.insert(key.to_owned(), value.to_vec());
            Ok(())
        })
    }

    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let refused = self.check_batch_write(entries.iter().map(|(k, _)| k));
        self.moved(entries.iter().map(|(_, v)| v.len()).sum());
        self.run(true, |d| {
            refused?;
            for (k, v) in entries {
                d.insert(k.clone(), v.clone());
            }
            Ok(())
        })
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.run(true, |d| {
            d.remove(key);
            Ok(())
        })
    }

    fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        let refused = self.check_batch_write(keys.iter());
        self.run(true, |d| {
            refused?;
            for k in keys {
                d.remove(k);
            }
            Ok(())
        })
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        if self.dynamo() {
            return self.dynamo_increment(key, delta);
        }
        let redis = self.redis();
        self.run(true, |d| {
            let not_a_counter = || StoreError(format!("{key} does not hold a counter"));
            let current = match d.get(key) {
                None => 0,
                // Redis `INCRBY`: decimal text.
                Some(v) if redis => std::str::from_utf8(v)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(not_a_counter)?,
                // Spin's SQLite store: 8 little-endian bytes.
                Some(v) if v.len() == 8 => i64::from_le_bytes(v[..].try_into().unwrap()),
                Some(_) => return Err(not_a_counter()),
            };
            let next = current.wrapping_add(delta);
            let stored = if redis {
                next.to_string().into_bytes()
            } else {
                next.to_le_bytes().to_vec()
            };
            d.insert(key.to_owned(), stored);
            Ok(next)
        })
    }

    fn cas_read(&self, key: &str) -> Result<Cas, StoreError> {
        let cas = self.run(false, |d| {
            Ok(Cas {
                key: key.to_owned(),
                current: d.get(key).cloned(),
                ticket: 0,
            })
        })?;
        self.moved(cas.current.as_ref().map_or(0, Vec::len));
        Ok(cas)
    }

    fn cas_swap(&self, cas: Cas, value: &[u8]) -> Result<(), SwapError> {
        let redis = self.redis();
        let upserts = self.semantics() == Semantics::Sqlite;
        self.moved(value.len());
        let swapped = self.run(true, |d| {
            let stored = d.get(&cas.key);
            let matches = match (&cas.current, stored) {
                // Spin's SQLite store: an absent key is upserted, whatever is there now.
                (None, _) if upserts => true,
                // Redis `WATCH`es the key, absent or not; DynamoDB's swap is
                // conditional on `attribute_not_exists`.
                (None, now) => now.is_none(),
                (Some(read), Some(now)) => read == now,
                (Some(_), None) => false,
            };
            if matches {
                d.insert(cas.key.clone(), value.to_vec());
            }
            Ok(matches)
        })?;
        // Spin's Redis store ends every swap with an `UNWATCH key` that Redis
        // refuses, so even a swap that wrote reports `cas-failed`.
        if !swapped || redis {
            return Err(SwapError::CasFailed);
        }
        Ok(())
    }
}

impl<S: Store + ?Sized> Store for Arc<S> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(key)
    }
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        (**self).get_many(keys)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        (**self).set(key, value)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        (**self).set_many(entries)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key)
    }
    fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        (**self).delete_many(keys)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        (**self).increment(key, delta)
    }
    fn cas_read(&self, key: &str) -> Result<Cas, StoreError> {
        (**self).cas_read(key)
    }
    fn cas_swap(&self, cas: Cas, value: &[u8]) -> Result<(), SwapError> {
        (**self).cas_swap(cas, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_key_cas_upserts_like_spin_sqlite() {
        let s = MemStore::new();
        let a = s.cas_read("k").unwrap();
        let b = s.cas_read("k").unwrap();
        s.cas_swap(a, b"first").unwrap();
        // Both racers "win": this is the unsafe behaviour the domain must not rely on.
        s.cas_swap(b, b"second").unwrap();
        assert_eq!(s.get("k").unwrap().unwrap(), b"second");
    }

    #[test]
    fn existing_key_cas_detects_change() {
        let s = MemStore::new();
        s.set("k", b"v1").unwrap();
        let a = s.cas_read("k").unwrap();
        let b = s.cas_read("k").unwrap();
        s.cas_swap(a, b"v2").unwrap();
        assert_eq!(s.cas_swap(b, b"v3"), Err(SwapError::CasFailed));
        assert_eq!(s.get("k").unwrap().unwrap(), b"v2");
    }

    #[test]
    fn redis_swap_writes_then_reports_failure() {
        let s = MemStore::new();
        s.set("k", b"v1").unwrap();
        s.set_redis_semantics(true);
        let a = s.cas_read("k").unwrap();
        assert_eq!(s.cas_swap(a, b"v2"), Err(SwapError::CasFailed));
        assert_eq!(s.get("k").unwrap().unwrap(), b"v2");
    }

    #[test]
    fn redis_get_many_is_broken_like_spins() {
        let s = MemStore::new();
        s.set_redis_semantics(true);
        s.set("a", b"{}").unwrap();
        s.set("b", b"{}").unwrap();
        assert!(s.get_many(&["a".into(), "b".into()]).is_err());
        assert!(s.get_many(&["a".into()]).is_err(), "one existing key");
        assert_eq!(s.get_many(&["zz".into()]).unwrap(), vec![None]);
    }

    #[test]
    fn redis_counters_are_decimal_text_and_absent_key_cas_is_watched() {
        let s = MemStore::new();
        s.set_redis_semantics(true);
        assert_eq!(s.increment("c", 12).unwrap(), 12);
        assert_eq!(s.get("c").unwrap().unwrap(), b"12");
        let a = s.cas_read("new").unwrap();
        s.set("new", b"someone else").unwrap();
        assert_eq!(s.cas_swap(a, b"mine"), Err(SwapError::CasFailed));
        assert_eq!(s.get("new").unwrap().unwrap(), b"someone else");
    }

    #[test]
    fn increment_keeps_little_endian_counters_only() {
        let s = MemStore::new();
        assert_eq!(s.increment("c", 5).unwrap(), 5);
        assert_eq!(s.increment("c", -2).unwrap(), 3);
        assert_eq!(s.get("c").unwrap().unwrap(), 3i64.to_le_bytes());
        s.set("j", b"{}").unwrap();
        assert!(s.increment("j", 1).is_err());
    }

    #[test]
    fn counts_calls_and_writes_and_breaks_on_demand() {
        let s = MemStore::new();
        s.set("a", b"1").unwrap();
        s.get("a").unwrap();
        s.get_many(&["a".into(), "b".into()]).unwrap();
        assert_eq!(
            s.stats(),
            Stats {
                calls: 3,
                writes: 1,
                bytes: 3
            }
        );
        s.fail_call(2, FailMode::Before);
        s.get("a").unwrap();
        assert!(s.set("a", b"2").is_err());
        assert_eq!(s.get("a").unwrap().unwrap(), b"1");
        s.fail_call(1, FailMode::After);
        assert!(s.set("a", b"3").is_err());
        assert_eq!(s.get("a").unwrap().unwrap(), b"3");
    }
}
