//! The `auth` table of a connector's section in `tributary.toml`: which credentials its
//! requests carry. Secret values arrive already resolved from their env-var references (the
//! binary does that) and stay [`SecretString`]s.
//!
//! ```toml
//! [connectors.sfdc-prod.auth]
//! kind = "oauth2"
//! grant = "jwt_bearer"
//! token_url = "https://login.salesforce.com/services/oauth2/token"
//! client_id = "3MVG9..."
//! username = "integration@acme.com"
//! audience = "https://login.salesforce.com"
//! private_key_pem = { env = "SFDC_PRIVATE_KEY" }
//! ```

use super::{ClientAuth, Grant, JwtBearer, OAuth2Config, TokenManager};
use crate::{Auth, ConnectorError};
use reqwest::header::HeaderName;
use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;

/// How a connector instance authenticates; `kind` selects the variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthSettings {
    /// No credentials.
    None,
    /// A static bearer token (e.g. a HubSpot private app token).
    Bearer {
        /// The token.
        token: SecretString,
    },
    /// An API key in a request header.
    ApiKeyHeader {
        /// The header name, e.g. `X-Api-Key`.
        header: String,
        /// The key.
        key: SecretString,
    },
    /// An API key in a query parameter (e.g. Moodle's `wstoken`).
    ApiKeyQuery {
        /// The parameter name.
        param: String,
        /// The key.
        key: SecretString,
    },
    /// HTTP Basic.
    Basic {
        /// The user name.
        username: String,
        /// The password or API token.
        password: SecretString,
    },
    /// An OAuth2 access token from a [`TokenManager`].
    Oauth2(OAuth2Settings),
}

/// The `auth` table of `kind = "oauth2"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Settings {
    /// `refresh_token`, `client_credentials` or `jwt_bearer`.
    pub grant: GrantSetting,
    /// The token endpoint.
    pub token_url: String,
    /// The client id (Salesforce consumer key); the JWT `iss`.
    pub client_id: String,
    /// The client secret, when the app has one (required by `client_credentials`).
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// Where the client id and secret go: `request_body` (default) or `basic_header`.
    #[serde(default)]
    pub client_auth: ClientAuthSetting,
    /// Scopes to request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Refresh a token this many seconds before it expires.
    #[serde(default = "default_refresh_skew_secs")]
    pub refresh_skew_secs: u64,
    /// Lifetime to assume, in seconds, when the token response has no `expires_in`; absent:
    /// use such a token until the vendor answers 401.
    #[serde(default)]
    pub assumed_lifetime_secs: Option<u64>,
    /// Timeout of one token request, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// `refresh_token` grant: the long-lived refresh token.
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    /// `jwt_bearer` grant: the JWT `sub`, the user to act as.
    #[serde(default)]
    pub username: Option<String>,
    /// `jwt_bearer` grant: the JWT `aud`, e.g. `https://login.salesforce.com`.
    #[serde(default)]
    pub audience: Option<String>,
    /// `jwt_bearer` grant: the PEM-encoded RSA private key of the app's certificate.
    #[serde(default)]
    pub private_key_pem: Option<SecretString>,
    /// `jwt_bearer` grant: how far ahead the assertion's `exp` is, in seconds (at most 180).
    #[serde(default = "default_assertion_lifetime_secs")]
    pub assertion_lifetime_secs: u64,
}

/// The OAuth2 grant, as spelled in configuration.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GrantSetting {
    /// [`Grant::RefreshToken`].
    RefreshToken,
    /// [`Grant::ClientCredentials`].
    ClientCredentials,
    /// [`Grant::JwtBearer`].
    JwtBearer,
}

/// [`ClientAuth`] as it is spelled in configuration.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthSetting {
    /// Form fields.
    #[default]
    RequestBody,
    /// HTTP Basic.
    BasicHeader,
}

