//! What a join link offers, for its page.

use crate::error::Result;
use crate::model::{Inviter, JoinLinkView, LinkStatus};

use super::open;
use crate::time::Timestamp;
use crate::token::JoinLinkToken;
use crate::values::{AccessGroups, AccountName, InviteRole};
use crate::Env;

/// What the `/join?link=` page shows.
#[derive(Clone, Debug)]
pub struct LinkPreview {
    pub account_name: AccountName,
    pub role: InviteRole,
    pub access_groups: AccessGroups,
    pub created_by: Inviter,
    pub expires_at: Timestamp,
    pub status: LinkStatus,
}

/// No sign-in: the link is the credential. Cost: 2 round trips.
pub fn preview_join_link(env: &Env, token: &JoinLinkToken) -> Result<LinkPreview> {
    let now = env.clock.now();
    let (link, uses, account, _) = open(env, token, None)?;
    let view = JoinLinkView::new(link, uses, now);
    Ok(LinkPreview {
        account_name: account.name,
        role: view.link.role,
        access_groups: view.link.access_groups,
        created_by: view.link.created_by,
        expires_at: view.link.expires_at,
        status: view.status,
    })
}
