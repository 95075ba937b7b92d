//! The caller's identity: a JWT in `Authorization: Bearer`, verified against
//! an HS256 secret or an inline JWKS (RS256, ES256, EdDSA), and turned into a
//! [`Principal`] (`docs/design.md` section 4).
//!
//! Algorithm confusion cannot happen here: the token's `alg` only chooses
//! which *kind* of configured key to try, every key is typed (an HMAC secret
//! only ever comes from `auth_hs256_secret`, never from a JWKS), and each typed
//! key verifies only its own algorithm. `none` and anything else unknown is
//! refused before any key is touched.
//!
//! Time is handed in (`now_unix_secs`), as everywhere in the domain.

use invitations::email::Email;
use invitations::ids::UserId;
use invitations::principal::{Principal, User};
use invitations::values::PersonName;
use jwt_simple::algorithms::{
    ECDSAP256PublicKeyLike, ES256PublicKey, Ed25519PublicKey, EdDSAPublicKeyLike, HS256Key,
    MACLike, RS256PublicKey, RSAPublicKeyLike,
};
use jwt_simple::claims::JWTClaims;
use jwt_simple::common::VerificationOptions;
use jwt_simple::prelude::{Duration, UnixTimeStamp};
use jwt_simple::token::Token;
use jwt_simple::JWTError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

pub const DEFAULT_AUDIENCE: &str = "invitations";
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// RFC 7518 section 3.2: an HS256 key should be at least as long as the hash.
/// Shorter ones are accepted (a deployment must not be locked out); the README
/// recommends this length.
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// Why a request is not authenticated. Messages are short, safe to show, and
/// never contain the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header")]
    Missing,
    #[error("expected Authorization: Bearer <JWT>")]
    Malformed,
    #[error("token signature does not verify with any configured key")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token is not meant for this service (aud)")]
    WrongAudience,
    #[error("token comes from an issuer this service does not trust (iss)")]
    WrongIssuer,
    #[error("token algorithm is not accepted here")]
    UnsupportedAlgorithm,
    #[error("token claims are invalid: {0}")]
    BadClaims(&'static str),
}

/// Why an authentication configuration is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("authentication is not configured: set auth_hs256_secret or auth_jwks")]
    NoKeys,
    #[error("auth_jwks is not a JWKS document ({0})")]
    JwksNotJson(String),
    #[error("auth_jwks key {index} is not a valid {alg} public key")]
    JwksBadKey { index: usize, alg: &'static str },
    #[error("auth_jwks has no RS256, ES256 or EdDSA (Ed25519) signing key")]
    JwksNoUsableKey,
}

/// A public key from the JWKS, typed by the one algorithm it verifies.
#[derive(Clone)]
enum PublicKey {
    // Boxed: an RSA key is much larger than the others.
    Rs256(Box<RS256PublicKey>),
    Es256(ES256PublicKey),
    Ed25519(Ed25519PublicKey),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Hs256,
    Rs256,
    Es256,
    EdDsa,
}

impl Family {
    /// The `alg` header values we accept; everything else, `none` included, is refused.
    fn from_alg(alg: &str) -> Option<Family> {
        match alg {
            "HS256" => Some(Family::Hs256),
            "RS256" => Some(Family::Rs256),
            "ES256" => Some(Family::Es256),
            "EdDSA" | "Ed25519" => Some(Family::EdDsa),
            _ => None,
        }
    }
}

impl PublicKey {
    fn family(&self) -> Family {
        match self {
            PublicKey::Rs256(_) => Family::Rs256,
            PublicKey::Es256(_) => Family::Es256,
            PublicKey::Ed25519(_) => Family::EdDsa,
        }
    }

    fn verify(
        &self,
        token: &str,
        options: VerificationOptions,
    ) -> Result<JWTClaims<TokenClaims>, jwt_simple::Error> {
        match self {
            PublicKey::Rs256(k) => k.verify_token(token, Some(options)),
            PublicKey::Es256(k) => k.verify_token(token, Some(options)),
            PublicKey::Ed25519(k) => k.verify_token(token, Some(options)),
        }
    }
}

#[derive(Clone)]
struct JwksKey {
    kid: Option<String>,
    key: PublicKey,
}

/// How callers' tokens are verified. Built by [`AuthConfig::new`], which
/// guarantees at least one usable key.
#[derive(Clone)]
pub struct AuthConfig {
    hs256: Option<HS256Key>,
    jwks: Vec<JwksKey>,
    /// When set, `iss` must equal it.
    pub issuer: Option<String>,
    /// `aud` must contain it.
    pub audience: String,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway_secs: u64,
}

