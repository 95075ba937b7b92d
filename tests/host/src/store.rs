//! The key-value backend: one SQLite file shared by all stores, one table keyed
//! by (store, key), with the statements and semantics of Spin's SQLite store,
//! including its unsafe absent-key compare-and-swap.
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;

/// A store failure the guest sees as `error::other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFailure(pub String);

impl<E: std::fmt::Display> From<E> for StoreFailure
where
    E: std::error::Error,
{
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreFailure>;

const UPSERT: &str = "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
     ON CONFLICT(store, key) DO UPDATE SET value=?3";
/// Keys per `get-many` query: well under SQLite's limit on parameters.
const GET_MANY_BATCH: usize = 500;
const SELECT: &str = "SELECT value FROM spin_key_value WHERE store=?1 AND key=?2";

/// Puts the SQLite file at `path` (made, with its folder, if absent) in WAL
/// journal mode and returns the mode it reports. The mode is kept in the file:
/// a program that later opens it with no pragmas, as Spin's own SQLite store
/// does, still writes through the WAL, with one flush per write transaction
/// instead of the rollback journal's several.
pub fn put_in_wal_mode(path: &Path) -> Result<String, String> {
    let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
    }
    let connection = Connection::open(path).map_err(|e| failed(&e))?;
    connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        .map_err(|e| failed(&e))
}

/// A write lock on a SQLite store file, held until dropped (the
/// transaction that took it is rolled back then).
pub struct StoreLock(#[allow(dead_code)] Connection);

/// Takes the write lock of the SQLite store file at `path` (`BEGIN
/// IMMEDIATE`): every other writer, such as a `spin up` on that file, waits
/// its busy timeout and then fails with "database is locked".
pub fn lock_store(path: &Path) -> Result<StoreLock, String> {
    let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let connection = Connection::open(path).map_err(|e| failed(&e))?;
    connection
        .execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| failed(&e))?;
    Ok(StoreLock(connection))
}

/// The journal mode the SQLite file at `path` is in (`wal`, `delete`, …).
pub fn journal_mode(path: &Path) -> Result<String, String> {
    let connection = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    connection
        .pragma_query_value(None, "journal_mode", |row| row.get::<_, String>(0))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The largest value in the SQLite store file at `path` (Spin's and this
/// host's table): its key and size in bytes, read without writing anything.
pub fn largest_value(path: &Path) -> Result<Option<(String, u64)>, String> {
    let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let connection = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| failed(&e))?;
    let mut statement = connection
        .prepare(
            "SELECT key, LENGTH(value) FROM spin_key_value ORDER BY LENGTH(value) DESC LIMIT 1",
        )
        .map_err(|e| failed(&e))?;
    let mut rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })
        .map_err(|e| failed(&e))?;
    rows.next().transpose().map_err(|e| failed(&e))
}

pub struct SqliteBackend {
    connection: Mutex<Connection>,
}

