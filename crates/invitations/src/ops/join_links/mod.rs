//! Shareable join links: an owner or admin makes one (`max_uses`, a lifetime,
//! optional domains), shares its URL, and people with a verified address
//! join through it until it is used up, expires or is revoked.
//!
//! `max_uses` is exact under any concurrency: a redeem takes a use with
//! `increment` on the link's own counter and goes on only if the count it got
//! is within `max_uses`. Redeems never contend, and a failure after taking a
//! use loses that use rather than ever letting one more in. An existing
//! member uses nothing. The link record changes only when revoked (CAS).

//!
//! One file per operation; what they share (the token index record, events,
//! reading a link by its token) is here.

mod create;
mod list;
mod preview;
mod purge;
mod redeem;
mod revoke;

pub use create::{create_join_link, CreatedJoinLink, NewJoinLink};
pub use list::{get_join_link, list_join_links};
pub use preview::{preview_join_link, LinkPreview};
pub(crate) use purge::purge;
pub use redeem::{redeem_join_link, Redeemed};
pub use revoke::revoke_join_link;

use crate::effects::{Actor, Event, EventKind, Subject};
use crate::error::{Error, Result};
use crate::ids::{AccountId, JoinLinkId, UserId};
use crate::keys;
use crate::model::{Account, JoinLink, JoinLinkView, Member};

use crate::store::{self, decode, decode_counter};
use crate::token::JoinLinkToken;
use crate::Env;
use serde::{Deserialize, Serialize};

/// What the token index holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct LinkRef {
    pub link_id: JoinLinkId,
    pub account_id: AccountId,
}

pub(crate) fn link_event(env: &Env, kind: EventKind, view: &JoinLinkView, actor: Actor) -> Event {
    let subject = Subject::JoinLink(Box::new(view.clone()));
    Event::new(env.random, kind, env.clock.now(), subject, actor)
}

/// The link a token opens, its use count, its account and (for `user`) their
/// membership. Cost: 2 round trips.
pub(crate) fn open(
    env: &Env,
    token: &JoinLinkToken,
    user: Option<&UserId>,
) -> Result<(JoinLink, i64, Account, Option<Member>)> {
    let hash = token.hash();
    let index_key = keys::join_link_token(&hash);
    let Some(bytes) = env.store.get(&index_key)? else {
        return Err(Error::JoinLinkNotFound);
    };
    let r: LinkRef = decode(&index_key, &bytes)?;
    let mut wanted = vec![
        keys::join_link(&r.link_id),
        keys::join_link_uses(&r.link_id),
        keys::account(&r.account_id),
    ];
    if let Some(user) = user {
        wanted.push(keys::member(&r.account_id, user));
    }
    let values = store::get_many_raw(env.store, &wanted)?;
    let (Some(link), Some(account)) = (&values[0], &values[2]) else {
        return Err(Error::JoinLinkNotFound);
    };
    let link: JoinLink = decode(&wanted[0], link)?;
    if !link.token_hash.matches(&hash) {
        return Err(Error::JoinLinkNotFound);
    }
    let membership = match values.get(3).and_then(|v| v.as_deref()) {
        Some(b) => Some(decode::<Member>(&wanted[3], b)?),
        None => None,
    };
    Ok((
        link,
        decode_counter(values[1].as_deref()),
        decode(&wanted[2], account)?,
        membership,
    ))
}
