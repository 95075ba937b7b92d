//! Shareable join links: an owner or admin makes one (`max_uses`, a lifetime,
//! optional domains), shares its URL, and people with a verified address
//! join through it until it is used up, expires or is revoked.
//!
//! `max_uses` is exact under any concurrency: a redeem takes a use with
//! `increment` on the link's own counter and goes on only if the count it got
//! is within `max_uses`. Redeems never contend, and a failure after taking a
//! use loses that use rather than ever letting one more in. An existing
//! member uses nothing. The link record changes only when revoked (CAS).

use crate::cursor::Cursor;
use crate::effects::{Actor, Event, EventKind, Subject};
use crate::email::{Domain, Email};
use crate::error::{Error, Result};
use crate::ids::{AccountId, JoinLinkId, UserId};
use crate::keys;
use crate::model::{Account, Inviter, JoinLink, JoinLinkView, LinkStatus, Member};

use crate::ops::members::store_membership;
use crate::ops::{load_access, log_page, page_size, Page};
use crate::principal::Principal;
use crate::queue::{self, DueItem};
use crate::seats;
use crate::store::{self, decode, decode_counter, encode, Decision};
use crate::time::Timestamp;
use crate::token::JoinLinkToken;
use crate::values::{AccessGroups, AccountName, InviteRole, MaxUses, Role, Ttl};
use crate::Env;
use serde::{Deserialize, Serialize};

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

/// What the token index holds.
#[derive(Serialize, Deserialize)]
struct LinkRef {
    link_id: JoinLinkId,
    account_id: AccountId,
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

fn link_event(env: &Env, kind: EventKind, view: &JoinLinkView, actor: Actor) -> Event {
    let subject = Subject::JoinLink(Box::new(view.clone()));
    Event::new(env.random, kind, env.clock.now(), subject, actor)
}

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
/// services. Cost: at most 2 + 2·3 = 8 round trips.
pub fn list_join_links(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    limit: Option<usize>,
    cursor: Option<Cursor>,
) -> Result<Page<JoinLinkView>> {
    let now = env.clock.now();
    let access = load_access(env, principal, acc)?;
    access.reader(principal)?;
    let limit = page_size(env, limit);
    let position = match cursor {
        None => decode_counter(env.store.get(&keys::join_link_count(acc))?.as_deref()),
        Some(Cursor::Log(seq)) => seq,
        Some(_) => return Err(Error::InvalidCursor),
    };
    log_page(
        env,
        |seq| keys::join_link_log(acc, seq),
        position,
        limit,
        0,
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

/// The link a token opens, its use count, its account and (for `user`) their
/// membership. Cost: 2 round trips.
fn open(
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

/// The outcome of a redeem.
#[derive(Clone, Debug)]
pub struct Redeemed {
    pub member: Member,
    /// False: they were a member already, and nothing changed.
    pub joined: bool,
    pub events: Vec<Event>,
}

/// A signed-in person with a verified address joins through a link. A
/// member gets their membership back unchanged and uses nothing; someone an
/// admin removed cannot come back this way (one who left can).
/// Cost: 7 round trips (token, link with count, account and membership, the
/// seat's CAS, the use, the member log, the membership), 4 writes; 2 for an
/// existing member.
pub fn redeem_join_link(
    env: &Env,
    principal: &Principal,
    token: &JoinLinkToken,
) -> Result<Redeemed> {
    let now = env.clock.now();
    let user = principal
        .user()
        .ok_or(Error::Forbidden("service principals cannot join accounts"))?;
    // Unverified, an address proves nothing, so it cannot join on its domain.
    let email: &Email = match (&user.email, user.email_verified) {
        (Some(e), true) => e,
        _ => return Err(Error::EmailUnverified),
    };
    let (link, uses, account, membership) = open(env, token, Some(&user.id))?;
    match membership {
        Some(m) if m.is_active() => {
            return Ok(Redeemed {
                member: m,
                joined: false,
                events: Vec::new(),
            })
        }
        Some(m) if m.removed.as_ref().is_some_and(|r| !r.left) => return Err(Error::MemberRemoved),
        _ => {}
    }
    let counted = uses.clamp(0, i64::from(u32::MAX)) as u32;
    link.check_open(counted, now)?;
    if !link.admits(email) || !account.allows(email) {
        return Err(Error::DomainNotAllowed);
    }
    // The seat, then the use: each exact whatever runs at the same time. A
    // full account refuses before the link's use is spent.
    seats::join(env, &account.id)?;
    let taken = store::increment(env, &keys::join_link_uses(&link.id), 1)?;
    if taken > i64::from(link.max_uses.get()) {
        let _ = seats::leave(env, &account.id);
        return Err(Error::JoinLinkUsedUp);
    }
    let seq = store::increment(env, &keys::member_seq(&account.id), 1)?;
    let member = Member {
        account_id: account.id.clone(),
        user_id: user.id.clone(),
        email: Some(email.clone()),
        role: link.role.role(),
        access_groups: link.access_groups.clone(),
        joined_at: now,
        invitation_id: None,
        join_link_id: Some(link.id.clone()),
        invited_by: Some(link.created_by.clone()),
        seq,
        removed: None,
        rev: Default::default(),
    };
    store_membership(env, &member)?;
    let event = Event::new(
        env.random,
        EventKind::MemberJoined,
        now,
        Subject::Member(Box::new(member.clone())),
        Actor::user(user),
    );
    Ok(Redeemed {
        member,
        joined: true,
        events: vec![event],
    })
}

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
