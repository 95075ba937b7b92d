//! The operations, one file each: parse what is left to parse, apply the
//! rules, touch the store as few times as possible.

pub mod accept;
pub mod accounts;
pub mod cancel;
pub mod decline;
pub mod deliveries;
pub mod history;
pub mod idempotency;
pub mod inbox;
pub mod invite;
pub mod join_links;
pub mod list;
pub mod mail_events;
pub mod members;
pub mod preview;
pub mod resend;
pub mod sweep;
pub mod update_member;
pub mod webhooks;

use crate::closed::ClosedPositions;
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId};
use crate::keys;
use crate::model::{Account, Delivery, Invitation, InvitationView, Member};
use crate::principal::{Principal, User};
use crate::store::{self, decode};
use crate::values::Role;
use crate::Env;
use serde::de::DeserializeOwned;

/// A page of a list, with the cursor of the next page if there is one.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<crate::cursor::Cursor>,
}

/// A page of an account log read newest first (the invitation log, the
/// member log, the join link log): at most [`list::MAX_BATCHES_PER_PAGE`]
/// batches of entries from `position` down, each at least `min_batch`
/// entries (a filter that skips most entries reads wider). `read` turns a
/// batch's (position, id) pairs into the items it keeps, each with its
/// position, newest first; the cursor resumes just below the last item shown.
/// Positions in `skip` are stepped over unread.
/// Cost: 1 round trip per batch, plus what `read` reads.
pub(crate) fn log_page<Id: DeserializeOwned, T>(
    env: &Env,
    entry_key: impl Fn(i64) -> String,
    mut position: i64,
    limit: usize,
    min_batch: usize,
    skip: &ClosedPositions,
    mut read: impl FnMut(Vec<(i64, Id)>) -> Result<Vec<(i64, T)>>,
) -> Result<Page<T>> {
    let mut items = Vec::new();
    for _ in 0..list::MAX_BATCHES_PER_PAGE {
        position = skip.open_at_or_below(position);
        if position < 1 || items.len() >= limit {
            break;
        }
        let room = limit - items.len();
        let mut seqs: Vec<i64> = Vec::with_capacity(room.max(min_batch));
        let mut next = position;
        while next >= 1 && seqs.len() < room.max(min_batch) {
            seqs.push(next);
            next = skip.open_at_or_below(next - 1);
        }
        let low = seqs.last().copied().unwrap_or(1);
        let entry_keys: Vec<String> = seqs.iter().map(|s| entry_key(*s)).collect();
        let values = store::get_many_raw(env.store, &entry_keys)?;
        let mut ids = Vec::new();
        for ((value, key), seq) in values.iter().zip(&entry_keys).zip(&seqs) {
            if let Some(bytes) = value {
                ids.push((*seq, decode(key, bytes)?));
            }
        }
        let mut found = read(ids)?;
        position = low - 1;
        if found.len() > room {
            found.truncate(room);
            position = found.last().map_or(position, |(seq, _)| seq - 1);
        }
        items.extend(found.into_iter().map(|(_, item)| item));
    }
    // No cursor when all that is left below is stepped over.
    let position = skip.open_at_or_below(position);
    let next_cursor = (position >= 1).then_some(crate::cursor::Cursor::Log(position));
    Ok(Page { items, next_cursor })
}

/// [`load_access`] with, for a first page, the counter of the account log
/// it starts from, in the same round trip. Returns where the page starts:
/// the cursor's position, or the counter.
pub(crate) fn access_and_start(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    counter: String,
    cursor: Option<crate::cursor::Cursor>,
) -> Result<(Access, i64)> {
    let more: Vec<String> = cursor.is_none().then_some(counter).into_iter().collect();
    let (access, values) = load_access_with(env, principal, acc, more)?;
    let counter = values.first().and_then(|v| v.as_deref());
    Ok((access, log_start(cursor, counter)?))
}

/// Where a newest-first page of an account log starts: the cursor's
/// position, or for a first page the log's counter as read.
pub(crate) fn log_start(
    cursor: Option<crate::cursor::Cursor>,
    counter: Option<&[u8]>,
) -> Result<i64> {
    use crate::cursor::Cursor;
    match cursor {
        None => Ok(crate::store::decode_counter(counter)),
        Some(Cursor::Log(position)) => Ok(position),
        Some(_) => Err(Error::InvalidCursor),
    }
}

/// Reads invitations by id in one round trip (none if `ids` is empty).
pub(crate) fn load_invitations(env: &Env, ids: &[InvitationId]) -> Result<Vec<Option<Invitation>>> {
    let keys: Vec<String> = ids.iter().map(keys::invitation).collect();
    store::get_many_raw(env.store, &keys)?
        .into_iter()
        .zip(&keys)
        .map(|(v, k)| v.map(|b| decode(k, &b)).transpose())
        .collect()
}

/// Reads invitations with their deliveries in one round trip. Each is
/// absent, read, or the error of a value that does not decode, so a caller
/// can fail whole or step over what is corrupt.
pub(crate) fn read_views(
    env: &Env,
    ids: &[InvitationId],
) -> Result<Vec<Option<Result<InvitationView>>>> {
    read_views_knowing(env, ids, vec![None; ids.len()])
}

