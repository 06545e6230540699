//! HubSpot's error bodies, bearer authentication (private-app token or OAuth) and the OAuth
//! token endpoint (`POST /oauth/v1/token`), plus the rate-limit headers every answer carries.

use crate::*;
use tributary_mock_kit::{
    auth::{self, Access},
    respond,
};

/// HubSpot's error body: `{"status":"error","message","correlationId","category"}`.
pub(crate) fn error(status: StatusCode, category: &str, message: &str) -> Response {
    let body = json!({
        "status": "error",
        "message": message,
        "correlationId": uuid::Uuid::now_v7().to_string(),
        "category": category,
    });
    json_response(status, &body)
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    respond::json(status, "application/json;charset=utf-8", body)
}

pub(crate) async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "OBJECT_NOT_FOUND",
        "resource not found",
    )
}

pub(crate) fn invalid_authentication() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication \
         and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    )
}

/// HubSpot's 401 for an OAuth token past its time: category `EXPIRED_AUTHENTICATION`, the age
/// in the message and the expiry in `context`.
pub(crate) fn expired_authentication(expired_at: DateTime<Utc>) -> Response {
    let ago = (Utc::now() - expired_at).num_seconds().max(0);
    let body = json!({
        "status": "error",
        "message": format!("The OAuth token used to make this call expired {ago} second(s) ago."),
        "correlationId": uuid::Uuid::now_v7().to_string(),
        "category": "EXPIRED_AUTHENTICATION",
        "context": {"expire time": [timestamp(expired_at)]},
    });
    json_response(StatusCode::UNAUTHORIZED, &body)
}

/// The token endpoint's error body: `{"status":"BAD_REFRESH_TOKEN","message",…}` with a 400.
pub(crate) fn oauth_error(status: &str, message: &str) -> Response {
    let body = json!({
        "status": status,
        "message": message,
        "correlationId": uuid::Uuid::now_v7().to_string(),
    });
    json_response(StatusCode::BAD_REQUEST, &body)
}

/// `POST /oauth/v1/token` with a form-encoded `grant_type=refresh_token`, `refresh_token`,
/// `client_id` and `client_secret` (`redirect_uri` is accepted and ignored): a fresh access
/// token and the unchanged refresh token. Authorization-code grants need a browser and are
/// not simulated.
pub(crate) async fn issue_token(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let form = auth::Form::parse(&body);
    let field = |name: &str| form.field(name);
    let config = &state.config;
    match field("grant_type") {
        "refresh_token" => {}
        "" => return oauth_error("BAD_GRANT_TYPE", "missing grant_type"),
        other => {
            return oauth_error(
                "BAD_GRANT_TYPE",
                &format!("unsupported grant_type: {other}"),
            );
        }
    }
    if field("client_id") != config.client_id {
        return oauth_error("BAD_CLIENT_ID", "missing or invalid client_id");
    }
    if field("client_secret") != config.client_secret {
        return oauth_error("BAD_CLIENT_SECRET", "missing or invalid client_secret");
    }
    if field("refresh_token") != config.refresh_token {
        return oauth_error("BAD_REFRESH_TOKEN", "missing or invalid refresh token");
    }
    let issued = state
        .faults
        .issue_token(OAUTH_TOKEN_PREFIX, OAUTH_TOKEN_LIFETIME_SECS);
    let body = json!({
        "token_type": "bearer",
        "refresh_token": config.refresh_token,
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
    });
    json_response(StatusCode::OK, &body)
}

impl MockState {
    /// Accepts the private-app token (never expires) or a token the mock issued and that is
    /// still valid (`None`); otherwise HubSpot's 401.
    pub(crate) fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        match auth::authorize(headers, &[self.config.access_token.as_str()], &self.faults) {
            Access::Granted => None,
            Access::Expired { expired_at } => Some(expired_authentication(expired_at)),
            Access::Missing | Access::Unknown => Some(invalid_authentication()),
        }
    }

    /// Counts a request and returns the rate-limit headers to send with its response;
    /// `exhausted` reports nothing left in the window (the headers of a 429).
    pub(crate) fn rate_headers(&self, exhausted: bool) -> Vec<(HeaderName, HeaderValue)> {
        let remaining = match self.window.lock() {
            Ok(mut w) => {
                if w.started.elapsed() >= Duration::from_millis(RATE_LIMIT_INTERVAL_MS) {
                    w.started = Instant::now();
                    w.used = 0;
                }
                w.used = w.used.saturating_add(1);
                RATE_LIMIT_MAX.saturating_sub(w.used)
            }
            Err(_) => RATE_LIMIT_MAX,
        };
        let remaining = if exhausted { 0 } else { remaining };
        let daily_used = self.daily_used.fetch_add(1, Ordering::Relaxed) + 1;
        let h = |name: &'static str, v: String| {
            (
                HeaderName::from_static(name),
                HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("0")),
            )
        };
        vec![
            h("x-hubspot-ratelimit-daily", RATE_LIMIT_DAILY.to_string()),
            h(
                "x-hubspot-ratelimit-daily-remaining",
                RATE_LIMIT_DAILY.saturating_sub(daily_used).to_string(),
            ),
            h(
                "x-hubspot-ratelimit-interval-milliseconds",
                RATE_LIMIT_INTERVAL_MS.to_string(),
            ),
            h("x-hubspot-ratelimit-max", RATE_LIMIT_MAX.to_string()),
            h("x-hubspot-ratelimit-remaining", remaining.to_string()),
        ]
    }
}