impl fmt::Debug for AuthConfig {
    // The secret stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("hs256", &self.hs256.as_ref().map(|_| "<redacted>"))
            .field("jwks_keys", &self.jwks.len())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_secs", &self.leeway_secs)
            .finish()
    }
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl AuthConfig {
    /// From the deployment's variables; blank values count as unset.
    /// `audience` defaults to `invitations`, the leeway to 60 seconds.
    pub fn new(
        hs256_secret: Option<String>,
        jwks: Option<String>,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Result<AuthConfig, ConfigError> {
        let hs256_secret = non_blank(hs256_secret);
        let jwks = non_blank(jwks);
        if hs256_secret.is_none() && jwks.is_none() {
            return Err(ConfigError::NoKeys);
        }
        // RFC 7518 asks for 32 bytes or more (see the README); a shorter
        // secret still works, so that a deployment is never locked out by it.
        let hs256 = hs256_secret.map(|secret| hs256_key(&secret));
        let jwks = match jwks {
            Some(document) => parse_jwks(&document)?,
            None => Vec::new(),
        };
        Ok(AuthConfig {
            hs256,
            jwks,
            issuer: non_blank(issuer).map(|i| i.trim().to_owned()),
            audience: non_blank(audience)
                .map(|a| a.trim().to_owned())
                .unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned()),
            leeway_secs: DEFAULT_LEEWAY_SECS,
        })
    }

    /// The keys a token with this `alg` and `kid` may have been signed with.
    /// A `kid` narrows the choice to keys with that id (or with no id at all).
    fn candidates<'a>(&'a self, family: Family, kid: Option<&'a str>) -> Vec<&'a PublicKey> {
        self.jwks
            .iter()
            .filter(|k| k.key.family() == family)
            .filter(|k| match (kid, k.kid.as_deref()) {
                (Some(wanted), Some(have)) => wanted == have,
                _ => true,
            })
            .map(|k| &k.key)
            .collect()
    }
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<Value>,
}

/// Loads every signing key of a supported type; keys for other algorithms or
/// for encryption are skipped, since identity providers publish those too.
/// A key that claims a supported type but does not load is an error: better
/// a clear refusal at start than tokens that mysteriously fail.
fn parse_jwks(document: &str) -> Result<Vec<JwksKey>, ConfigError> {
    let parsed: JwksDocument = serde_json::from_str(document).map_err(|e| {
        ConfigError::JwksNotJson(match e.classify() {
            serde_json::error::Category::Data => "expected {\"keys\": [...]}".to_owned(),
            _ => format!("invalid JSON at line {} column {}", e.line(), e.column()),
        })
    })?;
    let mut keys = Vec::new();
    for (index, jwk) in parsed.keys.iter().enumerate() {
        let member = |name: &str| jwk.get(name).and_then(Value::as_str);
        if member("use") == Some("enc") {
            continue;
        }
        let alg = member("alg");
        let family = match (member("kty"), member("crv")) {
            (Some("RSA"), _) if matches!(alg, None | Some("RS256")) => Family::Rs256,
            (Some("EC"), Some("P-256")) if matches!(alg, None | Some("ES256")) => Family::Es256,
            (Some("OKP"), Some("Ed25519")) if matches!(alg, None | Some("EdDSA" | "Ed25519")) => {
                Family::EdDsa
            }
            _ => continue,
        };
        let text = jwk.to_string();
        let key = match family {
            Family::Rs256 => RS256PublicKey::from_jwk(&text)
                .map(|k| PublicKey::Rs256(Box::new(k)))
                .map_err(|_| ConfigError::JwksBadKey {
                    index,
                    alg: "RS256",
                })?,
            Family::Es256 => ES256PublicKey::from_jwk(&text)
                .map(PublicKey::Es256)
                .map_err(|_| ConfigError::JwksBadKey {
                    index,
                    alg: "ES256",
                })?,
            Family::EdDsa => Ed25519PublicKey::from_jwk(&text)
                .map(PublicKey::Ed25519)
                .map_err(|_| ConfigError::JwksBadKey {
                    index,
                    alg: "EdDSA",
                })?,
            Family::Hs256 => continue,
        };
        keys.push(JwksKey {
            kid: member("kid").map(str::to_owned),
            key,
        });
    }
    if keys.is_empty() {
        return Err(ConfigError::JwksNoUsableKey);
    }
    Ok(keys)
}

/// The claims beyond the registered ones. Loosely typed on purpose: a claim of
/// the wrong type is judged below, not by a serde error.
#[derive(Default, Serialize, Deserialize)]
struct TokenClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email_verified: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    principal_type: Option<Value>,
}

