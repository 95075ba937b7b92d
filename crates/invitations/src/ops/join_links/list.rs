//! List an account's join links, or read one.

use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::ids::{AccountId, JoinLinkId};
use crate::keys;
use crate::model::{JoinLink, JoinLinkView};

use crate::closed::ClosedPositions;
use crate::ops::{access_and_start, load_access, log_page, page_size, Page};
use crate::principal::Principal;
use crate::store::{self, decode, decode_counter};
use crate::time::Timestamp;
use crate::Env;

/// Reads links and their use counters together.
fn read_views(env: &Env, ids: &[JoinLinkId], now: Timestamp) -> Result<Vec<Option<JoinLinkView>>> {
    let keys: Vec<String> = ids
        .iter()
        .flat_map(|id| [keys::join_link(id), keys::join_link_uses(id)])
        .collect();
    let values = store::get_many_raw(env.store, &keys)?;
    values
        .chunks(2)
        .zip(keys.chunks(2))
        .map(|(v, k)| match &v[0] {
            Some(bytes) => {
                let link: JoinLink = decode(&k[0], bytes)?;
                Ok(Some(JoinLinkView::new(
                    link,
                    decode_counter(v[1].as_deref()),
                    now,
                )))
            }
            None => Ok(None),
        })
        .collect()
}

/// The account's links, newest first, with their uses; owners, admins and
/// services. Cost: at most 1 + 2·3 = 7 round trips (the access and the
/// log's counter together, then 2 per batch).
pub fn list_join_links(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    limit: Option<usize>,
    cursor: Option<Cursor>,
) -> Result<Page<JoinLinkView>> {
    let now = env.clock.now();
    let counter = keys::join_link_count(acc);
    let (access, position) = access_and_start(env, principal, acc, counter, cursor)?;
    access.reader(principal)?;
    let limit = page_size(env, limit);
    log_page(
        env,
        |seq| keys::join_link_log(acc, seq),
        position,
        limit,
        0,
        &ClosedPositions::default(),
        |entries: Vec<(i64, JoinLinkId)>| {
            let ids: Vec<JoinLinkId> = entries.iter().map(|(_, id)| id.clone()).collect();
            Ok(entries
                .iter()
                .zip(read_views(env, &ids, now)?)
                .filter_map(|((seq, _), v)| v.map(|v| (*seq, v)))
                .filter(|(_, v)| v.link.account_id == *acc)
                .collect())
        },
    )
}

/// One link of the account. Cost: 2 round trips.
pub fn get_join_link(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    id: &JoinLinkId,
) -> Result<JoinLinkView> {
    let access = load_access(env, principal, acc)?;
    access.reader(principal)?;
    read_views(env, std::slice::from_ref(id), env.clock.now())?
        .pop()
        .flatten()
        .filter(|v| v.link.account_id == *acc)
        .ok_or(Error::JoinLinkNotFound)
}
