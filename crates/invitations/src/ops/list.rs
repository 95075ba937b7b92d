//! List and get invitations.

use crate::closed::ClosedPositions;
use crate::cursor::Cursor;
use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId};
use crate::keys;
use crate::model::Account;
use crate::model::{InvitationView, LogEntry, State, Status};
use crate::ops::{
    load_access, load_access_with, load_view, load_views, load_views_knowing, log_page, log_start,
    page_size, Page,
};
use crate::principal::Principal;
use crate::{seats, slots, Env};

#[derive(Clone, Debug, Default)]
pub struct InvitationFilter {
    pub status: Option<Status>,
    pub email: Option<Email>,
}

/// Batches of records read per page at most: a page costs a bounded number of round
/// trips even when a filter skips most entries (the page may then be short,
/// with a cursor to go on).
pub const MAX_BATCHES_PER_PAGE: usize = 3;

/// Records read per batch at least when filtering by state.
pub const MIN_FILTERED_BATCH: usize = 50;

/// Newest first. Cost: 1 (access, with the log's counter for a first page,
/// and the seat ledger for a pending or expired page) + 2 per batch (its
/// entries, then its records with the deliveries no entry carries a copy
/// of; +1, and 1 per level of splits, for the slots of
/// pending invitations not yet marked claimed), at most 1 + 3·3 = 10 round
/// trips, 3 when the first batch fills the page. A pending or expired page
/// steps over the positions the ledger notes as closed for good
/// ([`crate::closed`]) without reading them. By email: 3 round trips (+1 per
/// level). An account made before the invitation log is read
/// from its slot shards whole (about 100 bytes per address): 1 (access) + 1
/// per level of shards + 1 per batch.
pub fn list_invitations(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    filter: &InvitationFilter,
    limit: Option<usize>,
    cursor: Option<Cursor>,
) -> Result<Page<InvitationView>> {
    // A first page of the log reads the log's counter with the access, and a
    // page of pending or expired invitations the positions closed for good.
    let by_log = filter.email.is_none();
    let steps_over_closed =
        by_log && matches!(filter.status, Some(Status::Pending | Status::Expired));
    let mut more = Vec::new();
    if by_log && cursor.is_none() {
        more.push(keys::invitation_seq(acc));
    }
    if steps_over_closed {
        more.push(keys::seats(acc));
    }
    let (access, mut more) = load_access_with(env, principal, acc, more)?;
    access.reader(principal)?;
    let limit = page_size(env, limit);
    let keep = |v: &InvitationView| in_state(filter, v);

    if let Some(email) = &filter.email {
        let offset = match cursor {
            None => 0,
            Some(Cursor::History(o)) => o,
            Some(_) => return Err(Error::InvalidCursor),
        };
        let history = slots::read(env, &access.account, email)?
            .map(|s| s.history)
            .unwrap_or_default();
        let ids: Vec<InvitationId> = history.iter().skip(offset).take(limit).cloned().collect();
        let items: Vec<InvitationView> = load_views(env, &ids)?
            .into_iter()
            .flatten()
            .filter(|v| v.invitation.account_id == *acc && keep(v))
            .collect();
        let next = offset + ids.len();
        let next_cursor = (next < history.len()).then_some(Cursor::History(next));
        return Ok(Page { items, next_cursor });
    }

    if access.account.invitation_log {
        let counter = if cursor.is_none() {
            more.remove(0)
        } else {
            None
        };
        let start = log_start(cursor, counter.as_deref())?;
        let skip = match more.pop() {
            Some(ledger) if steps_over_closed => {
                seats::closed_positions(&keys::seats(acc), ledger.as_deref())?
            }
            _ => ClosedPositions::default(),
        };
        return list_from_log(env, &access.account, filter, limit, start, &skip);
    }
    // An account made before the invitation log: every invitation its slots
    // remember, newest first, below the cursor (the shards are read whole).
    let all = slots::all_ids(env, &access.account)?;
    let below = match cursor {
        None => 0,
        Some(Cursor::Before(id)) => all.partition_point(|i| *i >= id),
        Some(_) => return Err(Error::InvalidCursor),
    };
    let mut rest = &all[below..];
    // A state filter may skip most entries: read wider batches then.
    let batch = if filter.status.is_some() {
        limit.max(MIN_FILTERED_BATCH)
    } else {
        limit
    };
    let mut items = Vec::new();
    let mut last_read: Option<&InvitationId> = None;
    'batches: for _ in 0..MAX_BATCHES_PER_PAGE {
        if rest.is_empty() || items.len() >= limit {
            break;
        }
        let want = if filter.status.is_some() {
            batch
        } else {
            limit - items.len()
        };
        let (ids, after) = rest.split_at(want.min(rest.len()));
        let views = load_views(env, ids)?;
        for (id, view) in ids.iter().zip(views) {
            if items.len() >= limit {
                break 'batches;
            }
            last_read = Some(id);
            if let Some(v) = view.filter(|v| v.invitation.account_id == *acc && keep(v)) {
                items.push(v);
            }
        }
        rest = after;
    }
    let more = last_read.is_some_and(|last| all.last() != Some(last));
    let next_cursor = last_read
        .filter(|_| more)
        .map(|id| Cursor::Before(id.clone()));
    Ok(Page { items, next_cursor })
}

