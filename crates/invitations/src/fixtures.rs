//! Records and a world for the crate's own unit tests: a fixed clock, a
//! counting randomness, an in-memory store.

use crate::email::Email;
use crate::ids::{AccountId, InvitationId, Rev, UserId};
use crate::memstore::MemStore;
use crate::model::{Account, Invitation, Inviter, State};
use crate::random::Random;
use crate::time::{Clock, Timestamp};
use crate::token::InvitationToken;
use crate::values::{
    AccessGroups, AccountName, InviteRole, LinkDelivery, Metadata, ReminderDays, Ttl,
};
use crate::{Env, Policy};
use std::cell::Cell;

/// Randomness that is all zeros.
pub(crate) struct Zero;

impl Random for Zero {
    fn fill(&self, buf: &mut [u8]) {
        buf.fill(0);
    }
}

/// Randomness that differs on every call, the same in every run.
#[derive(Default)]
pub(crate) struct Counting(Cell<u8>);

impl Random for Counting {
    fn fill(&self, buf: &mut [u8]) {
        let n = self.0.get().wrapping_add(1);
        self.0.set(n);
        buf.fill(n);
    }
}

pub(crate) struct Fixed(pub Timestamp);

impl Clock for Fixed {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A pending invitation made at `now`, valid for the longest TTL.
pub(crate) fn invitation(now: Timestamp) -> Invitation {
    Invitation {
        id: InvitationId::generate(&Zero),
        account_id: AccountId::generate(&Zero),
        email: Email::parse("a@example.com").unwrap(),
        role: InviteRole::Member,
        access_groups: AccessGroups::default(),
        metadata: Metadata::default(),
        message: None,
        invited_by: Inviter {
            user_id: UserId::parse("u1").unwrap(),
            email: None,
            name: None,
        },
        created_at: now,
        ttl: Ttl::MAX,
        expires_at: now.plus_secs(Ttl::MAX.secs()),
        issued_at: now,
        reissued_at: now,
        resent_at: None,
        token_hash: InvitationToken::generate(&Zero).hash(),
        previous_token_hash: None,
        retired_token_hashes: Vec::new(),
        reminded_for: None,
        log_position: 0,
        seat_taken: true,
        link_delivery: LinkDelivery::Mail,
        state: State::Pending,
        rev: Rev::default(),
    }
}

/// The account of [`invitation`]'s records, with no reminder.
pub(crate) fn account(now: Timestamp) -> Account {
    Account {
        id: AccountId::generate(&Zero),
        name: AccountName::parse("Acme").unwrap(),
        allowed_domains: Vec::new(),
        default_ttl: Ttl::MAX,
        owners: vec![UserId::parse("u1").unwrap()],
        created_at: now,
        created_by: UserId::parse("u1").unwrap(),
        shards: 16,
        reminder_days: ReminderDays::parse(0).unwrap(),
        invitation_log: true,
        rev: Rev::default(),
    }
}

/// A store, a clock and randomness to build an [`Env`] from.
pub(crate) struct World {
    pub store: MemStore,
    pub clock: Fixed,
    pub random: Counting,
    pub policy: Policy,
}

impl World {
    pub(crate) fn at(now: Timestamp) -> World {
        World {
            store: MemStore::new(),
            clock: Fixed(now),
            random: Counting::default(),
            policy: Policy::default(),
        }
    }

    pub(crate) fn env(&self) -> Env<'_> {
        Env {
            store: &self.store,
            clock: &self.clock,
            random: &self.random,
            policy: &self.policy,
        }
    }
}