impl SqliteBackend {
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let connection = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::init(connection).map_err(|e| format!("{}: {e}", path.display()))
    }

    #[cfg(test)]
    pub fn in_memory() -> Result<Self, String> {
        Self::init(Connection::open_in_memory().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())
    }

    fn init(connection: Connection) -> rusqlite::Result<Self> {
        // Without WAL and synchronous=NORMAL every write waits for the disk.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL,
                key   TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (store, key)
            )",
            [],
        )?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }

    pub fn get(&self, store: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let conn = self.connection.lock().unwrap();
        let value = conn
            .prepare_cached(SELECT)?
            .query_row(params![store, key], |row| row.get(0))
            .optional()?;
        Ok(value)
    }

    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> StoreResult<()> {
        let conn = self.connection.lock().unwrap();
        conn.prepare_cached(UPSERT)?
            .execute(params![store, key, value])?;
        Ok(())
    }

    pub fn delete(&self, store: &str, key: &str) -> StoreResult<()> {
        let conn = self.connection.lock().unwrap();
        conn.prepare_cached("DELETE FROM spin_key_value WHERE store=?1 AND key=?2")?
            .execute(params![store, key])?;
        Ok(())
    }

    /// Lists every key of the store: a full scan, as in Spin.
    pub fn keys(&self, store: &str) -> StoreResult<Vec<String>> {
        let conn = self.connection.lock().unwrap();
        let mut statement = conn.prepare_cached("SELECT key FROM spin_key_value WHERE store=?1")?;
        let keys = statement
            .query_map(params![store], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(keys)
    }

    /// Like Spin, returns only the keys that exist, read by one query per
    /// batch of keys (Spin binds them as one array; here, one parameter each).
    pub fn get_many(
        &self,
        store: &str,
        keys: &[String],
    ) -> StoreResult<Vec<(String, Option<Vec<u8>>)>> {
        let conn = self.connection.lock().unwrap();
        let mut found = Vec::with_capacity(keys.len());
        for batch in keys.chunks(GET_MANY_BATCH) {
            let marks = vec!["?"; batch.len()].join(",");
            let sql =
                format!("SELECT key, value FROM spin_key_value WHERE store=? AND key IN ({marks})");
            let mut statement = conn.prepare_cached(&sql)?;
            let args = std::iter::once(store).chain(batch.iter().map(String::as_str));
            let rows = statement.query_map(rusqlite::params_from_iter(args), |row| {
                Ok((row.get::<_, String>(0)?, Some(row.get::<_, Vec<u8>>(1)?)))
            })?;
            for row in rows {
                found.push(row?);
            }
        }
        Ok(found)
    }

    pub fn set_many(&self, store: &str, entries: &[(String, Vec<u8>)]) -> StoreResult<()> {
        let mut conn = self.connection.lock().unwrap();
        let tx = conn.transaction()?;
        for (key, value) in entries {
            tx.prepare_cached(UPSERT)?
                .execute(params![store, key, value])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn delete_many(&self, store: &str, keys: &[String]) -> StoreResult<()> {
        let mut conn = self.connection.lock().unwrap();
        let tx = conn.transaction()?;
        for key in keys {
            tx.prepare_cached("DELETE FROM spin_key_value WHERE store=?1 AND key=?2")?
                .execute(params![store, key])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Atomic add on an 8-byte little-endian i64. Spin's SQLite host panics on any
    /// other value; here the guest gets an error and the host lives on.
    pub fn increment(&self, store: &str, key: &str, delta: i64) -> StoreResult<i64> {
        let mut conn = self.connection.lock().unwrap();
        let tx = conn.transaction()?;
        let current: Option<Vec<u8>> = tx
            .prepare_cached(SELECT)?
            .query_row(params![store, key], |row| row.get(0))
            .optional()?;
        let current = match current {
            None => 0,
            Some(bytes) => i64::from_le_bytes(bytes.as_slice().try_into().map_err(|_| {
                StoreFailure(format!(
                    "cannot increment `{key}`: it holds {} bytes, not an 8-byte little-endian counter",
                    bytes.len()
                ))
            })?),
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| StoreFailure(format!("incrementing `{key}` overflows")))?;
        tx.prepare_cached(UPSERT)?
            .execute(params![store, key, next.to_le_bytes().as_slice()])?;
        tx.commit()?;
        Ok(next)
    }

    /// Spin's swap: conditional on the value read by `current`, but an unconditional
    /// upsert when nothing was read (key absent, or `current` never called).
    /// Returns whether a row changed.
    pub fn swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> StoreResult<bool> {
        let conn = self.connection.lock().unwrap();
        let changed = match expected {
            Some(old) => conn
                .prepare_cached(
                    "UPDATE spin_key_value SET value=?4 WHERE store=?1 AND key=?2 AND value=?3",
                )?
                .execute(params![store, key, old, value])?,
            None => conn
                .prepare_cached(UPSERT)?
                .execute(params![store, key, value])?,
        };
        Ok(changed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_key_swap_upserts_and_present_key_swap_is_conditional() {
        let db = SqliteBackend::in_memory().unwrap();
        assert!(db.swap("s", "k", None, b"first").unwrap());
        assert!(db.swap("s", "k", None, b"second").unwrap());
        assert_eq!(db.get("s", "k").unwrap().as_deref(), Some(&b"second"[..]));
        assert!(!db.swap("s", "k", Some(b"stale"), b"third").unwrap());
        assert!(db.swap("s", "k", Some(b"second"), b"third").unwrap());
    }

    #[test]
    fn increment_refuses_non_counters() {
        let db = SqliteBackend::in_memory().unwrap();
        assert_eq!(db.increment("s", "n", 2).unwrap(), 2);
        assert_eq!(db.increment("s", "n", -5).unwrap(), -3);
        db.set("s", "text", b"hello").unwrap();
        assert!(db.increment("s", "text", 1).is_err());
    }

    #[test]
    fn stores_are_separate_namespaces() {
        let db = SqliteBackend::in_memory().unwrap();
        db.set("a", "k", b"1").unwrap();
        assert_eq!(db.get("b", "k").unwrap(), None);
        assert_eq!(db.keys("a").unwrap(), vec!["k".to_string()]);
        let found = db.get_many("a", &["k".into(), "missing".into()]).unwrap();
        assert_eq!(found, vec![("k".to_string(), Some(b"1".to_vec()))]);
    }

    #[test]
    fn wal_mode_is_kept_by_the_file_through_an_open_without_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".spin/sqlite_key_value.db");
        assert_eq!(put_in_wal_mode(&path).unwrap(), "wal");
        // What Spin's store does when it opens the file: no pragmas, the table
        // created if absent, then writes.
        let spin = Connection::open(&path).unwrap();
        spin.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL,
             value BLOB NOT NULL, PRIMARY KEY (store, key))",
            [],
        )
        .unwrap();
        spin.execute(UPSERT, params!["default", "k", b"v".to_vec()])
            .unwrap();
        assert_eq!(journal_mode(&path).unwrap(), "wal");
        drop(spin);
        assert_eq!(journal_mode(&path).unwrap(), "wal");
    }

    #[test]
    fn a_new_file_left_alone_is_in_rollback_journal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.db");
        Connection::open(&path)
            .unwrap()
            .execute("CREATE TABLE t (x)", [])
            .unwrap();
        assert_eq!(journal_mode(&path).unwrap(), "delete");
    }
}
