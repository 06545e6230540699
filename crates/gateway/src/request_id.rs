//! Request ids: every request gets one, in the `x-request-id` header of its response and in
//! the `request_id` field of its tracing span, so a client's report and the server's log lines
//! meet.
//!
//! A client's own `x-request-id` is kept when it is sane (1 to [`MAX_LEN`] characters of
//! `A-Z a-z 0-9 - _ . : /`), so a proxy's id threads through; anything else is replaced by a
//! fresh UUID v7 rather than echoed into logs.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header carrying the id, both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-chosen id kept.
pub const MAX_LEN: usize = 128;

/// The id of a request, as a request extension.
#[derive(Clone, Debug)]
pub struct RequestId(pub HeaderValue);

fn sane(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LEN
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:/".contains(c))
}

/// Middleware: takes or makes the id, puts it on the request (header and extension) for the
/// layers inside, and on the response.
pub(crate) async fn assign(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&HEADER)
        .filter(|v| sane(v))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
                .expect("a UUID is a valid header value")
        });
    req.headers_mut().insert(HEADER, id.clone());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    response.headers_mut().insert(HEADER, id);
    response
}

/// The span of a request (the trace layer's `make_span_with`): method, path (never the query
/// string, which may carry a whole GraphQL document) and request id.
///
/// The span is at ERROR level on purpose: a span filtered out by the log level gives its
/// events no context, so an `info` span would drop the request id from the warnings and
/// errors logged under `RUST_LOG=warn`. At ERROR it is enabled whenever anything is logged.
pub(crate) fn span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::error_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_kept() {
        for ok in ["abc", "0190c6a2-7d1e-7000-8000-000000000000", "lb:1/2.3_4"] {
            assert!(sane(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in ["", "a b", "<script>", "é"] {
            let v = HeaderValue::from_bytes(bad.as_bytes()).unwrap();
            assert!(!sane(&v), "{bad}");
        }
        assert!(!sane(
            &HeaderValue::from_str(&"a".repeat(MAX_LEN + 1)).unwrap()
        ));
    }
}
