//! One run of the scheduled sweep: named steps over what the due queue says
//! is due now. It reads only the queue, never the whole store; it is bounded
//! (at most `sweep_max_items` queue entries and `sweep_max_buckets` queue
//! minutes per run) and resumable (a watermark in the store).
//!
//! A run ([`sweep`]), with its cost in store round trips:
//!
//! 1. **Read the queue** ([`queue::scan`]): the watermark (1), the counters of
//!    the minutes that have ended (1 per 100 minutes), the entries (1).
//! 2. **Invitations** the entries name: their records (1); their accounts
//!    (1 each, once per run) and, for the pending ones, their addresses'
//!    slots (1 per account, +1 per level of splits). [`next::step`] decides
//!    which step is due for each; each step says its own cost:
//!    - **expire** ([`expire`]): write the expiry down, `invitation.expired`. 2.
//!    - **remind** ([`remind`]): the reminder mail with a new link ([`link`]),
//!      `invitation.expiring`. 2.
//!    - **retry mail** ([`mail`]): mail that did not go out, with a new link
//!      ([`link`]). 2.
//!    - **purge** ([`purge`]): a closed invitation past retention (4), a
//!      draft nobody can reach (0, or 2 if it held a seat).
//! 3. **Redeliver webhooks** ([`webhooks`]): 2 per event (3 to give one up).
//! 4. **Purge the rest** ([`purge`]): history blocks (2 each), join links
//!    (1 each), idempotency answers (1 for all).
//! 5. **Close**: requeue what comes next (1 `increment` per distinct minute),
//!    1 `set-many`, 1 `delete-many` (the entries read, and what the steps
//!    purged), the watermark (1 or 2).
//!
//! An item whose step fails is counted in `failed` and looked at again in a
//! minute; it never stops the run. Events and mail of what was done are
//! always handed back, even when the closing writes fail.

mod expire;
mod link;
mod mail;
mod next;
mod purge;
mod remind;
mod webhooks;

pub(crate) use next::backoff_secs;

use crate::effects::{Event, MailJob};
use crate::email::Email;
use crate::error::Result;
use crate::ids::{AccountId, EventId, InvitationId, JoinLinkId};
use crate::keys;
use crate::model::{Account, Invitation, InvitationView, State};
use crate::ops::read_views;
use crate::ops::webhooks::Redelivery;
use crate::queue::{self, DueItem, Watermark};
use crate::store::{self, decode};
use crate::time::Timestamp;
use crate::{slots, Env};
use next::Step;
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

/// Writes collected over a run, done together at its end.
pub(crate) struct Work {
    now: Timestamp,
    requeue: Vec<(Timestamp, DueItem)>,
    writes: Vec<(String, Vec<u8>)>,
    deletes: Vec<String>,
}

impl Work {
    /// An item whose step failed: counted, and looked at again next run.
    fn failed(&mut self, item: DueItem, report: &mut SweepReport) {
        report.failed += 1;
        self.requeue.push((self.now, item));
    }
}

/// Accounts met during a run, read once each.
#[derive(Default)]
pub(crate) struct Accounts(BTreeMap<String, Option<Account>>);

impl Accounts {
    fn get(&mut self, env: &Env, id: &AccountId) -> Result<Option<&Account>> {
        if !self.0.contains_key(id.as_str()) {
            let account: Option<Account> = store::get_json(env.store, &keys::account(id))?;
            self.0.insert(id.to_string(), account);
        }
        Ok(self.0[id.as_str()].as_ref())
    }
}

/// What the queue entries of a run name, by kind.
#[derive(Default)]
struct Due {
    invitations: BTreeSet<InvitationId>,
    idempotency: Vec<(String, i64)>,
    webhooks: Vec<(EventId, u32)>,
    histories: Vec<(AccountId, i64)>,
    join_links: Vec<JoinLinkId>,
}

