//! What every operation is handed: the store, the time, randomness and policy.

use crate::random::Random;
use crate::store::Store;
use crate::time::Clock;

/// Tunable rules of the service. Defaults are what `docs/design.md` section 3 describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// A resend within this many seconds of the last token is refused (429).
    pub resend_cooldown_secs: i64,
    /// Mail send attempts before delivery is `failed` for good.
    pub mail_max_attempts: u32,
    /// First retry delay; each further retry doubles it.
    pub mail_retry_base_secs: i64,
    /// When the sweep first checks that a new invitation's mail went out.
    pub mail_check_delay_secs: i64,
    /// Webhook delivery attempts (the first included) before an event is dropped.
    pub webhook_max_attempts: u32,
    /// First webhook retry delay; each further retry doubles it, up to the maximum.
    pub webhook_retry_base_secs: i64,
    pub webhook_retry_max_delay_secs: i64,
    /// Closed invitations are purged this long after they closed.
    pub retention_days: i64,
    /// The account's history keeps each event at least this long.
    pub history_days: i64,
    /// Due-queue entries handled by one sweep run at most.
    pub sweep_max_items: usize,
    /// Empty queue buckets one sweep run may step over at most.
    pub sweep_max_buckets: i64,
    /// Addresses in one invite request at most.
    pub max_invites_per_request: usize,
    /// An Idempotency-Key's answer is replayed for this long.
    pub idempotency_ttl_secs: i64,
    /// Slot shards a new account gets.
    pub shards: u16,
    /// A slot shard whose stored value is larger is split before it takes
    /// another claim (`slots`); small in tests, to split often.
    pub slot_shard_max_bytes: usize,
    /// Items a list page holds at most.
    pub max_page_size: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            resend_cooldown_secs: 60,
            mail_max_attempts: 5,
            mail_retry_base_secs: 60,
            mail_check_delay_secs: 120,
            webhook_max_attempts: 12,
            webhook_retry_base_secs: 60,
            webhook_retry_max_delay_secs: 6 * 60 * 60,
            retention_days: 90,
            history_days: 365,
            sweep_max_items: 200,
            sweep_max_buckets: 50_000,
            max_invites_per_request: 100,
            idempotency_ttl_secs: 24 * 60 * 60,
            shards: 16,
            slot_shard_max_bytes: crate::slots::SPLIT_BYTES,
            max_page_size: 100,
        }
    }
}

pub struct Env<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub random: &'a dyn Random,
    pub policy: &'a Policy,
}
