//! One run of the scheduled sweep: expire what is due, hand back mail to
//! retry, purge closed invitations past retention, forget old idempotency
//! answers. Bounded (at most `sweep_max_items` queue entries and
//! `sweep_max_buckets` queue minutes per run) and resumable (a watermark in
//! the store). It reads only the due queue, never the whole store.

use crate::effects::{Event, EventKind, MailJob, MailKind};
use crate::error::Result;
use crate::ids::{InvitationId, Rev};
use crate::keys;
use crate::model::{Delivery, DeliveryStatus, Invitation, InvitationView, State, Status};
use crate::ops::invite::TokenRef;
use crate::ops::load_views;
use crate::queue::{self, bucket_of, DueItem};
use crate::store::{self, decode, decode_counter, encode, Decision, Versioned};
use crate::time::Timestamp;
use crate::token::InvitationToken;
use crate::values::AccountName;
use crate::{slots, Env, Policy};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Counter reads per `get-many` while stepping over queue minutes.
const BUCKETS_PER_READ: i64 = 500;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub expired: usize,
    pub mailed: usize,
    pub purged: usize,
    /// More due work was left for the next run.
    pub more: bool,
}

#[derive(Clone, Debug)]
pub struct SweepRun {
    pub report: SweepReport,
    pub mails: Vec<MailJob>,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Watermark {
    /// The queue minute to read next, and the next entry in it (1-based).
    bucket: i64,
    next: i64,
    rev: Rev,
}

impl Versioned for Watermark {
    fn rev(&self) -> &Rev {
        &self.rev
    }
    fn set_rev(&mut self, rev: Rev) {
        self.rev = rev;
    }
}

/// When the mail for the invitation's current token should be tried (again),
/// or `None` if it went out or the attempts are used up.
pub(crate) fn mail_due_at(inv: &Invitation, dlv: &Delivery, policy: &Policy) -> Option<Timestamp> {
    let delivered = dlv.status == DeliveryStatus::Sent && dlv.last_sent_at >= Some(inv.issued_at);
    if delivered || dlv.attempts >= policy.mail_max_attempts {
        return None;
    }
    match dlv.last_attempt_at {
        // The current token's last attempt failed: back off exponentially.
        Some(at) if at >= inv.issued_at => {
            let exp = dlv.attempts.saturating_sub(1).min(20);
            Some(at.plus_secs(policy.mail_retry_base_secs.saturating_mul(1 << exp)))
        }
        // No attempt finished since the token was made: in flight, or lost.
        _ => Some(inv.issued_at.plus_secs(policy.mail_check_delay_secs)),
    }
}

/// Cost: 1 (watermark) + 1 per 500 queue minutes stepped over + 2 (entries,
/// records) + per due item: 2 to expire, 2 to retry mail, 2 to purge; then one
/// `increment` per distinct minute re-queued, 1 `set-many`, 1 `delete-many`
/// and 1 or 2 for the watermark.
pub fn sweep(env: &Env) -> Result<SweepRun> {
    let now = env.clock.now();
    let policy = env.policy;
    let stop = bucket_of(now); // minutes before this one are wholly due
    let saved: Option<Watermark> = store::get_json(env.store, &keys::sweep_state())?;
    let (mut bucket, mut next) = match &saved {
        Some(w) => (w.bucket, w.next),
        // No account was ever created, so only idempotency answers (which
        // need no account) can have been queued, within their lifetime.
        None => (
            bucket_of(now.plus_secs(-policy.idempotency_ttl_secs - 3600)),
            1,
        ),
    };

    // 1. Which queue entries to handle this run.
    let mut entry_keys: Vec<String> = Vec::new();
    let mut finished_buckets: Vec<String> = Vec::new();
    let mut buckets_left = policy.sweep_max_buckets;
    let mut more = false;
    'scan: while bucket < stop {
        if buckets_left <= 0 || entry_keys.len() >= policy.sweep_max_items {
            more = true;
            break;
        }
        let window = (stop - bucket).min(BUCKETS_PER_READ).min(buckets_left);
        let count_keys: Vec<String> = (bucket..bucket + window).map(keys::due_count).collect();
        let counts = store::get_many_raw(env.store, &count_keys)?;
        for (count_key, value) in count_keys.into_iter().zip(counts) {
            buckets_left -= 1;
            let count = decode_counter(value.as_deref());
            if next <= count {
                let room = (policy.sweep_max_items - entry_keys.len()) as i64;
                let take = (count - next + 1).min(room);
                entry_keys.extend((next..next + take).map(|n| keys::due_entry(bucket, n)));
                next += take;
                if next <= count {
                    more = true;
                    break 'scan;
                }
            }
            if value.is_some() {
                finished_buckets.push(count_key);
            }
            bucket += 1;
            next = 1;
            if entry_keys.len() >= policy.sweep_max_items && bucket < stop {
                more = true;
                break 'scan;
            }
        }
    }

