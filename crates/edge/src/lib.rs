//! What every component does at the edge of the domain, without Spin: verify
//! the caller's JWT, and turn an invitation into a mail and a provider request.
//! Pure Rust, so it is tested natively and builds for wasm32-wasip2.

pub mod auth;
pub mod body;
pub mod join;
pub mod mail;
pub mod problem;
pub mod render;
