//! The account's seat ledger: how many seats it allows, how many members it
//! has, and how many open invitations hold a seat until when.
//!
//! One record per account, written at its creation, so every change is a
//! compare-and-swap on a key that already exists. That one record is what
//! makes the limit exact: every change of the count (an invite's holds, a
//! join link's new member, a cancel, a removal) meets every other on it.
//!
//! An open invitation holds a seat until its expiry. The ledger counts holds
//! by the moment they end, not by invitation, so its size does not grow with
//! the account: at most [`MAX_ENDS`](ends::MAX_ENDS) distinct moments (an invite of many
//! addresses shares one). Past that, the two closest moments merge into the
//! later one, so a seat may come back late, never early. An expired
//! invitation gives its seat back at that moment, without a write and
//! without waiting for the sweep; ended holds are dropped by the next write.
//! A resend that renews an expired invitation takes a seat again.
//!
//! A count cannot tell which invitation a hold is, so each hold is given
//! back (or moved to a member) only by the change that happens once for it:
//! the compare-and-swap that cancels, declines or accepts the invitation, or
//! the deletion of a draft that never became reachable. The last
//! [`SETTLED`] invitations settled are remembered, so a retried accept or a
//! second release close behind the first changes nothing.
//!
//! The order of writes makes every crash err on the side of counting a seat
//! too many, never too few: a seat is taken before the invitation or member
//! that uses it exists, and given back only after that is gone. A seat
//! counted too many comes back when its hold ends.
//!
//! A member's removal is written in three steps, so a crash anywhere in it
//! is repaired: a [`Mark`] that the member is leaving (the seat still
//! counted), then the membership's tombstone, then one seat fewer with the
//! mark dropped, in one swap. A mark older than [`LEAVING_GRACE_SECS`] is
//! settled by the next change of the ledger, which reads the membership: a
//! tombstone made since the mark gives the seat back, anything else drops the
//! mark. So the ledger is exact again at the first change after a crash that
//! needs it (every change that takes a seat is one), and never counts a seat
//! too few on the way.
//!
//! A join through a link is marked the same way: its seat is taken with a
//! joining [`Mark`], the membership written, then the mark dropped. A mark
//! older than the grace is settled by the next change, which reads the
//! membership: one written since the mark keeps the seat, none gives it back.
//!
//! Ledgers written before counts (one hold per invitation id) are read as
//! counts, and written as counts by their next change.

use crate::closed::ClosedPositions;
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId, Rev, UserId};
use crate::keys;
use crate::model::{Invitation, Member};
use crate::store::{self, encode};
use crate::time::Timestamp;
use crate::values::SeatLimit;
use crate::Env;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod ends;
use ends::Ends;
#[cfg(test)]
use ends::MAX_ENDS;

/// How many settled invitations a ledger remembers (about 30 bytes each).
pub(crate) const SETTLED: usize = 64;

/// The stored ledger.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ledger {
    /// Absent: unlimited.
    pub limit: Option<SeatLimit>,
    pub members: u32,
    /// Open invitations: how many hold a seat until each moment ([`Ends`]).
    #[serde(default)]
    pub holds_until: Ends,
    /// The layout before counts: each open invitation and its expiry. Read
    /// into `holds_until` and never written.
    #[serde(default, skip_serializing)]
    holds: BTreeMap<InvitationId, Timestamp>,
    pub rev: Rev,
    /// The revisions of its last writes, oldest first: how a writer told
    /// its swap failed learns whether it happened after all.
    #[serde(default)]
    pub recent: Vec<Rev>,
    /// The invitations whose hold was last given back or became a member's,
    /// oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    settled: Vec<InvitationId>,
    /// Removals under way: each member here is still counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    leaving: Vec<Mark>,
    /// Joins through a link under way: each member here is counted, and
    /// their membership may not be written yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    joining: Vec<Mark>,
    /// Log positions of invitations closed for good ([`crate::closed`]).
    #[serde(default, skip_serializing_if = "ClosedPositions::is_empty")]
    closed: ClosedPositions,
}

