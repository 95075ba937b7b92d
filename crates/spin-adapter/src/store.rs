//! The domain's `Store` over Spin's key-value store, through the
//! `wasi:keyvalue` store, atomics and batch interfaces that spin-sdk binds;
//! on Redis, batch reads optionally as one `MGET` over Spin's outbound Redis.

use invitations::store::{Cas, Store, StoreError, SwapError};
use spin_sdk::redis::{Connection, RedisParameter, RedisResult};
use spin_sdk::wit::wasi::keyvalue::{atomics, batch, store as kv};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

pub struct SpinStore {
    bucket: kv::Bucket,
    /// Open CAS handles by ticket: the host resource lives between read and swap.
    open_cas: RefCell<HashMap<u64, atomics::Cas>>,
    next_ticket: Cell<u64>,
    /// Set when Spin's Redis store refused a batch read (its `get-many`
    /// sends Redis `KEYS`): later batches of the request are refused here,
    /// so the domain reads them key by key without that round trip first.
    batch_reads_refused: Cell<bool>,
    /// Batch reads as Redis `MGET` (`store_redis_url`), while they work.
    mget: RefCell<Mget>,
}

/// Batch reads over Spin's outbound Redis, straight from the Redis server
/// behind the key-value store (Spin's Redis store keeps each key under its
/// own name), since Spin's own `get-many` there is broken (below).
enum Mget {
    /// No `store_redis_url`: batches go through `get-many`.
    Off,
    /// Not used yet in this request: opened at its first batch of
    /// [`MGET_OPENS_AT`] keys or more.
    Unopened(String),
    /// Opened; `confirmed` once a value it answered matched the key-value store's.
    Open { conn: Connection, confirmed: bool },
    /// It failed, or answered what the key-value store does not hold (the
    /// variable names another server): the rest of the request goes without.
    Failed,
}

/// The fewest keys a batch must have to open the Redis connection for it.
/// Opening is a new connection (Spin keeps none between requests) and a
/// confirming `get`: opened for every batch, the small ones of an invite,
/// cancel or accept included, it cost a Redis-backed load run 5 to 15% of its
/// throughput; key by key a batch costs a call per key. Once open, every
/// batch goes through it.
const MGET_OPENS_AT: usize = 8;

/// What Redis answers the `KEYS k1 k2 ...` Spin 4.0.2 sends for a `get-many`.
const REDIS_REFUSED_KEYS: &str = "wrong number of arguments for 'keys' command";

fn err(e: kv::Error) -> StoreError {
    StoreError(match e {
        kv::Error::NoSuchStore => "no such store".to_owned(),
        kv::Error::AccessDenied => "access to the store was denied".to_owned(),
        kv::Error::Other(s) => s,
    })
}

impl SpinStore {
    /// Opens the `default` store (the only one the app uses).
    /// `redis_url`: the Redis server behind it, for batch reads (see [`Mget`]).
    pub fn open_default(redis_url: Option<String>) -> Result<SpinStore, StoreError> {
        Ok(SpinStore {
            bucket: kv::open("default").map_err(err)?,
            open_cas: RefCell::new(HashMap::new()),
            next_ticket: Cell::new(1),
            batch_reads_refused: Cell::new(false),
            mget: RefCell::new(match redis_url {
                Some(url) => Mget::Unopened(url),
                None => Mget::Off,
            }),
        })
    }

