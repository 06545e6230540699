//! Salesforce's error bodies, the daily API limit, session checks and the OAuth token
//! endpoint (`POST /services/oauth2/token`: refresh-token and JWT bearer grants).

use crate::*;
use tributary_mock_kit::{
    auth::Form,
    respond::{self, base_url},
};

/// Salesforce's bodies for the shared fault layer.
pub(crate) struct SalesforceFaults;

impl VendorFaults for SalesforceFaults {
    fn rate_limited(&self) -> Response {
        api_error(
            StatusCode::TOO_MANY_REQUESTS,
            "REQUEST_LIMIT_EXCEEDED",
            "ConcurrentPerOrgLongTxn Limit exceeded.",
        )
    }

    fn server_error(&self, status: StatusCode) -> Response {
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            api_error(status, "UNKNOWN_EXCEPTION", "An unexpected error occurred.")
        } else {
            api_error(
                status,
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable.",
            )
        }
    }
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    respond::json(status, "application/json;charset=UTF-8", body)
}

/// Salesforce's REST error body: a JSON array of `{message, errorCode}`.
pub(crate) fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &json!([{"message": message, "errorCode": code}]))
}

pub(crate) fn oauth_error(error: &str, description: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"error": error, "error_description": description}),
    )
}

pub(crate) async fn not_found() -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

/// Counts every API request against the daily limit, refuses past it and stamps
/// `Sforce-Limit-Info` on every response.
pub(crate) async fn api_limits(
    State(state): State<Arc<MockState>>,
    request: Request,
    next: Next,
) -> Response {
    let used = state.api_used.fetch_add(1, Ordering::Relaxed) + 1;
    let limit = state.config.daily_limit;
    let mut response = if used > limit {
        api_error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )
    } else {
        next.run(request).await
    };
    if let Ok(v) = HeaderValue::from_str(&format!("api-usage={}/{limit}", used.min(limit))) {
        response.headers_mut().insert("sforce-limit-info", v);
    }
    response
}

/// The claims of a compact JWT, unverified.
pub(crate) fn jwt_claims(assertion: &str) -> Option<Map<String, Value>> {
    let mut parts = assertion.split('.');
    let (_header, claims, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Whether a JWT bearer assertion names this org's app, user and login URL and is current.
pub(crate) fn assertion_ok(config: &SalesforceMockConfig, assertion: &str) -> bool {
    let Some(claims) = jwt_claims(assertion) else {
        return false;
    };
    let str_claim = |name: &str| claims.get(name).and_then(Value::as_str);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a.trim_end_matches('/') == config.audience,
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| a.trim_end_matches('/') == config.audience),
        _ => false,
    };
    let now = Utc::now().timestamp();
    let exp_ok = claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp > now && exp <= now + 300);
    str_claim("iss") == Some(config.client_id.as_str())
        && str_claim("sub") == Some(config.username.as_str())
        && aud_ok
        && exp_ok
}

/// `POST /services/oauth2/token`: the refresh-token and JWT bearer grants.
pub(crate) async fn issue_token(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let field = |name: &str| form.field(name);
    let config = &state.config;
    match field("grant_type") {
        "refresh_token" => {
            if field("client_id") != config.client_id {
                return oauth_error("invalid_client_id", "client identifier invalid");
            }
            if field("client_secret") != config.client_secret {
                return oauth_error("invalid_client", "invalid client credentials");
            }
            if field("refresh_token") != config.refresh_token {
                return oauth_error("invalid_grant", "authentication failure");
            }
        }
        JWT_BEARER_GRANT => {
            if !assertion_ok(config, field("assertion")) {
                return oauth_error("invalid_grant", "authentication failure");
            }
        }
        _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
    }
    let issued = state
        .faults
        .issue_token(TOKEN_PREFIX, SESSION_LIFETIME_SECS);
    let instance_url = base_url(&headers);
    let id = format!(
        "{instance_url}/id/00DSIM000000001EAA/{}",
        salesforce_id(SObject::User, 1)
    );
    let issued_at = Utc::now().timestamp_millis().to_string();
    // Not a real HMAC (the mock has no consumer secret to key it with): a stable digest.
    let digest: Vec<u8> = format!("{id}{issued_at}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
        .to_be_bytes()
        .repeat(4);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": issued.access_token,
            "instance_url": instance_url,
            "id": id,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64::engine::general_purpose::STANDARD.encode(digest),
            "scope": "api refresh_token",
        }),
    )
}
