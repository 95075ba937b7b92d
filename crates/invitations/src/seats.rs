//! The account's seat ledger: how many seats it allows, how many members it
//! has, and which invitations hold a seat until when.
//!
//! One record per account, written at its creation, so every change is a
//! compare-and-swap on a key that already exists. That one record is what
//! makes the limit exact: every change of the count (an invite's holds, a
//! join link's new member, a cancel, a removal) meets every other on it.
//!
//! An open invitation holds a seat until its expiry: the ledger keeps each
//! hold's expiry, so an expired invitation gives its seat back at that
//! moment, without a write and without waiting for the sweep. A hold past
//! its expiry is dropped by the next write. A resend that renews an expired
//! invitation takes a seat again.
//!
//! The order of writes makes every crash err on the side of counting a seat
//! too many, never too few: a seat is taken before the invitation or member
//! that uses it exists, and given back only after that is gone. A seat
//! counted too many is given back by the sweep (an invite that never became
//! reachable) or at the hold's expiry.

use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId, Rev};
use crate::keys;
use crate::store::{self, encode};
use crate::time::Timestamp;
use crate::values::SeatLimit;
use crate::Env;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The stored ledger.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ledger {
    /// Absent: unlimited.
    pub limit: Option<SeatLimit>,
    pub members: u32,
    /// Open invitations and when each stops holding its seat.
    pub holds: BTreeMap<InvitationId, Timestamp>,
    pub rev: Rev,
    /// The revisions of its last writes, oldest first: how a writer told
    /// its swap failed learns whether it happened after all.
    #[serde(default)]
    pub recent: Vec<Rev>,
}

/// An account's seats as the account view shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seats {
    pub limit: Option<SeatLimit>,
    pub members: u32,
    /// Open invitations: pending and not expired.
    pub pending: u32,
}

impl Ledger {
    fn holds_at(expires_at: Timestamp, now: Timestamp) -> bool {
        now < expires_at
    }

    fn pending(&self, now: Timestamp) -> u32 {
        let open = self.holds.values().filter(|e| Self::holds_at(**e, now));
        open.count() as u32
    }

    /// Seats still free; `None` when unlimited.
    fn free(&self, now: Timestamp) -> Option<u32> {
        let used = self.members.saturating_add(self.pending(now));
        self.limit.map(|l| l.get().saturating_sub(used))
    }

    fn prune(&mut self, now: Timestamp) {
        self.holds.retain(|_, e| Self::holds_at(*e, now));
    }

    fn holds_seat(&self, id: &InvitationId, now: Timestamp) -> bool {
        self.holds.get(id).is_some_and(|e| Self::holds_at(*e, now))
    }

    pub fn seats(&self, now: Timestamp) -> Seats {
        Seats {
            limit: self.limit,
            members: self.members,
            pending: self.pending(now),
        }
    }
}

/// The ledger of a new account with its owner.
pub(crate) fn initial(acc: &AccountId, env: &Env) -> (String, Vec<u8>) {
    let ledger = Ledger {
        members: 1,
        rev: Rev::generate(env.random),
        ..Ledger::default()
    };
    (keys::seats(acc), encode(&ledger))
}

/// Every change of an account's membership meets on its ledger, so it gets
/// more tries than other records: a conflict means another writer finished.
const TRIES: usize = 64;

/// How many of its last writes a ledger remembers.
const RECENT: usize = 32;

/// Reads the ledger, drops holds past their expiry, lets `decide` change
/// it, and writes it if anything changed. `None` for an account made before
/// ledgers existed: it has none, and is unlimited and uncounted.
///
/// Unlike [`store::update`], a swap reported failed is settled by the
/// ledger's list of its last writes, not by its current revision: changes
/// here are counts, so a retry of a change that did happen would count it
/// twice, and on Spin's Redis store (which writes, then reports
/// `cas-failed`) another writer may already have written over it.
fn change<R>(
    env: &Env,
    acc: &AccountId,
    mut decide: impl FnMut(&mut Ledger, Timestamp) -> Result<R>,
) -> Result<Option<R>> {
    let now = env.clock.now();
    let key = keys::seats(acc);
    let mut unsure: Option<(Rev, R, Option<store::SwapError>)> = None;
    for _ in 0..TRIES {
        let cas = env.store.cas_read(&key)?;
        let Some(bytes) = cas.current.as_deref() else {
            return Ok(None);
        };
        let before: Ledger = store::decode(&key, bytes)?;
        if let Some((rev, r, failure)) = unsure.take() {
            if before.recent.contains(&rev) {
                return Ok(Some(r));
            }
            if let Some(store::SwapError::Store(e)) = failure {
                return Err(e.into());
            }
        }
        let mut next = before.clone();
        next.prune(now);
        let r = decide(&mut next, now)?;
        if next == before {
            return Ok(Some(r));
        }
        let rev = Rev::generate(env.random);
        next.rev = rev.clone();
        next.recent.push(rev.clone());
        let excess = next.recent.len().saturating_sub(RECENT);
        next.recent.drain(..excess);
        match env.store.cas_swap(cas, &encode(&next)) {
            Ok(()) => return Ok(Some(r)),
            Err(failure) => unsure = Some((rev, r, Some(failure))),
        }
    }
    Err(Error::Contended)
}