impl Due {
    /// An entry that cannot be read is counted and dropped: it must not stop
    /// the sweep for everyone else.
    fn read(env: &Env, entry_keys: &[String], report: &mut SweepReport) -> Result<Due> {
        let mut due = Due::default();
        for (value, key) in store::get_many_raw(env.store, entry_keys)?
            .iter()
            .zip(entry_keys)
        {
            match value.as_deref().map(|b| decode::<DueItem>(key, b)) {
                Some(Ok(DueItem::Invitation(id))) => {
                    due.invitations.insert(id);
                }
                Some(Ok(DueItem::Idempotency { scope, hour })) => {
                    due.idempotency.push((scope, hour))
                }
                Some(Ok(DueItem::Webhook { id, after })) => due.webhooks.push((id, after)),
                Some(Ok(DueItem::History { account, upto })) => due.histories.push((account, upto)),
                Some(Ok(DueItem::JoinLink(id))) => due.join_links.push(id),
                Some(Err(_)) => report.failed += 1,
                None => {}
            }
        }
        Ok(due)
    }
}

pub fn sweep(env: &Env) -> Result<SweepRun> {
    let now = env.clock.now();
    // No account was ever created, so only idempotency answers (which need
    // no account) can have been queued, within their lifetime.
    let first = now.plus_secs(-env.policy.idempotency_ttl_secs - 3600);
    let (from, exists) = Watermark::load(env, first)?;
    let scan = queue::scan(env, &from, now)?;
    let mut run = SweepRun {
        report: SweepReport::default(),
        mails: Vec::new(),
        events: Vec::new(),
        webhooks: Vec::new(),
    };
    let mut work = Work {
        now,
        requeue: Vec::new(),
        writes: Vec::new(),
        deletes: Vec::new(),
    };
    let due = Due::read(env, &scan.entry_keys, &mut run.report)?;

    let ids: Vec<InvitationId> = due.invitations.into_iter().collect();
    invitations(env, &ids, &mut work, &mut run)?;
    webhooks::redeliver(env, due.webhooks, &mut work, &mut run);
    purge::histories(env, due.histories, &mut work, &mut run);
    purge::join_links(env, due.join_links, &mut work, &mut run);
    purge::idempotency_answers(env, due.idempotency, &mut work, &mut run);

    // Write what comes next, then drop what was handled, then move on. If
    // this fails, the entries stay and the next run handles them again.
    let closing = (|| -> Result<()> {
        work.writes.extend(queue::entries(env, &work.requeue)?);
        store::set_many(env.store, &work.writes)?;
        work.deletes.extend(scan.entry_keys);
        work.deletes.extend(scan.finished_buckets);
        store::delete_many(env.store, &work.deletes)?;
        scan.watermark.save(env, exists)
    })();
    if closing.is_err() {
        run.report.failed += 1;
    }
    run.report.more = scan.more || closing.is_err();
    Ok(run)
}

/// The steps for the invitations the queue named (step 2 above).
fn invitations(env: &Env, ids: &[InvitationId], work: &mut Work, run: &mut SweepRun) -> Result<()> {
    let now = env.clock.now();
    // A record that cannot be read is counted and stepped over.
    let mut views = Vec::with_capacity(ids.len());
    for view in read_views(env, ids)?.into_iter().flatten() {
        match view {
            Ok(v) => views.push(v),
            Err(_) => run.report.failed += 1,
        }
    }
    let mut accounts = Accounts::default();
    let claimed = claimed_among(env, &views, &mut accounts)?;
    for view in views {
        let inv = &view.invitation;
        let item = DueItem::Invitation(inv.id.clone());
        let claimed = claimed.contains(&inv.id);
        let step = {
            // Read already for the pending ones (their slots), and needed only by them.
            let account = match inv.state {
                State::Pending => accounts.get(env, &inv.account_id).ok().flatten(),
                _ => None,
            };
            next::step(&view, claimed, account, now, env.policy)
        };
        let done = match step {
            Step::Later(at) => {
                work.requeue.push((at, item.clone()));
                Ok(())
            }
            Step::Forget => Ok(()),
            Step::DropUnreachable => purge::unreachable(env, inv, work),
            Step::RetryMail(name) => mail::retry(env, &view, name, work, run),
            Step::Remind(name) => remind::remind(env, &view, name, work, run),
            Step::Expire => expire::expire(env, &view, work, run),
            Step::Purge => purge::closed(env, &view, &mut accounts, work, run),
        };
        if done.is_err() {
            work.failed(item, &mut run.report);
        }
    }
    Ok(())
}

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

#[cfg(test)]
mod tests;
