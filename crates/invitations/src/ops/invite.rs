//! Invite 1 to 100 addresses into an account, with one outcome per address.
//!
//! Order of writes, and why:
//! 1. the invitation records (pending, not yet reachable: no token key, no log
//!    entry, nobody knows their ids);
//! 2. the slot claims, which decide who is open (see `slots`);
//! 3. for the winners, token keys, log entries and due-queue entries, which
//!    make them reachable; the losers' records are deleted.
//!
//! A failure before step 2 leaves only unreachable records. A failure in step
//! 3 is compensated by cancelling the winners, so an address is never blocked
//! by an invitation nobody can see or use.

use crate::effects::{Event, EventKind, MailJob, MailKind};
use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId, Rev, UserId};
use crate::keys;
use crate::model::{Delivery, Invitation, InvitationView, Inviter, Member, State};
use crate::ops::load_access;
use crate::principal::Principal;
use crate::queue::{self, DueItem};
use crate::slots::{self, Claim, ClaimResult};
use crate::store::{self, decode, encode, Decision};
use crate::token::InvitationToken;
use crate::values::{AccessGroups, InviteRole, Metadata, Note, Ttl};
use crate::Env;
use std::collections::{BTreeMap, HashSet};

#[derive(Clone, Debug)]
pub struct InviteRequest {
    pub emails: Vec<String>,
    pub role: InviteRole,
    pub access_groups: AccessGroups,
    pub metadata: Metadata,
    pub ttl: Option<Ttl>,
    pub message: Option<Note>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InviteStatus {
    Created,
    AlreadyInvited,
    AlreadyMember,
    InvalidEmail,
    DomainNotAllowed,
    DuplicateInRequest,
}

impl InviteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InviteStatus::Created => "created",
            InviteStatus::AlreadyInvited => "already_invited",
            InviteStatus::AlreadyMember => "already_member",
            InviteStatus::InvalidEmail => "invalid_email",
            InviteStatus::DomainNotAllowed => "domain_not_allowed",
            InviteStatus::DuplicateInRequest => "duplicate_in_request",
        }
    }
}

#[derive(Clone, Debug)]
pub struct InviteResult {
    /// The address as the caller wrote it.
    pub input: String,
    pub status: InviteStatus,
    pub invitation: Option<InvitationView>,
}

#[derive(Clone, Debug)]
pub struct Invited {
    pub results: Vec<InviteResult>,
    pub mails: Vec<MailJob>,
    pub events: Vec<Event>,
}

impl Invited {
    pub fn created(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.status == InviteStatus::Created)
            .count()
    }

    /// Shows the invitations as the send events left them (delivery recorded).
    pub fn apply(&mut self, views: &[InvitationView]) {
        for view in views {
            let shown = self
                .results
                .iter_mut()
                .filter_map(|r| r.invitation.as_mut())
                .find(|v| v.invitation.id == view.invitation.id);
            if let Some(v) = shown {
                *v = view.clone();
            }
        }
    }
}

