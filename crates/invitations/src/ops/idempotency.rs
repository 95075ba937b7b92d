//! `Idempotency-Key`: a retried POST gets the first answer instead of acting twice.
//!
//! The first request with a key claims it with an `increment` (atomic on every
//! backend, so exactly one claimant sees 1), acts, then stores its answer.
//! A retry finds the answer and replays it; a retry while the first is still
//! running is told so (409). The claim counter is per hour, and a claim in
//! the previous hour still counts, so a request that died between claiming
//! and answering blocks its key for at most two hours. Answers are kept
//! `idempotency_ttl_secs`, then the sweep forgets them.

use crate::error::{Error, Result};
use crate::keys;
use crate::queue::{self, DueItem};
use crate::random::hex;
use crate::store::{self, encode};
use crate::time::Timestamp;
use crate::Env;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The client's key: 1 to 255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(input: &str) -> Result<Self> {
        let ok =
            !input.is_empty() && input.len() <= 255 && input.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(IdempotencyKey(input.to_owned()))
        } else {
            Err(Error::field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ))
        }
    }
}

#[derive(Debug)]
pub enum Begin {
    /// Go ahead, then call [`complete`] (or [`release`] if the answer should not be kept).
    Proceed(Claim),
    /// The stored answer of the first request.
    Replay(Vec<u8>),
}

#[derive(Debug)]
pub struct Claim {
    scope: String,
    fingerprint: String,
    hour: i64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Answer {
    fingerprint: String,
    pub created_at: Timestamp,
    response: String,
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex(&h.finalize())
}

/// `caller` and `route` scope the key (one caller's key never meets
/// another's); `request` is what must match on replay (method, path, body).
/// Cost: 2 round trips.
pub fn begin(
    env: &Env,
    caller: &str,
    route: &str,
    key: &IdempotencyKey,
    request: &[u8],
) -> Result<Begin> {
    let now = env.clock.now();
    let scope = sha256_hex(&[caller.as_bytes(), route.as_bytes(), key.0.as_bytes()]);
    let fingerprint = sha256_hex(&[request]);
    let hour = now.unix_millis().div_euclid(3_600_000);
    let looked = store::get_many_raw(
        env.store,
        &[
            keys::idempotency(&scope),
            keys::idempotency_claim(&scope, hour - 1),
        ],
    )?;
    let answer: Option<Answer> = looked[0]
        .as_deref()
        .map(|b| store::decode(&keys::idempotency(&scope), b))
        .transpose()?;
    if let Some(a) = answer {
        if now < a.created_at.plus_secs(env.policy.idempotency_ttl_secs) {
            if a.fingerprint != fingerprint {
                return Err(Error::IdempotencyKeyReused);
            }
            let body = STANDARD
                .decode(a.response)
                .map_err(|e| Error::StoreUnavailable(format!("corrupt idempotency answer: {e}")))?;
            return Ok(Begin::Replay(body));
        }
    }
    let hour = now.unix_millis().div_euclid(3_600_000);
    // Not tried again on failure (`store::increment`): a retried claim whose
    // first reply was lost would read 2 and block the key for the hour. Two
    // racing claims on DynamoDB: one wins, the other fails and gets 503.
    if env
        .store
        .increment(&keys::idempotency_claim(&scope, hour), 1)?
        != 1
    {
        return Err(Error::IdempotencyInProgress);
    }
    Ok(Begin::Proceed(Claim {
        scope,
        fingerprint,
        hour,
    }))
}

/// Stores the answer for replay. Cost: 2 round trips.
pub fn complete(env: &Env, claim: Claim, response: &[u8]) -> Result<()> {
    let now = env.clock.now();
    let answer_key = keys::idempotency(&claim.scope);
    let forget_at = now.plus_secs(env.policy.idempotency_ttl_secs);
    let item = DueItem::Idempotency {
        scope: claim.scope.clone(),
        hour: claim.hour,
    };
    let mut writes = queue::entries(env, &[(forget_at, item)])?;
    let answer = Answer {
        fingerprint: claim.fingerprint,
        created_at: now,
        response: STANDARD.encode(response),
    };
    writes.push((answer_key, encode(&answer)));
    store::set_many(env.store, &writes)
}

/// Gives the key up without an answer (the request failed in a way worth
/// retrying), so a retry may act. Cost: 1 round trip.
pub fn release(env: &Env, claim: Claim) -> Result<()> {
    Ok(env
        .store
        .delete(&keys::idempotency_claim(&claim.scope, claim.hour))?)
}
