//! Create an account (the caller becomes its owner), read it, change its settings.

use crate::email::Domain;
use crate::error::{Error, Result};
use crate::ids::{AccountId, Rev};
use crate::keys;
use crate::model::{Account, Member};
use crate::ops::load_access_with;
use crate::principal::Principal;
use crate::seats::{self, Seats};
use crate::store::{self, encode, Decision};
use crate::values::Role;
use crate::values::{AccessGroups, AccountName, ReminderDays, SeatLimit, Ttl};
use crate::{slots, Env};

pub const MAX_ALLOWED_DOMAINS: usize = 50;

#[derive(Clone, Debug)]
pub struct Created {
    pub account: AccountView,
    pub owner: Member,
}

/// An account with its seats. `seats` is absent for an account made before
/// seats were counted.
#[derive(Clone, Debug)]
pub struct AccountView {
    pub account: Account,
    pub seats: Option<Seats>,
}

/// Cost: 3 round trips: the member log's first `increment`, one read of the
/// sweep's watermark, and one `set-many` of the account, its owner, the
/// owner's log entry, the empty slot shards and the seat ledger (nobody else
/// can know the new id yet, so plain writes are safe).
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
        invitation_log: true,
        rev: Rev::generate(env.random),
    };
    // The owner is the member log's first entry. Counters are made by
    // `increment` alone: each backend keeps them in its own format.
    let owner_seq = store::increment(env, &keys::member_seq(&id), 1)?;
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
    writes.push(seats::initial(&id, env));
    // Everything the sweep will ever look at belongs to an account, so the
    // first account tells the sweep where its queue starts.
    if env.store.get(&keys::sweep_state())?.is_none() {
        writes.push(crate::queue::initial_watermark(env));
    }
    store::set_many(env.store, &writes)?;
    let seats = Seats {
        limit: None,
        members: 1,
        pending: 0,
    };
    Ok(Created {
        account: AccountView {
            account,
            seats: Some(seats),
        },
        owner,
    })
}

/// Any member may read their account; so may services. Cost: 1 round trip
/// (the account, the caller's membership and the seat ledger together).
pub fn get_account(env: &Env, principal: &Principal, acc: &AccountId) -> Result<AccountView> {
    let (access, ledger) = load_access_with(env, principal, acc, vec![keys::seats(acc)])?;
    if principal.user().is_some() && access.membership.is_none() {
        return Err(Error::AccountNotFound);
    }
    let seats = seats::decode_seats(ledger[0].as_deref(), acc, env.clock.now())?;
    Ok(AccountView {
        account: access.account,
        seats,
    })
}

#[derive(Clone, Debug, Default)]
pub struct AccountPatch {
    pub name: Option<AccountName>,
    pub allowed_domains: Option<Vec<Domain>>,
    pub default_ttl: Option<Ttl>,
    pub reminder_days: Option<ReminderDays>,
    /// `Some(None)` removes the limit.
    pub seat_limit: Option<Option<SeatLimit>>,
}

impl AccountPatch {
    fn changes_account(&self) -> bool {
        self.name.is_some()
            || self.allowed_domains.is_some()
            || self.default_ttl.is_some()
            || self.reminder_days.is_some()
    }
}

/// Owners and admins change settings. Cost: 3 round trips (read access and
/// seats, CAS on the account); +2 to change the seat limit (CAS on the
/// ledger), 2 fewer if nothing else changes.
pub fn update_account(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    patch: AccountPatch,
) -> Result<AccountView> {
    let (access, ledger) = load_access_with(env, principal, acc, vec![keys::seats(acc)])?;
    access.manager(principal)?;
    if let Some(domains) = &patch.allowed_domains {
        if domains.len() > MAX_ALLOWED_DOMAINS {
            return Err(Error::field(
                "allowed_domains",
                format!("at most {MAX_ALLOWED_DOMAINS} domains"),
            ));
        }
    }
    let seats = match patch.seat_limit {
        Some(limit) => Some(seats::set_limit(env, acc, limit)?),
        None => seats::decode_seats(ledger[0].as_deref(), acc, env.clock.now())?,
    };
    if !patch.changes_account() {
        return Ok(AccountView {
            account: access.account,
            seats,
        });
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
    let account = updated.ok_or(Error::AccountNotFound)?;
    Ok(AccountView { account, seats })
}
