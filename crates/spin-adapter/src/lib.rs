//! The domain's traits implemented with spin-sdk 5.2, and the glue every
//! component shares.
//!
//! # Layout
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`store`] | `Store` over `wasi:keyvalue` store, atomics and batch |
//! | [`platform`] | wall clock and randomness from the host |
//! | [`config`] | Spin variables, read per need |
//! | [`web`] | per-request context, caller authentication, bodies, responses, `Idempotency-Key` |
//! | [`mailer`] | concurrent mail sending through the configured provider |

pub mod config;
pub mod mailer;
pub mod platform;
pub mod store;
pub mod web;
