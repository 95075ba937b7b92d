//! Revoke a join link.

use crate::effects::{Actor, Event, EventKind};
use crate::error::{Error, Result};
use crate::ids::{AccountId, JoinLinkId};
use crate::keys;
use crate::model::{JoinLink, JoinLinkView};

use super::link_event;
use crate::ops::load_access;
use crate::principal::Principal;
use crate::store::{self, decode_counter, Decision};
use crate::Env;

/// Revokes a link at once: nobody joins through it after this answer.
/// Revoking it again answers it as it is. Owners and admins.
/// Cost: 4 round trips (access, CAS, the use counter), 1 write.
pub fn revoke_join_link(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    id: &JoinLinkId,
) -> Result<(JoinLinkView, Vec<Event>)> {
    let now = env.clock.now();
    let access = load_access(env, principal, acc)?;
    let user = access.manager(principal)?;
    let (link, newly) = store::update::<JoinLink, (JoinLink, bool)>(
        env.store,
        env.random,
        &keys::join_link(id),
        |mut link| {
            if link.account_id != *acc {
                return Err(Error::JoinLinkNotFound);
            }
            if link.revoke(now, &user.id) {
                Ok(Decision::Write(link.clone(), (link, true)))
            } else {
                Ok(Decision::Keep((link, false)))
            }
        },
    )?
    .ok_or(Error::JoinLinkNotFound)?;
    // The revocation stands: a failed read of the count shows none.
    let uses = env.store.get(&keys::join_link_uses(id)).ok().flatten();
    let view = JoinLinkView::new(link, decode_counter(uses.as_deref()), now);
    let events = if newly {
        vec![link_event(
            env,
            EventKind::JoinLinkRevoked,
            &view,
            Actor::user(user),
        )]
    } else {
        Vec::new()
    };
    Ok((view, events))
}
