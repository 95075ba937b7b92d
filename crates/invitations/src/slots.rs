//! The open-invitation index: which invitation holds each address's slot in
//! an account. It is what makes "one open invitation per (account, email)"
//! hold under concurrency.
//!
//! The index is split into a fixed number of shard records per account, all
//! written when the account is created, so every later change is a
//! compare-and-swap on a key that already exists (safe on every Spin
//! backend). Each slot names the latest invitation for its address and keeps a
//! short history (for listing by email).
//!
//! A shard stays small whatever the account's size: one past
//! [`SPLIT_BYTES`] ([`crate::Policy::slot_shard_max_bytes`]) is split before it takes another claim. The splitter
//! writes 16 children under names only it can have made (each address goes
//! to the child its hash's next 4 bits name), then swaps the shard for the
//! list of its children; a split shard never changes again. So children too
//! exist before anyone can race for them, and a claim that read the shard
//! before the split fails its swap, reads it again and follows the split.
//! A splitter that loses its swap deletes its unpublished children. Each
//! level below the account's shard costs a reader 1 round trip; a shard of
//! 8 KB holds about 60 addresses, so 100,000 addresses are 2 levels deep.
//!
//! The invitation record stays the truth about its own state; a slot only
//! says who may be open:
//!
//! * A claimant may take a slot whose latest invitation is missing, accepted,
//!   cancelled or superseded.
//! * An expired invitation can still be renewed by a resend, so before taking
//!   its slot the claimant supersedes it (a CAS on the invitation itself). The
//!   renewal's CAS and the supersede meet on the same record: exactly one wins,
//!   whatever the clocks of the two callers say. A resend therefore never
//!   needs the slot: it only renews its own record, and fails if superseded.

use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId, Rev};
use crate::keys;
use crate::model::{Account, Invitation, State};
use crate::store::{self, decode, encode, Cas, Decision, Versioned, CAS_ATTEMPTS};
use crate::time::Timestamp;
use crate::Env;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Invitations remembered per address, newest first, for listing by email.
pub const HISTORY: usize = 20;

/// A shard whose stored value is larger than this is split before it takes
/// another claim (64 KB is the largest value the layout allows itself); the
/// default of [`crate::Policy::slot_shard_max_bytes`].
pub const SPLIT_BYTES: usize = 8 * 1024;

/// Children of a split shard: one per value of 4 bits of the address hash.
const FANOUT: usize = 16;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct SlotShard {
    #[serde(default)]
    pub slots: BTreeMap<Email, Slot>,
    /// Once split: the keys of its 16 children, which hold its slots now.
    /// Empty for a shard that holds slots (every shard written before splits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
    pub rev: Rev,
}

impl SlotShard {
    fn is_split(&self) -> bool {
        !self.children.is_empty()
    }

    /// The child that holds `email`'s slot, for a shard split `depth` levels
    /// below its account's shard.
    fn child_for(&self, email: &Email, depth: usize) -> &str {
        &self.children[keys::child_of(email, depth) % self.children.len()]
    }
}

