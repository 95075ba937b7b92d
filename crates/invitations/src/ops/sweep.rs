//! One run of the scheduled sweep: expire what is due, hand back mail and
//! webhook events to retry, purge closed invitations past retention, forget
//! old idempotency answers. Bounded (at most `sweep_max_items` queue entries and
//! `sweep_max_buckets` queue minutes per run) and resumable (a watermark in
//! the store). It reads only the due queue, never the whole store.

use crate::effects::{Actor, Event, EventKind, MailJob, MailKind};
use crate::email::Email;
use crate::error::Result;
use crate::ids::{AccountId, InvitationId, Rev};
use crate::keys;
use crate::model::Account;
use crate::model::TokenRef;
use crate::model::{Delivery, DeliveryStatus, Invitation, InvitationView, State, Status};
use crate::ops::read_views;
use crate::ops::webhooks::{self, Claim, Redelivery};
use crate::ops::{history, idempotency, join_links};
use crate::queue::{self, bucket_of, DueItem};
use crate::seats;
use crate::store::{self, decode, encode, Decision, Versioned};
use crate::time::Timestamp;
use crate::token::InvitationToken;
use crate::values::{AccountName, LinkDelivery};
use crate::{slots, Env, Policy};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub expired: usize,
    pub mailed: usize,
    /// Reminders mailed before expiry.
    pub reminded: usize,
    pub purged: usize,
    /// Webhook events handed back for another delivery attempt.
    pub webhooks: usize,
    /// Webhook events dropped after their last attempt failed.
    pub webhooks_dropped: usize,
    /// History entries deleted `history_days` after their block filled.
    pub history_purged: usize,
    /// Join links deleted `retention_days` after they expired.
    pub join_links_purged: usize,
    /// Items whose handling failed; they are looked at again next run.
    pub failed: usize,
    /// More due work was left for the next run.
    pub more: bool,
}

