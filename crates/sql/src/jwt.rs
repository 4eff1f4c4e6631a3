//! RS256 JSON web tokens, as the warehouses' logins take them: Snowflake's key-pair login and
//! BigQuery's service-account assertion sign a token with the account's RSA key.

use stevedore_core::{Error, Result};

/// Unpadded base64url, the JWT encoding of each part.
pub fn b64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// `header.claims.signature` with `{"alg":"RS256","typ":"JWT"}`, signed by `key`
/// (PKCS#1 v1.5 with SHA-256). `what` names the token in the error (never the key).
pub fn rs256(key: &ring::signature::RsaKeyPair, claims: &serde_json::Value, what: &str) -> Result<String> {
    let header = b64url(br#"{"alg":"RS256","typ":"JWT"}"#);
    let signing = format!("{header}.{}", b64url(claims.to_string().as_bytes()));
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signing.as_bytes(), &mut sig)
        .map_err(|_| Error::internal(format!("RS256 signing of {what} failed")))?;
    Ok(format!("{signing}.{}", b64url(&sig)))
}
