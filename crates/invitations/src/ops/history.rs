//! The account's history: every event its webhooks carried, with who made it.
//!
//! Kept per account as a log. Writing a change's events costs one `increment`
//! (positions for all of them) and one `set-many` (the entries, and where each
//! event sits for `?after=`), after the caller has its answer
//! ([`keep`]). Reading goes newest first from the counter, or forward from an
//! event a receiver saw last ([`history`]). Entries are facts, not hints:
//! nothing rewrites them. A position whose write never came (a crash between
//! the two calls) is a hole readers step over.
//!
//! Each time a log's positions pass a multiple of [`PURGE_EVERY`], the block
//! that filled is queued for the sweep `history_days` later: purging costs
//! what is due, never a scan ([`purge`]).

use crate::cursor::Cursor;
use crate::effects::{Actor, Event, EventKind};
use crate::error::{Error, Result};
use crate::ids::{AccountId, EventId};
use crate::keys;
use crate::ops::list::MAX_BATCHES_PER_PAGE;
use crate::ops::{load_access, page_size, Page};
use crate::principal::Principal;
use crate::queue::{self, DueItem};
use crate::store::{self, decode, decode_counter, encode};
use crate::time::Timestamp;
use crate::Env;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Positions per purge block.
pub const PURGE_EVERY: i64 = 100;

/// A filtered page reads batches of at least this many entries.
const MIN_FILTERED_BATCH: usize = 50;

/// A hole younger than this may still be filled by a write in flight: a
/// forward read stops before it rather than step over an event for good.
const HOLE_GRACE_SECS: i64 = 60;

/// One event in an account's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: EventId,
    pub kind: EventKind,
    pub at: Timestamp,
    pub actor: Actor,
    /// The webhook body the edge rendered for the event: its `data` is the
    /// history's. Opaque here.
    pub payload: String,
}

impl Entry {
    pub fn of(event: &Event, payload: String) -> Entry {
        Entry {
            id: event.id.clone(),
            kind: event.kind,
            at: event.at,
            actor: event.actor.clone(),
            payload,
        }
    }
}

/// Appends entries to their accounts' histories, each account's in the order
/// given. Cost: one `increment` per account (one for a request's events) and
/// one `set-many` for all; +1 `increment` when a block of [`PURGE_EVERY`]
/// fills and is queued for purging. None for no entries.
pub fn keep(env: &Env, entries: Vec<(AccountId, Entry)>) -> Result<()> {
    let writes = appending(env, entries)?;
    store::set_many(env.store, &writes)
}

/// What [`keep`] writes, for a caller that writes it with its own writes in
/// one `set-many`: the positions are taken now (the increments), so writing
/// the entries is all that is left. Until then the positions are holes that
/// readers step over.
pub fn appending(env: &Env, entries: Vec<(AccountId, Entry)>) -> Result<Vec<(String, Vec<u8>)>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_account: BTreeMap<String, (AccountId, Vec<Entry>)> = BTreeMap::new();
    for (acc, entry) in entries {
        by_account
            .entry(acc.to_string())
            .or_insert_with(|| (acc, Vec::new()))
            .1
            .push(entry);
    }
    let purge_at = env.clock.now().plus_secs(env.policy.history_days * 86_400);
    let mut writes = Vec::new();
    let mut due = Vec::new();
    for (acc, entries) in by_account.into_values() {
        let n = entries.len() as i64;
        let last = store::increment(env, &keys::history_count(&acc), n)?;
        let first = last - n + 1;
        for (position, entry) in (first..=last).zip(entries) {
            writes.push((keys::history_position(&acc, &entry.id), encode(&position)));
            writes.push((keys::history_entry(&acc, position), encode(&entry)));
            if position % PURGE_EVERY == 0 {
                let account = acc.clone();
                due.push((
                    purge_at,
                    DueItem::History {
                        account,
                        upto: position,
                    },
                ));
            }
        }
    }
    writes.extend(queue::entries(env, &due)?);
    Ok(writes)
}

/// What to read of a history.
#[derive(Clone, Debug, Default)]
pub struct HistoryQuery {
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// Oldest first, starting after this event.
    pub after: Option<EventId>,
    pub limit: Option<usize>,
    /// Where the previous page stopped; its direction is the page's.
    pub cursor: Option<Cursor>,
}

/// A page of the account's history: newest first, or oldest first after
/// `query.after`. Owners, admins and services (a webhook receiver catching up).
/// Cost: 2 (access, and the counter with the purge floor; with `after`, the
/// event's position too) + at most 3 batches of entries: at most 5 round trips.
pub fn history(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    query: HistoryQuery,
) -> Result<Page<Entry>> {
    let access = load_access(env, principal, acc)?;
    access.reader(principal)?;
    let limit = page_size(env, query.limit);
    let batch = match query.kind {
        Some(_) => limit.max(MIN_FILTERED_BATCH),
        None => limit,
    };
    let mut wanted = vec![keys::history_count(acc), keys::history_floor(acc)];
    if let Some(evt) = &query.after {
        wanted.push(keys::history_position(acc, evt));
    }
    let values = store::get_many_raw(env.store, &wanted)?;
    let counter = |i: usize| decode_counter(values.get(i).cloned().flatten().as_deref());
    let (newest, floor) = (counter(0), counter(1));
    let start = match (&query.after, query.cursor) {
        (Some(_), Some(_)) => return Err(Error::field("cursor", "give after or cursor, not both")),
        (Some(_), None) => match values.get(2).cloned().flatten() {
            Some(bytes) => Direction::Up(decode::<i64>(&wanted[2], &bytes)?),
            None => return Err(Error::EventNotFound),
        },
        (None, Some(Cursor::Since(seq))) => Direction::Up(seq),
        (None, Some(Cursor::Log(seq))) => Direction::Down(seq),
        (None, Some(_)) => return Err(Error::InvalidCursor),
        (None, None) => Direction::Down(newest),
    };
    let read = Reader {
        env,
        acc,
        kind: query.kind,
        limit,
        batch,
    };
    match start {
        Direction::Down(from) => read.down(from, floor),
        Direction::Up(after) => read.up(after.max(floor), newest),
    }
}

