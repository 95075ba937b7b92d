//! Invitation mail: what it says ([`render`], in `template`), how a provider
//! is asked to send it ([`MailApi`]: one message or a batch) and what its
//! answer means ([`outcomes`]), both in `providers`; what the provider tells
//! us later (delivered, bounced, complained) and how we know it is the
//! provider, in [`events`]; `docs/design.md` section 5. No IO here: the component sends the
//! [`OutgoingRequest`](crate::outgoing::OutgoingRequest).
//!
//! Everything a person typed (account name, inviter's name, note) is escaped in
//! HTML, and stripped of control characters wherever it reaches a header or
//! the subject.

pub mod events;
mod providers;
mod template;
#[cfg(test)]
mod tests;

pub use providers::{outcomes, MailApi, Provider};
pub(crate) use template::inviter_label;
pub use template::{header_safe, render, Message, MAX_SUBJECT_CHARS};