/// Cost for a request whose addresses fall in `s` slot shards, uncontended:
/// 8 round trips for one address; 6 + 2·s (+1 per shard whose slots already
/// hold invitations, +1 if any address belongs to a member, +1 if any claim
/// was lost) for many.
pub fn invite(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    request: InviteRequest,
) -> Result<Invited> {
    let now = env.clock.now();
    let access = load_access(env, principal, acc)?;
    let inviter = access.manager(principal)?;
    let account = access.account;
    if request.emails.is_empty() || request.emails.len() > env.policy.max_invites_per_request {
        return Err(Error::field(
            "emails",
            format!("give 1 to {} addresses", env.policy.max_invites_per_request),
        ));
    }
    // Never longer than the account allows: a longer request gets the account's maximum.
    let ttl = request
        .ttl
        .map_or(account.default_ttl, |t| t.min(account.default_ttl));

    // Per-address checks that need no store.
    let mut statuses: Vec<Option<InviteStatus>> = Vec::with_capacity(request.emails.len());
    let mut parsed: Vec<Option<Email>> = Vec::with_capacity(request.emails.len());
    let mut seen = HashSet::new();
    for input in &request.emails {
        match Email::parse(input) {
            Err(_) => {
                statuses.push(Some(InviteStatus::InvalidEmail));
                parsed.push(None);
            }
            Ok(email) => {
                let status = if !seen.insert(email.clone()) {
                    Some(InviteStatus::DuplicateInRequest)
                } else if !account.allows(&email) {
                    Some(InviteStatus::DomainNotAllowed)
                } else {
                    None
                };
                statuses.push(status);
                parsed.push(Some(email));
            }
        }
    }

    // Addresses that already belong to active members.
    let open: Vec<usize> = (0..statuses.len())
        .filter(|&i| statuses[i].is_none())
        .collect();
    let members = existing_members(env, acc, open.iter().map(|&i| parsed[i].as_ref().unwrap()))?;
    for &i in &open {
        if members.contains(parsed[i].as_ref().unwrap()) {
            statuses[i] = Some(InviteStatus::AlreadyMember);
        }
    }
    let candidates: Vec<usize> = (0..statuses.len())
        .filter(|&i| statuses[i].is_none())
        .collect();
    if candidates.is_empty() {
        return Ok(finish(
            request.emails,
            statuses,
            BTreeMap::new(),
            Vec::new(),
            Vec::new(),
        ));
    }

    // 1. The records, unreachable until claimed.
    let last_seq = env
        .store
        .increment(&keys::invitation_seq(acc), candidates.len() as i64)?;
    let first_seq = last_seq - candidates.len() as i64 + 1;
    let by = Inviter {
        user_id: inviter.id.clone(),
        email: inviter.email.clone(),
        name: inviter.name.clone(),
    };
    let mut drafts: BTreeMap<usize, (Invitation, InvitationToken)> = BTreeMap::new();
    for (n, &i) in candidates.iter().enumerate() {
        let token = InvitationToken::generate(env.random);
        let invitation = Invitation {
            id: InvitationId::generate(env.random),
            account_id: acc.clone(),
            email: parsed[i].clone().unwrap(),
            role: request.role,
            access_groups: request.access_groups.clone(),
            metadata: request.metadata.clone(),
            message: request.message.clone(),
            invited_by: by.clone(),
            created_at: now,
            ttl,
            expires_at: now.plus_secs(ttl.secs()),
            issued_at: now,
            reissued_at: now,
            resent_at: None,
            token_hash: token.hash(),
            previous_token_hash: None,
            retired_token_hashes: Vec::new(),
            state: State::Pending,
            seq: first_seq + n as i64,
            rev: Rev::generate(env.random),
        };
        drafts.insert(i, (invitation, token));
    }
    let records: Vec<(String, Vec<u8>)> = drafts
        .values()
        .map(|(inv, _)| (keys::invitation(&inv.id), encode(inv)))
        .collect();
    store::set_many(env.store, &records)?;

    // 2. The claims, shard by shard.
    let mut by_shard: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &i in &candidates {
        by_shard
            .entry(slots::shard_key(&account, parsed[i].as_ref().unwrap()))
            .or_default()
            .push(i);
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for (key, members) in &by_shard {
        let claims: Vec<Claim> = members
            .iter()
            .map(|i| {
                let inv = &drafts[i].0;
                Claim {
                    email: inv.email.clone(),
                    invitation: inv.id.clone(),
                }
            })
            .collect();
        let results = match slots::claim(env, key, &claims) {
            Ok(r) => r,
            Err(e) => {
                // This shard's swap may have happened without our hearing of
                // it: cancel its drafts too, so no unreachable invitation
                // holds an address.
                let doomed = winners.iter().chain(members.iter());
                abandon(env, &by.user_id, doomed.map(|i: &usize| &drafts[i].0));
                return Err(e);
            }
        };
        for (&i, r) in members.iter().zip(results) {
            match r {
                ClaimResult::Won => winners.push(i),
                ClaimResult::AlreadyInvited => {
                    statuses[i] = Some(InviteStatus::AlreadyInvited);
                    losers.push(i);
                }
            }
        }
    }

    // 3. Make the winners reachable; drop the losers' records.
    let reachable = make_reachable(env, acc, &winners, &drafts);
    if let Err(e) = reachable {
        abandon(env, &by.user_id, winners.iter().map(|i| &drafts[i].0));
        return Err(e);
    }
    let lost: Vec<String> = losers
        .iter()
        .map(|i| keys::invitation(&drafts[i].0.id))
        .collect();
    // Best effort: a leftover loser record is unreachable and harmless.
    let _ = store::delete_many(env.store, &lost);

    let mut mails = Vec::with_capacity(winners.len());
    let mut events = Vec::with_capacity(winners.len());
    let mut created = BTreeMap::new();
    for &i in &winners {
        let (inv, token) = drafts.remove(&i).unwrap();
        statuses[i] = Some(InviteStatus::Created);
        let view = InvitationView::new(inv.clone(), Delivery::default(), now);
        events.push(Event::invitation(
            env.random,
            EventKind::InvitationCreated,
            now,
            view.clone(),
        ));
        mails.push(MailJob {
            kind: MailKind::Invitation,
            invitation: inv,
            account_name: account.name.clone(),
            token,
        });
        created.insert(i, view);
    }
    Ok(finish(request.emails, statuses, created, mails, events))
}

fn finish(
    inputs: Vec<String>,
    statuses: Vec<Option<InviteStatus>>,
    mut created: BTreeMap<usize, InvitationView>,
    mails: Vec<MailJob>,
    events: Vec<Event>,
) -> Invited {
    let results = inputs
        .into_iter()
        .zip(statuses)
        .enumerate()
        .map(|(i, (input, status))| InviteResult {
            input,
            status: status.expect("every address has an outcome"),
            invitation: created.remove(&i),
        })
        .collect();
    Invited {
        results,
        mails,
        events,
    }
}

/// Which of these addresses belong to active members. 1 round trip, +1 if any
/// address is indexed as a member's.
pub(crate) fn existing_members<'a>(
    env: &Env,
    acc: &AccountId,
    emails: impl Iterator<Item = &'a Email>,
) -> Result<HashSet<Email>> {
    let emails: Vec<&Email> = emails.collect();
    let keys: Vec<String> = emails
        .iter()
        .map(|e| keys::member_by_email(acc, e))
        .collect();
    let users = store::get_many_raw(env.store, &keys)?;
    let mut member_keys = Vec::new();
    let mut member_emails = Vec::new();
    for ((value, key), email) in users.iter().zip(&keys).zip(&emails) {
        if let Some(bytes) = value {
            let user: UserId = decode(key, bytes)?;
            member_keys.push(keys::member(acc, &user));
            member_emails.push((*email).clone());
        }
    }
    let records = store::get_many_raw(env.store, &member_keys)?;
    let mut out = HashSet::new();
    for ((value, key), email) in records.iter().zip(&member_keys).zip(member_emails) {
        if let Some(bytes) = value {
            let m: Member = decode(key, bytes)?;
            if m.is_active() && m.email.as_ref() == Some(&email) {
                out.insert(email);
            }
        }
    }
    Ok(out)
}

