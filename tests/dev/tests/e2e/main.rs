//! The end-to-end tests, one module per area, in one test binary: each binary
//! links the whole test host, so one links once (see each module's own doc).
//! They run the real `.wasm` components on the test host, or on a real `spin
//! up` (`invitations_dev::platform`).

mod common;

mod cluster;
mod concurrency;
mod contract;
mod decline;
mod edges;
mod handover;
mod history;
mod inbox;
mod join_links;
mod lifecycle;
mod mail_events;
mod members;
mod providers;
mod round_trips;
mod seats;
mod sweep;
mod ui;
mod webhooks;