#[derive(Clone, Debug)]
pub struct SweepRun {
    pub report: SweepReport,
    pub mails: Vec<MailJob>,
    pub events: Vec<Event>,
    /// Undelivered events to try again; see [`crate::ops::webhooks`].
    pub webhooks: Vec<Redelivery>,
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
/// or `None` if it went out, the attempts since a person last sent it are
/// used up (the admin can still resend), or the caller hands its link over.
pub(crate) fn mail_due_at(inv: &Invitation, dlv: &Delivery, policy: &Policy) -> Option<Timestamp> {
    if inv.link_delivery == LinkDelivery::Caller {
        return None;
    }
    let current = dlv.token_issued_at == Some(inv.issued_at);
    let attempts = dlv.attempts_since(inv.reissued_at);
    if (current && dlv.status.went_out()) || attempts >= policy.mail_max_attempts {
        return None;
    }
    match dlv.last_attempt_at {
        // The provider asked us to wait: not before then.
        _ if current && dlv.status == DeliveryStatus::Queued && dlv.not_before.is_some() => {
            dlv.not_before
        }
        // The current token's last attempt failed: back off exponentially.
        Some(at) if current => {
            let exp = attempts.saturating_sub(1).min(20);
            Some(at.plus_secs(policy.mail_retry_base_secs.saturating_mul(1 << exp)))
        }
        // No outcome for the current token yet: in flight, or lost.
        _ => Some(inv.issued_at.plus_secs(policy.mail_check_delay_secs)),
    }
}

/// Cost: 1 (watermark) + 1 per 100 queue minutes stepped over + 2 (entries,
/// records) + per due item: 2 to expire, 2 to retry mail, 4 to purge (+1 per
/// distinct account met), 2 to retry a webhook (3 to give one up), 2 to purge
/// a block of history; then one `increment` per distinct minute re-queued,
/// 1 `set-many`, 1 `delete-many` and 1 or 2 for the watermark.
///
/// An item whose handling fails is counted in `failed` and looked at again in
/// a minute; it never stops the run. Events and mail of what was done are
/// always handed back, even when the closing writes fail.
pub fn sweep(env: &Env) -> Result<SweepRun> {
    let now = env.clock.now();
    let policy = env.policy;
    let stop = bucket_of(now); // minutes before this one are wholly due
    let saved: Option<Watermark> = store::get_json(env.store, &keys::sweep_state())?;
    let (bucket, next) = match &saved {
        Some(w) => (w.bucket, w.next),
        // No account was ever created, so only idempotency answers (which
        // need no account) can have been queued, within their lifetime.
        None => (
            bucket_of(now.plus_secs(-policy.idempotency_ttl_secs - 3600)),
            1,
        ),
    };

    // 1. Which queue entries to handle this run.
    let scan = queue::scan(env, bucket, next, stop)?;
    let (bucket, next, mut more) = (scan.bucket, scan.next, scan.more);
    let entry_keys = scan.entry_keys;
    let finished_buckets = scan.finished_buckets;

    let mut run = SweepRun {
        report: SweepReport::default(),
        mails: Vec::new(),
        events: Vec::new(),
        webhooks: Vec::new(),
    };

    // 2. What the entries name. An entry or record that cannot be read is
    // counted and dropped: it must not stop the sweep for everyone else.
    let entries = store::get_many_raw(env.store, &entry_keys)?;
    let mut invitation_ids = BTreeSet::new();
    let mut idempotency: Vec<(String, i64)> = Vec::new();
    let mut undelivered = Vec::new();
    let mut histories = Vec::new();
    let mut links = Vec::new();
    for (value, key) in entries.iter().zip(&entry_keys) {
        match value.as_deref().map(|b| decode::<DueItem>(key, b)) {
            Some(Ok(DueItem::Invitation(id))) => {
                invitation_ids.insert(id);
            }
            Some(Ok(DueItem::Idempotency { scope, hour })) => idempotency.push((scope, hour)),
            Some(Ok(DueItem::Webhook { id, after })) => undelivered.push((id, after)),
            Some(Ok(DueItem::History { account, upto })) => histories.push((account, upto)),
            Some(Ok(DueItem::JoinLink(id))) => links.push(id),
            Some(Err(_)) => run.report.failed += 1,
            None => {}
        }
    }
    let ids: Vec<InvitationId> = invitation_ids.into_iter().collect();
    let views = load_views_tolerant(env, &ids, &mut run.report)?;

    // 3. Act on each.
    let mut work = Work::default();
    let mut accounts = Accounts::default();
    let claimed = claimed_among(env, &views, &mut accounts)?;
    for view in views {
        let id = view.invitation.id.clone();
        let claimed = claimed.contains(&id);
        if handle(env, view, claimed, &mut accounts, &mut work, &mut run).is_err() {
            run.report.failed += 1;
            work.requeue.push((now, DueItem::Invitation(id)));
        }
    }
    for (id, after) in undelivered {
        match webhooks::claim(env, &id, after) {
            Ok(Claim::Retry(redelivery, next)) => {
                let after = redelivery.attempt;
                work.requeue.push((next, DueItem::Webhook { id, after }));
                run.report.webhooks += 1;
                run.webhooks.push(redelivery);
            }
            Ok(Claim::GaveUp) => run.report.webhooks_dropped += 1,
            Ok(Claim::Nothing) => {}
            Err(_) => {
                run.report.failed += 1;
                work.requeue.push((now, DueItem::Webhook { id, after }));
            }
        }
    }
    let mut floors = history::Floors::new();
    histories.sort_by_key(|(_, upto)| *upto);
    for (account, upto) in histories {
        let (writes, deletes) = (&mut work.writes, &mut work.deletes);
        match history::purge(env, &account, upto, &mut floors, writes, deletes) {
            Ok(n) => run.report.history_purged += n,
            Err(_) => {
                run.report.failed += 1;
                work.requeue.push((now, DueItem::History { account, upto }));
            }
        }
    }
    for id in links {
        match join_links::purge(env, &id, &mut work.deletes) {
            Ok(true) => run.report.join_links_purged += 1,
            Ok(false) => {}
            Err(_) => {
                run.report.failed += 1;
                work.requeue.push((now, DueItem::JoinLink(id)));
            }
        }
    }
    if forget_idempotency(env, &idempotency, &mut work).is_err() {
        run.report.failed += idempotency.len();
    }

    // 4. Write what comes next, then drop what was handled, then move on. If
    // this fails, the entries stay and the next run handles them again.
    let closing = (|| -> Result<()> {
        work.writes.extend(queue::entries(env, &work.requeue)?);
        store::set_many(env.store, &work.writes)?;
        work.deletes.extend(entry_keys);
        work.deletes.extend(finished_buckets);
        store::delete_many(env.store, &work.deletes)?;
        save_watermark(env, saved.is_some(), bucket, next)
    })();
    if closing.is_err() {
        run.report.failed += 1;
        more = true;
    }
    run.report.more = more;
    Ok(run)
}

/// Writes collected over a run, done together at its end.
#[derive(Default)]
struct Work {
    requeue: Vec<(Timestamp, DueItem)>,
    writes: Vec<(String, Vec<u8>)>,
    deletes: Vec<String>,
}

/// Accounts met during a run, read once each.
#[derive(Default)]
struct Accounts(BTreeMap<String, Option<Account>>);

impl Accounts {
    fn get(&mut self, env: &Env, id: &crate::ids::AccountId) -> Result<Option<&Account>> {
        if !self.0.contains_key(id.as_str()) {
            let account: Option<Account> = store::get_json(env.store, &keys::account(id))?;
            self.0.insert(id.to_string(), account);
        }
        Ok(self.0[id.as_str()].as_ref())
    }
}

/// The records the due entries name; one that cannot be read is counted
/// and stepped over: it must not stop the sweep for everyone else.
fn load_views_tolerant(
    env: &Env,
    ids: &[InvitationId],
    report: &mut SweepReport,
) -> Result<Vec<InvitationView>> {
    let mut out = Vec::with_capacity(ids.len());
    for view in read_views(env, ids)?.into_iter().flatten() {
        match view {
            Ok(v) => out.push(v),
            Err(_) => report.failed += 1,
        }
    }
    Ok(out)
}

/// Decides and does what is due for one invitation.
fn handle(
    env: &Env,
    view: InvitationView,
    claimed: bool,
    accounts: &mut Accounts,
    work: &mut Work,
    run: &mut SweepRun,
) -> Result<()> {
    let now = env.clock.now();
    let policy = env.policy;
    let inv = &view.invitation;
    let item = DueItem::Invitation(inv.id.clone());
    let retention = policy.retention_days * 24 * 60 * 60;
    if matches!(inv.state, State::Pending) && !claimed {
        // Its invite lost the slot, or stopped before claiming it: nobody
        // can reach it. Give an invite still under way time to claim it.
        let settled = inv.created_at.plus_secs(UNCLAIMED_GRACE_SECS);
        if settled > now {
            work.requeue.push((settled, item));
        } else {
            // Its invite took a seat for it before writing it.
            if inv.seat_taken {
                seats::release(env, &inv.account_id, &[(&inv.id, inv.expires_at)])?;
            }
            // A link written with the draft (the caller's to hand over).
            if inv.link_delivery == LinkDelivery::Caller {
                work.deletes.push(keys::token(&inv.token_hash));
            }
            work.deletes
                .extend([keys::invitation(&inv.id), keys::delivery(&inv.id)]);
            if inv.log_position > 0 {
                work.deletes
                    .push(keys::invitation_log(&inv.account_id, inv.log_position));
            }
        }
        return Ok(());
    }
    match view.status {
        Status::Pending => match mail_due_at(inv, &view.delivery, policy) {
            Some(at) if at <= now => {
                let Some(name) = accounts.get(env, &inv.account_id)?.map(|a| a.name.clone()) else {
                    return Ok(());
                };
                if let Some(job) = retry_mail(env, inv, name)? {
                    work.writes.push((
                        keys::token(&job.invitation.token_hash),
                        encode(&TokenRef::of(&job.invitation)),
                    ));
                    // The link before last stops working; the last one stays valid.
                    if let Some(old) = inv.previous_token_hash {
                        work.deletes.push(keys::token(&old));
                    }
                    let attempts = view.delivery.attempts_since(inv.reissued_at);
                    let backoff = policy
                        .mail_retry_base_secs
                        .saturating_mul(1 << attempts.min(20));
                    let check = now.plus_secs(backoff.max(policy.mail_check_delay_secs));
                    work.requeue.push((check.min(inv.expires_at), item));
                    run.report.mailed += 1;
                    run.mails.push(job);
                } else {
                    work.requeue.push((now, item));
                }
            }
            Some(at) => work.requeue.push((at.min(inv.expires_at), item)),
            // Handed over by the caller: never mailed, so never reminded.
            // Bounced, or marked as spam: never mailed again unasked.
            None if inv.link_delivery == LinkDelivery::Caller
                || view.delivery.status.stops_mail() =>
            {
                work.requeue.push((inv.expires_at, item))
            }
            // Mailed: next, the reminder (if one is due) or the expiry.
            None => {
                let account = accounts.get(env, &inv.account_id)?;
                let days = account.map(|a| a.reminder_days).unwrap_or_default();
                let name = account.map(|a| a.name.clone());
                match (inv.remind_at(days), name) {
                    (Some(at), Some(name)) if at <= now && !inv.resent_since(at) => {
                        remind(env, &view, name, item, work, run)?
                    }
                    (Some(at), _) if at > now => work.requeue.push((at, item)),
                    _ => work.requeue.push((inv.expires_at, item)),
                }
            }
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
                    Actor::System,
                ));
            }
            work.requeue
                .push((inv.expires_at.plus_secs(retention), item));
        }
        _ => {
            let closed = inv.closed_at(now).unwrap_or(now);
            let purge_at = closed.plus_secs(retention);
            if purge_at > now {
                work.requeue.push((purge_at, item));
                return Ok(());
            }
            // Seal it first, so a resend racing this purge cannot renew a
            // record that is about to be deleted.
            if inv.renewable(now) && !seal(env, &inv.id)? {
                work.requeue.push((now, item));
                return Ok(());
            }
            let shards = accounts
                .get(env, &inv.account_id)?
                .map(|a| a.shards)
                .unwrap_or(policy.shards);
            let shard = keys::slot_shard(&inv.account_id, keys::shard_of(&inv.email, shards));
            slots::release(env, &shard, &inv.email, &inv.id)?;
            work.deletes
                .extend([keys::invitation(&inv.id), keys::delivery(&inv.id)]);
            work.deletes.extend(inv.token_hashes().map(keys::token));
            work.deletes
                .extend(view.delivery.message_ids.iter().map(keys::mail_message));
            if inv.log_position > 0 {
                work.deletes
                    .push(keys::invitation_log(&inv.account_id, inv.log_position));
            }
            run.report.purged += 1;
        }
    }
    Ok(())
}