/// The `<jwt>` of `Bearer <jwt>`; the scheme is case-insensitive (RFC 7235).
fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(AuthError::Missing)?;
    let (scheme, token) = value.split_once([' ', '\t']).ok_or(AuthError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.contains(|c: char| c.is_whitespace() || c.is_control())
    {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

/// Whether the error means "this key did not sign it", so another key may be tried.
fn is_signature_error(error: &jwt_simple::Error) -> bool {
    match error.downcast_ref::<JWTError>() {
        Some(e) => matches!(
            e,
            JWTError::InvalidSignature | JWTError::InvalidAuthenticationTag
        ),
        // Errors from the signature primitives themselves; a payload that
        // does not parse is judged by `map_error` instead.
        None => error.downcast_ref::<serde_json::Error>().is_none(),
    }
}

fn map_error(error: &jwt_simple::Error) -> AuthError {
    if error.downcast_ref::<serde_json::Error>().is_some() {
        // The signature verified (jwt-simple checks it first), the payload did not parse.
        return AuthError::BadClaims("the payload is not a valid claims object");
    }
    match error.downcast_ref::<JWTError>() {
        Some(JWTError::TokenHasExpired) => AuthError::Expired,
        Some(JWTError::TokenNotValidYet | JWTError::ClockDrift) => AuthError::NotYetValid,
        Some(JWTError::RequiredAudienceMismatch | JWTError::RequiredAudienceMissing) => {
            AuthError::WrongAudience
        }
        Some(JWTError::RequiredIssuerMismatch | JWTError::RequiredIssuerMissing) => {
            AuthError::WrongIssuer
        }
        Some(JWTError::AlgorithmMismatch) => AuthError::UnsupportedAlgorithm,
        Some(
            JWTError::CompactEncodingError
            | JWTError::HeaderTooLarge
            | JWTError::TokenTooLong
            | JWTError::NotJWT
            | JWTError::UnknownCriticalExtension,
        ) => AuthError::Malformed,
        // Anything else (bad base64 in the signature, a key that cannot
        // verify): refuse without saying more.
        _ => AuthError::BadSignature,
    }
}

/// Verifies `Authorization: Bearer <jwt>` and returns who is calling.
pub fn verify(
    config: &AuthConfig,
    authorization: Option<&str>,
    now_unix_secs: u64,
) -> Result<Principal, AuthError> {
    let token = bearer_token(authorization)?;
    let metadata = Token::decode_metadata(token).map_err(|_| AuthError::Malformed)?;
    let family = Family::from_alg(metadata.algorithm()).ok_or(AuthError::UnsupportedAlgorithm)?;

    let options = || VerificationOptions {
        allowed_audiences: Some(HashSet::from([config.audience.clone()])),
        allowed_issuers: config.issuer.as_ref().map(|i| HashSet::from([i.clone()])),
        time_tolerance: Some(Duration::from_secs(config.leeway_secs)),
        // jwt-simple reads the system clock unless it is given the time.
        artificial_time: Some(UnixTimeStamp::from_secs(now_unix_secs)),
        ..VerificationOptions::default()
    };

    let claims = match family {
        Family::Hs256 => {
            let key = config
                .hs256
                .as_ref()
                .ok_or(AuthError::UnsupportedAlgorithm)?;
            key.verify_token::<TokenClaims>(token, Some(options()))
                .map_err(|e| map_error(&e))?
        }
        _ => {
            let candidates = config.candidates(family, metadata.key_id());
            if candidates.is_empty() {
                let any_of_family = config.jwks.iter().any(|k| k.key.family() == family);
                return Err(if any_of_family {
                    AuthError::BadSignature
                } else {
                    AuthError::UnsupportedAlgorithm
                });
            }
            let mut verified = None;
            for key in candidates {
                match key.verify(token, options()) {
                    Ok(claims) => {
                        verified = Some(claims);
                        break;
                    }
                    Err(e) if is_signature_error(&e) => continue,
                    Err(e) => return Err(map_error(&e)),
                }
            }
            verified.ok_or(AuthError::BadSignature)?
        }
    };
    principal_from(claims)
}

fn principal_from(claims: JWTClaims<TokenClaims>) -> Result<Principal, AuthError> {
    if claims.expires_at.is_none() {
        return Err(AuthError::BadClaims("exp is required"));
    }
    let id = claims
        .subject
        .as_deref()
        .and_then(|s| UserId::parse(s).ok())
        .ok_or(AuthError::BadClaims(
            "sub is missing or not a valid user id",
        ))?;
    let extra = claims.custom;
    match extra.principal_type.as_ref() {
        None => {}
        Some(Value::String(t)) if t == "user" => {}
        Some(Value::String(t)) if t == "service" => return Ok(Principal::Service { id }),
        Some(_) => {
            return Err(AuthError::BadClaims(
                "principal_type must be \"user\" or \"service\"",
            ))
        }
    }
    // Optional profile claims: a value we cannot use counts as absent.
    let email = extra
        .email
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|e| Email::parse(e).ok());
    let name = extra
        .name
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|n| PersonName::parse(n).ok());
    // Some providers send the flag as a string.
    let email_verified = matches!(extra.email_verified.as_ref(), Some(Value::Bool(true)))
        || matches!(extra.email_verified.as_ref(), Some(Value::String(s)) if s == "true");
    Ok(Principal::User(User {
        id,
        email,
        email_verified,
        name,
    }))
}

/// What a development token says about its bearer. Development and tests
/// only (feature `dev-tokens`): the app never mints tokens.
#[cfg(any(test, feature = "dev-tokens"))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevClaims {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// `None` means a user; `Some("service")` a service.
    pub principal_type: Option<String>,
    pub issuer: Option<String>,
    pub audience: String,
}

