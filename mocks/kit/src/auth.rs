//! Authentication scaffolding every mock shares: reading a bearer token, deciding whether it
//! grants access (a static token the mock was configured with, or one its token endpoint
//! issued and that is still valid), and reading a form-encoded OAuth token request. Each mock
//! still words its refusals in its vendor's error body.

use crate::{FaultInjector, TokenCheck};
use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    match value.trim().split_once(' ') {
        Some((scheme, given)) if scheme.eq_ignore_ascii_case("bearer") => Some(given.trim()),
        _ => None,
    }
}

/// What a request's bearer token is worth ([`authorize`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A static token the mock accepts, or an issued one still valid (the request has been
    /// counted against it).
    Granted,
    /// No `Authorization: Bearer` header at all.
    Missing,
    /// A token the mock issued, used up or past its lifetime since `expired_at`.
    Expired {
        /// When it stopped being valid (wall clock, for the vendor's error message).
        expired_at: DateTime<Utc>,
    },
    /// A token the mock never issued and was not configured with.
    Unknown,
}

/// Checks the bearer token of `headers` against the `static_tokens` the mock accepts forever
/// and the tokens `injector` issued (which the `token_ttl` knobs expire).
pub fn authorize(headers: &HeaderMap, static_tokens: &[&str], injector: &FaultInjector) -> Access {
    let Some(token) = bearer(headers) else {
        return Access::Missing;
    };
    if static_tokens.contains(&token) {
        return Access::Granted;
    }
    match injector.check_token(token) {
        TokenCheck::Valid => Access::Granted,
        TokenCheck::Expired { expired_at } => Access::Expired { expired_at },
        TokenCheck::Unknown => Access::Unknown,
    }
}

/// A form-encoded (`application/x-www-form-urlencoded`) request body, such as an OAuth token
/// request (RFC 6749 §4): `grant_type`, `client_id`, `refresh_token`, `assertion`…
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// Parses `body`; repeated fields keep their last value.
    pub fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The value of `name`, or `""` when absent (every token-request check compares with an
    /// expected non-empty value, so absent and empty are refused alike).
    pub fn field(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Faults;
    use axum::http::HeaderValue;
    use chrono::NaiveDate;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn bearer_tokens_are_read_and_checked() {
        assert_eq!(bearer(&with_auth("Bearer abc ")), Some("abc"));
        assert_eq!(bearer(&with_auth("bearer  abc")), Some("abc"));
        assert_eq!(bearer(&with_auth("Basic abc")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);

        let today = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let injector =
            FaultInjector::for_world(1, today, Faults::none().with_token_ttl_requests(1));
        let issued = injector.issue_token("t-", 60);
        let check = |h: &HeaderMap| authorize(h, &["static"], &injector);
        assert_eq!(check(&HeaderMap::new()), Access::Missing);
        assert_eq!(check(&with_auth("Bearer static")), Access::Granted);
        assert_eq!(check(&with_auth("Bearer nope")), Access::Unknown);
        let h = with_auth(&format!("Bearer {}", issued.access_token));
        assert_eq!(check(&h), Access::Granted);
        assert!(matches!(check(&h), Access::Expired { .. }));
    }

    #[test]
    fn forms_read_missing_fields_as_empty() {
        let f = Form::parse(b"grant_type=refresh_token&client_id=a%20b");
        assert_eq!(f.field("grant_type"), "refresh_token");
        assert_eq!(f.field("client_id"), "a b");
        assert_eq!(f.field("client_secret"), "");
    }
}