/// Token keys, log entries and due entries for the winners.
/// Cost: 1 `increment` (due minute) + 1 `set-many`.
fn make_reachable(
    env: &Env,
    acc: &AccountId,
    winners: &[usize],
    drafts: &BTreeMap<usize, (Invitation, InvitationToken)>,
) -> Result<()> {
    if winners.is_empty() {
        return Ok(());
    }
    let check_at = env.clock.now().plus_secs(env.policy.mail_check_delay_secs);
    let due: Vec<_> = winners
        .iter()
        .map(|i| (check_at, DueItem::Invitation(drafts[i].0.id.clone())))
        .collect();
    let mut writes = queue::entries(env, &due)?;
    for i in winners {
        let inv = &drafts[i].0;
        writes.push((keys::token(&inv.token_hash), encode(&TokenRef::of(inv))));
        writes.push((keys::invitation_log(acc, inv.seq), encode(&inv.id)));
    }
    store::set_many(env.store, &writes)
}

/// Cancels claimed invitations that could not be made reachable, so their
/// addresses are free again. Best effort: it runs after a store failure.
fn abandon<'a>(env: &Env, by: &UserId, invitations: impl Iterator<Item = &'a Invitation>) {
    let now = env.clock.now();
    for inv in invitations {
        let _ = store::update::<Invitation, ()>(
            env.store,
            env.random,
            &keys::invitation(&inv.id),
            |mut i| {
                if i.cancel(now, by).is_err() {
                    return Ok(Decision::Keep(()));
                }
                Ok(Decision::Write(i, ()))
            },
        );
    }
}

/// What a token key holds: enough to find the invitation without a scan.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct TokenRef {
    pub invitation_id: InvitationId,
    pub account_id: AccountId,
}

impl TokenRef {
    pub fn of(inv: &Invitation) -> Self {
        TokenRef {
            invitation_id: inv.id.clone(),
            account_id: inv.account_id.clone(),
        }
    }
}
