//! Response and request helpers every mock's routes share: a JSON response with the vendor's
//! exact `Content-Type`, the base URL a client reached the mock at (for absolute links and
//! OAuth `instance_url`s), and query-parameter readers.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;

/// `body` as JSON with `status` and `content_type` (vendors differ, e.g.
/// `application/json;charset=utf-8` against `application/json;charset=UTF-8`, and official
/// clients compare them).
pub fn json(status: StatusCode, content_type: &'static str, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body.to_string(),
    )
        .into_response()
}

/// `http://<Host>` as the client addressed the mock (`127.0.0.1` without a `Host` header).
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The first value of query parameter `name`.
pub fn param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_read_what_clients_send() {
        let mut h = HeaderMap::new();
        assert_eq!(base_url(&h), "http://127.0.0.1");
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:4001"));
        assert_eq!(base_url(&h), "http://127.0.0.1:4001");
        let q = vec![
            ("a".to_owned(), "1".to_owned()),
            ("a".to_owned(), "2".to_owned()),
        ];
        assert_eq!(param(&q, "a"), Some("1"));
        assert_eq!(param(&q, "b"), None);
        let r = json(
            StatusCode::OK,
            "application/json;charset=utf-8",
            &Value::Null,
        );
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/json;charset=utf-8"
        );
    }
}