#[cfg(any(test, feature = "dev-tokens"))]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error("the HS256 secret is empty")]
    WeakSecret,
    #[error("the token could not be signed")]
    Signing,
}

#[cfg(any(test, feature = "dev-tokens"))]
#[derive(Serialize, Deserialize)]
struct MintedClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    email_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_type: Option<String>,
}

/// An HS256 token for development and tests, valid from `now_unix_secs` for `ttl_secs`.
#[cfg(any(test, feature = "dev-tokens"))]
pub fn mint_hs256(
    secret: &str,
    claims: &DevClaims,
    now_unix_secs: u64,
    ttl_secs: u64,
) -> Result<String, MintError> {
    if secret.is_empty() {
        return Err(MintError::WeakSecret);
    }
    let now = UnixTimeStamp::from_secs(now_unix_secs);
    let jwt = JWTClaims {
        issued_at: Some(now),
        expires_at: Some(UnixTimeStamp::from_secs(
            now_unix_secs.saturating_add(ttl_secs),
        )),
        invalid_before: Some(now),
        issuer: claims.issuer.clone(),
        subject: Some(claims.sub.clone()),
        audiences: Some(jwt_simple::claims::Audiences::AsString(
            claims.audience.clone(),
        )),
        jwt_id: None,
        nonce: None,
        custom: MintedClaims {
            email: claims.email.clone(),
            email_verified: claims.email_verified,
            name: claims.name.clone(),
            principal_type: claims.principal_type.clone(),
        },
    };
    hs256_key(secret)
        .authenticate(jwt)
        .map_err(|_| MintError::Signing)
}

/// jwt-simple refuses HMAC keys under 12 bytes. HMAC pads a key shorter than
/// the hash's block (64 bytes) with zero bytes anyway, so padding it here
/// gives the very same signatures as the issuer's, for any secret length.
fn hs256_key(secret: &str) -> HS256Key {
    const JWT_SIMPLE_MIN: usize = 12;
    let mut key = secret.as_bytes().to_vec();
    if key.len() < JWT_SIMPLE_MIN {
        key.resize(JWT_SIMPLE_MIN, 0);
    }
    HS256Key::from_bytes(&key)
}

