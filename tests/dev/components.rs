/// The components of `spin.toml`, by name: what the build script builds and
/// what the host and the end-to-end tests run (both `include!` this file).
pub const COMPONENTS: [&str; 9] = [
    "accounts",
    "invite",
    "accept",
    "remove",
    "resend",
    "expire",
    "mail-events",
    "sweep-cron",
    "ui",
];
