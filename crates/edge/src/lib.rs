//! What every component does at the edge of the domain, without Spin: verify
//! the caller's JWT, turn an invitation into a mail and a provider request,
//! and an event into a signed webhook.
//! Pure Rust, so it is tested natively and builds for wasm32-wasip2.

pub mod auth;
pub mod body;
pub mod join;
pub mod mail;
pub mod problem;
pub mod render;
pub mod webhook;