/// Mails the reminder before expiry with a new link (the last one stays
/// valid), tells the app (`invitation.expiring`), and looks again when the
/// mail should have gone out. Cost: 2 round trips (the CAS).
fn remind(
    env: &Env,
    view: &InvitationView,
    account_name: AccountName,
    item: DueItem,
    work: &mut Work,
    run: &mut SweepRun,
) -> Result<()> {
    let now = env.clock.now();
    let seen = &view.invitation;
    let token = InvitationToken::generate(env.random);
    let reminded = store::update::<Invitation, Option<Invitation>>(
        env.store,
        env.random,
        &keys::invitation(&seen.id),
        |mut inv| {
            // Changed since it was read (resent, answered, reminded): look again.
            if inv.rev != seen.rev || inv.remind(now, token.hash()).is_err() {
                return Ok(Decision::Keep(None));
            }
            Ok(Decision::Write(inv.clone(), Some(inv)))
        },
    )?
    .flatten();
    let Some(invitation) = reminded else {
        work.requeue.push((now, item));
        return Ok(());
    };
    work.writes.push((
        keys::token(&invitation.token_hash),
        encode(&TokenRef::of(&invitation)),
    ));
    if let Some(old) = seen.previous_token_hash {
        work.deletes.push(keys::token(&old));
    }
    let check = now.plus_secs(env.policy.mail_check_delay_secs);
    work.requeue.push((check.min(invitation.expires_at), item));
    let event_view = InvitationView::new(invitation.clone(), view.delivery.clone(), now);
    run.events.push(Event::invitation(
        env.random,
        EventKind::InvitationExpiring,
        now,
        event_view,
        Actor::System,
    ));
    run.report.reminded += 1;
    run.mails.push(MailJob {
        kind: MailKind::Reminder,
        invitation,
        account_name,
        token,
    });
    Ok(())
}

