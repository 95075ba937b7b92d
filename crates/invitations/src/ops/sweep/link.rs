//! A new link for a mail the sweep sends (a retry or a reminder).

use super::Work;
use crate::error::Result;
use crate::keys;
use crate::model::{Invitation, TokenRef};
use crate::queue::DueItem;
use crate::store::{self, encode, Decision};
use crate::time::Timestamp;
use crate::token::{InvitationToken, TokenHash};
use crate::Env;

/// Gives the invitation read as `seen` a new token by compare-and-swap:
/// `change` makes the change on the stored record, or refuses it (false)
/// when the record moved on since it was read; then it is looked at again
/// next run and `None` comes back. Only hashes are kept, so a link is never
/// mailed twice: a concurrent sweep that read the same state loses the swap
/// and sends nothing. The new link's hash rides in the run's closing writes,
/// and the link before last is deleted (the last one stays valid).
/// Cost: 2 round trips.
pub(super) fn new_link(
    env: &Env,
    seen: &Invitation,
    work: &mut Work,
    change: impl Fn(&mut Invitation, Timestamp, TokenHash) -> bool,
) -> Result<Option<(Invitation, InvitationToken)>> {
    let now = env.clock.now();
    let token = InvitationToken::generate(env.random);
    let changed = store::update::<Invitation, Option<Invitation>>(
        env.store,
        env.random,
        &keys::invitation(&seen.id),
        |mut inv| {
            if !change(&mut inv, now, token.hash()) {
                return Ok(Decision::Keep(None));
            }
            Ok(Decision::Write(inv.clone(), Some(inv)))
        },
    )?
    .flatten();
    let Some(invitation) = changed else {
        work.requeue
            .push((now, DueItem::Invitation(seen.id.clone())));
        return Ok(None);
    };
    work.writes.push((
        keys::token(&invitation.token_hash),
        encode(&TokenRef::of(&invitation)),
    ));
    if let Some(old) = seen.previous_token_hash {
        work.deletes.push(keys::token(&old));
    }
    Ok(Some((invitation, token)))
}
