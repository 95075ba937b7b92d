//! The domain's traits implemented with spin-sdk 5.2, and the glue every
//! component shares.
//!
//! # Layout
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`store`] | `Store` over `wasi:keyvalue` store, atomics and batch; on Redis, batch reads as one `MGET` over outbound Redis |
//! | [`platform`] | wall clock and randomness from the host |
//! | [`config`] | Spin variables, read per need |
//! | [`web`] | per-request context, caller authentication, bodies, responses, `Idempotency-Key` |
//! | [`outbound`] | outgoing HTTP to the mail provider and the webhook receiver |
//! | [`mailer`] | concurrent mail sending through the configured provider |
//! | [`webhooks`] | signed event delivery, failures kept in the outbox |
//! | [`body`] | a body written before its message is handed over (one write: no Nagle stall) |
//! | [`respond`] | a response handed to the host whole (body before head: no Nagle stall) |
//! | [`effects`] | an operation's mail and events, carried out in order |
//! | [`sweeper`] | one sweep run with its mail and events carried out |

pub mod body;
pub mod config;
pub mod effects;
pub mod mailer;
pub mod outbound;
pub mod platform;
pub mod respond;
pub mod store;
pub mod sweeper;
pub mod web;
pub mod webhooks;