/// A page of the account's invitation log, newest first, from the cursor's
/// position down ([`log_page`]): each batch costs 1 round trip for the
/// entries and 1 for their records; +1 (and 1 per level of splits) for the
/// slots of pending invitations whose entry is not yet marked claimed. A
/// pending entry is listed once its slot names the invitation: a draft whose
/// invite lost its address or stopped before claiming it never is. The
/// entry is marked claimed with the invitation's link, after the claim, so
/// the slot is read only for an invite still under way or one that stopped
/// before its links. An invitation in any other state was open once.
fn list_from_log(
    env: &Env,
    account: &Account,
    filter: &InvitationFilter,
    limit: usize,
    position: i64,
    skip: &ClosedPositions,
) -> Result<Page<InvitationView>> {
    let acc = &account.id;
    // A state filter may skip most entries: read wider batches then.
    let min_batch = if filter.status.is_some() {
        MIN_FILTERED_BATCH
    } else {
        0
    };
    log_page(
        env,
        |p| keys::invitation_log(acc, p),
        position,
        limit,
        min_batch,
        skip,
        |entries: Vec<(i64, LogEntry)>| {
            let mut ids = Vec::with_capacity(entries.len());
            let mut known = Vec::with_capacity(entries.len());
            let mut at = Vec::with_capacity(entries.len());
            for (p, e) in entries {
                at.push((p, matches!(e, LogEntry::Claimed { .. })));
                let (id, delivery) = e.into_parts();
                ids.push(id);
                known.push(delivery);
            }
            let found: Vec<(i64, bool, InvitationView)> = at
                .into_iter()
                .zip(load_views_knowing(env, &ids, known)?)
                .filter_map(|((p, claimed), v)| v.map(|v| (p, claimed, v)))
                .filter(|(_, _, v)| v.invitation.account_id == *acc && in_state(filter, v))
                .collect();
            let unsure = |claimed: bool, v: &InvitationView| {
                !claimed && v.invitation.state == State::Pending
            };
            let check: Vec<&Email> = found
                .iter()
                .filter(|(_, claimed, v)| unsure(*claimed, v))
                .map(|(_, _, v)| &v.invitation.email)
                .collect();
            let mut slots = slots::slots_of(env, account, &check)?.into_iter();
            Ok(found
                .into_iter()
                .filter(|(_, claimed, v)| {
                    let id = &v.invitation.id;
                    !unsure(*claimed, v)
                        || slots
                            .next()
                            .flatten()
                            .is_some_and(|s| s.latest == *id || s.history.contains(id))
                })
                .map(|(p, _, v)| (p, v))
                .collect())
        },
    )
}

fn in_state(filter: &InvitationFilter, view: &InvitationView) -> bool {
    filter.status.is_none_or(|s| view.status == s)
}

/// Cost: 2 round trips.
pub fn get_invitation(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    id: &InvitationId,
) -> Result<InvitationView> {
    let access = load_access(env, principal, acc)?;
    access.reader(principal)?;
    match load_view(env, id)? {
        Some(v) if v.invitation.account_id == *acc => Ok(v),
        _ => Err(Error::InvitationNotFound),
    }
}
