//! Test support: a world with a counting in-memory store, a hand-moved clock,
//! seeded randomness, and an invariant checker that reads the raw store.
#![allow(dead_code)]

pub mod sched;

use invitations::cursor::Cursor;
use invitations::email::Email;
use invitations::ids::{AccountId, InvitationId, UserId};
use invitations::memstore::MemStore;
use invitations::model::{Invitation, InvitationView, Member, Status};
use invitations::ops::accounts::create_account;
use invitations::ops::deliveries::before_sending;
use invitations::ops::invite::{InviteRequest, Invited};
use invitations::ops::list::{get_invitation, list_invitations, InvitationFilter};
use invitations::ops::resend::Resent;
use invitations::ops::sweep::{sweep, SweepRun};
use invitations::principal::{Principal, User};
use invitations::random::Random;
use invitations::time::{Clock, Timestamp};
use invitations::token::InvitationToken;
use invitations::values::{
    AccessGroups, AccountName, InviteRole, LinkDelivery, Metadata, PersonName,
};
use invitations::{Env, Policy};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// A clock the test moves; its clones share the time (a store hook moves it
/// in the middle of an operation).
#[derive(Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(t: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicI64::new(t.unix_millis())))
    }
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
    }
}

/// splitmix64: deterministic per seed, good enough to make distinct ids.
pub struct SeededRandom(Mutex<u64>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        SeededRandom(Mutex::new(seed ^ 0x9e37_79b9_7f4a_7c15))
    }
    pub fn next_u64(&self) -> u64 {
        let mut s = self.0.lock().unwrap();
        *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

pub const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

pub struct World {
    pub store: Arc<MemStore>,
    pub clock: ManualClock,
    pub random: SeededRandom,
    pub policy: Policy,
}

impl World {
    pub fn new(seed: u64) -> Self {
        World {
            store: Arc::new(MemStore::new()),
            clock: ManualClock::at(T0),
            random: SeededRandom::new(seed),
            policy: Policy::default(),
        }
    }

    pub fn env(&self) -> Env<'_> {
        Env {
            store: &*self.store,
            clock: &self.clock,
            random: &self.random,
            policy: &self.policy,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn advance(&self, secs: i64) {
        self.clock.advance_secs(secs);
    }

    pub fn create_account(&self, owner: &Principal) -> AccountId {
        create_account(&self.env(), owner, AccountName::parse("Acme").unwrap())
            .unwrap()
            .account
            .account
            .id
    }

    pub fn invite(
        &self,
        by: &Principal,
        acc: &AccountId,
        emails: &[&str],
    ) -> invitations::Result<Invited> {
        invite(&self.env(), by, acc, request(emails))
    }

    /// Invites one address and returns its invitation id and token.
    pub fn invite_one(
        &self,
        by: &Principal,
        acc: &AccountId,
        email: &str,
    ) -> (InvitationId, InvitationToken) {
        let out = self.invite(by, acc, &[email]).unwrap();
        assert_eq!(out.created(), 1, "{:?}", out.results);
        let job = out.mails.into_iter().next().unwrap();
        (job.invitation.id().clone(), job.token)
    }
}

/// An invite as the edge carries it out: the domain operation, then (after
/// the answer) the links its mail carries. A failure in either is the
/// caller's error, as the edge would see it.
pub fn invite(
    env: &Env,
    by: &Principal,
    acc: &AccountId,
    request: InviteRequest,
) -> invitations::Result<Invited> {
    let out = invitations::ops::invite::invite(env, by, acc, request)?;
    before_sending(env, &out.mails, &out.leftovers)?;
    Ok(out)
}

/// Records every mail of `mails` as sent, as the edge does after the provider took them.
pub fn all_sent(w: &World, mails: &[invitations::effects::MailJob]) {
    all_sent_by(&w.env(), mails);
}

/// [`all_sent`], recorded through `env` (another host's clock, say).
pub fn all_sent_by(env: &Env, mails: &[invitations::effects::MailJob]) {
    let sent: Vec<_> = mails
        .iter()
        .map(|m| (m.invitation.clone(), Ok(None)))
        .collect();
    invitations::ops::deliveries::record_deliveries(env, &sent).unwrap();
}

/// A resend as the edge carries it out; see [`invite`].
pub fn resend(
    env: &Env,
    by: &Principal,
    acc: &AccountId,
    id: &InvitationId,
) -> invitations::Result<Resent> {
    let out = invitations::ops::resend::resend(env, by, acc, id, LinkDelivery::Mail)?;
    before_sending(env, out.mail.as_slice(), &out.leftovers)?;
    Ok(out)
}

/// An env for one racing thread: its own randomness, shared store and clock.
pub fn env_for<'a>(w: &'a World, random: &'a SeededRandom, policy: &'a Policy) -> Env<'a> {
    Env {
        store: &*w.store,
        clock: &w.clock,
        random,
        policy,
    }
}

