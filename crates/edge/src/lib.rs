//! What every component does at the edge of the domain, without Spin: verify
//! the caller's JWT, turn an invitation into a mail and a provider request,
//! and an event into a signed webhook.
//! Pure Rust, so it is tested natively and builds for wasm32-wasip2.
//!
//! # Layout
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`auth`] | the caller's JWT (HS256 or JWKS), the sweep token, development tokens |
//! | [`body`] | request bodies and query strings, parsed into the domain's types |
//! | [`cors`] | which browser origins may call the API (`cors_allowed_origins`), and the headers |
//! | [`problem`] | the one error type of the API: status, stable `code`, problem+json |
//! | [`render`] | the JSON views of invitations, members, accounts, pages |
//! | [`settings`] | the defaults of the settings read from Spin variables |
//! | [`mail`] | invitation mail, and the provider calls that send it (single and batch) |
//! | [`webhook`] | event payloads, signed the Standard Webhooks way |
//! | [`outgoing`] | an outbound HTTP request and its answer, as plain data |
//! | [`join`] | the invitee's `/join` page |
//! | [`text`] | HTML escaping, dates as people read them |

pub mod auth;
pub mod body;
pub mod cors;
mod html;
pub mod join;
pub mod mail;
pub mod outgoing;
pub mod problem;
pub mod render;
pub mod settings;
pub mod text;
pub mod webhook;