    // 2. What the entries name.
    let entries = store::get_many_raw(env.store, &entry_keys)?;
    let mut invitation_ids = BTreeSet::new();
    let mut forget: Vec<String> = Vec::new();
    for (value, key) in entries.iter().zip(&entry_keys) {
        match value
            .as_deref()
            .map(|b| decode::<DueItem>(key, b))
            .transpose()?
        {
            Some(DueItem::Invitation(id)) => {
                invitation_ids.insert(id);
            }
            Some(DueItem::Forget(keys)) => forget.extend(keys),
            None => {}
        }
    }
    let ids: Vec<InvitationId> = invitation_ids.into_iter().collect();
    let views = load_views(env, &ids)?;

    // 3. Act on each.
    let mut run = SweepRun {
        report: SweepReport::default(),
        mails: Vec::new(),
        events: Vec::new(),
    };
    let mut requeue: Vec<(Timestamp, DueItem)> = Vec::new();
    let mut writes: Vec<(String, Vec<u8>)> = Vec::new();
    let mut deletes: Vec<String> = forget;
    let mut account_names: BTreeMap<String, Option<AccountName>> = BTreeMap::new();
    let earliest = now.plus_millis(queue::BUCKET_MS);
    let later = |t: Timestamp| t.max(earliest);
    let retention = policy.retention_days * 24 * 60 * 60;

    for view in views.into_iter().flatten() {
        let inv = &view.invitation;
        let item = DueItem::Invitation(inv.id.clone());
        match view.status {
            Status::Pending => match mail_due_at(inv, &view.delivery, policy) {
                Some(at) if at <= now => match retry_mail(env, inv, &mut account_names)? {
                    Some((job, old_hash)) => {
                        writes.push((
                            keys::token(&job.invitation.token_hash),
                            encode(&TokenRef::of(&job.invitation)),
                        ));
                        deletes.push(keys::token(&old_hash));
                        let attempts = view.delivery.attempts + 1;
                        let backoff = policy
                            .mail_retry_base_secs
                            .saturating_mul(1 << attempts.saturating_sub(1).min(20));
                        requeue.push((
                            later(
                                now.plus_secs(backoff.max(policy.mail_check_delay_secs))
                                    .min(inv.expires_at),
                            ),
                            item,
                        ));
                        run.report.mailed += 1;
                        run.mails.push(job);
                    }
                    None => requeue.push((later(now), item)),
                },
                Some(at) => requeue.push((later(at.min(inv.expires_at)), item)),
                None => requeue.push((later(inv.expires_at), item)),
            },
            Status::Expired if matches!(inv.state, State::Pending) => {
                if let Some(expired) = expire(env, &inv.id)? {
                    run.report.expired += 1;
                    let view = InvitationView::new(expired, view.delivery.clone(), now);
                    run.events.push(Event::invitation(
                        env.random,
                        EventKind::InvitationExpired,
                        now,
                        view,
                    ));
                }
                requeue.push((later(inv.expires_at.plus_secs(retention)), item));
            }
            _ => {
                let closed = inv.closed_at(now).unwrap_or(now);
                let purge_at = closed.plus_secs(retention);
                if purge_at > now {
                    requeue.push((later(purge_at), item));
                    continue;
                }
                let shard = keys::slot_shard(
                    &inv.account_id,
                    keys::shard_of(&inv.email, shard_count(env, inv)?),
                );
                slots::release(env, &shard, &inv.email, &inv.id)?;
                deletes.extend([
                    keys::invitation(&inv.id),
                    keys::delivery(&inv.id),
                    keys::token(&inv.token_hash),
                    keys::invitation_log(&inv.account_id, inv.seq),
                ]);
                run.report.purged += 1;
            }
        }
    }