/// How long after its creation an invitation its slot does not name is taken
/// for one whose invite failed or lost, rather than one still being claimed.
const UNCLAIMED_GRACE_SECS: i64 = 10 * 60;

/// Which of the run's pending invitations hold their address's slot (an
/// open or expired invitation always does, once its invite claimed it), read
/// together: per account met, 1 round trip for the account (the first time)
/// and 1 for the slots, +1 per level of splits below the account's shards.
fn claimed_among(
    env: &Env,
    views: &[InvitationView],
    accounts: &mut Accounts,
) -> Result<HashSet<InvitationId>> {
    let mut by_account: BTreeMap<&AccountId, Vec<&Invitation>> = BTreeMap::new();
    for v in views {
        if matches!(v.invitation.state, State::Pending) {
            by_account
                .entry(&v.invitation.account_id)
                .or_default()
                .push(&v.invitation);
        }
    }
    let mut claimed = HashSet::new();
    for (acc, invitations) in by_account {
        let Some(account) = accounts.get(env, acc)? else {
            continue;
        };
        let emails: Vec<&Email> = invitations.iter().map(|i| &i.email).collect();
        let slots = slots::slots_of(env, account, &emails)?;
        for (inv, slot) in invitations.iter().zip(slots) {
            if slot.is_some_and(|s| s.latest == inv.id) {
                claimed.insert(inv.id.clone());
            }
        }
    }
    Ok(claimed)
}

/// Forgets idempotency answers past their lifetime (not newer ones that reused the key).
fn forget_idempotency(env: &Env, items: &[(String, i64)], work: &mut Work) -> Result<()> {
    let now = env.clock.now();
    let answer_keys: Vec<String> = items
        .iter()
        .map(|(scope, _)| keys::idempotency(scope))
        .collect();
    let answers = store::get_many_raw(env.store, &answer_keys)?;
    for ((scope, hour), (answer, key)) in items.iter().zip(answers.into_iter().zip(answer_keys)) {
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
    Ok(())
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

/// Claims a mail retry by giving the invitation a new token (only hashes are
/// kept, so a link cannot be mailed twice). A concurrent sweep that read the
/// same state loses the compare-and-swap and sends nothing.
fn retry_mail(env: &Env, seen: &Invitation, account_name: AccountName) -> Result<Option<MailJob>> {
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
    Ok(rotated.map(|invitation| MailJob {
        kind: MailKind::Retry,
        invitation,
        account_name,
        token,
    }))
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
