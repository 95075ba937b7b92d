//! The sweep's purge of a link that stopped working.

use crate::error::Result;
use crate::ids::JoinLinkId;
use crate::keys;
use crate::model::JoinLink;

use crate::store;
use crate::Env;

/// The sweep's purge of a link `retention_days` after it stopped working:
/// its record, use counter, token and place in the account's link log are
/// added to `deletes`. Returns whether there was one to purge. 1 round trip.
pub(crate) fn purge(env: &Env, id: &JoinLinkId, deletes: &mut Vec<String>) -> Result<bool> {
    let Some(link) = store::get_json::<JoinLink>(env.store, &keys::join_link(id))? else {
        return Ok(false);
    };
    let closed = link
        .revoked
        .as_ref()
        .map_or(link.expires_at, |r| r.revoked_at.min(link.expires_at));
    if closed.plus_secs(env.policy.retention_days * 24 * 60 * 60) > env.clock.now() {
        return Ok(false);
    }
    deletes.extend([
        keys::join_link(id),
        keys::join_link_uses(id),
        keys::join_link_token(&link.token_hash),
        keys::join_link_log(&link.account_id, link.seq),
    ]);
    Ok(true)
}
