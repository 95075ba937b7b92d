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
    let mut items = Vec::new();
    for _ in 0..MAX_BATCHES_PER_PAGE {
        if position < 1 || items.len() >= limit {
            break;
        }
        let want = (limit - items.len()) as i64;
        let low = (position - want + 1).max(1);
        let log_keys: Vec<String> = (low..=position)
            .rev()
            .map(|s| keys::invitation_log(acc, s))
            .collect();
        let entries = store::get_many_raw(env.store, &log_keys)?;
        let mut ids = Vec::new();
        for (value, key) in entries.iter().zip(&log_keys) {
            if let Some(bytes) = value {
                ids.push(decode::<InvitationId>(key, bytes)?);
            }
        }
        items.extend(
            load_views(env, &ids)?
                .into_iter()
                .flatten()
                .filter(|v| keep(v)),
        );
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
