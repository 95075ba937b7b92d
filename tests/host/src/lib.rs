//! A Spin-compatible host on wasmtime for tests and `cargo up`.
//!
//! It reads a `spin.toml` (manifest version 2), routes HTTP requests like Spin,
//! instantiates a fresh component per request, and provides the interfaces
//! spin-sdk 5.2 components import: WASI 0.2, `wasi:http`, `fermyon:spin`
//! key-value and variables, and `wasi:keyvalue` store/atomics/batch on SQLite
//! with the semantics (and faults) of Spin's own SQLite store. Tests get a
//! movable wall clock, per-request store round-trip counts and fault injection.

mod bindings;
mod control;
mod error;
mod host;
pub mod manifest;
mod outbound;
mod router;
mod state;
mod store;
mod variables;

pub use control::{Faults, RequestRecord, Stats, TestClock, REQUEST_TAG_HEADER};
pub use error::HostError;
pub use host::{check_component_imports, TestHost, TestHostBuilder};
pub use manifest::Manifest;