/// Two sweeps at once on `w`'s store, their store calls interleaved by `seed`.
pub fn two_sweeps(w: &World, seed: u64) -> Vec<SweepRun> {
    let (r1, r2) = (SeededRandom::new(seed + 10), SeededRandom::new(seed + 20));
    let env = |r| Env {
        store: &*w.store,
        clock: &w.clock,
        random: r,
        policy: &w.policy,
    };
    let tasks: Vec<Box<dyn FnOnce() -> SweepRun + Send>> = vec![
        Box::new(|| sweep(&env(&r1)).unwrap()),
        Box::new(|| sweep(&env(&r2)).unwrap()),
    ];
    sched::race(&w.store, seed, tasks)
}

pub fn request(emails: &[&str]) -> InviteRequest {
    InviteRequest {
        emails: emails.iter().map(|s| s.to_string()).collect(),
        role: InviteRole::Member,
        access_groups: AccessGroups::parse(&["eng"]).unwrap(),
        metadata: Metadata::default(),
        ttl: None,
        message: None,
        delivery: LinkDelivery::Mail,
    }
}

/// A signed-in person with a verified `{name}@example.com`.
pub fn user(name: &str) -> Principal {
    user_with(name, &format!("{name}@example.com"), true)
}

pub fn user_with(id: &str, email: &str, verified: bool) -> Principal {
    Principal::User(User {
        id: UserId::parse(id).unwrap(),
        email: Some(Email::parse(email).unwrap()),
        email_verified: verified,
        name: Some(PersonName::parse(id).unwrap()),
    })
}

pub fn service() -> Principal {
    Principal::Service {
        id: UserId::parse("svc-backend").unwrap(),
    }
}

/// Reads every record under a prefix (tests only: the domain never lists keys).
pub fn records<T: serde::de::DeserializeOwned>(store: &MemStore, prefix: &str) -> Vec<(String, T)> {
    store
        .entries_with_prefix(prefix)
        .into_iter()
        .filter_map(|(k, v)| serde_json::from_slice(&v).ok().map(|t| (k, t)))
        .collect()
}

/// `v1/acct/{acc}/slots/{n}`: one of the shards an account was made with
/// (the others under `slots/` are children of split shards, or unpublished).
pub fn is_account_shard(key: &str) -> bool {
    key.contains("/slots/") && key.split('/').count() == 5
}

/// The shards holding slots at and below the shard at `key`, following
/// splits; each published child exists, and none is larger than the layout
/// allows.
pub fn shards_under(store: &MemStore, key: &str) -> Vec<serde_json::Value> {
    let mut leaves = Vec::new();
    let mut to_read = vec![key.to_owned()];
    while let Some(key) = to_read.pop() {
        let (_, bytes) = store
            .entries_with_prefix(&key)
            .into_iter()
            .find(|(k, _)| *k == key)
            .unwrap_or_else(|| panic!("slot shard {key} is missing"));
        assert!(
            bytes.len() <= 64 * 1024,
            "{key} holds {} bytes",
            bytes.len()
        );
        let shard: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        match shard["children"].as_array() {
            Some(children) if !children.is_empty() => {
                assert!(
                    shard["slots"].as_object().is_none_or(|s| s.is_empty()),
                    "split {key} still holds slots"
                );
                to_read.extend(children.iter().map(|c| c.as_str().unwrap().to_owned()));
            }
            _ => leaves.push(shard),
        }
    }
    leaves
}

