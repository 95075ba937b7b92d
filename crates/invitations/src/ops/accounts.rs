//! Create an account (the caller becomes its owner), read it, change its settings.

use crate::email::Domain;
use crate::error::{Error, Result};
use crate::ids::{AccountId, Rev};
use crate::keys;
use crate::model::{Account, Member};
use crate::ops::load_access;
use crate::principal::Principal;
use crate::store::{self, encode, Decision};
use crate::values::Role;
use crate::values::{AccessGroups, AccountName, ReminderDays, Ttl};
use crate::{slots, Env};

pub const MAX_ALLOWED_DOMAINS: usize = 50;

#[derive(Clone, Debug)]
pub struct Created {
    pub account: Account,
    pub owner: Member,
}

/// Cost: 3 round trips: the member log's first `increment`, one read of the
/// sweep's watermark, and one `set-many` of the account, its owner, the
/// owner's log entry and the empty slot shards (nobody else can know the new
/// id yet, so plain writes are safe).
pub fn create_account(env: &Env, principal: &Principal, name: AccountName) -> Result<Created> {
    let Principal::User(user) = principal else {
        return Err(Error::Forbidden("service principals cannot own accounts"));
    };
    let now = env.clock.now();
    let id = AccountId::generate(env.random);
    let account = Account {
        id: id.clone(),
        name,
        allowed_domains: Vec::new(),
        default_ttl: Ttl::MAX,
        owners: vec![user.id.clone()],
        created_at: now,
        created_by: user.id.clone(),
        shards: env.policy.shards,
        reminder_days: ReminderDays::default(),
        rev: Rev::generate(env.random),
    };
    // The owner is the member log's first entry. Counters are made by
    // `increment` alone: each backend keeps them in its own format.
    let owner_seq = env.store.increment(&keys::member_seq(&id), 1)?;
    let owner = Member {
        account_id: id.clone(),
        user_id: user.id.clone(),
        email: user.email.clone(),
        role: Role::Owner,
        access_groups: AccessGroups::default(),
        joined_at: now,
        invitation_id: None,
        join_link_id: None,
        invited_by: None,
        seq: owner_seq,
        removed: None,
        rev: Rev::generate(env.random),
    };
    let mut writes = vec![
        (keys::account(&id), encode(&account)),
        (keys::member(&id, &user.id), encode(&owner)),
        (keys::member_log(&id, owner_seq), encode(&user.id)),
    ];
    if let (Some(email), true) = (&user.email, user.email_verified) {
        writes.push((keys::member_by_email(&id, email), encode(&user.id)));
    }
    writes.extend(slots::initial_shards(&id, account.shards));
    // Everything the sweep will ever look at belongs to an account, so the
    // first account tells the sweep where its queue starts.
    if env.store.get(&keys::sweep_state())?.is_none() {
        writes.push(crate::ops::sweep::initial_watermark(env));
    }
    store::set_many(env.store, &writes)?;
    Ok(Created { account, owner })
}

/// Any member may read their account; so may services. Cost: 1 round trip.
pub fn get_account(env: &Env, principal: &Principal, acc: &AccountId) -> Result<Account> {
    let access = load_access(env, principal, acc)?;
    if principal.user().is_some() && access.membership.is_none() {
        return Err(Error::AccountNotFound);
    }
    Ok(access.account)
}

#[derive(Clone, Debug, Default)]
pub struct AccountPatch {
    pub name: Option<AccountName>,
    pub allowed_domains: Option<Vec<Domain>>,
    pub default_ttl: Option<Ttl>,
    pub reminder_days: Option<ReminderDays>,
}

/// Owners and admins change settings. Cost: 3 round trips (read access, CAS).
pub fn update_account(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    patch: AccountPatch,
) -> Result<Account> {
    let access = load_access(env, principal, acc)?;
    access.manager(principal)?;
    if let Some(domains) = &patch.allowed_domains {
        if domains.len() > MAX_ALLOWED_DOMAINS {
            return Err(Error::field(
                "allowed_domains",
                format!("at most {MAX_ALLOWED_DOMAINS} domains"),
            ));
        }
    }
    let updated =
        store::update::<Account, Account>(env.store, env.random, &keys::account(acc), |mut a| {
            if let Some(name) = &patch.name {
                a.name = name.clone();
            }
            if let Some(domains) = &patch.allowed_domains {
                let mut unique: Vec<Domain> = Vec::new();
                for d in domains {
                    if !unique.contains(d) {
                        unique.push(d.clone());
                    }
                }
                a.allowed_domains = unique;
            }
            if let Some(ttl) = patch.default_ttl {
                a.default_ttl = ttl;
            }
            if let Some(days) = patch.reminder_days {
                a.reminder_days = days;
            }
            Ok(Decision::Write(a.clone(), a))
        })?;
    updated.ok_or(Error::AccountNotFound)
}
