//! Standard Webhooks verification written from the specification, with
//! nothing shared with the app's signer (that one uses `hmac-sha256`; this
//! uses RustCrypto's `hmac` and `sha2`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use invitations_dev::inbox::Hook;

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<sha2_011::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
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