/// Checks the invariants of the crate docs against the raw store, and returns
/// the stored state of every invitation (for "terminal stays terminal").
pub fn check_invariants(store: &MemStore, now: Timestamp) -> BTreeMap<String, Invitation> {
    let invitations: BTreeMap<String, Invitation> = records::<Invitation>(store, "v1/inv/")
        .into_iter()
        .map(|(_, i)| (i.id().to_string(), i))
        .collect();

    // Invitations reachable through a slot (an account's list reads them) or a token.
    let mut reachable: HashMap<String, &Invitation> = HashMap::new();
    for (key, value) in store.entries_with_prefix("v1/acct/") {
        if key.contains("/mlog/") {
            let user: String = serde_json::from_slice(&value).unwrap();
            let acc = key.split('/').nth(2).unwrap();
            let mem = format!("v1/acct/{acc}/mem/{user}");
            assert!(
                !store.entries_with_prefix(&mem).is_empty(),
                "{key} names missing member"
            );
        }
        if is_account_shard(&key) {
            for shard in shards_under(store, &key) {
                for (email, slot) in shard["slots"].as_object().unwrap() {
                    let latest = slot["latest"].as_str().unwrap();
                    let inv = invitations
                        .get(latest)
                        .unwrap_or_else(|| panic!("slot {email} names missing {latest}"));
                    reachable.insert(latest.to_owned(), inv);
                    for h in slot["history"].as_array().unwrap() {
                        let h = h.as_str().unwrap();
                        let inv = invitations
                            .get(h)
                            .unwrap_or_else(|| panic!("slot history names missing {h}"));
                        reachable.insert(h.to_owned(), inv);
                    }
                }
            }
        }
    }
    for (key, value) in store.entries_with_prefix("v1/tok/") {
        let r: serde_json::Value = serde_json::from_slice(&value).unwrap();
        let id = r["invitation_id"].as_str().unwrap().to_owned();
        let inv = invitations
            .get(&id)
            .unwrap_or_else(|| panic!("{key} names missing {id}"));
        reachable.insert(id, inv);
    }

    // At most one open invitation per (account, address) among reachable ones.
    let mut open: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (id, inv) in &reachable {
        if inv.status(now) == Status::Pending {
            open.entry((inv.account_id().to_string(), inv.email().to_string()))
                .or_default()
                .push(id.clone());
        }
    }
    for ((acc, email), ids) in &open {
        assert!(
            ids.len() <= 1,
            "{acc} has {} open invitations for {email}: {ids:?}",
            ids.len()
        );
    }

    // Seats: the ledger never counts fewer than there are. Every open
    // invitation holds a seat until its own expiry: at every moment from now
    // on, the ledger counts at least the open invitations that have not
    // expired by then. It counts at least the active members (more only
    // after an injected failure).
    for (key, ledger) in records::<serde_json::Value>(store, "v1/acct/") {
        if !key.ends_with("/seats") {
            continue;
        }
        let acc = key.split('/').nth(2).unwrap().to_owned();
        let ends = hold_ends(&ledger);
        let open: Vec<Timestamp> = reachable
            .values()
            .filter(|inv| inv.account_id().as_str() == acc && inv.status(now) == Status::Pending)
            .map(|inv| inv.expires_at())
            .collect();
        let moments = std::iter::once(now).chain(open.iter().map(|e| e.plus_millis(-1)));
        for t in moments.filter(|t| *t >= now) {
            let counted: u64 = ends
                .iter()
                .filter(|(end, _)| *end > t)
                .map(|(_, n)| n)
                .sum();
            let holding = open.iter().filter(|e| **e > t).count() as u64;
            assert!(
                counted >= holding,
                "{acc}: {holding} invitations hold a seat at {t:?}, the ledger counts {counted}"
            );
        }
        let acc = AccountId::parse(&acc).unwrap();
        let counted = ledger["members"].as_u64().unwrap() as usize;
        let active = active_members(store, &acc).len();
        assert!(
            counted >= active,
            "{acc}: {counted} members counted, {active} active"
        );
    }

    // A pending page never hides a pending invitation: every open one whose
    // slot names it is on the pending pages (which step over the positions
    // the ledger notes as closed), and nothing else pending is.
    let slot_latest: HashSet<&str> = store
        .entries_with_prefix("v1/acct/")
        .into_iter()
        .filter(|(key, _)| is_account_shard(key))
        .flat_map(|(key, _)| shards_under(store, &key))
        .flat_map(|shard| {
            let slots = shard["slots"].as_object().cloned().unwrap_or_default();
            slots
                .into_values()
                .map(|slot| slot["latest"].as_str().unwrap().to_owned())
        })
        .filter_map(|id| invitations.get_key_value(&id).map(|(k, _)| k.as_str()))
        .collect();
    for (key, _) in records::<serde_json::Value>(store, "v1/acct/") {
        if !key.ends_with("/seats") {
            continue;
        }
        let acc = AccountId::parse(key.split('/').nth(2).unwrap()).unwrap();
        let Some(listed) = pending_pages(store, now, &acc) else {
            continue; // an injected fault still armed: nothing to compare
        };
        let open: BTreeSet<String> = invitations
            .values()
            .filter(|i| i.account_id() == &acc && i.status(now) == Status::Pending)
            .filter(|i| slot_latest.contains(i.id().as_str()))
            .map(|i| i.id().to_string())
            .collect();
        let missing: Vec<&String> = open.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "{acc}: pending but not listed: {missing:?}"
        );
    }

    // Every member record is keyed by its own account and user.
    for (key, m) in records::<Member>(store, "v1/acct/") {
        if key.contains("/mem/") {
            assert_eq!(key, format!("v1/acct/{}/mem/{}", m.account_id, m.user_id));
        }
    }
    invitations
}

