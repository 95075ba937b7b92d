//! List and get invitations.

use crate::cursor::Cursor;
use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId};
use crate::model::{InvitationView, Status};
use crate::ops::{load_access, load_view, load_views, page_size, Page};
use crate::principal::Principal;
use crate::{slots, Env};

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

/// Newest first. Cost: 1 (access) + 1 (all slot shards) + 1 per batch, at
/// most 2 + 3 = 5 round trips; by email: 3 round trips. The shards are read
/// whole, so a page reads the account's index (about 100 bytes per address).
pub fn list_invitations(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    filter: &InvitationFilter,
    limit: Option<usize>,
    cursor: Option<Cursor>,
) -> Result<Page<InvitationView>> {
    let access = load_access(env, principal, acc)?;
    access.reader(principal)?;
    let limit = page_size(env, limit);
    let keep = |v: &InvitationView| filter.status.is_none_or(|s| v.status == s);

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

    // Every invitation the slots remember, newest first, below the cursor.
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
