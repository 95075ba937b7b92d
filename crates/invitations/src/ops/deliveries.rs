//! Around the sending of the mail an operation asked for: open its links just
//! before, write down how it went after.

use crate::effects::{Actor, Event, EventKind, Leftovers, MailJob, MailKind};
use crate::error::Result;
use crate::keys;
use crate::model::TokenRef;
use crate::model::{
    Delivery, Invitation, InvitationView, LogEntry, MessageRef, SendFailure, MESSAGE_IDS_KEPT,
};
use crate::ops::inbox;
use crate::store::{self, decode, encode};
use crate::values::MessageId;
use crate::Env;

/// One send's outcome: `Ok` with the id the provider gave the message (if
/// its answer said), `Err` why it did not go out, for the admin to see.
pub type SendOutcome = std::result::Result<Option<MessageId>, SendFailure>;

/// What recording send outcomes led to.
#[derive(Debug, Default)]
pub struct Recorded {
    /// `invitation.sent` / `.delivery_failed` (a deferral by the provider's
    /// rate limit has none).
    pub events: Vec<Event>,
    /// Each invitation whose delivery was recorded, as it now reads.
    pub views: Vec<InvitationView>,
}

/// Makes the mails' links work, names invitations the caller hands over in
/// their inbox, then tidies up what the operation left over. Runs after the
/// answer, just before the mail goes out; if it fails, send nothing: the
/// link would not open, and the sweep mails the invitation a new one. Cost:
/// 1 `set-many`, +1 `increment` per invitation handed over, +1 `delete-many`
/// when there are keys to delete. (A mail retried by the sweep had its link
/// written by the sweep itself.)
pub fn before_sending(env: &Env, mails: &[MailJob], leftovers: &Leftovers) -> Result<()> {
    before_sending_with(env, mails, leftovers, Vec::new())
}

/// [`before_sending`], with `also` (the change's history entries) written in
/// the same `set-many`: on Spin's SQLite store every write transaction waits
/// for the disk, so what can share one does.
pub fn before_sending_with(
    env: &Env,
    mails: &[MailJob],
    leftovers: &Leftovers,
    also: Vec<(String, Vec<u8>)>,
) -> Result<()> {
    let mut links: Vec<(String, Vec<u8>)> = mails
        .iter()
        .filter(|m| m.kind != MailKind::Retry)
        .map(|m| {
            (
                keys::token(&m.token.hash()),
                encode(&TokenRef::of(&m.invitation)),
            )
        })
        .collect();
    // A new invitation's slot names it by now: its log entry says so, and
    // lists stop reading the slot for it.
    for m in mails.iter().filter(|m| m.kind == MailKind::Invitation) {
        let inv = &m.invitation;
        if inv.log_position > 0 {
            // No copy of the delivery: an outcome may be recorded already
            // (a resend's, say), and this must not hide it.
            let entry = LogEntry::Claimed {
                claimed: inv.id.clone(),
                delivery: None,
            };
            let key = keys::invitation_log(&inv.account_id, inv.log_position);
            links.push((key, encode(&entry)));
        }
    }
    // Handed over: named in the inbox, with an empty delivery record, so a
    // later mailed resend does not name it again (it names on the first
    // outcome). A failed increment only leaves it out of the inbox.
    for inv in &leftovers.handed_over {
        if let Ok(entry) = inbox::entry(env, inv) {
            links.push(entry);
            links.extend(delivery_writes(inv, &Delivery::default()));
        }
    }
    links.extend(also);
    store::set_many(env.store, &links)?;
    // Nothing reaches these any more; a failure here leaves them to the purge.
    let _ = store::delete_many(env.store, &leftovers.deletes);
    Ok(())
}

/// The writes that record `delivery` for `inv`: its delivery record and, for
/// an invitation in its account's log, a copy in its log entry, which a list
/// page reads instead of the record. Only an invitation sent or handed over
/// has a delivery to record, and its slot named it before, so the entry is
/// marked claimed. Both go in one `set-many`: the last writer's pair stands (on
/// DynamoDB, whose batch writes each item on its own, two writers racing may
/// leave the list showing one's outcome and the invitation the other's,
/// until the next).
pub(crate) fn delivery_writes(inv: &Invitation, delivery: &Delivery) -> Vec<(String, Vec<u8>)> {
    let mut writes = vec![(keys::delivery(&inv.id), encode(delivery))];
    if inv.log_position > 0 {
        let entry = LogEntry::Claimed {
            claimed: inv.id.clone(),
            delivery: Some(delivery.clone()),
        };
        let key = keys::invitation_log(&inv.account_id, inv.log_position);
        writes.push((key, encode(&entry)));
    }
    writes
}

