//! What tests control and observe: the guests' wall clock, store round trips per
//! request, and injected faults.
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Requests carrying this header are recorded under its value, so a test can find
/// the round trips of one particular request with [`Stats::tagged`]. Spin ignores it.
pub const REQUEST_TAG_HEADER: &str = "x-test-tag";

/// The wall clock guests (and cron metadata) see: real time plus an offset tests move.
#[derive(Clone, Default)]
pub struct TestClock {
    offset_nanos: Arc<AtomicI64>,
}

impl TestClock {
    pub fn advance(&self, by: Duration) {
        let nanos = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.offset_nanos.fetch_add(nanos, Ordering::SeqCst);
    }

    /// Back to real time.
    pub fn reset(&self) {
        self.offset_nanos.store(0, Ordering::SeqCst);
    }

    pub fn now(&self) -> SystemTime {
        let offset = self.offset_nanos.load(Ordering::SeqCst);
        let real = SystemTime::now();
        if offset >= 0 {
            real + Duration::from_nanos(offset as u64)
        } else {
            real - Duration::from_nanos(offset.unsigned_abs())
        }
    }

    pub fn unix_seconds(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

impl wasmtime_wasi::HostWallClock for TestClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        TestClock::now(self)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}

/// One served request (or cron invocation) and the store traffic it caused.
#[derive(Debug, Default)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub component: String,
    pub tag: Option<String>,
    round_trips: AtomicU64,
    writes: AtomicU64,
    /// Set once the response's head went back to the client.
    answered: AtomicBool,
    round_trips_before_answer: AtomicU64,
    writes_before_answer: AtomicU64,
    /// Set once the guest returned, work after the answer included.
    done: AtomicBool,
}

