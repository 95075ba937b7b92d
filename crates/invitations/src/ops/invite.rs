//! Invite 1 to 100 addresses into an account, with one outcome per address.
//!
//! Order of writes, and why:
//! 1. their seats, in request order while seats are free ([`crate::seats`]):
//!    before any record, so every draft written holds one (a crash between
//!    leaves a seat counted until its hold ends, never a draft without one);
//! 2. the records of those with a seat, with the sweep's due entries and
//!    their entries in the account's invitation log (pending, not yet
//!    reachable: no slot names them, so no list shows them, and nobody knows
//!    their ids or links);
//! 3. the slot claims, which decide who is open (see `slots`) and make the
//!    winners reachable: a list shows a log entry once its slot names it. A
//!    draft that lost its slot is deleted, then gives its seat back, and a
//!    candidate refused a seat tries again with it;
//! 4. after the answer, the winners' links, just before their mail
//!    ([`crate::ops::deliveries::before_sending`]).
//!
//! A failure before step 3 leaves only unreachable records: no slot names
//! them, so no address is blocked by an invitation the caller never heard
//! of, and the sweep deletes them when their due entry comes up and gives
//! back their seats. A failure in step 3 cancels the drafts and winners so
//! far and gives back the seats of those it cancelled. A failure after the
//! answer leaves an open invitation without a link: the sweep mails it a new
//! one.

use crate::effects::{Actor, Event, EventKind, Leftovers, MailJob, MailKind};
use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::{AccountId, InvitationId, Rev, UserId};
use crate::keys;
use crate::model::{
    Account, Delivery, Invitation, InvitationView, Inviter, LogEntry, Member, Terms, TokenRef,
};
use crate::ops::load_access_with;
use crate::principal::Principal;
use crate::queue::{self, DueItem};
use crate::seats;
use crate::slots::{self, Claim, ClaimResult};
use crate::store::{self, decode, encode, Decision};
use crate::token::InvitationToken;
use crate::values::{AccessGroups, InviteRole, LinkDelivery, Metadata, Note, Ttl};
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
    pub delivery: LinkDelivery,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InviteStatus {
    Created,
    AlreadyInvited,
    AlreadyMember,
    InvalidEmail,
    DomainNotAllowed,
    DuplicateInRequest,
    SeatLimitReached,
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
            InviteStatus::SeatLimitReached => "seat_limit_reached",
        }
    }
}

#[derive(Clone, Debug)]
pub struct InviteResult {
    /// The address as the caller wrote it.
    pub input: String,
    pub status: InviteStatus,
    pub invitation: Option<InvitationView>,
    /// The link's token, for an invitation the caller hands over
    /// ([`LinkDelivery::Caller`]): shown once, in the answer.
    pub link: Option<InvitationToken>,
}

#[derive(Clone, Debug)]
pub struct Invited {
    pub results: Vec<InviteResult>,
    pub mails: Vec<MailJob>,
    pub events: Vec<Event>,
    /// The invitations handed over, to name in their inbox after the answer.
    pub leftovers: Leftovers,
}