/// Records send outcomes and returns their events; see [`record_outcomes`]
/// (tests; the components record with [`outcomes_to_record`]).
#[cfg(any(test, feature = "test-support"))]
pub fn record_deliveries(env: &Env, outcomes: &[(Invitation, SendOutcome)]) -> Result<Vec<Event>> {
    Ok(record_outcomes(env, outcomes)?.events)
}

/// Records send outcomes; returns the events and the invitations as they now read.
/// Cost: 2 round trips for any number of invitations (`get-many`, `set-many`),
/// +1 `increment` for each invitation whose first outcome this is: that is
/// when it is named in its address's inbox (after its mail, which it does not
/// delay; if the instance dies before, nothing is recorded, so the sweep
/// mails it again and names it then).
///
/// Delivery records are written without compare-and-swap: senders claim an
/// attempt by changing the invitation's token first, and an outcome for an
/// older token than the one recorded is dropped, so a late answer about an
/// old link cannot hide the newest one.
pub fn record_outcomes(env: &Env, outcomes: &[(Invitation, SendOutcome)]) -> Result<Recorded> {
    outcomes_to_record(env, outcomes)?.write(env, Vec::new())
}

/// Send outcomes read and decided, not yet written: [`record_outcomes`] in
/// two steps, so the caller can add the history entries of
/// [`OutcomesToRecord::events`] to the same `set-many`.
#[derive(Debug, Default)]
pub struct OutcomesToRecord {
    recorded: Recorded,
    writes: Vec<(String, Vec<u8>)>,
    /// References to messages the delivery records no longer remember.
    forgotten: Vec<String>,
}

impl OutcomesToRecord {
    /// The `invitation.sent` / `.delivery_failed` events the outcomes make.
    pub fn events(&self) -> &[Event] {
        &self.recorded.events
    }

    /// Writes the outcomes and `also` in one `set-many`.
    pub fn write(mut self, env: &Env, also: Vec<(String, Vec<u8>)>) -> Result<Recorded> {
        self.writes.extend(also);
        store::set_many(env.store, &self.writes)?;
        // Only a provider event about a mail eight sends ago reads these.
        if !self.forgotten.is_empty() {
            let _ = store::delete_many(env.store, &self.forgotten);
        }
        Ok(self.recorded)
    }
}

/// The first step of [`record_outcomes`]: its reads and inbox increments.
pub fn outcomes_to_record(
    env: &Env,
    outcomes: &[(Invitation, SendOutcome)],
) -> Result<OutcomesToRecord> {
    if outcomes.is_empty() {
        return Ok(OutcomesToRecord::default());
    }
    let now = env.clock.now();
    let keys: Vec<String> = outcomes
        .iter()
        .map(|(inv, _)| keys::delivery(&inv.id))
        .collect();
    let current = store::get_many_raw(env.store, &keys)?;
    let mut writes = Vec::with_capacity(outcomes.len());
    let mut forgotten = Vec::new();
    let mut events = Vec::with_capacity(outcomes.len());
    let mut views = Vec::with_capacity(outcomes.len());
    for (((inv, outcome), key), value) in outcomes.iter().zip(&keys).zip(current) {
        let first = value.is_none();
        let mut delivery: Delivery = value
            .map(|b| decode(key, &b))
            .transpose()?
            .unwrap_or_default();
        if !delivery.record(now, inv, outcome) {
            continue;
        }
        if let Ok(Some(message)) = outcome {
            let by = MessageRef {
                invitation_id: inv.id.clone(),
                token_issued_at: inv.issued_at,
            };
            writes.push((keys::mail_message(message), encode(&by)));
        }
        let excess = delivery.message_ids.len().saturating_sub(MESSAGE_IDS_KEPT);
        forgotten.extend(
            delivery
                .message_ids
                .drain(..excess)
                .map(|m| keys::mail_message(&m)),
        );
        writes.extend(delivery_writes(inv, &delivery));
        if first {
            writes.push(inbox::entry(env, inv)?);
        }
        let view = InvitationView::new(inv.clone(), delivery, now);
        views.push(view.clone());
        let kind = match outcome {
            Ok(_) => EventKind::InvitationSent,
            Err(SendFailure::Failed(_)) => EventKind::InvitationDeliveryFailed,
            // Still queued: nothing happened the receiver needs to hear of.
            Err(SendFailure::Deferred { .. }) => continue,
        };
        events.push(Event::invitation(
            env.random,
            kind,
            now,
            view,
            Actor::System,
        ));
    }
    Ok(OutcomesToRecord {
        recorded: Recorded { events, views },
        writes,
        forgotten,
    })
}
