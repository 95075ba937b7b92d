//! List and get invitations.

use crate::cursor::Cursor;
use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId};
use crate::keys;
use crate::model::{InvitationView, Status};
use crate::ops::{load_access, load_view, load_views, page_size, Page};
use crate::principal::Principal;
use crate::store::{self, decode, decode_counter};
use crate::{slots, Env};

#[derive(Clone, Debug, Default)]
pub struct InvitationFilter {
    pub status: Option<Status>,
    pub email: Option<Email>,
}

/// Log batches read per page at most: a page costs a bounded number of round
/// trips even when a filter skips most entries (the page may then be short,
/// with a cursor to go on).
pub const MAX_BATCHES_PER_PAGE: usize = 3;

/// Log entries read per batch at least when filtering by state.
pub const MIN_FILTERED_BATCH: usize = 50;

/// Newest first. Cost: 1 (access) + 1 (log head) + 2 per batch, at most
/// 2 + 2·3 = 8 round trips; by email: 3 round trips.
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
            Some(Cursor::Log(_)) => return Err(Error::InvalidCursor),
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

    let mut position = match cursor {
        None => decode_counter(env.store.get(&keys::invitation_seq(acc))?.as_deref()),
        Some(Cursor::Log(seq)) => seq,
        Some(Cursor::History(_)) => return Err(Error::InvalidCursor),
    };
    // A state filter may skip most entries: read wider batches then.
    let batch = if filter.status.is_some() {
        limit.max(MIN_FILTERED_BATCH)
    } else {
        limit
    };
    let mut items = Vec::new();
    'batches: for _ in 0..MAX_BATCHES_PER_PAGE {
        if position < 1 || items.len() >= limit {
            break;
        }
        let want = if filter.status.is_some() {
            batch
        } else {
            limit - items.len()
        };
        let low = (position - want as i64 + 1).max(1);
        let seqs: Vec<i64> = (low..=position).rev().collect();
        let log_keys: Vec<String> = seqs.iter().map(|s| keys::invitation_log(acc, *s)).collect();
        let entries = store::get_many_raw(env.store, &log_keys)?;
        let mut found: Vec<(i64, InvitationId)> = Vec::new();
        for ((value, key), seq) in entries.iter().zip(&log_keys).zip(&seqs) {
            if let Some(bytes) = value {
                found.push((*seq, decode::<InvitationId>(key, bytes)?));
            }
        }
        let ids: Vec<InvitationId> = found.iter().map(|(_, id)| id.clone()).collect();
        let views = load_views(env, &ids)?;
        for ((seq, _), view) in found.iter().zip(views) {
            if items.len() >= limit {
                // The page is full: the next page starts at this entry.
                position = *seq;
                break 'batches;
            }
            if let Some(v) = view.filter(|v| keep(v)) {
                items.push(v);
            }
        }
        position = low - 1;
    }
    let next_cursor = (position >= 1).then_some(Cursor::Log(position));
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