/// [`read_views`] of invitations some of whose deliveries are known (the
/// copies in their log entries, `known[i]` for `ids[i]`): only the others'
/// delivery records are read.
pub(crate) fn read_views_knowing(
    env: &Env,
    ids: &[InvitationId],
    known: Vec<Option<Delivery>>,
) -> Result<Vec<Option<Result<InvitationView>>>> {
    let now = env.clock.now();
    let mut keys = Vec::with_capacity(ids.len() * 2);
    for (id, known) in ids.iter().zip(&known) {
        keys.push(keys::invitation(id));
        if known.is_none() {
            keys.push(keys::delivery(id));
        }
    }
    let mut values = keys.iter().zip(store::get_many_raw(env.store, &keys)?);
    let mut views = Vec::with_capacity(ids.len());
    for known in known.into_iter().take(ids.len()) {
        let Some((inv_key, inv)) = values.next() else {
            break;
        };
        let read = if known.is_none() { values.next() } else { None };
        views.push(inv.map(|inv| {
            let inv: Invitation = decode(inv_key, &inv)?;
            let dlv: Option<Delivery> = match (known, read) {
                (Some(d), _) => Some(d),
                (None, Some((key, Some(b)))) => Some(decode(key, &b)?),
                (None, _) => None,
            };
            Ok(InvitationView::new(inv, dlv.unwrap_or_default(), now))
        }));
    }
    Ok(views)
}

/// Reads invitations with their deliveries in one round trip; any corrupt value fails it.
pub(crate) fn load_views(env: &Env, ids: &[InvitationId]) -> Result<Vec<Option<InvitationView>>> {
    load_views_knowing(env, ids, vec![None; ids.len()])
}

/// [`load_views`], reading only the deliveries not in `known` ([`read_views_knowing`]).
pub(crate) fn load_views_knowing(
    env: &Env,
    ids: &[InvitationId],
    known: Vec<Option<Delivery>>,
) -> Result<Vec<Option<InvitationView>>> {
    read_views_knowing(env, ids, known)?
        .into_iter()
        .map(Option::transpose)
        .collect()
}

pub(crate) fn load_view(env: &Env, id: &InvitationId) -> Result<Option<InvitationView>> {
    Ok(load_views(env, std::slice::from_ref(id))?.pop().flatten())
}

/// The account and the caller's membership in it, read together in one round trip.
pub(crate) struct Access {
    pub account: Account,
    pub membership: Option<Member>,
}

pub(crate) fn load_access(env: &Env, principal: &Principal, acc: &AccountId) -> Result<Access> {
    Ok(load_access_with(env, principal, acc, Vec::new())?.0)
}

/// [`load_access`], reading `more` keys in the same round trip; their
/// values come back in order.
pub(crate) fn load_access_with(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    more: Vec<String>,
) -> Result<(Access, Vec<Option<Vec<u8>>>)> {
    let mut keys = vec![keys::account(acc)];
    if let Some(user) = principal.user() {
        keys.push(keys::member(acc, &user.id));
    }
    let fixed = keys.len();
    keys.extend(more);
    let mut values = store::get_many_raw(env.store, &keys)?;
    let extra = values.split_off(fixed);
    let account: Account = match values[0].as_deref() {
        Some(b) => decode(&keys[0], b)?,
        None => return Err(Error::AccountNotFound),
    };
    let membership: Option<Member> = match values.get(1).and_then(|v| v.as_deref()) {
        Some(b) => Some(decode(&keys[1], b)?).filter(|m: &Member| m.is_active()),
        None => None,
    };
    Ok((
        Access {
            account,
            membership,
        },
        extra,
    ))
}

impl Access {
    /// Owners and admins change invitations and members; services never do.
    pub fn manager<'p>(&self, principal: &'p Principal) -> Result<&'p User> {
        let user = match principal {
            Principal::User(u) => u,
            Principal::Service { .. } => {
                return Err(Error::Forbidden(
                    "service principals may read but not invite, cancel, resend or remove",
                ))
            }
        };
        match &self.membership {
            None => Err(Error::AccountNotFound),
            Some(m) if m.role.manages() => Ok(user),
            Some(_) => Err(Error::Forbidden(
                "only owners and admins can manage invitations and members",
            )),
        }
    }

    /// Reading invitations and the member list: managers, and services.
    pub fn reader(&self, principal: &Principal) -> Result<()> {
        match (principal, &self.membership) {
            (Principal::Service { .. }, _) => Ok(()),
            (Principal::User(_), None) => Err(Error::AccountNotFound),
            (Principal::User(_), Some(m)) if m.role.manages() => Ok(()),
            (Principal::User(_), Some(_)) => Err(Error::Forbidden(
                "members can only read their own membership",
            )),
        }
    }

    pub fn role(&self) -> Option<Role> {
        self.membership.as_ref().map(|m| m.role)
    }
}

/// Clamps a requested page size to 1..=max.
pub(crate) fn page_size(env: &Env, requested: Option<usize>) -> usize {
    requested.unwrap_or(20).clamp(1, env.policy.max_page_size)
}
