//! The domain's tests, one module per area, in one test binary: each binary
//! compiled the shared `common` module and linked on its own (thirteen of
//! them took 46 s of a build on two cores), one does both once.

mod common;

mod concurrency;
mod failures;
mod handover;
mod history;
mod join_links;
mod mail_events;
mod operations;
mod properties;
mod reminders;
mod round_trips;
mod scale;
mod seats;
mod sweep;
mod webhooks;