/// Whether `Authorization: Bearer <secret>` presents `secret` (the sweep
/// route's token). Both sides are hashed and the digests compared in constant
/// time, so neither the content nor the length leaks through timing. An empty
/// secret matches nothing.
pub fn bearer_matches(authorization: Option<&str>, secret: &str) -> bool {
    // Read as every bearer header is read ([`bearer_token`]).
    let presented = bearer_token(authorization).unwrap_or_default();
    let expected = hmac_sha256::Hash::hash(secret.as_bytes());
    let matches = hmac_sha256::Hash::verify(presented.as_bytes(), &expected);
    matches && !secret.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_simple::claims::Audiences;

    #[test]
    fn bearer_matches_only_the_exact_secret() {
        let secret = "s3cret-sweep-token";
        assert!(bearer_matches(Some("Bearer s3cret-sweep-token"), secret));
        assert!(bearer_matches(Some("bearer  s3cret-sweep-token "), secret));
        assert!(!bearer_matches(Some("Bearer s3cret-sweep-toke"), secret));
        assert!(!bearer_matches(Some("Bearer s3cret-sweep-token2"), secret));
        assert!(!bearer_matches(Some("Basic s3cret-sweep-token"), secret));
        assert!(!bearer_matches(Some("s3cret-sweep-token"), secret));
        assert!(!bearer_matches(None, secret));
        assert!(!bearer_matches(Some("Bearer "), ""));
        assert!(!bearer_matches(None, ""));
    }

    /// HMAC-SHA256 from RustCrypto, not from the crates the app verifies with.
    fn reference_hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = Hmac::<sha2_011::Sha256>::new_from_slice(key).expect("any key length");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jwt_simple::algorithms::{
        ECDSAP256KeyPairLike, ES256KeyPair, Ed25519KeyPair, EdDSAKeyPairLike, RS256KeyPair,
        RSAKeyPairLike,
    };
    use serde_json::json;
    use std::sync::OnceLock;

    const SECRET: &str = "test-secret-that-is-long-enough-for-hs256";
    const NOW: u64 = 1_800_000_000;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    struct Keys {
        rsa: RS256KeyPair,
        ec: ES256KeyPair,
        ed: Ed25519KeyPair,
    }

    // RSA key generation is slow; every test shares one set of keys.
    fn keys() -> &'static Keys {
        static KEYS: OnceLock<Keys> = OnceLock::new();
        KEYS.get_or_init(|| Keys {
            rsa: RS256KeyPair::generate(2048)
                .expect("RSA key generation")
                .with_key_id("rsa-1"),
            ec: ES256KeyPair::generate().with_key_id("ec-1"),
            ed: Ed25519KeyPair::generate().with_key_id("ed-1"),
        })
    }

    /// A JWKS as an identity provider publishes it, built from the public keys' components.
    fn jwks_json() -> String {
        let k = keys();
        let rsa = k.rsa.public_key().to_components();
        let ec_point = k.ec.public_key().public_key().to_bytes_uncompressed();
        let ed = k.ed.public_key().to_bytes();
        json!({"keys": [
            {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": b64(&rsa.n), "e": b64(&rsa.e)},
            {"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256",
             "x": b64(&ec_point[1..33]), "y": b64(&ec_point[33..])},
            {"kty": "OKP", "kid": "ed-1", "use": "sig", "alg": "EdDSA", "crv": "Ed25519", "x": b64(&ed)},
            // Published by providers too, and skipped: an encryption key and an unsupported algorithm.
            {"kty": "RSA", "kid": "enc-1", "use": "enc", "n": b64(&rsa.n), "e": b64(&rsa.e)},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"}
        ]})
        .to_string()
    }

    fn hs_config() -> AuthConfig {
        AuthConfig::new(Some(SECRET.into()), None, None, None).expect("config")
    }

    fn jwks_config() -> AuthConfig {
        AuthConfig::new(None, Some(jwks_json()), None, None).expect("config")
    }

    fn claims(exp_in: i64) -> JWTClaims<Value> {
        JWTClaims {
            issued_at: Some(UnixTimeStamp::from_secs(NOW)),
            expires_at: Some(UnixTimeStamp::from_secs(NOW.saturating_add_signed(exp_in))),
            invalid_before: None,
            issuer: None,
            subject: Some("user_alice".into()),
            audiences: Some(Audiences::AsString("invitations".into())),
            jwt_id: None,
            nonce: None,
            custom: json!({"email": "Alice@Example.com", "email_verified": true, "name": "Alice"}),
        }
    }

    fn hs_token(c: JWTClaims<Value>) -> String {
        HS256Key::from_bytes(SECRET.as_bytes())
            .authenticate(c)
            .expect("sign")
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    fn alice() -> Principal {
        Principal::User(User {
            id: UserId::parse("user_alice").unwrap(),
            email: Some(Email::parse("alice@example.com").unwrap()),
            email_verified: true,
            name: Some(PersonName::parse("Alice").unwrap()),
        })
    }

    /// A token with the given header and payload and an arbitrary signature segment.
    fn hand_made(header: &Value, payload: &Value, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64(header.to_string().as_bytes()),
            b64(payload.to_string().as_bytes()),
            b64(signature)
        )
    }

    fn payload() -> Value {
        json!({"sub": "user_alice", "aud": "invitations", "exp": NOW + 600, "iat": NOW})
    }

    #[test]
    fn hs256_token_verifies_into_a_user() {
        let token = hs_token(claims(600));
        assert_eq!(
            verify(&hs_config(), Some(&bearer(&token)), NOW),
            Ok(alice())
        );
    }

    #[test]
    fn rs256_es256_and_eddsa_tokens_verify_against_the_jwks() {
        let k = keys();
        let config = jwks_config();
        let tokens = [
            k.rsa.sign(claims(600)).expect("RS256"),
            k.ec.sign(claims(600)).expect("ES256"),
            k.ed.sign(claims(600)).expect("EdDSA"),
        ];
        for token in tokens {
            assert_eq!(verify(&config, Some(&bearer(&token)), NOW), Ok(alice()));
        }
    }

    #[test]
    fn keys_without_kid_are_found_by_type() {
        let k = keys();
        let rsa = k.rsa.public_key().to_components();
        let jwks = json!({"keys": [{"kty": "RSA", "n": b64(&rsa.n), "e": b64(&rsa.e)}]});
        let config = AuthConfig::new(None, Some(jwks.to_string()), None, None).unwrap();
        let token = k.rsa.sign(claims(600)).unwrap();
        assert_eq!(verify(&config, Some(&bearer(&token)), NOW), Ok(alice()));
    }

    #[test]
    fn kid_selects_the_key() {
        let k = keys();
        let config = jwks_config();
        // Signed by the right key but naming another RSA key id: no key matches.
        let other = RS256KeyPair::from_der(&k.rsa.to_der().unwrap())
            .unwrap()
            .with_key_id("rsa-unknown");
        let token = other.sign(claims(600)).unwrap();
        assert_eq!(
            verify(&config, Some(&bearer(&token)), NOW),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn expiry_is_checked_against_the_time_handed_in_with_leeway() {
        let config = hs_config();
        let token = hs_token(claims(600));
        assert!(verify(&config, Some(&bearer(&token)), NOW + 600).is_ok());
        assert!(
            verify(&config, Some(&bearer(&token)), NOW + 660).is_ok(),
            "within leeway"
        );
        assert_eq!(
            verify(&config, Some(&bearer(&token)), NOW + 661),
            Err(AuthError::Expired)
        );
        let mut strict = config.clone();
        strict.leeway_secs = 0;
        assert_eq!(
            verify(&strict, Some(&bearer(&token)), NOW + 601),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn not_before_is_checked_with_leeway() {
        let config = hs_config();
        let mut c = claims(3600);
        c.invalid_before = Some(UnixTimeStamp::from_secs(NOW + 300));
        c.issued_at = Some(UnixTimeStamp::from_secs(NOW + 300));
        let token = hs_token(c);
        assert_eq!(
            verify(&config, Some(&bearer(&token)), NOW),
            Err(AuthError::NotYetValid)
        );
        assert!(
            verify(&config, Some(&bearer(&token)), NOW + 240).is_ok(),
            "within leeway"
        );
        assert_eq!(
            verify(&config, Some(&bearer(&token)), NOW + 239),
            Err(AuthError::NotYetValid)
        );
    }

    #[test]
    fn exp_is_required() {
        let mut c = claims(600);
        c.expires_at = None;
        assert_eq!(
            verify(&hs_config(), Some(&bearer(&hs_token(c))), NOW),
            Err(AuthError::BadClaims("exp is required"))
        );
    }

    #[test]
    fn audience_must_contain_ours() {
        let config = hs_config();
        let mut c = claims(600);
        c.audiences = Some(Audiences::AsString("someone-else".into()));
        assert_eq!(
            verify(&config, Some(&bearer(&hs_token(c))), NOW),
            Err(AuthError::WrongAudience)
        );
        let mut c = claims(600);
        c.audiences = None;
        assert_eq!(
            verify(&config, Some(&bearer(&hs_token(c))), NOW),
            Err(AuthError::WrongAudience)
        );
        let mut c = claims(600);
        c.audiences = Some(Audiences::AsSet(HashSet::from([
            "other".to_owned(),
            "invitations".to_owned(),
        ])));
        assert_eq!(
            verify(&config, Some(&bearer(&hs_token(c))), NOW),
            Ok(alice())
        );

        let custom = AuthConfig::new(Some(SECRET.into()), None, None, Some("api".into())).unwrap();
        assert_eq!(
            verify(&custom, Some(&bearer(&hs_token(claims(600)))), NOW),
            Err(AuthError::WrongAudience)
        );
    }

    #[test]
    fn issuer_must_match_when_configured() {
        let config = AuthConfig::new(
            Some(SECRET.into()),
            None,
            Some("https://id.example.com/".into()),
            None,
        )
        .unwrap();
        let mut c = claims(600);
        c.issuer = Some("https://evil.example.com/".into());
        assert_eq!(
            verify(&config, Some(&bearer(&hs_token(c))), NOW),
            Err(AuthError::WrongIssuer)
        );
        assert_eq!(
            verify(&config, Some(&bearer(&hs_token(claims(600)))), NOW),
            Err(AuthError::WrongIssuer),
            "missing iss"
        );
        let mut c = claims(600);
        c.issuer = Some("https://id.example.com/".into());
        assert_eq!(
            verify(&config, Some(&bearer(&hs_token(c))), NOW),
            Ok(alice())
        );
    }

    #[test]
    fn bad_signatures_are_refused() {
        let token = hs_token(claims(600));
        let other = AuthConfig::new(
            Some("another-secret-also-long-enough-xx".into()),
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            verify(&other, Some(&bearer(&token)), NOW),
            Err(AuthError::BadSignature)
        );
        // A payload swapped under a valid signature.
        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload = b64(
            json!({"sub": "user_mallory", "aud": "invitations", "exp": NOW + 600})
                .to_string()
                .as_bytes(),
        );
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(
            verify(&hs_config(), Some(&bearer(&forged)), NOW),
            Err(AuthError::BadSignature)
        );
        // An ES256 token signed by a key that is not in the JWKS.
        let stranger = ES256KeyPair::generate().with_key_id("ec-1");
        let token = stranger.sign(claims(600)).unwrap();
        assert_eq!(
            verify(&jwks_config(), Some(&bearer(&token)), NOW),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn alg_none_is_refused() {
        for header in [
            json!({"alg": "none"}),
            json!({"alg": "none", "typ": "JWT"}),
            json!({"alg": "None"}),
        ] {
            let token = hand_made(&header, &payload(), b"");
            for config in [hs_config(), jwks_config()] {
                assert_eq!(
                    verify(&config, Some(&bearer(&token)), NOW),
                    Err(AuthError::UnsupportedAlgorithm)
                );
            }
        }
        // Without a signature segment at all.
        let token = format!(
            "{}.{}.",
            b64(json!({"alg": "none"}).to_string().as_bytes()),
            b64(payload().to_string().as_bytes())
        );
        assert_eq!(
            verify(&hs_config(), Some(&bearer(&token)), NOW),
            Err(AuthError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn hs256_signed_with_the_rsa_public_key_is_refused() {
        let k = keys();
        let public = k.rsa.public_key();
        for secret in [
            public.to_pem().unwrap().into_bytes(),
            public.to_der().unwrap(),
            jwks_json().into_bytes(),
        ] {
            let token = HS256Key::from_bytes(&secret)
                .with_key_id("rsa-1")
                .authenticate(claims(600))
                .unwrap();
            // Only the RS256 JWKS configured: HS256 has no key at all.
            assert_eq!(
                verify(&jwks_config(), Some(&bearer(&token)), NOW),
                Err(AuthError::UnsupportedAlgorithm)
            );
            // With an HS256 secret as well, only that secret is ever the HMAC key.
            let both = AuthConfig::new(Some(SECRET.into()), Some(jwks_json()), None, None).unwrap();
            assert_eq!(
                verify(&both, Some(&bearer(&token)), NOW),
                Err(AuthError::BadSignature)
            );
        }
    }

    #[test]
    fn header_alg_must_match_the_key_type() {
        let k = keys();
        // An RS256 token when only an HS256 secret is configured.
        let token = k.rsa.sign(claims(600)).unwrap();
        assert_eq!(
            verify(&hs_config(), Some(&bearer(&token)), NOW),
            Err(AuthError::UnsupportedAlgorithm)
        );
        // An ES256 signature relabelled RS256 with the RSA key's id.
        let es = k.ec.sign(claims(600)).unwrap();
        let parts: Vec<&str> = es.split('.').collect();
        let header = b64(json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"})
            .to_string()
            .as_bytes());
        let relabelled = format!("{header}.{}.{}", parts[1], parts[2]);
        assert_eq!(
            verify(&jwks_config(), Some(&bearer(&relabelled)), NOW),
            Err(AuthError::BadSignature)
        );
        // An algorithm we do not accept, even with a key of that family present.
        let ps = hand_made(&json!({"alg": "PS256"}), &payload(), b"sig");
        assert_eq!(
            verify(&jwks_config(), Some(&bearer(&ps)), NOW),
            Err(AuthError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn authorization_header_shapes() {
        let config = hs_config();
        let token = hs_token(claims(600));
        assert_eq!(verify(&config, None, NOW), Err(AuthError::Missing));
        assert_eq!(verify(&config, Some("   "), NOW), Err(AuthError::Missing));
        for header in [
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            token.clone(),
            format!("Basic {token}"),
            format!("Bearer {token} extra"),
            "Bearer not-a-jwt".to_owned(),
            "Bearer a.b.c".to_owned(),
            "Bearer ....".to_owned(),
            format!("Bearer {}.{}", b64(b"{\"alg\":\"HS256\"}"), b64(b"{}")),
        ] {
            assert_eq!(
                verify(&config, Some(&header), NOW),
                Err(AuthError::Malformed),
                "{header:?}"
            );
        }
        for header in [
            format!("bearer {token}"),
            format!("BEARER  {token}"),
            format!(" Bearer\t{token} "),
        ] {
            assert_eq!(
                verify(&config, Some(&header), NOW),
                Ok(alice()),
                "{header:?}"
            );
        }
    }

    #[test]
    fn garbled_payload_under_a_valid_signature_is_bad_claims() {
        let key = HS256Key::from_bytes(SECRET.as_bytes());
        let header = b64(json!({"alg": "HS256", "typ": "JWT"}).to_string().as_bytes());
        let body = b64(b"[1,2,3]");
        let signed = format!("{header}.{body}");
        let tag = b64(&key.authentication_tag(signed.as_bytes()));
        let token = format!("{signed}.{tag}");
        assert_eq!(
            verify(&hs_config(), Some(&bearer(&token)), NOW),
            Err(AuthError::BadClaims(
                "the payload is not a valid claims object"
            ))
        );
    }

    #[test]
    fn service_principal() {
        let mut c = claims(600);
        c.custom = json!({"principal_type": "service"});
        assert_eq!(
            verify(&hs_config(), Some(&bearer(&hs_token(c))), NOW),
            Ok(Principal::Service {
                id: UserId::parse("user_alice").unwrap()
            })
        );
        let mut c = claims(600);
        c.custom = json!({"principal_type": "user"});
        assert!(matches!(
            verify(&hs_config(), Some(&bearer(&hs_token(c))), NOW),
            Ok(Principal::User(_))
        ));
        for bad in [
            json!("admin"),
            json!(1),
            json!(null).take(),
            json!(["service"]),
        ] {
            let mut c = claims(600);
            c.custom = json!({"principal_type": bad});
            let result = verify(&hs_config(), Some(&bearer(&hs_token(c))), NOW);
            if bad.is_null() {
                assert!(matches!(result, Ok(Principal::User(_))));
            } else {
                assert_eq!(
                    result,
                    Err(AuthError::BadClaims(
                        "principal_type must be \"user\" or \"service\""
                    ))
                );
            }
        }
    }

    #[test]
    fn sub_is_required_and_must_be_a_user_id() {
        for sub in [None, Some(""), Some("has space"), Some("a/b")] {
            let mut c = claims(600);
            c.subject = sub.map(str::to_owned);
            assert_eq!(
                verify(&hs_config(), Some(&bearer(&hs_token(c))), NOW),
                Err(AuthError::BadClaims(
                    "sub is missing or not a valid user id"
                ))
            );
        }
    }

    #[test]
    fn unusable_profile_claims_count_as_absent() {
        let mut c = claims(600);
        c.custom = json!({"email": "not an email", "name": "bad\r\nname", "email_verified": "yes"});
        assert_eq!(
            verify(&hs_config(), Some(&bearer(&hs_token(c))), NOW),
            Ok(Principal::User(User {
                id: UserId::parse("user_alice").unwrap(),
                email: None,
                email_verified: false,
                name: None,
            }))
        );
        let mut c = claims(600);
        c.custom = json!({"email": 42, "email_verified": "true"});
        let Ok(Principal::User(user)) = verify(&hs_config(), Some(&bearer(&hs_token(c))), NOW)
        else {
            panic!("expected a user");
        };
        assert_eq!(user.email, None);
        assert!(user.email_verified);
    }

    #[test]
    fn config_needs_a_key_source_and_a_valid_jwks() {
        assert_eq!(
            AuthConfig::new(None, None, None, None).unwrap_err(),
            ConfigError::NoKeys
        );
        assert_eq!(
            AuthConfig::new(Some("  ".into()), Some("".into()), None, None).unwrap_err(),
            ConfigError::NoKeys
        );
        assert!(AuthConfig::new(Some("short".into()), None, None, None).is_ok());
        for bad in ["not json", "{}", "{\"keys\": 5}", "[1]"] {
            assert!(
                matches!(
                    AuthConfig::new(None, Some(bad.into()), None, None),
                    Err(ConfigError::JwksNotJson(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            AuthConfig::new(None, Some("{\"keys\": []}".into()), None, None).unwrap_err(),
            ConfigError::JwksNoUsableKey
        );
        let broken = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}]});
        assert_eq!(
            AuthConfig::new(None, Some(broken.to_string()), None, None).unwrap_err(),
            ConfigError::JwksBadKey {
                index: 0,
                alg: "ES256"
            }
        );
        let config = AuthConfig::new(Some(SECRET.into()), None, None, None).unwrap();
        assert_eq!(config.audience, "invitations");
        assert_eq!(config.leeway_secs, 60);
        assert!(!format!("{config:?}").contains(SECRET));
    }

    #[test]
    fn jwks_keys_skipped_or_loaded_as_expected() {
        let config = jwks_config();
        // Three signing keys; the encryption key and the P-384 key are skipped.
        assert_eq!(config.jwks.len(), 3);
        let families: Vec<Family> = config.jwks.iter().map(|k| k.key.family()).collect();
        assert_eq!(families, [Family::Rs256, Family::Es256, Family::EdDsa]);
    }

    #[test]
    fn minted_tokens_verify_and_carry_the_claims() {
        let dev = DevClaims {
            sub: "alice".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: Some("Alice".into()),
            principal_type: None,
            issuer: Some("dev".into()),
            audience: "invitations".into(),
        };
        let token = mint_hs256(SECRET, &dev, NOW, 3600).unwrap();
        let config = AuthConfig::new(Some(SECRET.into()), None, Some("dev".into()), None).unwrap();
        assert_eq!(
            verify(&config, Some(&bearer(&token)), NOW + 10),
            Ok(Principal::User(User {
                id: UserId::parse("alice").unwrap(),
                email: Some(Email::parse("alice@example.com").unwrap()),
                email_verified: true,
                name: Some(PersonName::parse("Alice").unwrap()),
            }))
        );
        assert_eq!(
            verify(&config, Some(&bearer(&token)), NOW + 3600 + 61),
            Err(AuthError::Expired)
        );
        let service = DevClaims {
            principal_type: Some("service".into()),
            ..dev.clone()
        };
        let token = mint_hs256(SECRET, &service, NOW, 60).unwrap();
        assert!(verify(&config, Some(&bearer(&token)), NOW)
            .unwrap()
            .is_service());
        assert_eq!(mint_hs256("", &dev, NOW, 60), Err(MintError::WeakSecret));
        // A short secret works, and signs exactly as plain HMAC-SHA256 does.
        let short = AuthConfig::new(Some("short".into()), None, None, None).unwrap();
        let token = mint_hs256("short", &dev, NOW, 60).unwrap();
        assert!(verify(&short, Some(&bearer(&token)), NOW).is_ok());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let expected = URL_SAFE_NO_PAD.encode(reference_hmac_sha256(b"short", signed.as_bytes()));
        assert_eq!(signature, expected);
    }

    #[test]
    fn messages_never_contain_the_token() {
        let token = hs_token(claims(600));
        let errors = [
            verify(&hs_config(), Some(&bearer(&token)), NOW + 10_000),
            verify(&hs_config(), Some(&format!("Basic {token}")), NOW),
            verify(&jwks_config(), Some(&bearer(&token)), NOW),
        ];
        for error in errors {
            let message = error.unwrap_err().to_string();
            assert!(
                !message.contains(&token) && !message.contains(token.split('.').next().unwrap())
            );
        }
    }
}