/// A removal or a join under way since `since`, in the ledger's `leaving`
/// or `joining` list: a member whose removal began then and has not given
/// back its seat, or who took a seat then (the `joined_at` their membership
/// gets) and whose membership may not be written yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Mark {
    user: UserId,
    since: Timestamp,
}

/// Which list of the ledger a [`Mark`] is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marked {
    Leaving,
    Joining,
}

/// How long a removal or a join may take between its first and last write
/// before the next change of the ledger settles its mark from the membership.
pub(crate) const LEAVING_GRACE_SECS: i64 = 60;

impl Mark {
    /// Whether the removal or join has taken half the grace since its mark:
    /// it then stops before its last write (the tombstone, the membership),
    /// so that write never lands after the ledger's next change judged it
    /// stopped (unless it lingers in flight for longer, or the two clocks
    /// differ by more).
    pub(crate) fn stalled(&self, now: Timestamp) -> bool {
        now >= self.since.plus_secs(LEAVING_GRACE_SECS / 2)
    }

    fn key(&self) -> (UserId, Timestamp) {
        (self.user.clone(), self.since)
    }
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
    /// Reads a stored ledger, in either layout.
    fn decode(key: &str, bytes: &[u8]) -> Result<Ledger> {
        let mut ledger: Ledger = store::decode(key, bytes)?;
        for end in std::mem::take(&mut ledger.holds).into_values() {
            ledger.add_hold(end);
        }
        Ok(ledger)
    }

    fn pending(&self, now: Timestamp) -> u32 {
        self.holds_until.held_after(now)
    }

    /// Seats still free; `None` when unlimited.
    fn free(&self, now: Timestamp) -> Option<u32> {
        let used = self.members.saturating_add(self.pending(now));
        self.limit.map(|l| l.get().saturating_sub(used))
    }

    /// Drops the holds that have ended.
    fn prune(&mut self, now: Timestamp) {
        self.holds_until.prune(now);
    }

    fn add_hold(&mut self, until: Timestamp) {
        self.holds_until.add(until);
    }

    /// Gives back the hold of an invitation that expires at `expires_at`, if
    /// it still holds one at `now`: the first count that ends at or after
    /// its expiry (a merge only moves counts later). Whether it did.
    fn end_hold(&mut self, expires_at: Timestamp, now: Timestamp) -> bool {
        if expires_at <= now {
            return false;
        }
        self.holds_until.take_from(expires_at)
    }

    fn is_settled(&self, id: &InvitationId) -> bool {
        self.settled.contains(id)
    }

    fn settle(&mut self, id: &InvitationId) {
        self.settled.push(id.clone());
        let excess = self.settled.len().saturating_sub(SETTLED);
        self.settled.drain(..excess);
    }

    fn marks(&mut self, marked: Marked) -> &mut Vec<Mark> {
        match marked {
            Marked::Leaving => &mut self.leaving,
            Marked::Joining => &mut self.joining,
        }
    }

    /// Settles the marks of removals or joins that stopped: `give_back`
    /// says, for each one whose membership was read, whether its seat comes
    /// back (a removal whose tombstone was written, a join whose membership
    /// was not). Marks not read stay.
    fn settle_marks(&mut self, marked: Marked, give_back: &BTreeMap<(UserId, Timestamp), bool>) {
        let mut returned = 0u32;
        self.marks(marked)
            .retain(|m| match give_back.get(&m.key()) {
                Some(back) => {
                    returned += u32::from(*back);
                    false
                }
                None => true,
            });
        self.members = self.members.saturating_sub(returned);
    }

    pub fn seats(&self, now: Timestamp) -> Seats {
        Seats {
            limit: self.limit,
            members: self.members,
            pending: self.pending(now),
        }
    }
}

