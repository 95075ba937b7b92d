//! What an invitee sees before signing in: who invites them, to what, until when.

use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::AccountId;
use crate::keys;
use crate::model::TokenRef;
use crate::model::{Account, Invitation, Inviter, Status};
use crate::store::{self, decode};
use crate::time::Timestamp;
use crate::token::InvitationToken;
use crate::values::{AccessGroups, AccountName, InviteRole};
use crate::Env;

#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    pub account_id: AccountId,
    pub account_name: AccountName,
    pub email: Email,
    pub role: InviteRole,
    pub access_groups: AccessGroups,
    pub invited_by: Inviter,
    pub expires_at: Timestamp,
    pub status: Status,
}

/// The token is the only credential. Cost: 2 round trips.
pub fn preview(env: &Env, token: &InvitationToken) -> Result<Preview> {
    let (invitation, account) = find_by_token(env, token)?;
    Ok(Preview {
        account_id: account.id,
        account_name: account.name,
        email: invitation.email.clone(),
        role: invitation.role,
        access_groups: invitation.access_groups.clone(),
        invited_by: invitation.invited_by.clone(),
        expires_at: invitation.expires_at,
        status: invitation.status(env.clock.now()),
    })
}

/// The invitation a token opens, and its account. Unknown, rotated and purged
/// tokens are all "not found". Cost: 2 round trips.
pub(crate) fn find_by_token(env: &Env, token: &InvitationToken) -> Result<(Invitation, Account)> {
    let hash = token.hash();
    let tok_key = keys::token(&hash);
    let Some(bytes) = env.store.get(&tok_key)? else {
        return Err(Error::InvitationNotFound);
    };
    let r: TokenRef = decode(&tok_key, &bytes)?;
    let keys = [
        keys::invitation(&r.invitation_id),
        keys::account(&r.account_id),
    ];
    let values = store::get_many_raw(env.store, &keys)?;
    let (Some(inv), Some(acct)) = (&values[0], &values[1]) else {
        return Err(Error::InvitationNotFound);
    };
    let invitation: Invitation = decode(&keys[0], inv)?;
    if !invitation.token_matches(&hash) {
        return Err(Error::InvitationNotFound);
    }
    Ok((invitation, decode(&keys[1], acct)?))
}