fn default_refresh_skew_secs() -> u64 {
    60
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn default_assertion_lifetime_secs() -> u64 {
    120
}

impl AuthSettings {
    /// The [`Auth`] these settings describe, for connector instance `instance`. The OAuth2 kind
    /// gets a [`TokenManager`]; no request is made yet.
    pub fn build(&self, instance: &str) -> Result<Auth, ConnectorError> {
        Ok(match self {
            AuthSettings::None => Auth::None,
            AuthSettings::Bearer { token } => Auth::Bearer(token.clone()),
            AuthSettings::ApiKeyHeader { header, key } => Auth::ApiKeyHeader {
                name: HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                    ConnectorError::Config {
                        instance: instance.to_owned(),
                        message: format!("auth.header `{header}` is not a valid header name"),
                    }
                })?,
                value: key.clone(),
            },
            AuthSettings::ApiKeyQuery { param, key } => Auth::ApiKeyQuery {
                name: param.clone(),
                value: key.clone(),
            },
            AuthSettings::Basic { username, password } => Auth::Basic {
                username: username.clone(),
                password: password.clone(),
            },
            AuthSettings::Oauth2(settings) => Auth::OAuth2(settings.token_manager(instance)?),
        })
    }
}

impl OAuth2Settings {
    /// The token manager these settings describe. A field the grant needs must be present and
    /// a field of another grant must not be, so a mix-up is reported rather than ignored.
    pub fn token_manager(&self, instance: &str) -> Result<TokenManager, ConnectorError> {
        let fail = |message: String| ConnectorError::Config {
            instance: instance.to_owned(),
            message,
        };
        let grant_name = match self.grant {
            GrantSetting::RefreshToken => "refresh_token",
            GrantSetting::ClientCredentials => "client_credentials",
            GrantSetting::JwtBearer => "jwt_bearer",
        };
        let jwt_fields = [
            ("username", self.username.is_some()),
            ("audience", self.audience.is_some()),
            ("private_key_pem", self.private_key_pem.is_some()),
        ];
        let foreign: Vec<&str> = match self.grant {
            GrantSetting::JwtBearer => vec![("refresh_token", self.refresh_token.is_some())],
            GrantSetting::RefreshToken => jwt_fields.to_vec(),
            GrantSetting::ClientCredentials => {
                let mut f = jwt_fields.to_vec();
                f.push(("refresh_token", self.refresh_token.is_some()));
                f
            }
        }
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
        if !foreign.is_empty() {
            return Err(fail(format!(
                "auth.{} does not apply to grant `{grant_name}`",
                foreign.join(", auth.")
            )));
        }
        let required = |name: &str, value: Option<&String>| {
            value
                .cloned()
                .ok_or_else(|| fail(format!("auth.{name} is required for grant `{grant_name}`")))
        };
        let grant = match self.grant {
            GrantSetting::RefreshToken => Grant::RefreshToken {
                refresh_token: self.refresh_token.clone().ok_or_else(|| {
                    fail("auth.refresh_token is required for grant `refresh_token`".to_owned())
                })?,
            },
            GrantSetting::ClientCredentials => Grant::ClientCredentials,
            GrantSetting::JwtBearer => Grant::JwtBearer(JwtBearer {
                lifetime: Duration::from_secs(self.assertion_lifetime_secs),
                ..JwtBearer::new(
                    self.private_key_pem.clone().ok_or_else(|| {
                        fail("auth.private_key_pem is required for grant `jwt_bearer`".to_owned())
                    })?,
                    required("username", self.username.as_ref())?,
                    required("audience", self.audience.as_ref())?,
                )
            }),
        };
        TokenManager::new(OAuth2Config {
            client_secret: self.client_secret.clone(),
            client_auth: match self.client_auth {
                ClientAuthSetting::RequestBody => ClientAuth::RequestBody,
                ClientAuthSetting::BasicHeader => ClientAuth::BasicHeader,
            },
            scopes: self.scopes.clone(),
            refresh_skew: Duration::from_secs(self.refresh_skew_secs),
            assumed_lifetime: self.assumed_lifetime_secs.map(Duration::from_secs),
            timeout: Duration::from_millis(self.timeout_ms),
            ..OAuth2Config::new(instance, &self.token_url, &self.client_id, grant)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<AuthSettings, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn every_kind_builds_its_auth() {
        let cases = [
            (json!({"kind": "none"}), "Auth::None"),
            (json!({"kind": "bearer", "token": "pat-x"}), "Auth::Bearer"),
            (
                json!({"kind": "api_key_header", "header": "X-Api-Key", "key": "k"}),
                "Auth::ApiKeyHeader",
            ),
            (
                json!({"kind": "api_key_query", "param": "wstoken", "key": "k"}),
                "Auth::ApiKeyQuery",
            ),
            (
                json!({"kind": "basic", "username": "u", "password": "p"}),
                "Auth::Basic",
            ),
            (
                json!({"kind": "oauth2", "grant": "refresh_token", "token_url": "https://api.hubapi.com/oauth/v1/token",
                       "client_id": "c", "client_secret": "s", "refresh_token": "r"}),
                "grant: \"refresh_token\"",
            ),
            (
                json!({"kind": "oauth2", "grant": "client_credentials", "token_url": "https://x.example/token",
                       "client_id": "c", "client_secret": "s", "client_auth": "basic_header",
                       "scopes": ["a", "b"]}),
                "grant: \"client_credentials\"",
            ),
            (
                json!({"kind": "oauth2", "grant": "jwt_bearer", "token_url": "https://login.example/token",
                       "client_id": "c", "username": "u", "audience": "https://login.example",
                       "private_key_pem": include_str!("../../tests/fixtures/test-only-rsa-private.pem")}),
                "grant: \"jwt_bearer\"",
            ),
        ];
        for (value, expected) in cases {
            let auth = parse(value.clone()).unwrap().build("inst").unwrap();
            let shown = format!("{auth:?}");
            assert!(shown.contains(expected), "{value}: {shown}");
        }
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(parse(json!({"kind": "bearer", "token": "t", "tokn": "x"})).is_err());
        assert!(parse(json!({"kind": "kerberos"})).is_err());
        let typo = parse(json!({"kind": "oauth2", "grant": "client_credentials",
            "token_url": "https://x.example/token", "client_id": "c", "client_scret": "s"}));
        assert!(typo.unwrap_err().to_string().contains("client_scret"));
        let mixed = parse(json!({"kind": "oauth2", "grant": "client_credentials",
            "token_url": "https://x.example/token", "client_id": "c", "client_secret": "s",
            "refresh_token": "r"}))
        .unwrap()
        .build("inst")
        .unwrap_err();
        assert!(
            mixed
                .to_string()
                .contains("auth.refresh_token does not apply to grant `client_credentials`"),
            "{mixed}"
        );
        let missing = parse(json!({"kind": "oauth2", "grant": "jwt_bearer",
            "token_url": "https://x.example/token", "client_id": "c", "private_key_pem": "k",
            "audience": "https://login.example"}))
        .unwrap()
        .build("inst")
        .unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("auth.username is required for grant `jwt_bearer`"),
            "{missing}"
        );
        let bad_header =
            parse(json!({"kind": "api_key_header", "header": "bad header", "key": "k"}))
                .unwrap()
                .build("inst")
                .unwrap_err();
        assert!(
            bad_header.to_string().contains("auth.header"),
            "{bad_header}"
        );
        let bad_key = parse(
            json!({"kind": "oauth2", "grant": "jwt_bearer", "token_url": "https://login.example/token",
            "client_id": "c", "username": "u", "audience": "https://login.example",
            "private_key_pem": "nope-SECRET", "assertion_lifetime_secs": 60}),
        )
        .unwrap()
        .build("inst")
        .unwrap_err();
        assert!(matches!(bad_key, ConnectorError::Config { .. }));
        assert!(!bad_key.to_string().contains("nope-SECRET"));
        let too_long = parse(
            json!({"kind": "oauth2", "grant": "jwt_bearer", "token_url": "https://login.example/token",
            "client_id": "c", "username": "u", "audience": "https://login.example",
            "private_key_pem": include_str!("../../tests/fixtures/test-only-rsa-private.pem"),
            "assertion_lifetime_secs": 600}),
        )
        .unwrap()
        .build("inst")
        .unwrap_err();
        assert!(too_long.to_string().contains("lifetime"), "{too_long}");
    }
}