impl Invited {
    pub fn created(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.status == InviteStatus::Created)
            .count()
    }

    /// Why nothing was created, when nothing was: `seat_limit_reached` if
    /// that was every address's reason, `nothing_invited` otherwise.
    pub fn refusal(&self) -> Error {
        let full = self
            .results
            .iter()
            .all(|r| r.status == InviteStatus::SeatLimitReached);
        if full {
            Error::SeatLimitReached
        } else {
            Error::NothingInvited
        }
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

/// Where one address of the request stands, step by step.
enum Address {
    /// Settled without an invitation: why.
    Refused(InviteStatus),
    /// Passed the checks so far.
    Candidate(Email),
    /// Its record is written; its slot not yet claimed.
    Drafted(Box<Draft>),
    /// Its record is written, but no seat was free for it.
    Unseated(Box<Draft>),
    /// It holds its address's slot: the invitation is open.
    Won(Box<Draft>),
}

impl Address {
    /// Moves a written draft to waiting for a seat, or back to waiting for its slot.
    fn wait_for_seat(&mut self, unseated: bool) {
        let taken = std::mem::replace(self, Address::Refused(InviteStatus::SeatLimitReached));
        *self = match (taken, unseated) {
            (Address::Drafted(d), true) => Address::Unseated(d),
            (Address::Unseated(d), false) => Address::Drafted(d),
            (other, _) => other,
        };
    }
}

struct Draft {
    invitation: Invitation,
    token: InvitationToken,
}

/// Cost for a request whose addresses fall in `s` slot shards, uncontended:
/// reads: access with the addresses' member index entries (1, +1 if any
/// address is a member's), each shard and its current holders; writes: 1
/// `increment` (the due minute), 1 `set-many` (records and due entries), the
/// seats (a CAS: 2 round trips), 1 swap per shard. So 4 write transactions
/// for one address, 3 + s for many; +2 round trips when a draft lost its
/// slot (its seat goes back). The links are written after the answer, before
/// the mail ([`crate::ops::deliveries::before_sending`]).
pub fn invite(
    env: &Env,
    principal: &Principal,
    acc: &AccountId,
    request: InviteRequest,
) -> Result<Invited> {
    if request.emails.is_empty() || request.emails.len() > env.policy.max_invites_per_request {
        return Err(Error::field(
            "emails",
            format!("give 1 to {} addresses", env.policy.max_invites_per_request),
        ));
    }
    // The addresses' member index entries come with the access read.
    let parsed: Vec<Email> = request
        .emails
        .iter()
        .filter_map(|e| Email::parse(e).ok())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let index_keys = parsed
        .iter()
        .map(|e| keys::member_by_email(acc, e))
        .collect();
    let (access, index) = load_access_with(env, principal, acc, index_keys)?;
    let inviter = access.manager(principal)?;
    let actor = Actor::user(inviter);
    let account = access.account;
    let by = Inviter {
        user_id: inviter.id.clone(),
        email: inviter.email.clone(),
        name: inviter.name.clone(),
    };
    let mut addresses = screen(&request.emails, &account);
    let members = members_among(env, acc, parsed.iter().zip(index))?;
    for a in addresses.iter_mut() {
        if matches!(a, Address::Candidate(email) if members.contains(email)) {
            *a = Address::Refused(InviteStatus::AlreadyMember);
        }
    }
    draft(env, &account, &request, by.clone(), &mut addresses);
    // A seat given back by a lost slot may seat a draft refused before.
    for _ in 0..3 {
        take_seats(env, acc, &mut addresses)?;
        if !addresses.iter().any(|a| matches!(a, Address::Drafted(_))) {
            break;
        }
        write_drafts(env, acc, &mut addresses)?;
        let lost = claim_slots(env, &account, &by.user_id, &mut addresses)?;
        let unseated = addresses.iter().any(|a| matches!(a, Address::Unseated(_)));
        if lost.is_empty() {
            break;
        }
        // Failing to give the seats back must not fail an invite whose
        // winners are open: the records stay for the sweep, which gives
        // them back when it deletes them.
        if give_back(env, acc, &lost).is_err() || !unseated {
            break;
        }
        for a in addresses.iter_mut() {
            a.wait_for_seat(false);
        }
    }
    refuse_unseated(env, &account, &mut addresses);
    Ok(finish(env, &account, &actor, request.emails, addresses))
}

/// Deletes drafts that lost their slot, then gives back their seats: the
/// sweep gives back the seat of a draft it finds, so the record goes first
/// and no seat is given back twice. Cost: 1 `delete-many`, 2 round trips.
fn give_back(env: &Env, acc: &AccountId, lost: &[Invitation]) -> Result<()> {
    let mut deletes = Vec::new();
    for inv in lost {
        deletes.push(keys::invitation(&inv.id));
        deletes.push(keys::invitation_log(acc, inv.log_position));
        if inv.link_delivery == LinkDelivery::Caller {
            deletes.push(keys::token(&inv.token_hash));
        }
    }
    store::delete_many(env.store, &deletes)?;
    let holds: Vec<seats::Hold> = lost.iter().map(seats::Hold::of).collect();
    seats::release(env, acc, &holds)
}

/// The checks that need no store: a valid address, not repeated, in the
/// account's domains.
fn screen(inputs: &[String], account: &Account) -> Vec<Address> {
    let mut seen = HashSet::new();
    inputs
        .iter()
        .map(|input| match Email::parse(input) {
            Err(_) => Address::Refused(InviteStatus::InvalidEmail),
            Ok(email) if !seen.insert(email.clone()) => {
                Address::Refused(InviteStatus::DuplicateInRequest)
            }
            Ok(email) if !account.allows(&email) => {
                Address::Refused(InviteStatus::DomainNotAllowed)
            }
            Ok(email) => Address::Candidate(email),
        })
        .collect()
}

/// An invitation and its link for every candidate; nothing written yet.
fn draft(
    env: &Env,
    account: &Account,
    request: &InviteRequest,
    by: Inviter,
    addresses: &mut [Address],
) {
    let now = env.clock.now();
    // Never longer than the account allows: a longer request gets the account's maximum.
    let ttl = request
        .ttl
        .map_or(account.default_ttl, |t| t.min(account.default_ttl));
    let candidates = addresses
        .iter()
        .filter(|a| matches!(a, Address::Candidate(_)))
        .count();
    let terms = Terms {
        role: request.role,
        access_groups: request.access_groups.clone(),
        metadata: request.metadata.clone(),
        message: request.message.clone(),
        invited_by: by,
        ttl,
        link_delivery: request.delivery,
    };
    let mut ids = InvitationId::sequence(now, env.random, candidates).into_iter();
    for a in addresses.iter_mut() {
        let Address::Candidate(email) = a else {
            continue;
        };
        let token = InvitationToken::generate(env.random);
        let id = ids.next().expect("one id per candidate");
        let rev = Rev::generate(env.random);
        let invitation = Invitation::draft(
            id,
            account.id.clone(),
            email.clone(),
            &terms,
            token.hash(),
            now,
            rev,
        );
        *a = Address::Drafted(Box::new(Draft { invitation, token }));
    }
}

/// The records, with the sweep's look at each (if the mail is never sent,
/// the sweep sends it) and their entries in the account's invitation log,
/// and the links of those the caller hands over (so they work the moment the
/// answer shows them). Not reachable yet: no slot names them, nobody knows
/// their links, a list shows an entry only once its slot names it, and the
/// sweep leaves alone a record its slot does not name. Cost: 2 `increment`s
/// (the due minute, the log) + 1 `set-many`.
fn write_drafts(env: &Env, acc: &AccountId, addresses: &mut [Address]) -> Result<()> {
    let check_at = env.clock.now().plus_secs(env.policy.mail_check_delay_secs);
    let mut drafts: Vec<&mut Invitation> = addresses
        .iter_mut()
        .filter_map(|a| match a {
            Address::Drafted(d) => Some(&mut d.invitation),
            _ => None,
        })
        .collect();
    let due: Vec<_> = drafts
        .iter()
        // An invitation that expires sooner is first looked at then.
        .map(|inv| {
            (
                check_at.min(inv.expires_at),
                DueItem::Invitation(inv.id.clone()),
            )
        })
        .collect();
    let mut writes = queue::entries(env, &due)?;
    let last = store::increment(env, &keys::invitation_seq(acc), drafts.len() as i64)?;
    let first = last - drafts.len() as i64 + 1;
    for (position, inv) in (first..).zip(drafts.iter_mut()) {
        inv.log_position = position;
        writes.push((keys::invitation(&inv.id), encode(&**inv)));
        if inv.link_delivery == LinkDelivery::Caller {
            let link = encode(&TokenRef::of(inv));
            writes.push((keys::token(&inv.token_hash), link));
        }
        let entry = LogEntry::Drafted(inv.id.clone());
        writes.push((keys::invitation_log(acc, position), encode(&entry)));
    }
    store::set_many(env.store, &writes)
}

/// Settles the candidates no seat was free for (none of them was written):
/// `already_invited` if an open invitation holds the address anyway, else
/// `seat_limit_reached`. 2 round trips if there are any; a failed read only
/// makes the answer less precise (winners may be open).
fn refuse_unseated(env: &Env, account: &Account, addresses: &mut [Address]) {
    let unseated: Vec<&Email> = addresses
        .iter()
        .filter_map(|a| match a {
            Address::Unseated(d) => Some(&d.invitation.email),
            _ => None,
        })
        .collect();
    if unseated.is_empty() {
        return;
    }
    let held = slots::held_open(env, account, &unseated);
    let mut held = held.unwrap_or_default().into_iter();
    for a in addresses.iter_mut() {
        if let Address::Unseated(_) = a {
            *a = Address::Refused(if held.next().unwrap_or(false) {
                InviteStatus::AlreadyInvited
            } else {
                InviteStatus::SeatLimitReached
            });
        }
    }
}

/// Takes seats for the drafts not yet written, in request order; those
/// refused wait as `Unseated`. Cost: 2 round trips.
fn take_seats(env: &Env, acc: &AccountId, addresses: &mut [Address]) -> Result<()> {
    let wanted: Vec<crate::time::Timestamp> = addresses
        .iter()
        .filter_map(|a| match a {
            Address::Drafted(d) => Some(d.invitation.expires_at),
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let granted = seats::take(env, acc, &wanted)?;
    let mut seen = 0;
    for a in addresses.iter_mut() {
        if let Address::Drafted(_) = a {
            seen += 1;
            if seen > granted {
                a.wait_for_seat(true);
            }
        }
    }
    Ok(())
}

/// Claims the slots, shard by shard: drafts that win are open; the others
/// are `already_invited`, and are returned (their records are deleted,
/// their seats go back).
fn claim_slots(
    env: &Env,
    account: &Account,
    by: &UserId,
    addresses: &mut [Address],
) -> Result<Vec<Invitation>> {
    let mut by_shard: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, a) in addresses.iter().enumerate() {
        if let Address::Drafted(d) = a {
            by_shard
                .entry(slots::shard_key(account, &d.invitation.email))
                .or_default()
                .push(i);
        }
    }
    let mut lost = Vec::new();
    for (key, members) in &by_shard {
        let claims: Vec<Claim> = members
            .iter()
            .map(|&i| {
                let inv = &drafted(&addresses[i]).invitation;
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
                // it: cancel its drafts and the winners so far, so no
                // invitation the caller never heard of holds an address.
                // Only those it cancelled give their seats back: a draft it
                // could not cancel is the sweep's, a winner it could not
                // cancel stays open and keeps its seat.
                let cancelled = abandon(env, by, addresses.iter().filter_map(claimed_or_drafted));
                let holds: Vec<seats::Hold> =
                    cancelled.iter().map(|i| seats::Hold::of(i)).collect();
                let _ = seats::release(env, &account.id, &holds);
                return Err(e);
            }
        };
        for (&i, r) in members.iter().zip(results) {
            let a = std::mem::replace(
                &mut addresses[i],
                Address::Refused(InviteStatus::AlreadyInvited),
            );
            let Address::Drafted(d) = a else {
                unreachable!("only drafts are claimed")
            };
            match r {
                ClaimResult::Won => addresses[i] = Address::Won(d),
                ClaimResult::AlreadyInvited => lost.push(d.invitation),
            }
        }
    }
    Ok(lost)
}

fn drafted(a: &Address) -> &Draft {
    match a {
        Address::Drafted(d) => d,
        _ => unreachable!("only drafts are claimed"),
    }
}

fn claimed_or_drafted(a: &Address) -> Option<&Invitation> {
    match a {
        Address::Drafted(d) | Address::Won(d) => Some(&d.invitation),
        _ => None,
    }
}

/// The per-address outcomes, with the mail and events of what was created.
fn finish(
    env: &Env,
    account: &Account,
    actor: &Actor,
    inputs: Vec<String>,
    addresses: Vec<Address>,
) -> Invited {
    let now = env.clock.now();
    let mut mails = Vec::new();
    let mut events = Vec::new();
    let mut leftovers = Leftovers::default();
    let results = inputs
        .into_iter()
        .zip(addresses)
        .map(|(input, a)| match a {
            Address::Refused(status) => InviteResult {
                input,
                status,
                invitation: None,
                link: None,
            },
            Address::Won(d) => {
                let Draft { invitation, token } = *d;
                let view = InvitationView::new(invitation.clone(), Delivery::default(), now);
                events.push(Event::invitation(
                    env.random,
                    EventKind::InvitationCreated,
                    now,
                    view.clone(),
                    actor.clone(),
                ));
                let link = match invitation.link_delivery {
                    LinkDelivery::Mail => {
                        mails.push(MailJob {
                            kind: MailKind::Invitation,
                            invitation,
                            account_name: account.name.clone(),
                            token,
                        });
                        None
                    }
                    LinkDelivery::Caller => {
                        leftovers.handed_over.push(invitation);
                        Some(token)
                    }
                };
                InviteResult {
                    input,
                    status: InviteStatus::Created,
                    invitation: Some(view),
                    link,
                }
            }
            Address::Candidate(_) | Address::Drafted(_) | Address::Unseated(_) => {
                unreachable!("every address is settled before the answer")
            }
        })
        .collect();
    Invited {
        results,
        mails,
        events,
        leftovers,
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
    members_among(env, acc, emails.into_iter().zip(users))
}

/// Which of these addresses belong to active members, given what their
/// member index entries hold. 0 round trips, 1 if any is indexed.
fn members_among<'a>(
    env: &Env,
    acc: &AccountId,
    indexed: impl Iterator<Item = (&'a Email, Option<Vec<u8>>)>,
) -> Result<HashSet<Email>> {
    let mut member_keys = Vec::new();
    let mut member_emails = Vec::new();
    for (email, value) in indexed {
        if let Some(bytes) = value {
            let key = keys::member_by_email(acc, email);
            let user: UserId = decode(&key, &bytes)?;
            member_keys.push(keys::member(acc, &user));
            member_emails.push(email.clone());
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

/// Cancels claimed invitations that could not be made reachable, so their
/// addresses are free again, and returns those it cancelled. Best effort: it
/// runs after a store failure.
fn abandon<'a>(
    env: &Env,
    by: &UserId,
    invitations: impl Iterator<Item = &'a Invitation>,
) -> Vec<&'a Invitation> {
    let now = env.clock.now();
    invitations
        .filter(|inv| {
            let cancelled = store::update::<Invitation, bool>(
                env.store,
                env.random,
                &keys::invitation(&inv.id),
                |mut i| {
                    if i.cancel(now, by).is_err() {
                        return Ok(Decision::Keep(false));
                    }
                    Ok(Decision::Write(i, true))
                },
            );
            matches!(cancelled, Ok(Some(true)))
        })
        .collect()
}
