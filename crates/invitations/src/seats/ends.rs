//! When open invitations give their seats back: moments in time order, each
//! with how many seats it frees.
//!
//! Every change of the seat ledger reads, copies, compares and writes this
//! list whole, and a busy account keeps up to [`MAX_ENDS`] moments, so it is
//! a sorted `Vec` (a tree map cost about twice the time to build and copy).
//!
//! Stored as one string of items joined by `,`: each moment in milliseconds
//! after the one before (the first: after the epoch) in base 36, then `*` and
//! its count in base 36 when that is not 1; about 5 to 9 bytes a moment. As a
//! JSON object it was about 21 bytes a moment (22.7 KB for 1,000 moments);
//! the object form written before is read too.

use crate::time::Timestamp;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// How many distinct end moments a ledger keeps (5 to 9 bytes each as stored).
pub(crate) const MAX_ENDS: usize = 1024;

/// Moments in strictly increasing order, each with a count above zero.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ends(Vec<(Timestamp, u32)>);

impl Ends {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Seats still held after `now`.
    pub fn held_after(&self, now: Timestamp) -> u32 {
        let from = self.0.partition_point(|(t, _)| *t <= now);
        self.0[from..]
            .iter()
            .fold(0u32, |sum, (_, n)| sum.saturating_add(*n))
    }

    /// Drops the moments at or before `now`.
    pub fn prune(&mut self, now: Timestamp) {
        let ended = self.0.partition_point(|(t, _)| *t <= now);
        self.0.drain(..ended);
    }

    /// One more seat back at `until`; past [`MAX_ENDS`] moments the closest
    /// two merge, the earlier into the later.
    pub fn add(&mut self, until: Timestamp) {
        match self.0.binary_search_by_key(&until, |(t, _)| *t) {
            Ok(i) => self.0[i].1 = self.0[i].1.saturating_add(1),
            Err(i) => self.0.insert(i, (until, 1)),
        }
        while self.0.len() > MAX_ENDS {
            self.merge_closest();
        }
    }

    /// Moves the count of the moment closest to the next one into it: those
    /// seats come back a little later, never earlier.
    fn merge_closest(&mut self) {
        let Some(i) = (0..self.0.len().saturating_sub(1))
            .min_by_key(|&i| self.0[i + 1].0.unix_millis() - self.0[i].0.unix_millis())
        else {
            return;
        };
        let (_, moved) = self.0.remove(i);
        self.0[i].1 = self.0[i].1.saturating_add(moved);
    }

    /// Takes one seat from the first moment at or after `at` (a merge only
    /// moves counts later). Whether there was one.
    pub fn take_from(&mut self, at: Timestamp) -> bool {
        let i = self.0.partition_point(|(t, _)| *t < at);
        let Some((_, count)) = self.0.get_mut(i) else {
            return false;
        };
        *count -= 1;
        if *count == 0 {
            self.0.remove(i);
        }
        true
    }
}

/// From moments in any order; a moment given twice adds its counts, and a
/// count of zero is no moment.
impl FromIterator<(Timestamp, u32)> for Ends {
    fn from_iter<I: IntoIterator<Item = (Timestamp, u32)>>(moments: I) -> Self {
        let mut all: Vec<(Timestamp, u32)> = moments.into_iter().filter(|(_, n)| *n > 0).collect();
        all.sort_by_key(|(t, _)| *t);
        let mut ends: Vec<(Timestamp, u32)> = Vec::with_capacity(all.len());
        for (t, n) in all {
            match ends.last_mut() {
                Some((last, held)) if *last == t => *held = held.saturating_add(n),
                _ => ends.push((t, n)),
            }
        }
        Ends(ends)
    }
}

pub(crate) fn to_text(ends: &Ends) -> String {
    let mut text = String::with_capacity(ends.len() * 8);
    let mut previous = 0i64;
    for (i, (end, count)) in ends.0.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let at = end.unix_millis();
        if at < previous {
            text.push('-');
        }
        push_base36(&mut text, at.abs_diff(previous));
        previous = at;
        if *count != 1 {
            text.push('*');
            push_base36(&mut text, u64::from(*count));
        }
    }
    text
}

pub(crate) fn from_text(text: &str) -> Option<Ends> {
    let mut ends: Vec<(Timestamp, u32)> = Vec::with_capacity(text.len() / 6 + 1);
    let mut at = 0i64;
    for item in text.split(',').filter(|i| !i.is_empty()) {
        let (step, count) = match item.split_once('*') {
            Some((step, count)) => (step, u32::from_str_radix(count, 36).ok()?),
            None => (item, 1),
        };
        let step = i64::from_str_radix(step, 36).ok()?;
        // Only the first moment may be before the one "before" it.
        if step < 0 && !ends.is_empty() {
            return None;
        }
        at = at.checked_add(step)?;
        match ends.last_mut() {
            Some((last, held)) if *last == Timestamp::from_unix_millis(at) => {
                *held = held.saturating_add(count);
            }
            _ => ends.push((Timestamp::from_unix_millis(at), count)),
        }
    }
    ends.retain(|(_, n)| *n > 0);
    Some(Ends(ends))
}

/// `n` in base 36. (The difference of two moments always fits 64 bits,
/// whose division wasm does natively; 128-bit division is a call into
/// software.)
fn push_base36(text: &mut String, mut n: u64) {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut digits = [0u8; 16];
    let mut len = 0;
    loop {
        digits[len] = DIGITS[(n % 36) as usize];
        len += 1;
        n /= 36;
        if n == 0 {
            break;
        }
    }
    text.extend(digits[..len].iter().rev().map(|d| char::from(*d)));
}

impl Serialize for Ends {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_text(self))
    }
}

impl<'de> Deserialize<'de> for Ends {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EndsVisitor)
    }
}

struct EndsVisitor;

impl<'de> Visitor<'de> for EndsVisitor {
    type Value = Ends;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("moments with their counts, as text or an object")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        from_text(text).ok_or_else(|| E::custom("not a list of moments and counts"))
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut moments = Vec::new();
        while let Some(moment) = map.next_entry::<Timestamp, u32>()? {
            moments.push(moment);
        }
        Ok(moments.into_iter().collect())
    }
}
