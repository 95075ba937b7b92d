//! The defaults of the settings the components read from Spin variables, for
//! a host that leaves one unset. `spin.toml` writes the same values and the
//! README's configuration table shows them; a test keeps the three equal
//! (`tests/dev/tests/e2e/contract.rs`). The domain's own defaults are
//! `invitations::Policy::default()`.

/// `outbound_max_in_flight`: outbound calls one request or sweep run keeps open at once.
pub const OUTBOUND_MAX_IN_FLIGHT: usize = 8;

/// `outbound_timeout_seconds`: each outbound call is given up after this long.
pub const OUTBOUND_TIMEOUT_SECONDS: u64 = 10;

/// `mail_max_per_second`: the provider's rate limit (Resend's default).
pub const MAIL_MAX_PER_SECOND: f64 = 2.0;

/// `send_after_answer`: answer first, then send the mail and webhooks.
pub const SEND_AFTER_ANSWER: bool = true;