enum Direction {
    /// Newest first, from this position down.
    Down(i64),
    /// Oldest first, from after this position.
    Up(i64),
}

struct Reader<'a> {
    env: &'a Env<'a>,
    acc: &'a AccountId,
    kind: Option<EventKind>,
    limit: usize,
    batch: usize,
}

impl Reader<'_> {
    fn entries(&self, positions: &[i64]) -> Result<Vec<Option<Entry>>> {
        let keys: Vec<String> = positions
            .iter()
            .map(|p| keys::history_entry(self.acc, *p))
            .collect();
        let values = store::get_many_raw(self.env.store, &keys)?;
        values
            .iter()
            .zip(&keys)
            .map(|(v, k)| v.as_deref().map(|b| decode(k, b)).transpose())
            .collect()
    }

    fn matches(&self, e: &Entry) -> bool {
        self.kind.is_none_or(|k| e.kind == k)
    }

    fn down(&self, from: i64, floor: i64) -> Result<Page<Entry>> {
        let mut position = from;
        let mut items = Vec::new();
        'batches: for _ in 0..MAX_BATCHES_PER_PAGE {
            if position <= floor || items.len() >= self.limit {
                break;
            }
            let size = self.batch.max(self.limit - items.len()) as i64;
            let low = (position - size + 1).max(floor + 1);
            let positions: Vec<i64> = (low..=position).rev().collect();
            for (p, entry) in positions.iter().zip(self.entries(&positions)?) {
                position = p - 1;
                if let Some(e) = entry.filter(|e| self.matches(e)) {
                    items.push(e);
                    if items.len() >= self.limit {
                        break 'batches;
                    }
                }
            }
        }
        let next_cursor = (position > floor).then_some(Cursor::Log(position));
        Ok(Page { items, next_cursor })
    }

    fn up(&self, after: i64, newest: i64) -> Result<Page<Entry>> {
        let now = self.env.clock.now();
        let mut position = after;
        let mut items = Vec::new();
        'batches: for _ in 0..MAX_BATCHES_PER_PAGE {
            if position >= newest || items.len() >= self.limit {
                break;
            }
            let size = self.batch.max(self.limit - items.len()) as i64;
            let high = (position + size).min(newest);
            let positions: Vec<i64> = (position + 1..=high).collect();
            let entries = self.entries(&positions)?;
            for (i, (p, entry)) in positions.iter().zip(&entries).enumerate() {
                match entry {
                    None if fresh_hole(&entries[i + 1..], now) => {
                        // Come back for it: the write may be on its way.
                        return Ok(Page {
                            items,
                            next_cursor: None,
                        });
                    }
                    None => {}
                    Some(e) if self.matches(e) => items.push(e.clone()),
                    Some(_) => {}
                }
                position = *p;
                if items.len() >= self.limit {
                    break 'batches;
                }
            }
        }
        let next_cursor = (position < newest).then_some(Cursor::Since(position));
        Ok(Page { items, next_cursor })
    }
}

/// A hole with nothing written after it yet, or with something written after
/// it within the grace period, may still fill.
fn fresh_hole(later: &[Option<Entry>], now: Timestamp) -> bool {
    let grace = now.plus_secs(-HOLE_GRACE_SECS);
    let mut written = later.iter().flatten().peekable();
    written.peek().is_none() || written.any(|e| e.at > grace)
}

/// Purge floors a sweep run has read or moved, by account: its writes wait
/// for the run's end, so a second block of one account must not read the
/// stored floor again.
pub(crate) type Floors = BTreeMap<String, i64>;

/// Deletes an account's history up to `upto` (a block the sweep found due),
/// with the positions of its events. Returns how many entries it deleted.
/// Cost: 2 round trips (the floor, once per account and run; the entries);
/// the deletes and the new floor are handed back for the sweep's closing writes.
pub(crate) fn purge(
    env: &Env,
    acc: &AccountId,
    upto: i64,
    floors: &mut Floors,
    writes: &mut Vec<(String, Vec<u8>)>,
    deletes: &mut Vec<String>,
) -> Result<usize> {
    let floor = match floors.get(acc.as_str()) {
        Some(f) => *f,
        None => decode_counter(env.store.get(&keys::history_floor(acc))?.as_deref()),
    };
    if floor >= upto {
        return Ok(0);
    }
    let positions: Vec<i64> = (floor + 1..=upto).collect();
    let keys: Vec<String> = positions
        .iter()
        .map(|p| keys::history_entry(acc, *p))
        .collect();
    let values = store::get_many_raw(env.store, &keys)?;
    floors.insert(acc.to_string(), upto);
    let mut purged = 0;
    for (value, key) in values.iter().zip(keys) {
        if let Some(bytes) = value {
            // An entry that does not read still goes; its position key stays
            // until the account is gone (it only names a position).
            if let Ok(e) = decode::<Entry>(&key, bytes) {
                deletes.push(keys::history_position(acc, &e.id));
            }
            deletes.push(key);
            purged += 1;
        }
    }
    writes.push((keys::history_floor(acc), encode(&upto)));
    Ok(purged)
}
