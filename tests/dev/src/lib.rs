//! Development tooling for the app: the local mail inbox, the development
//! defaults `cargo up` applies, and where the built components are.
//!
//! # Layout
//!
//! | path | what |
//! | --- | --- |
//! | `src/inbox.rs` | local mail inbox (Resend and Postmark APIs, a page listing mails) |
//! | `src/platform.rs` | where end-to-end tests run: the test host, or real `spin up` on SQLite or Redis |
//! | `src/main.rs` | `cargo up` (host + inbox + defaults), `cargo up -- token`, `cargo bench-app` |
//! | `src/bench.rs` | `cargo bench-app`: every operation timed (p50, p95, x floor) with its store reads and writes, on the host and on real Spin |
//! | `src/load.rs` | `cargo bench-app -- load`: closed-loop clients on keep-alive connections, loops/s and p50/p95/p99, then the accounts checked |
//! | `src/scale.rs` | `cargo bench-app -- scale`: one account grown to each size, each operation's p50 and the largest stored value per size |
//! | `build.rs` | builds the components into `target/app-wasm` |
//! | `tests/e2e/` | end-to-end tests on the real `.wasm` files, through the host or a real Spin, in one test binary (one module per area) |

pub mod bench;
pub mod inbox;
pub mod load;
pub mod platform;
pub mod provider_events;
pub mod scale;

use std::path::{Path, PathBuf};

include!("../components.rs");

/// The HS256 secret `cargo up` uses when none is configured. Local use only.
pub const DEV_SECRET: &str = "dev-only-secret-never-use-in-production";

/// The webhook signing secret `cargo up` and the tests use. Local use only.
pub const DEV_WEBHOOK_SECRET: &str = "whsec_ZGV2LW9ubHktd2ViaG9vay1zZWNyZXQtMzItYnl0ZXM=";

/// The sweep route's bearer token `cargo up` uses. Local use only.
pub const DEV_SWEEP_TOKEN: &str = "dev-only-sweep-token";

/// Where build.rs put the components.
pub fn wasm_dir() -> &'static Path {
    Path::new(env!("APP_WASM_DIR"))
}

/// A component's `.wasm`: from `APP_WASM_DIR` when it is set at run time (to
/// benchmark another build of the components side by side), else from
/// [`wasm_dir`]. Cargo names the file after the package, `-` made `_`.
pub fn wasm(component: &str) -> PathBuf {
    let dir = std::env::var_os("APP_WASM_DIR").map_or_else(|| wasm_dir().to_owned(), PathBuf::from);
    dir.join(format!("{}.wasm", component.replace('-', "_")))
}

/// The repository's `spin.toml`.
pub fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml")
}

/// Development defaults for `cargo up`: secrets, and mail and webhooks
/// pointed at the local inbox.
pub fn dev_defaults(inbox_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("sweep_token", DEV_SWEEP_TOKEN.to_owned()),
        ("webhook_url", format!("{inbox_url}/webhooks")),
        ("webhook_secret", DEV_WEBHOOK_SECRET.to_owned()),
        ("webhook_origin", inbox_url.to_owned()),
        ("auth_hs256_secret", DEV_SECRET.to_owned()),
        ("mail_provider", "resend".to_owned()),
        ("mail_api_url", inbox_url.to_owned()),
        ("mail_api_token", "local-inbox".to_owned()),
        (
            "resend_webhook_secret",
            provider_events::DEV_RESEND_WEBHOOK_SECRET.to_owned(),
        ),
        (
            "postmark_webhook_token",
            provider_events::DEV_POSTMARK_WEBHOOK_TOKEN.to_owned(),
        ),
        (
            "mail_from",
            "Invitations <invitations@localhost>".to_owned(),
        ),
    ]
}
