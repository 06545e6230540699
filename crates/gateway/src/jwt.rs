//! OIDC/JWT bearer tokens, for single sign-on setups: an identity provider signs a token
//! (RS256 or ES256), the client sends it as `Authorization: Bearer <jwt>`, and the gateway
//! checks it against a JWK set it was given (a file; it fetches nothing), its issuer, its
//! audience and its expiry, and maps a claim to a [`Role`].
//!
//! Only asymmetric algorithms are accepted: a token naming `HS256` or `none` is refused
//! whatever the key set holds, so a public key can never be used as an HMAC secret.

use crate::auth::Principal;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::BTreeMap;
use tributary_store::Role;

/// How JWTs are verified (`[gateway.auth.jwt]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtConfig {
    /// The keys tokens may be signed with (the provider's JWKS document).
    pub jwks: JwkSet,
    /// The `iss` a token must carry.
    pub issuer: String,
    /// The `aud` a token must carry (one of its values, if a list).
    pub audience: String,
    /// The claim naming the role: a string or a list of strings.
    pub role_claim: String,
    /// Claim values mapped to roles (`"bi-analysts" = "finance"`); a value not in the map is
    /// taken as a role name (`finance`) if it is one.
    pub role_map: BTreeMap<String, Role>,
}

/// Why a token was refused; none of it repeats the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// The token does not verify (signature, algorithm, key, issuer, audience, expiry …).
    #[error("the bearer token is not valid: {0}")]
    Invalid(&'static str),
    /// The token verifies but names no role this gateway knows.
    #[error("the bearer token's `{0}` claim names no role this gateway knows")]
    NoRole(String),
}

/// Whether `token` has the shape of a JWT (three base64url parts).
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl JwtConfig {
    /// Parses a JWKS document.
    pub fn parse_jwks(json: &str) -> Result<JwkSet, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The principal of a verified token.
    pub(crate) fn verify(&self, token: &str) -> Result<Principal, JwtError> {
        use jsonwebtoken::errors::ErrorKind;
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid("malformed"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(JwtError::Invalid("only RS256 and ES256 are accepted"));
        }
        let jwk = match (&header.kid, self.jwks.keys.as_slice()) {
            (Some(kid), _) => self.jwks.find(kid),
            (None, [only]) => Some(only),
            (None, _) => None,
        }
        .ok_or(JwtError::Invalid("no key of the key set signs it"))?;
        if let Some(alg) = jwk.common.key_algorithm
            && alg.to_string() != format!("{:?}", header.alg)
        {
            return Err(JwtError::Invalid("the key is not for this algorithm"));
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|_| JwtError::Invalid("unusable key"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).map_err(|e| {
                JwtError::Invalid(match e.kind() {
                    ErrorKind::ExpiredSignature => "expired",
                    ErrorKind::ImmatureSignature => "not valid yet",
                    ErrorKind::InvalidIssuer => "wrong issuer",
                    ErrorKind::InvalidAudience => "wrong audience",
                    ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
                    ErrorKind::InvalidSignature => "bad signature",
                    _ => "does not verify",
                })
            })?;
        let claims = data.claims;
        let values: Vec<&str> = match &claims[self.role_claim.as_str()] {
            serde_json::Value::String(s) => vec![s.as_str()],
            serde_json::Value::Array(items) => {
                items.iter().filter_map(serde_json::Value::as_str).collect()
            }
            _ => Vec::new(),
        };
        let role = values
            .iter()
            .find_map(|v| self.role_map.get(*v).copied().or_else(|| v.parse().ok()))
            .ok_or_else(|| JwtError::NoRole(self.role_claim.clone()))?;
        let subject = claims["sub"].as_str().unwrap_or_default();
        Ok(Principal::unkeyed(format!("jwt:{subject}"), role))
    }
}