/// The ids on every pending page of an account, read as a service; `None`
/// if a read failed (a fault a test left armed). Each listed view shows the
/// delivery it reads by id, whether the page read the delivery record or its
/// log entry's copy.
fn pending_pages(store: &MemStore, now: Timestamp, acc: &AccountId) -> Option<BTreeSet<String>> {
    let (clock, random, policy) = (
        ManualClock::at(now),
        SeededRandom::new(0),
        Policy::default(),
    );
    let env = Env {
        store,
        clock: &clock,
        random: &random,
        policy: &policy,
    };
    let pending = InvitationFilter {
        status: Some(Status::Pending),
        email: None,
    };
    let mut ids = BTreeSet::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let page = list_invitations(&env, &service(), acc, &pending, Some(50), cursor).ok()?;
        for view in &page.items {
            let id = view.invitation.id();
            let read = get_invitation(&env, &service(), acc, id).ok()?;
            assert_eq!(
                view.delivery, read.delivery,
                "{acc}: {id} is listed with another delivery than it reads by id"
            );
        }
        ids.extend(page.items.iter().map(|v| v.invitation.id().to_string()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Some(ids),
        }
    }
    panic!("{acc}: pending pages never end");
}

/// Terminal states never change between two snapshots.
pub fn check_terminal_stays(
    before: &BTreeMap<String, Invitation>,
    after: &BTreeMap<String, Invitation>,
) {
    for (id, old) in before {
        if old.is_terminal() {
            if let Some(new) = after.get(id) {
                assert_eq!(old.state(), new.state(), "terminal invitation {id} changed");
            }
        }
    }
}

