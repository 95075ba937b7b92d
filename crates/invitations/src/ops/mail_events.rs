//! A mail provider's news about a mail it accepted: delivered, bounced,
//! complained. The edge checks that the provider sent it and reads it into a
//! [`MailEvent`]; this finds the invitation the mail carried and writes the
//! news on its delivery record ([`Delivery::hear`] holds the rules).
//!
//! Providers retry what is not answered 2xx for days, so nothing here is an
//! error the provider should see: an unknown message, an event about an older
//! mail and a replay are answered and ignored.

use crate::effects::{Actor, Event, EventKind};
use crate::error::Result;
use crate::keys;
use crate::model::{Heard, InvitationView, MailNote, MailNoteKind, MessageRef};
use crate::ops::deliveries::delivery_writes;
use crate::ops::read_views;
use crate::store;
use crate::values::MessageId;
use crate::Env;

/// One provider event, as the edge read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailEvent {
    /// The provider's id for this event (Svix's `svix-id`; for a provider
    /// without one, something the same on every retry), for replays.
    pub id: String,
    /// The mail it is about.
    pub message: MessageId,
    pub kind: MailNoteKind,
    /// The provider's words (a bounce's reason).
    pub detail: Option<String>,
}

/// What hearing an event did.
#[derive(Clone, Debug, PartialEq)]
pub enum Hearing {
    /// No mail we sent has that id (or its invitation is purged).
    UnknownMessage,
    /// About an older mail, or heard before: nothing changed.
    Ignored(Heard),
    /// Written down; `events` holds `invitation.bounced` when the address
    /// takes no more mail.
    Recorded {
        invitation: Box<InvitationView>,
        events: Vec<Event>,
    },
}

/// Cost: 1 round trip for an unknown message; otherwise 3 (the message's
/// reference; the invitation with its delivery record; the record's `set`),
/// 2 when nothing changes.
///
/// The record is written without compare-and-swap, as sends record their
/// outcomes: a send that races this event is of a newer mail (a resend or a
/// reminder), which the event is not about.
pub fn hear(env: &Env, event: MailEvent) -> Result<Hearing> {
    let Some(message) =
        store::get_json::<MessageRef>(env.store, &keys::mail_message(&event.message))?
    else {
        return Ok(Hearing::UnknownMessage);
    };
    let Some(view) = read_views(env, std::slice::from_ref(&message.invitation_id))?
        .pop()
        .flatten()
        .transpose()?
    else {
        return Ok(Hearing::UnknownMessage);
    };
    let InvitationView {
        invitation,
        mut delivery,
        ..
    } = view;
    let now = env.clock.now();
    let note = MailNote {
        kind: event.kind,
        at: now,
        detail: event.detail,
    };
    let heard = delivery.hear(&message, &event.id, note);
    if matches!(heard, Heard::Stale | Heard::Duplicate) {
        return Ok(Hearing::Ignored(heard));
    }
    store::set_many(env.store, &delivery_writes(&invitation, &delivery))?;
    let view = InvitationView::new(invitation, delivery, now);
    let events = match heard {
        Heard::Stopped => vec![Event::invitation(
            env.random,
            EventKind::InvitationBounced,
            now,
            view.clone(),
            Actor::System,
        )],
        _ => Vec::new(),
    };
    Ok(Hearing::Recorded {
        invitation: Box::new(view),
        events,
    })
}