    // 4. Write what comes next, then drop what was handled, then move on.
    writes.extend(queue::entries(env, &requeue)?);
    store::set_many(env.store, &writes)?;
    deletes.extend(entry_keys);
    deletes.extend(finished_buckets);
    store::delete_many(env.store, &deletes)?;
    save_watermark(env, saved.is_some(), bucket, next)?;
    run.report.more = more;
    Ok(run)
}

/// Slot shards per account are fixed at creation; read the account's number.
fn shard_count(env: &Env, inv: &Invitation) -> Result<u16> {
    let account: Option<crate::model::Account> =
        store::get_json(env.store, &keys::account(&inv.account_id))?;
    Ok(account.map(|a| a.shards).unwrap_or(env.policy.shards))
}

/// Writes the expiry down. `None` if someone else did, or it changed meanwhile.
fn expire(env: &Env, id: &InvitationId) -> Result<Option<Invitation>> {
    let now = env.clock.now();
    Ok(store::update::<Invitation, Option<Invitation>>(
        env.store,
        env.random,
        &keys::invitation(id),
        |mut inv| {
            if inv.expire(now).is_err() {
                return Ok(Decision::Keep(None));
            }
            Ok(Decision::Write(inv.clone(), Some(inv)))
        },
    )?
    .flatten())
}

/// Claims a mail retry by giving the invitation a new token (only the hash of
/// the old one was kept, so it cannot be mailed again). A concurrent sweep
/// that read the same state loses the compare-and-swap and sends nothing.
fn retry_mail(
    env: &Env,
    seen: &Invitation,
    names: &mut BTreeMap<String, Option<AccountName>>,
) -> Result<Option<(MailJob, crate::token::TokenHash)>> {
    let now = env.clock.now();
    let token = InvitationToken::generate(env.random);
    let rotated = store::update::<Invitation, Option<Invitation>>(
        env.store,
        env.random,
        &keys::invitation(&seen.id),
        |mut inv| {
            if inv.issued_at != seen.issued_at || inv.rotate_token(now, token.hash()).is_err() {
                return Ok(Decision::Keep(None));
            }
            Ok(Decision::Write(inv.clone(), Some(inv)))
        },
    )?
    .flatten();
    let Some(invitation) = rotated else {
        return Ok(None);
    };
    let acc = invitation.account_id.to_string();
    if !names.contains_key(&acc) {
        let account: Option<crate::model::Account> =
            store::get_json(env.store, &keys::account(&invitation.account_id))?;
        names.insert(acc.clone(), account.map(|a| a.name));
    }
    let Some(account_name) = names[&acc].clone() else {
        return Ok(None);
    };
    Ok(Some((
        MailJob {
            kind: MailKind::Retry,
            invitation,
            account_name,
            token,
        },
        seen.token_hash,
    )))
}

/// The watermark the first account writes: the queue starts now.
pub(crate) fn initial_watermark(env: &Env) -> (String, Vec<u8>) {
    let w = Watermark {
        bucket: bucket_of(env.clock.now()),
        next: 1,
        rev: Rev::generate(env.random),
    };
    (keys::sweep_state(), encode(&w))
}

fn save_watermark(env: &Env, exists: bool, bucket: i64, next: i64) -> Result<()> {
    let fresh = Watermark {
        bucket,
        next,
        rev: Rev::generate(env.random),
    };
    if !exists {
        // The first run creates it. Two first runs racing both write a
        // position they reached; either is safe to resume from.
        env.store.set(&keys::sweep_state(), &encode(&fresh))?;
        return Ok(());
    }
    store::update::<Watermark, ()>(env.store, env.random, &keys::sweep_state(), |w| {
        // Never move backwards past a concurrent run that got further.
        if (w.bucket, w.next) >= (bucket, next) {
            return Ok(Decision::Keep(()));
        }
        Ok(Decision::Write(
            Watermark {
                bucket,
                next,
                rev: w.rev,
            },
            (),
        ))
    })?;
    Ok(())
}
