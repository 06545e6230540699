//! Vendor quota signals (SPEC §6 "quota budget per vendor org").
//!
//! The [`crate::HttpClient`] shows every response it receives — success or not, before retries
//! are decided — to the [`QuotaObserver`]s registered on it. An observer can record the vendor's
//! quota headers (the engine feeds its per-org budget that way) and can declare a quota used up,
//! which ends the request with [`crate::ConnectorError::QuotaExhausted`] instead of retrying a
//! limit that will not lift within the run, or classify a refusal as the vendor's throttle
//! ([`QuotaVerdict::Throttled`]), which is retried like a 429. [`quota_readings`] parses the headers vendors send.

use reqwest::{Method, StatusCode, header::HeaderMap};
use std::time::Duration;

/// A response as an observer sees it. The URL is redacted; request headers (and so credentials)
/// are never shown.
#[derive(Debug)]
pub struct ObservedResponse<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request URL, with credential-like query values redacted.
    pub url: &'a str,
    /// The response status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: &'a HeaderMap,
    /// The response body, as received.
    pub body: &'a [u8],
}

/// What an observer concludes from a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaVerdict {
    /// Nothing to act on; the client goes on as usual.
    Continue,
    /// A quota that does not come back within the run is used up. Honoured only for responses
    /// that are not a success: the request ends with
    /// [`crate::ConnectorError::QuotaExhausted`] and is not retried. (A success carries data the
    /// connector still needs; to stop early on a low remaining count, read
    /// [`crate::HttpResponse::headers`].)
    Exhausted {
        /// Which quota, for a human.
        message: String,
        /// When the window rolls over, when known.
        resume_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The response is the vendor's throttle although its status does not say so (Canvas
    /// answers a drained rate bucket with a 403 whose body reads `Rate Limit Exceeded`, which
    /// the client would otherwise take for a permission refusal). Honoured only for responses
    /// that are not a success: the request fails with [`crate::ConnectorError::RateLimited`]
    /// (its `Retry-After`, if any) and is retried with backoff like a 429.
    Throttled,
}

/// A hook that sees every response of an [`crate::HttpClient`]. Closures
/// `Fn(&ObservedResponse) -> QuotaVerdict` implement it.
pub trait QuotaObserver: Send + Sync {
    /// Looks at one response. Must be cheap and must not block.
    fn observe(&self, response: &ObservedResponse<'_>) -> QuotaVerdict;
}

impl<F> QuotaObserver for F
where
    F: Fn(&ObservedResponse<'_>) -> QuotaVerdict + Send + Sync,
{
    fn observe(&self, response: &ObservedResponse<'_>) -> QuotaVerdict {
        self(response)
    }
}

/// The window a [`QuotaReading`] counts over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QuotaWindow {
    /// A daily (or rolling 24-hour) request cap.
    Daily,
    /// A short rolling window, e.g. HubSpot's ten seconds.
    Interval(Option<Duration>),
    /// A leaky bucket of request cost (Canvas).
    Bucket,
}

/// One quota figure read from response headers.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaReading {
    /// The header it came from.
    pub header: &'static str,
    /// What it counts over.
    pub window: QuotaWindow,
    /// What is left.
    pub remaining: f64,
    /// The cap, when the vendor says.
    pub limit: Option<f64>,
}

/// Reads the quota headers vendors send: Salesforce `Sforce-Limit-Info: api-usage=used/max`,
/// HubSpot `X-HubSpot-RateLimit-{Daily,}-Remaining` with `-Daily`/`-Max` and
/// `-Interval-Milliseconds`, and Canvas `X-Rate-Limit-Remaining`. Unknown or malformed headers
/// are skipped.
pub fn quota_readings(headers: &HeaderMap) -> Vec<QuotaReading> {
    let text = |name: &str| crate::header_text(headers, name);
    let number = |name: &str| text(name).and_then(|v| v.parse::<f64>().ok());
    let mut out = Vec::new();
    // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
    if let Some(info) = text("sforce-limit-info") {
        for part in info.split(',') {
            let Some(usage) = part.trim().strip_prefix("api-usage=") else {
                continue;
            };
            if let Some((used, max)) = usage.split_once('/')
                && let (Ok(used), Ok(max)) = (used.trim().parse::<f64>(), max.trim().parse::<f64>())
            {
                out.push(QuotaReading {
                    header: "Sforce-Limit-Info",
                    window: QuotaWindow::Daily,
                    remaining: (max - used).max(0.0),
                    limit: Some(max),
                });
            }
        }
    }
    // https://developers.hubspot.com/docs/api/usage-details
    if let Some(remaining) = number("x-hubspot-ratelimit-daily-remaining") {
        out.push(QuotaReading {
            header: "X-HubSpot-RateLimit-Daily-Remaining",
            window: QuotaWindow::Daily,
            remaining,
            limit: number("x-hubspot-ratelimit-daily"),
        });
    }
    if let Some(remaining) = number("x-hubspot-ratelimit-remaining") {
        let interval = number("x-hubspot-ratelimit-interval-milliseconds")
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| Duration::from_millis(ms as u64));
        out.push(QuotaReading {
            header: "X-HubSpot-RateLimit-Remaining",
            window: QuotaWindow::Interval(interval),
            remaining,
            limit: number("x-hubspot-ratelimit-max"),
        });
    }
    // https://canvas.instructure.com/doc/api/file.throttling.html
    if let Some(remaining) = number("x-rate-limit-remaining") {
        out.push(QuotaReading {
            header: "X-Rate-Limit-Remaining",
            window: QuotaWindow::Bucket,
            remaining,
            limit: None,
        });
    }
    out
}

