//! The invitee's inbox: a signed-in user's open invitations across every
//! account, found by their verified address.
//!
//! The index is a log per address: a counter (`v1/inbox/{email}/n`, touched
//! only by `increment`, so two accounts inviting one new address at once both
//! get a place) and entries naming an account and an invitation. An entry is
//! written with the first recorded outcome of an invitation's mail (just
//! after it went out, so it never delays the mail; if the instance died
//! first, nothing was recorded and the sweep's retry records and names it).
//! Entries are hints: a page shows only what the invitation record confirms
//! is open and for this address, and an invitation named twice once.

use crate::cursor::Cursor;
use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId};
use crate::keys;
use crate::model::{Account, Invitation};
use crate::ops::list::MAX_BATCHES_PER_PAGE;
use crate::ops::{load_invitations, page_size, Page};
use crate::principal::Principal;
use crate::store::{self, decode, decode_counter, encode};
use crate::values::AccountName;
use crate::Env;
use std::collections::{HashMap, HashSet};

/// What an inbox entry names.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Entry {
    account_id: AccountId,
    invitation_id: InvitationId,
}

/// An open invitation, and the name of the account it is to.
#[derive(Clone, Debug, PartialEq)]
pub struct InboxItem {
    pub invitation: Invitation,
    pub account_name: AccountName,
}

/// The entry naming `inv` in its address's inbox, at a new place in the log.
/// Cost: 1 round trip (`increment`); the entry goes into the caller's `set-many`.
pub(crate) fn entry(env: &Env, inv: &Invitation) -> Result<(String, Vec<u8>)> {
    let position = store::increment(env, &keys::inbox_count(&inv.email), 1)?;
    let entry = Entry {
        account_id: inv.account_id.clone(),
        invitation_id: inv.id.clone(),
    };
    Ok((keys::inbox_entry(&inv.email, position), encode(&entry)))
}

/// The caller's open invitations, newest first. Their email must be verified
/// (`403 email_unverified`): it is the only thing that makes them theirs.
/// Cost: 1 + at most 3 batches of (entries, invitations, accounts) = 10
/// round trips, however many accounts exist.
pub fn my_invitations(
    env: &Env,
    principal: &Principal,
    limit: Option<usize>,
    cursor: Option<Cursor>,
) -> Result<Page<InboxItem>> {
    let user = principal
        .user()
        .ok_or(Error::Forbidden("service principals have no invitations"))?;
    let email: &Email = match (&user.email, user.email_verified) {
        (Some(e), true) => e,
        _ => return Err(Error::EmailUnverified),
    };
    let now = env.clock.now();
    let limit = page_size(env, limit);
    let mut position = match cursor {
        None => decode_counter(env.store.get(&keys::inbox_count(email))?.as_deref()),
        Some(Cursor::Log(n)) => n,
        Some(_) => return Err(Error::InvalidCursor),
    };
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    for _ in 0..MAX_BATCHES_PER_PAGE {
        if position < 1 || items.len() >= limit {
            break;
        }
        let low = (position - (limit - items.len()) as i64 + 1).max(1);
        let entry_keys: Vec<String> = (low..=position)
            .rev()
            .map(|n| keys::inbox_entry(email, n))
            .collect();
        position = low - 1;
        let mut named = Vec::new();
        for (value, key) in store::get_many_raw(env.store, &entry_keys)?
            .into_iter()
            .zip(&entry_keys)
        {
            if let Some(bytes) = value {
                let e: Entry = decode(key, &bytes)?;
                if seen.insert(e.invitation_id.clone()) {
                    named.push(e);
                }
            }
        }
        let ids: Vec<InvitationId> = named.iter().map(|e| e.invitation_id.clone()).collect();
        let open: Vec<Invitation> = load_invitations(env, &ids)?
            .into_iter()
            .zip(&named)
            .filter_map(|(inv, e)| {
                inv.filter(|i| i.account_id == e.account_id && i.email == *email && i.is_open(now))
            })
            .collect();
        let names = account_names(env, &open)?;
        items.extend(open.into_iter().filter_map(|invitation| {
            let account_name = names.get(&invitation.account_id)?.clone();
            Some(InboxItem {
                invitation,
                account_name,
            })
        }));
    }
    let next_cursor = (position >= 1).then_some(Cursor::Log(position));
    Ok(Page { items, next_cursor })
}

/// The names of the accounts these invitations are to. 1 round trip (none
/// for none).
fn account_names(env: &Env, invitations: &[Invitation]) -> Result<HashMap<AccountId, AccountName>> {
    let mut ids: Vec<&AccountId> = invitations.iter().map(|i| &i.account_id).collect();
    ids.sort();
    ids.dedup();
    let account_keys: Vec<String> = ids.iter().map(|a| keys::account(a)).collect();
    let mut names = HashMap::new();
    for (value, key) in store::get_many_raw(env.store, &account_keys)?
        .into_iter()
        .zip(&account_keys)
    {
        if let Some(bytes) = value {
            let a: Account = decode(key, &bytes)?;
            names.insert(a.id, a.name);
        }
    }
    Ok(names)
}
