//! The domain's `Store` over Spin's key-value store, through the
//! `wasi:keyvalue` store, atomics and batch interfaces that spin-sdk binds.

use invitations::store::{Cas, Store, StoreError, SwapError};
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
}

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
    pub fn open_default() -> Result<SpinStore, StoreError> {
        Ok(SpinStore {
            bucket: kv::open("default").map_err(err)?,
            open_cas: RefCell::new(HashMap::new()),
            next_ticket: Cell::new(1),
            batch_reads_refused: Cell::new(false),
        })
    }
}

impl Store for SpinStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.bucket.get(key).map_err(err)
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
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