/// An account's seats: (as its ledger counts them: limit, members, open
/// invitations; as they are: active members, open reachable invitations).
pub fn seat_usage(store: &MemStore, acc: &AccountId, now: Timestamp) -> SeatUsage {
    let ledger: serde_json::Value = records(store, &format!("v1/acct/{acc}/seats"))
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .expect("a ledger");
    let held = hold_ends(&ledger)
        .iter()
        .filter(|(end, _)| *end > now)
        .map(|(_, n)| *n as usize)
        .sum();
    let open = records::<Invitation>(store, "v1/inv/")
        .into_iter()
        .filter(|(_, i)| i.account_id() == acc && i.status(now) == Status::Pending)
        .filter(|(_, i)| {
            // Reachable: its slot names it.
            store
                .entries_with_prefix(&format!("v1/acct/{acc}/slots/"))
                .iter()
                .filter(|(k, _)| is_account_shard(k))
                .flat_map(|(k, _)| shards_under(store, k))
                .any(|shard| {
                    shard["slots"]
                        .as_object()
                        .unwrap()
                        .values()
                        .any(|s| s["latest"].as_str() == Some(i.id().as_str()))
                })
        })
        .count();
    SeatUsage {
        limit: ledger["limit"].as_u64().map(|l| l as usize),
        counted_members: ledger["members"].as_u64().unwrap() as usize,
        counted_pending: held,
        members: active_members(store, acc).len(),
        open,
    }
}

/// A stored seat ledger's holds: how many end at each moment. Read here
/// from the stored text on its own (`end[*count]` items, each end the
/// milliseconds after the one before, base 36), not with the domain's reader.
pub fn hold_ends(ledger: &serde_json::Value) -> Vec<(Timestamp, u64)> {
    assert!(
        ledger.get("holds").is_none(),
        "a ledger of holds by invitation: {ledger}"
    );
    let text = ledger["holds_until"].as_str().unwrap_or_default();
    let mut at = 0i64;
    text.split(',')
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (step, count) = item.split_once('*').unwrap_or((item, "1"));
            at += i64::from_str_radix(step, 36).unwrap();
            let count = u64::from_str_radix(count, 36).unwrap();
            (Timestamp::from_unix_millis(at), count)
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeatUsage {
    pub limit: Option<usize>,
    pub counted_members: usize,
    pub counted_pending: usize,
    pub members: usize,
    pub open: usize,
}

impl SeatUsage {
    /// Seats in use as they really are.
    pub fn used(&self) -> usize {
        self.members + self.open
    }

    /// The ledger counts exactly what there is.
    pub fn exact(&self) -> bool {
        self.counted_members == self.members && self.counted_pending == self.open
    }
}

pub fn active_members(store: &MemStore, acc: &AccountId) -> Vec<Member> {
    records::<Member>(store, &format!("v1/acct/{acc}/mem/"))
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| m.is_active())
        .collect()
}

/// The randomness of racing task `i` under `seed`: a stream apart from the
/// world's (`World::new(seed)`), so no task draws the revisions or ids the
/// world already drew (a revision seen twice would fool the seat ledger's
/// check of its own writes, which real randomness never does).
pub fn task_random(seed: u64, i: u64) -> SeededRandom {
    SeededRandom::new(0x5eed_0000_0000 + seed * 100 + i)
}

/// The first page of an account's invitations, newest first.
pub fn first_page(w: &World, by: &Principal, acc: &AccountId) -> Vec<InvitationView> {
    let all = InvitationFilter::default();
    list_invitations(&w.env(), by, acc, &all, None, None)
        .unwrap()
        .items
}

/// Every page of an account's invitations, `limit` at a time, through
/// encoded cursors as a client pages them: the views in order.
pub fn list_all(w: &World, by: &Principal, acc: &AccountId, limit: usize) -> Vec<InvitationView> {
    let all = InvitationFilter::default();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = list_invitations(&w.env(), by, acc, &all, Some(limit), cursor).unwrap();
        assert!(page.items.len() <= limit);
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(Cursor::parse(&c.encode()).unwrap()),
            None => return seen,
        }
    }
}