    /// One `MGET` for `keys` on the store's Redis server, or `None` when
    /// that is off, failed, not worth opening for so few keys, or not yet
    /// confirmed (then the caller reads as if it were off). Until one of its
    /// values is confirmed by the key-value store's own `get` (1 more round
    /// trip, in practice once), each answer is checked so: a variable naming
    /// another server, or a store that is not Redis, turns it off.
    fn mget(&self, keys: &[String]) -> Option<Vec<Option<Vec<u8>>>> {
        let mut state = self.mget.borrow_mut();
        if matches!(&*state, Mget::Unopened(_)) && keys.len() < MGET_OPENS_AT {
            return None;
        }
        if let Mget::Unopened(url) = &*state {
            match Connection::open(url) {
                Ok(conn) => {
                    *state = Mget::Open {
                        conn,
                        confirmed: false,
                    }
                }
                Err(e) => return fail(&mut state, format!("cannot open it: {e}")),
            }
        }
        let Mget::Open { conn, confirmed } = &mut *state else {
            return None;
        };
        let args: Vec<RedisParameter> = keys
            .iter()
            .map(|k| RedisParameter::Binary(k.as_bytes().to_vec()))
            .collect();
        let values = match conn.execute("MGET", &args) {
            Ok(answer) if answer.len() == keys.len() => answer
                .into_iter()
                .map(|v| match v {
                    RedisResult::Binary(bytes) => Ok(Some(bytes)),
                    RedisResult::Nil => Ok(None),
                    other => Err(format!("MGET answered {other:?}")),
                })
                .collect::<Result<Vec<_>, _>>(),
            Ok(answer) => Err(format!(
                "MGET answered {} values for {} keys",
                answer.len(),
                keys.len()
            )),
            Err(e) => Err(format!("MGET failed: {e}")),
        };
        let values = match values {
            Ok(values) => values,
            Err(why) => return fail(&mut state, why),
        };
        if !*confirmed {
            // Only a value it holds can be confirmed: an answer of absent keys
            // alone (an empty server says the same) is not taken, and the
            // batch is read through the store.
            let i = values.iter().position(Option::is_some)?;
            match self.bucket.get(&keys[i]) {
                Ok(v) if v == values[i] => *confirmed = true,
                Ok(_) => {
                    let why = "it answered other than the key-value store: \
                               store_redis_url must name the Redis server of the store `default`";
                    return fail(&mut state, why.to_owned());
                }
                Err(e) => return fail(&mut state, err(e).0),
            }
        }
        Some(values)
    }
}

/// Turns batch reads over Redis off for the rest of the request, and says why.
fn fail(state: &mut Mget, why: String) -> Option<Vec<Option<Vec<u8>>>> {
    eprintln!("batch reads over store_redis_url are off for this request: {why}");
    *state = Mget::Failed;
    None
}

impl Store for SpinStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.bucket.get(key).map_err(err)
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(values) = self.mget(keys) {
            return Ok(values);
        }
        if self.batch_reads_refused.get() {
            return Err(StoreError(REDIS_REFUSED_KEYS.to_owned()));
        }
        let answer = batch::get_many(&self.bucket, keys).map_err(err);
        if let Err(StoreError(e)) = &answer {
            self.batch_reads_refused.set(e.contains(REDIS_REFUSED_KEYS));
        }
        // Hosts may answer only the keys that exist, in any order: match by key.
        let mut found: HashMap<String, Option<Vec<u8>>> = answer?.into_iter().collect();
        Ok(keys.iter().map(|k| found.remove(k).flatten()).collect())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.bucket.set(key, value).map_err(err)
    }

    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        batch::set_many(&self.bucket, entries).map_err(err)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.bucket.delete(key).map_err(err)
    }

    fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        batch::delete_many(&self.bucket, keys).map_err(err)
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        atomics::increment(&self.bucket, key, delta).map_err(err)
    }

    fn cas_read(&self, key: &str) -> Result<Cas, StoreError> {
        let cas = atomics::Cas::new(&self.bucket, key).map_err(err)?;
        let current = cas.current().map_err(err)?;
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        self.open_cas.borrow_mut().insert(ticket, cas);
        Ok(Cas {
            key: key.to_owned(),
            current,
            ticket,
        })
    }

    fn cas_swap(&self, cas: Cas, value: &[u8]) -> Result<(), SwapError> {
        let handle = self
            .open_cas
            .borrow_mut()
            .remove(&cas.ticket)
            .ok_or_else(|| StoreError("unknown compare-and-swap ticket".into()))?;
        match atomics::swap(handle, value) {
            Ok(()) => Ok(()),
            Err(atomics::CasError::CasFailed(_)) => Err(SwapError::CasFailed),
            Err(atomics::CasError::StoreError(e)) => Err(SwapError::Store(err(e))),
        }
    }
}
