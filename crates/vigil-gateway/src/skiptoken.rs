//! `$skiptoken`: an opaque, tamper-evident token holding where a federated walk stands.
//!
//! Graph's nextLinks carry an opaque `$skiptoken`; clients follow the link verbatim. Ours holds
//! the walk state (each provider's position) and is bound to the tenant and to the exact query
//! it continues, so it can be neither forged, edited, nor replayed by another tenant or with
//! another filter. Format: `base64url(json) "." base64url(HMAC-SHA256(key, json))`; the key is
//! generated into the data directory and must be shared by replicas.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Longest token accepted (a forged huge token must not cost us anything).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a skiptoken was refused. Deliberately vague towards the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipTokenError {
    #[error("The $skiptoken is malformed.")]
    Malformed,
    #[error("The $skiptoken is invalid or was issued for another query.")]
    BadSignature,
}

/// Signs and verifies tokens.
#[derive(Clone)]
pub struct SkipTokenSigner {
    key: Vec<u8>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope<T> {
    /// Tenant and query digest the token is bound to.
    b: String,
    s: T,
}

impl SkipTokenSigner {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; this cannot fail.
        match HmacSha256::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => unreachable_hmac(),
        }
    }

    /// The binding of a token: tenant and a digest of the canonical query.
    pub fn binding(tenant_id: &str, canonical_query: &str) -> String {
        let mut h = Sha256::new();
        h.update(tenant_id.as_bytes());
        h.update([0]);
        h.update(canonical_query.as_bytes());
        URL_SAFE_NO_PAD.encode(&h.finalize()[..16])
    }

    pub fn sign<T: Serialize>(&self, binding: &str, state: &T) -> String {
        let json = serde_json::to_vec(&Envelope {
            b: binding.to_string(),
            s: state,
        })
        .unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&json);
        let sig = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }

    pub fn verify<T: DeserializeOwned>(
        &self,
        binding: &str,
        token: &str,
    ) -> Result<T, SkipTokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(SkipTokenError::Malformed);
        }
        let (body, sig) = token.split_once('.').ok_or(SkipTokenError::Malformed)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SkipTokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| SkipTokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(&json);
        mac.verify_slice(&sig)
            .map_err(|_| SkipTokenError::BadSignature)?;
        let env: Envelope<T> =
            serde_json::from_slice(&json).map_err(|_| SkipTokenError::Malformed)?;
        if env.b != binding {
            return Err(SkipTokenError::BadSignature);
        }
        Ok(env.s)
    }
}

#[cold]
fn unreachable_hmac() -> ! {
    // HMAC-SHA256 takes keys of every length, so new_from_slice never fails.
    std::process::abort()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_tampering() {
        let s = SkipTokenSigner::new(b"k".repeat(32).as_slice());
        let b = SkipTokenSigner::binding("t1", "$filter=severity eq 'high'");
        let tok = s.sign(&b, &vec![1u32, 2, 3]);
        assert_eq!(s.verify::<Vec<u32>>(&b, &tok).unwrap(), vec![1, 2, 3]);

        // Another tenant or query: refused.
        let other = SkipTokenSigner::binding("t2", "$filter=severity eq 'high'");
        assert_eq!(
            s.verify::<Vec<u32>>(&other, &tok),
            Err(SkipTokenError::BadSignature)
        );
        // A flipped byte in the body: refused.
        let mut bytes = tok.clone().into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(s.verify::<Vec<u32>>(&b, &tampered).is_err());
        // Garbage: refused, never a panic.
        for junk in [
            "",
            ".",
            "abc",
            "a.b.c",
            "!!!.???",
            &"x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(s.verify::<Vec<u32>>(&b, junk).is_err());
        }
        // Another key: refused.
        let s2 = SkipTokenSigner::new(b"z".repeat(32).as_slice());
        assert!(s2.verify::<Vec<u32>>(&b, &tok).is_err());
    }
}