/// Daily requests left, from the first daily reading of `headers` ([`quota_readings`]:
/// Salesforce's `Sforce-Limit-Info`, HubSpot's `X-HubSpot-RateLimit-Daily-Remaining`).
pub fn daily_remaining(headers: &HeaderMap) -> Option<u64> {
    quota_readings(headers)
        .into_iter()
        .find(|r| r.window == QuotaWindow::Daily)
        .map(|r| r.remaining as u64)
}

/// Daily requests a run leaves to the vendor account's other integrations (a setting such as
/// Salesforce's `reserve_api_requests`). Checked before each further request, with what the
/// last response said is left ([`daily_remaining`]), it ends the run at its last checkpoint
/// instead of spending them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyReserve {
    /// Requests to leave; 0 keeps none back (the run reads until the vendor refuses).
    pub requests: u64,
    /// The configuration key that sets it, for the message.
    pub key: &'static str,
}

impl DailyReserve {
    /// [`crate::ConnectorError::QuotaExhausted`] (about `url`) when `remaining` is at or
    /// under the reserve; otherwise, or when the vendor did not say, go on.
    pub fn check(&self, url: &str, remaining: Option<u64>) -> Result<(), crate::ConnectorError> {
        let (reserve, key) = (self.requests, self.key);
        match remaining {
            Some(left) if reserve > 0 && left <= reserve => {
                Err(crate::ConnectorError::QuotaExhausted {
                    url: url.to_owned(),
                    message: format!(
                        "{left} daily API requests left, at or under the reserve of {reserve} \
                         ({key})"
                    ),
                    resume_at: None,
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("valid header value"));
        }
        h
    }

    #[test]
    fn reads_salesforce_usage() {
        let r = quota_readings(&headers(&[("Sforce-Limit-Info", "api-usage=10018/100000")]));
        assert_eq!(
            r,
            vec![QuotaReading {
                header: "Sforce-Limit-Info",
                window: QuotaWindow::Daily,
                remaining: 89982.0,
                limit: Some(100000.0),
            }]
        );
    }

    #[test]
    fn reads_hubspot_daily_and_interval() {
        let r = quota_readings(&headers(&[
            ("X-HubSpot-RateLimit-Daily", "250000"),
            ("X-HubSpot-RateLimit-Daily-Remaining", "249990"),
            ("X-HubSpot-RateLimit-Interval-Milliseconds", "10000"),
            ("X-HubSpot-RateLimit-Max", "100"),
            ("X-HubSpot-RateLimit-Remaining", "97"),
        ]));
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].window, QuotaWindow::Daily);
        assert_eq!((r[0].remaining, r[0].limit), (249990.0, Some(250000.0)));
        assert_eq!(
            r[1].window,
            QuotaWindow::Interval(Some(Duration::from_secs(10)))
        );
        assert_eq!((r[1].remaining, r[1].limit), (97.0, Some(100.0)));
    }

    #[test]
    fn reads_canvas_bucket_and_skips_garbage() {
        let r = quota_readings(&headers(&[
            ("X-Rate-Limit-Remaining", "612.25"),
            ("Sforce-Limit-Info", "api-usage=lots"),
            ("X-HubSpot-RateLimit-Remaining", "n/a"),
        ]));
        assert_eq!(
            r,
            vec![QuotaReading {
                header: "X-Rate-Limit-Remaining",
                window: QuotaWindow::Bucket,
                remaining: 612.25,
                limit: None,
            }]
        );
    }

    #[test]
    fn a_reserve_stops_at_or_under_it_and_only_then() {
        let sf = headers(&[("Sforce-Limit-Info", "api-usage=93/100")]);
        assert_eq!(daily_remaining(&sf), Some(7));
        let hs = headers(&[
            ("X-HubSpot-RateLimit-Remaining", "97"),
            ("X-HubSpot-RateLimit-Daily-Remaining", "12"),
        ]);
        assert_eq!(daily_remaining(&hs), Some(12));
        assert_eq!(daily_remaining(&HeaderMap::new()), None);
        let reserve = DailyReserve {
            requests: 7,
            key: "reserve_api_requests",
        };
        assert!(reserve.check("u", Some(8)).is_ok());
        assert!(reserve.check("u", None).is_ok());
        match reserve.check("u", Some(7)) {
            Err(crate::ConnectorError::QuotaExhausted { message, .. }) => assert_eq!(
                message,
                "7 daily API requests left, at or under the reserve of 7 (reserve_api_requests)"
            ),
            other => panic!("expected QuotaExhausted, got {other:?}"),
        }
        let none = DailyReserve {
            requests: 0,
            ..reserve
        };
        assert!(none.check("u", Some(0)).is_ok());
    }
}
