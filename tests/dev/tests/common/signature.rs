//! Standard Webhooks verification written from the specification, with
//! nothing shared with the app's signer (that one uses `hmac-sha256`; this is
//! HMAC by its definition over `sha2`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use invitations_dev::inbox::Hook;
use sha2::{Digest, Sha256};

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner_hash = Sha256::new()
        .chain_update(&inner)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer)
        .chain_update(inner_hash)
        .finalize()
        .into()
}

/// The `v1,<base64>` signature the receiver expects for `hook`.
pub fn expected(hook: &Hook, secret: &str) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .expect("the secret is base64");
    let signed = format!("{}.{}.{}", hook.id, hook.timestamp, hook.body);
    format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(&key, signed.as_bytes()))
    )
}

/// Panics unless one of the space-separated signatures in the header matches.
pub fn assert_signed(hook: &Hook, secret: &str) {
    let want = expected(hook, secret);
    assert!(
        hook.signature.split(' ').any(|s| s == want),
        "bad signature on {}: got {:?}, want {want}",
        hook.id,
        hook.signature
    );
    assert!(hook.id.starts_with("evt_"), "{}", hook.id);
    assert!(hook.timestamp.parse::<i64>().is_ok(), "{}", hook.timestamp);
}
