//! Step: purge what is past keeping. Closed invitations `retention_days`
//! after they closed, drafts nobody can reach, history blocks `history_days`
//! after they filled, join links `retention_days` after they stopped
//! working, idempotency answers past their lifetime. Deletes ride in the
//! run's closing `delete-many`.

use super::{Accounts, SweepRun, Work};
use crate::error::Result;
use crate::ids::{AccountId, InvitationId, JoinLinkId};
use crate::keys;
use crate::model::{Invitation, InvitationView};
use crate::ops::{history, idempotency, join_links};
use crate::queue::DueItem;
use crate::store::{self, decode, Decision};
use crate::values::LinkDelivery;
use crate::{seats, slots, Env};

/// A closed invitation past retention: sealed first (so a resend racing this
/// purge cannot renew a record about to be deleted), then released from its
/// address's slot, then its record, delivery, links, message references and
/// log entry deleted. Cost: 4 round trips (+1 for its account, once per run).
pub(crate) fn closed(
    env: &Env,
    view: &InvitationView,
    accounts: &mut Accounts,
    work: &mut Work,
    run: &mut SweepRun,
) -> Result<()> {
    let now = env.clock.now();
    let inv = &view.invitation;
    if inv.renewable(now) && !seal(env, &inv.id)? {
        work.requeue
            .push((now, DueItem::Invitation(inv.id.clone())));
        return Ok(());
    }
    let shards = accounts
        .get(env, &inv.account_id)?
        .map_or(env.policy.shards, |a| a.shards);
    let shard = keys::slot_shard(&inv.account_id, keys::shard_of(&inv.email, shards));
    slots::release(env, &shard, &inv.email, &inv.id)?;
    work.deletes.extend(record_keys(inv));
    work.deletes.extend(inv.token_hashes().map(keys::token));
    work.deletes
        .extend(view.delivery.message_ids.iter().map(keys::mail_message));
    run.report.purged += 1;
    Ok(())
}

/// A draft whose invite lost its address's slot or stopped before claiming
/// it: nobody can reach it. Gives back the seat its invite took for it, then
/// deletes it with its handed-over link, if any. Cost: 0 round trips, 2 if
/// it held a seat (the ledger's CAS).
pub(crate) fn unreachable(env: &Env, inv: &Invitation, work: &mut Work) -> Result<()> {
    if inv.seat_taken {
        seats::release(env, &inv.account_id, &[seats::Hold::of(inv)])?;
    }
    if inv.link_delivery == LinkDelivery::Caller {
        work.deletes.push(keys::token(&inv.token_hash));
    }
    work.deletes.extend(record_keys(inv));
    Ok(())
}

/// An invitation's record, delivery record and log entry.
fn record_keys(inv: &Invitation) -> impl Iterator<Item = String> {
    let log =
        (inv.log_position > 0).then(|| keys::invitation_log(&inv.account_id, inv.log_position));
    [keys::invitation(&inv.id), keys::delivery(&inv.id)]
        .into_iter()
        .chain(log)
}

/// Marks an expired invitation superseded before purging it. False if it was
/// renewed meanwhile.
fn seal(env: &Env, id: &InvitationId) -> Result<bool> {
    let now = env.clock.now();
    Ok(store::update::<Invitation, bool>(
        env.store,
        env.random,
        &keys::invitation(id),
        |mut inv| {
            if inv.is_open(now) {
                return Ok(Decision::Keep(false));
            }
            if !inv.renewable(now) {
                return Ok(Decision::Keep(true));
            }
            inv.supersede(now)?;
            Ok(Decision::Write(inv, true))
        },
    )?
    .unwrap_or(false))
}

/// History blocks, oldest first. Cost: 2 round trips per block (the floor
/// once per account and run, the entries).
pub(crate) fn histories(
    env: &Env,
    mut due: Vec<(AccountId, i64)>,
    work: &mut Work,
    run: &mut SweepRun,
) {
    let mut floors = history::Floors::new();
    due.sort_by_key(|(_, upto)| *upto);
    for (account, upto) in due {
        let (writes, deletes) = (&mut work.writes, &mut work.deletes);
        match history::purge(env, &account, upto, &mut floors, writes, deletes) {
            Ok(n) => run.report.history_purged += n,
            Err(_) => work.failed(DueItem::History { account, upto }, &mut run.report),
        }
    }
}

/// Join links. Cost: 1 round trip each.
pub(crate) fn join_links(env: &Env, due: Vec<JoinLinkId>, work: &mut Work, run: &mut SweepRun) {
    for id in due {
        match join_links::purge(env, &id, &mut work.deletes) {
            Ok(true) => run.report.join_links_purged += 1,
            Ok(false) => {}
            Err(_) => work.failed(DueItem::JoinLink(id), &mut run.report),
        }
    }
}

/// Idempotency answers past their lifetime (not newer ones that reused the
/// key), and their claim counters. Cost: 1 round trip for all.
pub(crate) fn idempotency_answers(
    env: &Env,
    due: Vec<(String, i64)>,
    work: &mut Work,
    run: &mut SweepRun,
) {
    let now = env.clock.now();
    let answer_keys: Vec<String> = due
        .iter()
        .map(|(scope, _)| keys::idempotency(scope))
        .collect();
    let Ok(answers) = store::get_many_raw(env.store, &answer_keys) else {
        for (scope, hour) in due {
            let item = DueItem::Idempotency { scope, hour };
            work.failed(item, &mut run.report);
        }
        return;
    };
    for ((scope, hour), (answer, key)) in due.iter().zip(answers.into_iter().zip(answer_keys)) {
        work.deletes.push(keys::idempotency_claim(scope, *hour));
        let stale = match answer
            .as_deref()
            .map(|b| decode::<idempotency::Answer>(&key, b))
        {
            Some(Ok(a)) => a.created_at.plus_secs(env.policy.idempotency_ttl_secs) <= now,
            Some(Err(_)) => true,
            None => false,
        };
        if stale {
            work.deletes.push(key);
        }
    }
}