impl Versioned for SlotShard {
    fn rev(&self) -> &Rev {
        &self.rev
    }
    fn set_rev(&mut self, rev: Rev) {
        self.rev = rev;
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Slot {
    pub latest: InvitationId,
    pub history: Vec<InvitationId>,
}

impl Slot {
    fn take(&mut self, inv: &InvitationId) {
        self.latest = inv.clone();
        self.history.retain(|h| h != inv);
        self.history.insert(0, inv.clone());
        self.history.truncate(HISTORY);
    }
}

/// A wish to make `invitation` the open one for `email`.
#[derive(Clone, Debug)]
pub(crate) struct Claim {
    pub email: Email,
    pub invitation: InvitationId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClaimResult {
    Won,
    AlreadyInvited,
}

enum Verdict {
    Won,
    AlreadyInvited,
    /// The holder expired but could still be renewed: supersede it, then look again.
    Supersede(InvitationId),
}

fn judge(
    slot: Option<&Slot>,
    claim: &Claim,
    latest: Option<&Invitation>,
    now: Timestamp,
) -> Verdict {
    let Some(slot) = slot else {
        return Verdict::Won;
    };
    if slot.latest == claim.invitation {
        return Verdict::Won;
    }
    let Some(latest) = latest else {
        return Verdict::Won;
    };
    if latest.is_terminal()
        || matches!(
            latest.state,
            State::Expired {
                superseded: true,
                ..
            }
        )
    {
        return Verdict::Won;
    }
    if latest.is_open(now) {
        return Verdict::AlreadyInvited;
    }
    Verdict::Supersede(latest.id.clone())
}

pub(crate) fn shard_key(account: &Account, email: &Email) -> String {
    keys::slot_shard(&account.id, keys::shard_of(email, account.shards))
}

/// Claims slots in one account shard. All claims must map to `key`.
///
/// Cost, uncontended: `cas_read` + one `get-many` of the current holders (if
/// any) + `cas_swap` = 2 or 3 round trips, +1 per level below the account's
/// shard (one more `cas_read` for each child the claims fall in); +2 per
/// expired holder superseded, +3 for the second look after that; +2 (a
/// `set-many` and a swap) when the shard is split first.
pub(crate) fn claim(env: &Env, key: &str, claims: &[Claim]) -> Result<Vec<ClaimResult>> {
    claim_at(env, key, 0, claims)
}

fn claim_at(env: &Env, key: &str, depth: usize, claims: &[Claim]) -> Result<Vec<ClaimResult>> {
    let now = env.clock.now();
    for _ in 0..CAS_ATTEMPTS {
        let cas = env.store.cas_read(key)?;
        let Some(bytes) = cas.current.as_deref() else {
            return Err(Error::StoreUnavailable(format!(
                "slot shard {key} is missing"
            )));
        };
        let too_big = bytes.len() > env.policy.slot_shard_max_bytes;
        let mut shard: SlotShard = decode(key, bytes)?;
        if shard.is_split() {
            return claim_in_children(env, &shard, depth, claims);
        }
        if too_big && shard.slots.len() > 1 {
            split(env, key, depth, cas, shard)?;
            continue;
        }
        let holder_ids: Vec<InvitationId> = claims
            .iter()
            .filter_map(|c| {
                shard
                    .slots
                    .get(&c.email)
                    .filter(|s| s.latest != c.invitation)
                    .map(|s| s.latest.clone())
            })
            .collect();
        let holders = crate::ops::load_invitations(env, &holder_ids)?;
        let holder = |id: &InvitationId| holders.iter().flatten().find(|i| &i.id == id);

        let mut results = Vec::with_capacity(claims.len());
        let mut to_supersede = Vec::new();
        for c in claims {
            let slot = shard.slots.get(&c.email);
            let latest = slot.and_then(|s| holder(&s.latest));
            match judge(slot, c, latest, now) {
                Verdict::Won => results.push(ClaimResult::Won),
                Verdict::AlreadyInvited => results.push(ClaimResult::AlreadyInvited),
                Verdict::Supersede(id) => to_supersede.push(id),
            }
        }
        if !to_supersede.is_empty() {
            for id in to_supersede {
                supersede(env, &id)?;
            }
            continue;
        }
        if !results.contains(&ClaimResult::Won) {
            return Ok(results);
        }
        for (c, r) in claims.iter().zip(&results) {
            if *r == ClaimResult::Won {
                shard
                    .slots
                    .entry(c.email.clone())
                    .or_insert_with(|| Slot {
                        latest: c.invitation.clone(),
                        history: Vec::new(),
                    })
                    .take(&c.invitation);
            }
        }
        match store::swap_checked(env.store, env.random, key, cas, shard)? {
            store::Swapped::Done => return Ok(results),
            store::Swapped::Conflict => continue,
        }
    }
    Err(Error::Contended)
}

/// The claims of a split shard, child by child, each result in its claim's place.
fn claim_in_children(
    env: &Env,
    shard: &SlotShard,
    depth: usize,
    claims: &[Claim],
) -> Result<Vec<ClaimResult>> {
    let mut by_child: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in claims.iter().enumerate() {
        by_child
            .entry(shard.child_for(&c.email, depth))
            .or_default()
            .push(i);
    }
    let mut results = vec![ClaimResult::AlreadyInvited; claims.len()];
    for (child, positions) in by_child {
        let subset: Vec<Claim> = positions.iter().map(|&i| claims[i].clone()).collect();
        let outcome = claim_at(env, child, depth + 1, &subset)?;
        for (&i, r) in positions.iter().zip(outcome) {
            results[i] = r;
        }
    }
    Ok(results)
}

/// Splits a full shard: its slots go to 16 new children, written first under
/// fresh names, then the shard becomes the list of them. Changes no slot, so
/// a swap lost to a claim only means reading again. Cost: 1 `set-many` and a
/// swap (+1 `delete-many` when another writer got there first).
fn split(env: &Env, key: &str, depth: usize, cas: Cas, shard: SlotShard) -> Result<()> {
    let rev = Rev::generate(env.random);
    let children: Vec<String> = (0..FANOUT)
        .map(|i| keys::slot_child(key, i, rev.as_str()))
        .collect();
    let mut parts: Vec<SlotShard> = (0..FANOUT)
        .map(|_| SlotShard {
            rev: Rev::generate(env.random),
            ..SlotShard::default()
        })
        .collect();
    for (email, slot) in shard.slots {
        parts[keys::child_of(&email, depth) % FANOUT]
            .slots
            .insert(email, slot);
    }
    let writes: Vec<(String, Vec<u8>)> = children
        .iter()
        .cloned()
        .zip(parts.iter().map(encode))
        .collect();
    store::set_many(env.store, &writes)?;
    let parent = SlotShard {
        slots: BTreeMap::new(),
        children: children.clone(),
        rev: Rev::default(),
    };
    match store::swap_checked(env.store, env.random, key, cas, parent)? {
        store::Swapped::Done => Ok(()),
        store::Swapped::Conflict => {
            // Never published: nobody can have read them.
            let _ = store::delete_many(env.store, &children);
            Ok(())
        }
    }
}

/// Marks an expired invitation superseded, unless it was renewed meanwhile.
fn supersede(env: &Env, id: &InvitationId) -> Result<()> {
    let now = env.clock.now();
    store::update::<Invitation, ()>(env.store, env.random, &keys::invitation(id), |mut inv| {
        if inv.is_open(now) || inv.is_terminal() || !inv.renewable(now) {
            return Ok(Decision::Keep(()));
        }
        inv.supersede(now)?;
        Ok(Decision::Write(inv, ()))
    })?;
    Ok(())
}

/// Forgets a purged invitation. `key` is its address's account shard.
/// Cost: 2 round trips, +1 per level below the account's shard.
pub(crate) fn release(env: &Env, key: &str, email: &Email, id: &InvitationId) -> Result<()> {
    let mut key = key.to_owned();
    for depth in 0.. {
        let moved = store::update::<SlotShard, Option<String>>(
            env.store,
            env.random,
            &key,
            |mut shard| {
                if shard.is_split() {
                    return Ok(Decision::Keep(Some(
                        shard.child_for(email, depth).to_owned(),
                    )));
                }
                let Some(slot) = shard.slots.get_mut(email) else {
                    return Ok(Decision::Keep(None));
                };
                if !slot.history.contains(id) && slot.latest != *id {
                    return Ok(Decision::Keep(None));
                }
                slot.history.retain(|h| h != id);
                if slot.latest == *id {
                    match slot.history.first() {
                        Some(next) => slot.latest = next.clone(),
                        None => {
                            shard.slots.remove(email);
                        }
                    }
                }
                Ok(Decision::Write(shard, None))
            },
        )?;
        match moved.flatten() {
            Some(child) => key = child,
            None => break,
        }
    }
    Ok(())
}

/// Every invitation the account's slots remember, newest first: what the
/// list of an account made before the invitation log is read from (ids sort
/// as they were made). 1 round trip
/// for all shards, +1 per level of splits. An id whose record is gone is
/// for the reader to skip.
pub(crate) fn all_ids(env: &Env, account: &Account) -> Result<Vec<InvitationId>> {
    let mut level: Vec<String> = (0..account.shards)
        .map(|n| keys::slot_shard(&account.id, n))
        .collect();
    let mut ids = Vec::new();
    while !level.is_empty() {
        let mut next = Vec::new();
        for (value, key) in store::get_many_raw(env.store, &level)?.iter().zip(&level) {
            if let Some(bytes) = value {
                let shard: SlotShard = decode(key, bytes)?;
                next.extend(shard.children);
                ids.extend(shard.slots.into_values().flat_map(|s| s.history));
            }
        }
        level = next;
    }
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    Ok(ids)
}

/// The slots of these addresses, read without intent to change them, level
/// by level: 1 round trip, +1 per level of splits below their shards.
pub(crate) fn slots_of(
    env: &Env,
    account: &Account,
    emails: &[&Email],
) -> Result<Vec<Option<Slot>>> {
    let mut found: Vec<Option<Slot>> = vec![None; emails.len()];
    // Where each address still is to be looked for.
    let mut at: Vec<(usize, String)> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| (i, shard_key(account, e)))
        .collect();
    for depth in 0.. {
        if at.is_empty() {
            break;
        }
        let mut level: Vec<String> = at.iter().map(|(_, k)| k.clone()).collect();
        level.sort();
        level.dedup();
        let mut shards: BTreeMap<&str, SlotShard> = BTreeMap::new();
        for (value, key) in store::get_many_raw(env.store, &level)?.iter().zip(&level) {
            if let Some(bytes) = value {
                shards.insert(key, decode(key, bytes)?);
            }
        }
        let mut deeper = Vec::new();
        for (i, key) in &at {
            let Some(shard) = shards.get(key.as_str()) else {
                continue;
            };
            if shard.is_split() {
                deeper.push((*i, shard.child_for(emails[*i], depth).to_owned()));
            } else {
                found[*i] = shard.slots.get(emails[*i]).cloned();
            }
        }
        at = deeper;
    }
    Ok(found)
}

/// Which of these addresses an open invitation holds, read without intent to
/// change anything. 2 round trips (the shards, their holders), +1 per level
/// of splits.
pub(crate) fn held_open(env: &Env, account: &Account, emails: &[&Email]) -> Result<Vec<bool>> {
    let slots = slots_of(env, account, emails)?;
    let ids: Vec<InvitationId> = slots.iter().flatten().map(|s| s.latest.clone()).collect();
    let now = env.clock.now();
    let holders = crate::ops::load_invitations(env, &ids)?;
    let open: Vec<&InvitationId> = holders
        .iter()
        .flatten()
        .filter(|i| i.is_open(now))
        .map(|i| &i.id)
        .collect();
    Ok(slots
        .iter()
        .map(|s| s.as_ref().is_some_and(|s| open.contains(&&s.latest)))
        .collect())
}

/// The slot for an address, read without intent to change it. 1 round
/// trip, +1 per level of splits.
pub(crate) fn read(env: &Env, account: &Account, email: &Email) -> Result<Option<Slot>> {
    Ok(slots_of(env, account, &[email])?.pop().flatten())
}

/// The empty shards a new account starts with.
pub(crate) fn initial_shards(account: &AccountId, shards: u16) -> Vec<(String, Vec<u8>)> {
    (0..shards)
        .map(|n| (keys::slot_shard(account, n), encode(&SlotShard::default())))
        .collect()
}
