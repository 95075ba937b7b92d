//! The open-invitation index: which invitation holds each address's slot in
//! an account. It is what makes "one open invitation per (account, email)"
//! hold under concurrency.
//!
//! The index is split into a fixed number of shard records per account, all
//! written when the account is created, so every later change is a
//! compare-and-swap on a key that already exists (safe on every Spin
//! backend). Each slot names the latest invitation for its address and keeps a
//! short history (for listing by email). The invitation record stays the
//! truth about its own state; a slot only says who may be open:
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
use crate::store::{self, decode, encode, Decision, Versioned, CAS_ATTEMPTS};
use crate::time::Timestamp;
use crate::Env;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Invitations remembered per address, newest first, for listing by email.
pub const HISTORY: usize = 20;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct SlotShard {
    pub slots: BTreeMap<Email, Slot>,
    pub rev: Rev,
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

/// Claims slots in one shard. All claims must map to `key`.
///
/// Cost, uncontended: `cas_read` + one `get-many` of the current holders (if
/// any) + `cas_swap` = 2 or 3 round trips; +2 per expired holder superseded,
/// +3 for the second look after that.
pub(crate) fn claim(env: &Env, key: &str, claims: &[Claim]) -> Result<Vec<ClaimResult>> {
    let now = env.clock.now();
    for _ in 0..CAS_ATTEMPTS {
        let cas = env.store.cas_read(key)?;
        let Some(bytes) = cas.current.as_deref() else {
            return Err(Error::StoreUnavailable(format!(
                "slot shard {key} is missing"
            )));
        };
        let mut shard: SlotShard = decode(key, bytes)?;
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

/// Forgets a purged invitation. Cost: 2 round trips.
pub(crate) fn release(env: &Env, key: &str, email: &Email, id: &InvitationId) -> Result<()> {
    store::update::<SlotShard, ()>(env.store, env.random, key, |mut shard| {
        let Some(slot) = shard.slots.get_mut(email) else {
            return Ok(Decision::Keep(()));
        };
        if !slot.history.contains(id) && slot.latest != *id {
            return Ok(Decision::Keep(()));
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
        Ok(Decision::Write(shard, ()))
    })?;
    Ok(())
}

/// Every invitation the account's slots remember, newest first: the index an
/// account's list is read from (ids sort as they were made). 1 round trip
/// for all shards. An id whose record is gone is for the reader to skip.
pub(crate) fn all_ids(env: &Env, account: &Account) -> Result<Vec<InvitationId>> {
    let keys: Vec<String> = (0..account.shards)
        .map(|n| keys::slot_shard(&account.id, n))
        .collect();
    let mut ids = Vec::new();
    for (value, key) in store::get_many_raw(env.store, &keys)?.iter().zip(&keys) {
        if let Some(bytes) = value {
            let shard: SlotShard = decode(key, bytes)?;
            ids.extend(shard.slots.into_values().flat_map(|s| s.history));
        }
    }
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    Ok(ids)
}

/// Which of these addresses an open invitation holds, read without intent to
/// change anything. 2 round trips (the shards, their holders).
pub(crate) fn held_open(env: &Env, account: &Account, emails: &[&Email]) -> Result<Vec<bool>> {
    let mut shard_keys: Vec<String> = emails.iter().map(|e| shard_key(account, e)).collect();
    shard_keys.sort();
    shard_keys.dedup();
    let mut latest: BTreeMap<&Email, InvitationId> = BTreeMap::new();
    for (value, key) in store::get_many_raw(env.store, &shard_keys)?
        .iter()
        .zip(&shard_keys)
    {
        if let Some(bytes) = value {
            let shard: SlotShard = decode(key, bytes)?;
            for email in emails {
                if let Some(slot) = shard.slots.get(*email) {
                    latest.insert(email, slot.latest.clone());
                }
            }
        }
    }
    let ids: Vec<InvitationId> = latest.values().cloned().collect();
    let now = env.clock.now();
    let holders = crate::ops::load_invitations(env, &ids)?;
    let open: Vec<&InvitationId> = holders
        .iter()
        .flatten()
        .filter(|i| i.is_open(now))
        .map(|i| &i.id)
        .collect();
    Ok(emails
        .iter()
        .map(|e| latest.get(e).is_some_and(|id| open.contains(&id)))
        .collect())
}

/// The slot for an address, read without intent to change it. 1 round trip.
pub(crate) fn read(env: &Env, account: &Account, email: &Email) -> Result<Option<Slot>> {
    let shard: Option<SlotShard> = store::get_json(env.store, &shard_key(account, email))?;
    Ok(shard.and_then(|mut s| s.slots.remove(email)))
}

/// The empty shards a new account starts with.
pub(crate) fn initial_shards(account: &AccountId, shards: u16) -> Vec<(String, Vec<u8>)> {
    (0..shards)
        .map(|n| (keys::slot_shard(account, n), encode(&SlotShard::default())))
        .collect()
}