impl RequestRecord {
    /// Store calls (each one a round trip to the backend, as with Redis).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::SeqCst)
    }

    /// The subset of round trips that wrote.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Round trips made before the response went back.
    pub fn round_trips_before_answer(&self) -> u64 {
        self.round_trips_before_answer.load(Ordering::SeqCst)
    }

    /// Write transactions made before the response went back: what the caller waited on.
    pub fn writes_before_answer(&self) -> u64 {
        self.writes_before_answer.load(Ordering::SeqCst)
    }

    /// Whether the guest has returned (all its work after the answer done).
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    pub(crate) fn count(&self, write: bool) {
        let before = !self.answered.load(Ordering::SeqCst);
        self.round_trips.fetch_add(1, Ordering::SeqCst);
        if before {
            self.round_trips_before_answer
                .fetch_add(1, Ordering::SeqCst);
        }
        if write {
            self.writes.fetch_add(1, Ordering::SeqCst);
            if before {
                self.writes_before_answer.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    pub(crate) fn mark_answered(&self) {
        self.answered.store(true, Ordering::SeqCst);
    }

    pub(crate) fn mark_done(&self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

/// Marks its request done when dropped, however the guest's work ended.
pub(crate) struct DoneOnDrop(pub Arc<RequestRecord>);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.mark_done();
    }
}

/// Per-request store statistics, in arrival order. Records are created when a
/// request arrives and updated live, so they are complete once its response is.
#[derive(Default)]
pub struct Stats {
    records: Mutex<Vec<Arc<RequestRecord>>>,
}

impl Stats {
    pub(crate) fn start(
        &self,
        method: &str,
        path: &str,
        component: &str,
        tag: Option<String>,
    ) -> Arc<RequestRecord> {
        let record = Arc::new(RequestRecord {
            method: method.to_string(),
            path: path.to_string(),
            component: component.to_string(),
            tag,
            ..RequestRecord::default()
        });
        self.records.lock().unwrap().push(record.clone());
        record
    }

    pub fn requests(&self) -> Vec<Arc<RequestRecord>> {
        self.records.lock().unwrap().clone()
    }

    pub fn last(&self) -> Option<Arc<RequestRecord>> {
        self.records.lock().unwrap().last().cloned()
    }

    /// The most recent request sent with `x-test-tag: <tag>`.
    pub fn tagged(&self, tag: &str) -> Option<Arc<RequestRecord>> {
        let records = self.records.lock().unwrap();
        records
            .iter()
            .rev()
            .find(|r| r.tag.as_deref() == Some(tag))
            .cloned()
    }

    /// Waits until every request so far has finished its work, including what
    /// it does after answering (mail, webhooks), up to `limit`.
    pub async fn wait_idle(&self, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.requests().iter().all(|r| r.is_done()) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    pub fn total_round_trips(&self) -> u64 {
        self.requests().iter().map(|r| r.round_trips()).sum()
    }

    pub fn reset(&self) {
        self.records.lock().unwrap().clear();
    }
}

/// Faults tests switch on. Counts start when a fault is armed: `fail_store_call(1)`
/// fails the very next store call, `fail_store_call(3)` lets two through first.
#[derive(Default)]
pub struct Faults {
    store_call_countdown: Mutex<Option<u64>>,
    outgoing_request_countdown: Mutex<Option<u64>>,
    redis: AtomicBool,
    redis_server: Mutex<Option<String>>,
    other_redis_servers_empty: AtomicBool,
}

impl Faults {
    pub fn fail_store_call(&self, nth: u64) {
        *self.store_call_countdown.lock().unwrap() = Some(nth.max(1));
    }

    pub fn fail_outgoing_request(&self, nth: u64) {
        *self.outgoing_request_countdown.lock().unwrap() = Some(nth.max(1));
    }

    /// Behave like Spin 4.0.2's Redis store where it differs from its SQLite
    /// store in ways an app can trip over: a successful `swap` writes, then
    /// reports `cas-failed` (its `UNWATCH key` is refused); `get-many` sends
    /// `KEYS` instead of `MGET`, so several keys fail with Redis's "wrong
    /// number of arguments" and one existing key panics Spin (the request dies).
    pub fn set_redis_semantics(&self, on: bool) {
        self.redis.store(on, Ordering::SeqCst);
    }

    /// The address at which Spin's outbound Redis (`fermyon:spin/redis`)
    /// reaches the Redis server behind the store `default`: `MGET` there
    /// reads the store. Any other allowed address is another server, which
    /// holds every key with another value.
    pub fn serve_store_over_redis(&self, address: Option<String>) {
        *self.redis_server.lock().unwrap() = address;
    }

    /// Redis servers other than the store's hold nothing: `MGET` there
    /// answers every key absent (a variable naming an empty server).
    pub fn other_redis_servers_are_empty(&self, on: bool) {
        self.other_redis_servers_empty.store(on, Ordering::SeqCst);
    }

    pub fn clear(&self) {
        *self.store_call_countdown.lock().unwrap() = None;
        *self.outgoing_request_countdown.lock().unwrap() = None;
        self.set_redis_semantics(false);
        self.serve_store_over_redis(None);
        self.other_redis_servers_are_empty(false);
    }

    pub(crate) fn redis_server(&self) -> Option<String> {
        self.redis_server.lock().unwrap().clone()
    }

    pub(crate) fn other_redis_servers_empty(&self) -> bool {
        self.other_redis_servers_empty.load(Ordering::SeqCst)
    }

    pub(crate) fn redis(&self) -> bool {
        self.redis.load(Ordering::SeqCst)
    }

    pub(crate) fn store_call_fails(&self) -> bool {
        Self::tick(&self.store_call_countdown)
    }

    pub(crate) fn outgoing_request_fails(&self) -> bool {
        Self::tick(&self.outgoing_request_countdown)
    }

    fn tick(countdown: &Mutex<Option<u64>>) -> bool {
        let mut countdown = countdown.lock().unwrap();
        match *countdown {
            Some(1) => {
                *countdown = None;
                true
            }
            Some(n) => {
                *countdown = Some(n - 1);
                false
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_call_fails_once() {
        let faults = Faults::default();
        faults.fail_store_call(3);
        let outcomes: Vec<bool> = (0..5).map(|_| faults.store_call_fails()).collect();
        assert_eq!(outcomes, [false, false, true, false, false]);
    }

    #[test]
    fn clock_moves_forward() {
        let clock = TestClock::default();
        let before = clock.unix_seconds();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.unix_seconds() >= before + 3600);
        clock.reset();
        assert!(clock.unix_seconds() < before + 3600);
    }
}
