//! Time and randomness from the host (WASI wall clock and random).

use invitations::random::Random;
use invitations::time::{Clock, Timestamp};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp::from_unix_millis(ms)
    }
}

pub struct HostRandom;

impl Random for HostRandom {
    fn fill(&self, buf: &mut [u8]) {
        // wasi:random never fails on a conforming host; without it no token is safe.
        getrandom::fill(buf).expect("the host provides wasi:random");
    }
}
