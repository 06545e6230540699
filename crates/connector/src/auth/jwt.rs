//! The assertion of the JWT bearer grant (RFC 7523 §2.1), as Salesforce uses it:
//! <https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm>.

use super::JwtBearer;
use crate::ConnectorError;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest lifetime Salesforce accepts for an assertion ("within 3 minutes").
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(180);

/// Signs assertions with an RSA private key parsed once.
pub(crate) struct Signer {
    key: EncodingKey,
    issuer: String,
    subject: String,
    audience: String,
    lifetime: Duration,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

impl Signer {
    /// Parses the key and checks the claims; errors never quote the key.
    pub(crate) fn new(
        instance: &str,
        client_id: &str,
        grant: &JwtBearer,
    ) -> Result<Self, ConnectorError> {
        let fail = |message: String| ConnectorError::Config {
            instance: instance.to_owned(),
            message,
        };
        if grant.lifetime.is_zero() || grant.lifetime > MAX_LIFETIME {
            return Err(fail(format!(
                "jwt bearer assertion lifetime must be between 1 and {} seconds, got {} ms",
                MAX_LIFETIME.as_secs(),
                grant.lifetime.as_millis()
            )));
        }
        if grant.subject.trim().is_empty() {
            return Err(fail(
                "jwt bearer grant needs a subject (the username)".to_owned(),
            ));
        }
        if grant.audience.trim().is_empty() {
            return Err(fail(
                "jwt bearer grant needs an audience (the login URL)".to_owned(),
            ));
        }
        let key = EncodingKey::from_rsa_pem(grant.private_key_pem.expose_secret().as_bytes())
            .map_err(|e| {
                fail(format!(
                    "jwt bearer private key is not a PEM-encoded RSA private key ({:?})",
                    e.kind()
                ))
            })?;
        Ok(Self {
            key,
            issuer: client_id.to_owned(),
            subject: grant.subject.clone(),
            audience: grant.audience.clone(),
            lifetime: grant.lifetime,
        })
    }

    /// A fresh RS256 assertion with `exp` at most the configured lifetime ahead.
    pub(crate) fn assertion(&self, instance: &str) -> Result<SecretString, ConnectorError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let claims = Claims {
            iss: &self.issuer,
            sub: &self.subject,
            aud: &self.audience,
            // Rounded down, so the vendor never sees an expiry beyond the lifetime.
            exp: (now + self.lifetime).as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map(SecretString::from)
            .map_err(|e| ConnectorError::Config {
                instance: instance.to_owned(),
                message: format!("cannot sign the jwt bearer assertion ({:?})", e.kind()),
            })
    }
}