/// Gives seats to new invitations, in order, while there are seats free.
/// Returns how many of them got one (all when unlimited). Taking a hold an
/// invitation already has changes nothing. Cost: 2 round trips.
pub(crate) fn take(
    env: &Env,
    acc: &AccountId,
    wanted: &[(InvitationId, Timestamp)],
) -> Result<usize> {
    let granted = change(env, acc, |l, now| {
        let mut free = l.free(now);
        let mut granted = 0;
        for (id, expires_at) in wanted {
            if !l.holds_seat(id, now) {
                match &mut free {
                    Some(0) => break,
                    Some(n) => *n -= 1,
                    None => {}
                }
                l.holds.insert(id.clone(), *expires_at);
            }
            granted += 1;
        }
        Ok(granted)
    })?;
    Ok(granted.unwrap_or(wanted.len()))
}

/// Gives back the seats of invitations that are no longer open (cancelled,
/// declined, never made reachable). Cost: 2 round trips; 1 if none held one.
pub(crate) fn release(env: &Env, acc: &AccountId, ids: &[InvitationId]) -> Result<()> {
    change(env, acc, |l, _| {
        l.holds.retain(|id, _| !ids.contains(id));
        Ok(())
    })?;
    Ok(())
}

/// A resend's new expiry: an invitation still holding its seat keeps it
/// longer; one whose seat went back with its expiry needs a free one.
/// Cost: 2 round trips.
pub(crate) fn renew(
    env: &Env,
    acc: &AccountId,
    id: &InvitationId,
    expires_at: Timestamp,
) -> Result<()> {
    change(env, acc, |l, now| {
        if !l.holds_seat(id, now) && l.free(now) == Some(0) {
            return Err(Error::SeatLimitReached);
        }
        l.holds.insert(id.clone(), expires_at);
        Ok(())
    })?;
    Ok(())
}

/// Puts a hold back as it was before a resend that did not happen: from
/// `renewed` (what the resend set) to `expires_at`, unless something else
/// changed it since. Cost: 2 round trips.
pub(crate) fn restore(
    env: &Env,
    acc: &AccountId,
    id: &InvitationId,
    renewed: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    change(env, acc, |l, now| {
        if l.holds.get(id) == Some(&renewed) {
            if Ledger::holds_at(expires_at, now) {
                l.holds.insert(id.clone(), expires_at);
            } else {
                l.holds.remove(id);
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// An accepted invitation's seat becomes its member's: never refused, as
/// the invitation already held it. `first` is the accept that changed the
/// invitation. A later one (finishing an accept that failed after its
/// change) counts the member if the seat is still held; if the hold is gone
/// before the invitation's expiry, the earlier accept moved it; if the
/// expiry has passed, that cannot be told, and the member is counted (a
/// seat too many rather than one too few). Cost: 2 round trips.
pub(crate) fn seat_member(
    env: &Env,
    acc: &AccountId,
    id: &InvitationId,
    expires_at: Timestamp,
    first: bool,
) -> Result<()> {
    change(env, acc, |l, now| {
        let held = l.holds.remove(id).is_some();
        if held || first || !Ledger::holds_at(expires_at, now) {
            l.members = l.members.saturating_add(1);
        }
        Ok(())
    })?;
    Ok(())
}

/// A member who joins without an invitation (a join link) takes a free seat.
/// Cost: 2 round trips.
pub(crate) fn join(env: &Env, acc: &AccountId) -> Result<()> {
    change(env, acc, |l, now| {
        if l.free(now) == Some(0) {
            return Err(Error::SeatLimitReached);
        }
        l.members = l.members.saturating_add(1);
        Ok(())
    })?;
    Ok(())
}

/// A member removed, or who left (or a join that did not happen), gives
/// their seat back. Cost: 2 round trips.
pub(crate) fn leave(env: &Env, acc: &AccountId) -> Result<()> {
    change(env, acc, |l, _| {
        l.members = l.members.saturating_sub(1);
        Ok(())
    })?;
    Ok(())
}

/// Sets or removes the limit. A limit below the seats in use refuses new
/// seats and removes no one. Cost: 2 round trips.
pub(crate) fn set_limit(env: &Env, acc: &AccountId, limit: Option<SeatLimit>) -> Result<Seats> {
    change(env, acc, |l, now| {
        l.limit = limit;
        Ok(l.seats(now))
    })?
    .ok_or(Error::SeatsUntracked)
}

/// The seats of a ledger read with other keys.
pub(crate) fn decode_seats(
    bytes: Option<&[u8]>,
    acc: &AccountId,
    now: Timestamp,
) -> Result<Option<Seats>> {
    let key = keys::seats(acc);
    bytes
        .map(|b| store::decode::<Ledger>(&key, b).map(|l| l.seats(now)))
        .transpose()
}
