//! Make a join link.

use crate::effects::{Actor, Event, EventKind};
use crate::email::Domain;
use crate::error::{Error, Result};
use crate::ids::{AccountId, JoinLinkId};
use crate::keys;
use crate::model::{Inviter, JoinLink, JoinLinkView};

use super::{link_event, LinkRef};
use crate::ops::load_access;
use crate::principal::Principal;
use crate::queue::{self, DueItem};
use crate::store::{self, encode};
use crate::token::JoinLinkToken;
use crate::values::{AccessGroups, InviteRole, MaxUses, Role, Ttl};
use crate::Env;

/// What a new link grants and how long it lasts.
#[derive(Clone, Debug)]
pub struct NewJoinLink {
    pub role: InviteRole,
    pub access_groups: AccessGroups,
    pub max_uses: MaxUses,
    pub ttl: Ttl,
    pub allowed_domains: Vec<Domain>,
}

/// A new link, with the only copy of its secret.
#[derive(Clone, Debug)]
pub struct CreatedJoinLink {
    pub link: JoinLinkView,
    pub token: JoinLinkToken,
    pub events: Vec<Event>,
}

/// Owners make any link; an admin only one that grants no more than they hold
/// (their role at most, and only access groups they have). Cost: 4 round
/// trips (access, `increment` of the link log, the due minute's `increment`,
/// `set-many`), 3 writes. The sweep purges the link `retention_days` after
/// it expires (a revoked one too: it expires all the same).
pub fn create_join_link(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    new: NewJoinLink,
) -> Result<CreatedJoinLink> {
    let now = env.clock.now();
    let access = load_access(env, principal, acc)?;
    let user = access.manager(principal)?;
    if let Some(m) = access.membership.as_ref().filter(|m| m.role == Role::Admin) {
        let held = m.access_groups.as_slice();
        if new
            .access_groups
            .as_slice()
            .iter()
            .any(|g| !held.contains(g))
        {
            return Err(Error::Forbidden(
                "an admin cannot make a link that grants access groups they do not hold",
            ));
        }
    }
    let account = &access.account;
    if let Some(d) = new
        .allowed_domains
        .iter()
        .find(|d| !account.allowed_domains.is_empty() && !account.allowed_domains.contains(d))
    {
        return Err(Error::field(
            "allowed_domains",
            format!("{d} is not one of the account's allowed_domains"),
        ));
    }
    let id = JoinLinkId::generate(env.random);
    let token = JoinLinkToken::generate(env.random);
    let seq = store::increment(env, &keys::join_link_count(acc), 1)?;
    let link = JoinLink::new(
        id.clone(),
        acc.clone(),
        new.role,
        new.access_groups,
        new.max_uses,
        new.allowed_domains,
        Inviter {
            user_id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
        },
        now,
        now.plus_secs(new.ttl.secs()),
        seq,
        token.hash(),
    );
    let index = LinkRef {
        link_id: id.clone(),
        account_id: acc.clone(),
    };
    let purge_at = link
        .expires_at
        .plus_secs(env.policy.retention_days * 24 * 60 * 60);
    let mut writes = queue::entries(env, &[(purge_at, DueItem::JoinLink(id.clone()))])?;
    writes.extend([
        (keys::join_link(&id), encode(&link)),
        (keys::join_link_token(&token.hash()), encode(&index)),
        (keys::join_link_log(acc, seq), encode(&id)),
    ]);
    store::set_many(env.store, &writes)?;
    let view = JoinLinkView::new(link, 0, now);
    let event = link_event(env, EventKind::JoinLinkCreated, &view, Actor::user(user));
    Ok(CreatedJoinLink {
        link: view,
        token,
        events: vec![event],
    })
}