/// The closed log positions a stored ledger notes (none without a ledger).
pub(crate) fn closed_positions(key: &str, bytes: Option<&[u8]>) -> Result<ClosedPositions> {
    Ok(match bytes {
        Some(b) => Ledger::decode(key, b)?.closed,
        None => ClosedPositions::default(),
    })
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

/// Reads the ledger, drops holds that have ended, lets `decide` change it,
/// and writes it if anything changed. `None` for an account made before
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
    let mut settled = Stopped::default();
    for _ in 0..TRIES {
        let cas = env.store.cas_read(&key)?;
        let Some(bytes) = cas.current.as_deref() else {
            return Ok(None);
        };
        let before = Ledger::decode(&key, bytes)?;
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
        read_stopped(env, acc, &before, now, &mut settled)?;
        next.settle_marks(Marked::Leaving, &settled.removed);
        next.settle_marks(Marked::Joining, &settled.joined);
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

/// Whether each stopped removal and join gives its seat back, by (user,
/// mark), as its membership said.
#[derive(Default)]
struct Stopped {
    /// Back when the membership became a tombstone since the mark.
    removed: BTreeMap<(UserId, Timestamp), bool>,
    /// Back when no membership was written since the mark.
    joined: BTreeMap<(UserId, Timestamp), bool>,
}

/// Reads the memberships of removals and joins marked longer ago than the
/// grace and not read yet: 1 round trip when there are any (only after a
/// crash, a failure or a stall), none otherwise.
fn read_stopped(
    env: &Env,
    acc: &AccountId,
    ledger: &Ledger,
    now: Timestamp,
    settled: &mut Stopped,
) -> Result<()> {
    let stopped = |marks: &[Mark], read: &BTreeMap<(UserId, Timestamp), bool>| -> Vec<Mark> {
        marks
            .iter()
            .filter(|m| m.since.plus_secs(LEAVING_GRACE_SECS) <= now)
            .filter(|m| !read.contains_key(&m.key()))
            .cloned()
            .collect()
    };
    let leaving = stopped(&ledger.leaving, &settled.removed);
    let joining = stopped(&ledger.joining, &settled.joined);
    if leaving.is_empty() && joining.is_empty() {
        return Ok(());
    }
    let member_keys: Vec<String> = leaving
        .iter()
        .chain(&joining)
        .map(|m| keys::member(acc, &m.user))
        .collect();
    let mut members = Vec::with_capacity(member_keys.len());
    for (value, key) in store::get_many_raw(env.store, &member_keys)?
        .into_iter()
        .zip(&member_keys)
    {
        members.push(
            value
                .map(|b| store::decode::<Member>(key, &b))
                .transpose()?,
        );
    }
    let (of_leaving, of_joining) = members.split_at(leaving.len());
    for (mark, member) in leaving.iter().zip(of_leaving) {
        let gone = member
            .as_ref()
            .and_then(|m| m.removed.as_ref())
            .is_some_and(|r| r.removed_at >= mark.since);
        settled.removed.insert(mark.key(), gone);
    }
    for (mark, member) in joining.iter().zip(of_joining) {
        let written = member.as_ref().is_some_and(|m| m.joined_at >= mark.since);
        settled.joined.insert(mark.key(), !written);
    }
    Ok(())
}

/// Gives seats to new invitations (each by its expiry), in order, while
/// there are seats free. Returns how many of them got one (all when
/// unlimited). Cost: 2 round trips.
pub(crate) fn take(env: &Env, acc: &AccountId, expiries: &[Timestamp]) -> Result<usize> {
    let granted = change(env, acc, |l, now| {
        let mut free = l.free(now);
        let mut granted = 0;
        for &expires_at in expiries {
            match &mut free {
                Some(0) => break,
                Some(n) => *n -= 1,
                None => {}
            }
            l.add_hold(expires_at);
            granted += 1;
        }
        Ok(granted)
    })?;
    Ok(granted.unwrap_or(expiries.len()))
}

/// An invitation whose hold is given back or moved: its id, its expiry, and
/// its place in the invitation log (0 for one made before the log).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hold<'a> {
    id: &'a InvitationId,
    expires_at: Timestamp,
    log_position: i64,
}

impl<'a> Hold<'a> {
    pub(crate) fn of(invitation: &'a Invitation) -> Hold<'a> {
        Hold {
            id: &invitation.id,
            expires_at: invitation.expires_at,
            log_position: invitation.log_position,
        }
    }
}

/// Gives back the seats of invitations closed for good (cancelled, declined,
/// never made reachable), and notes their log positions as closed. Only the
/// change that closed them calls this, after its own swap. Cost: 2 round
/// trips; 1 if nothing changed.
pub(crate) fn release(env: &Env, acc: &AccountId, holds: &[Hold]) -> Result<()> {
    change(env, acc, |l, now| {
        for hold in holds {
            if !l.is_settled(hold.id) {
                l.end_hold(hold.expires_at, now);
                l.settle(hold.id);
            }
            l.closed.insert(hold.log_position);
        }
        Ok(())
    })?;
    Ok(())
}

/// A resend's new expiry: an invitation still holding its seat holds it
/// until `to` instead; one whose seat went back with its expiry needs a free
/// one. Cost: 2 round trips.
pub(crate) fn renew(
    env: &Env,
    acc: &AccountId,
    id: &InvitationId,
    from: Timestamp,
    to: Timestamp,
) -> Result<()> {
    change(env, acc, |l, now| {
        let held = !l.is_settled(id) && l.end_hold(from, now);
        if !held && l.free(now) == Some(0) {
            return Err(Error::SeatLimitReached);
        }
        l.add_hold(to);
        Ok(())
    })?;
    Ok(())
}

/// Undoes a [`renew`] whose resend did not happen: the hold ends at
/// `expires_at` again (or now, if that has passed). Cost: 2 round trips.
pub(crate) fn restore(
    env: &Env,
    acc: &AccountId,
    renewed: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    change(env, acc, |l, now| {
        if l.end_hold(renewed, now) && now < expires_at {
            l.add_hold(expires_at);
        }
        Ok(())
    })?;
    Ok(())
}

/// An accepted invitation's seat becomes its member's: never refused, as
/// the invitation held it. Called by the accept that changed the invitation
/// and by any accept that finishes it after a failure; the second changes
/// nothing while the first is among the ledger's settled invitations. Past
/// that window, it counts the member again: a seat too many rather than one
/// too few. Cost: 2 round trips.
pub(crate) fn seat_member(env: &Env, acc: &AccountId, hold: Hold) -> Result<()> {
    change(env, acc, |l, now| {
        if !l.is_settled(hold.id) {
            l.end_hold(hold.expires_at, now);
            l.members = l.members.saturating_add(1);
            l.settle(hold.id);
        }
        l.closed.insert(hold.log_position);
        Ok(())
    })?;
    Ok(())
}

/// A member who joins without an invitation (a join link) takes a free
/// seat, marked as joining since `since` (the `joined_at` their membership
/// will have) until [`finish_join`], or until the ledger's next change after
/// the grace reads whether the membership was written. `None` for an
/// account without a ledger. Cost: 2 round trips.
pub(crate) fn join(
    env: &Env,
    acc: &AccountId,
    user: &UserId,
    since: Timestamp,
) -> Result<Option<Mark>> {
    change(env, acc, |l, now| {
        if l.free(now) == Some(0) {
            return Err(Error::SeatLimitReached);
        }
        l.members = l.members.saturating_add(1);
        let mark = Mark {
            user: user.clone(),
            since,
        };
        l.joining.push(mark.clone());
        Ok(mark)
    })
}

/// The join marked by `mark` wrote its membership: the mark dropped
/// (`done`); or it will not: the seat given back too. Cost: 2 round trips.
pub(crate) fn finish_join(env: &Env, acc: &AccountId, mark: &Mark, done: bool) -> Result<()> {
    finish(env, acc, Marked::Joining, mark, !done)
}

/// Marks a member's removal as under way, before their membership becomes
/// a tombstone. `None` for an account without a ledger. Cost: 2 round trips.
pub(crate) fn begin_leave(env: &Env, acc: &AccountId, user: &UserId) -> Result<Option<Mark>> {
    change(env, acc, |l, now| {
        let mark = Mark {
            user: user.clone(),
            since: now,
        };
        if !l.leaving.contains(&mark) {
            l.leaving.push(mark.clone());
        }
        Ok(mark)
    })
}

/// The removal marked by `mark` happened: one seat fewer, and the mark
/// dropped (`done`); or it did not: only the mark dropped. Cost: 2 round
/// trips.
pub(crate) fn finish_leave(env: &Env, acc: &AccountId, mark: &Mark, done: bool) -> Result<()> {
    finish(env, acc, Marked::Leaving, mark, done)
}

/// Drops `mark` and, with `give_back`, its seat. A mark already settled by
/// another change is left alone (that change decided the seat).
fn finish(env: &Env, acc: &AccountId, marked: Marked, mark: &Mark, give_back: bool) -> Result<()> {
    change(env, acc, |l, _| {
        let marks = l.marks(marked);
        if let Some(i) = marks.iter().position(|m| m == mark) {
            marks.remove(i);
            if give_back {
                l.members = l.members.saturating_sub(1);
            }
        }
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
        .map(|b| Ledger::decode(&key, b).map(|l| l.seats(now)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_secs(secs)
    }

    fn ms(millis: i64) -> Timestamp {
        Timestamp::from_unix_millis(millis)
    }

    #[test]
    fn a_hold_ends_at_its_expiry() {
        let mut l = Ledger::default();
        l.add_hold(at(100));
        l.add_hold(at(100));
        l.add_hold(at(200));
        assert_eq!(l.pending(at(99)), 3);
        assert_eq!(l.pending(at(100)), 1);
        assert_eq!(l.pending(at(200)), 0);
        assert!(l.end_hold(at(100), at(50)));
        assert_eq!(l.pending(at(50)), 2);
        assert!(
            !l.end_hold(at(200), at(200)),
            "an ended hold is not given back twice"
        );
        l.prune(at(100));
        assert_eq!(l.holds_until, Ends::from_iter([(at(200), 1)]));
    }

    #[test]
    fn past_the_cap_the_closest_ends_merge_later_never_earlier() {
        let mut l = Ledger::default();
        let ends: Vec<i64> = (0..3 * MAX_ENDS as i64)
            .map(|i| 1_000 + i * i % 7_919)
            .collect();
        for &e in &ends {
            l.add_hold(at(e));
        }
        assert!(l.holds_until.len() <= MAX_ENDS);
        assert_eq!(l.pending(at(0)), ends.len() as u32);
        // At every moment the ledger counts at least the holds still open.
        for &t in &ends {
            let open = ends.iter().filter(|&&e| e > t).count() as u32;
            assert!(l.pending(at(t)) >= open, "at {t}");
        }
        // And each hold is found again for its release.
        for &e in &ends {
            assert!(l.end_hold(at(e), at(0)), "the hold ending at {e}");
        }
        assert!(l.holds_until.is_empty());
        let size = encode(&Ledger {
            holds_until: (0..MAX_ENDS as i64)
                .map(|i| (at(1_800_000_000 + i), 100))
                .collect(),
            ..Ledger::default()
        })
        .len();
        assert!(size < 32 * 1024, "a full ledger is {size} bytes");
    }

    #[test]
    fn a_full_ledger_of_a_month_of_invites_stays_small() {
        // 1,024 moments spread over 30 days, 100 seats each.
        let month = 30 * 24 * 3_600_000i64;
        let ledger = Ledger {
            holds_until: (0..MAX_ENDS as i64)
                .map(|i| (ms(1_800_000_000_000 + i * month / MAX_ENDS as i64), 100))
                .collect(),
            ..Ledger::default()
        };
        let size = encode(&ledger).len();
        assert!(size < 10 * 1024, "a full ledger's moments are {size} bytes");
        let read = Ledger::decode("k", &encode(&ledger)).unwrap();
        assert_eq!(read.holds_until, ledger.holds_until);

        // With every other list full too: what DynamoDB's 400 KB item and the
        // 64 KB the layout allows itself are measured against.
        let mut full = ledger;
        for n in 0..SETTLED as u8 {
            full.settle(&InvitationId::parse(&format!("inv_{n:024x}")).unwrap());
        }
        let random = crate::fixtures::Counting::default();
        full.recent = (0..RECENT).map(|_| Rev::generate(&random)).collect();
        for p in 0..2 * ClosedPositions::MAX_RANGES as i64 {
            full.closed.insert(1_000_000_000 + 2 * p);
        }
        let size = encode(&full).len();
        assert!(size < 20 * 1024, "a full ledger is {size} bytes");
    }

    #[test]
    fn a_ledger_with_its_ends_as_an_object_is_read_and_written_as_text() {
        let rev = encode(&Rev::default());
        let before = serde_json::json!({
            "limit": 5, "members": 2,
            "rev": serde_json::from_slice::<serde_json::Value>(&rev).unwrap(),
            "holds_until": {"100000": 2, "300000": 1}
        });
        let l = Ledger::decode("k", &serde_json::to_vec(&before).unwrap()).unwrap();
        assert_eq!(
            l.holds_until,
            Ends::from_iter([(ms(100_000), 2), (ms(300_000), 1)])
        );
        assert_eq!(l.seats(ms(0)).pending, 3);
        let written: serde_json::Value = serde_json::from_slice(&encode(&l)).unwrap();
        assert_eq!(written["holds_until"], "255s*2,4abk");
    }

    #[test]
    fn stored_ends_refuse_what_they_cannot_mean() {
        for bad in [
            "x*",
            "1,-1",
            "1*-1",
            "zzzzzzzzzzzzzzzzzz",
            "1*zzzzzzzz",
            "a b",
        ] {
            assert_eq!(ends::from_text(bad), None, "{bad:?}");
        }
        assert_eq!(ends::from_text(""), Some(Ends::default()));
        assert_eq!(
            ends::from_text("-a,a*2"),
            Some(Ends::from_iter([(ms(-10), 1), (ms(0), 2)]))
        );
    }

    proptest::proptest! {
        #[test]
        fn stored_ends_read_back_as_written(
            moments in proptest::collection::btree_map(
                -1_000_000i64..4_000_000_000_000, 1u32..=u32::MAX, 0..50
            )
        ) {
            let written: Ends = moments.into_iter().map(|(t, n)| (ms(t), n)).collect();
            let text = ends::to_text(&written);
            proptest::prop_assert_eq!(ends::from_text(&text), Some(written));
        }
    }

    #[test]
    fn a_ledger_of_holds_by_invitation_reads_as_counts_and_is_written_so() {
        let id = |n: u8| format!("inv_{n:024x}");
        let rev = encode(&Rev::default());
        let old = serde_json::json!({
            "limit": 5, "members": 2,
            "rev": serde_json::from_slice::<serde_json::Value>(&rev).unwrap(),
            "holds": {id(1): 100_000, id(2): 100_000, id(3): 300_000}
        });
        let l = Ledger::decode("k", &serde_json::to_vec(&old).unwrap()).unwrap();
        assert_eq!(
            l.holds_until,
            Ends::from_iter([
                (Timestamp::from_unix_millis(100_000), 2),
                (Timestamp::from_unix_millis(300_000), 1)
            ])
        );
        assert_eq!(l.seats(Timestamp::from_unix_millis(0)).pending, 3);
        let written: serde_json::Value = serde_json::from_slice(&encode(&l)).unwrap();
        assert!(written.get("holds").is_none(), "{written}");
        // Two end 100,000 ms after the epoch (255s in base 36), one 200,000 later (4abk).
        assert_eq!(written["holds_until"], "255s*2,4abk");
    }
}
