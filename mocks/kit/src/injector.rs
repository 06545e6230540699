//! The shared fault machinery of every vendor mock: a [`FaultInjector`] per mock instance that
//! wraps the mock's router in one axum middleware (429 storms, 5xx bursts, slow responses,
//! truncated bodies) and that the mock consults for the faults only its wire format can
//! express (access-token expiry, records changing mid-sync, records repeated across pages,
//! malformed records).
//!
//! A new vendor mock gets every knob by building its routes, implementing [`VendorFaults`]
//! (its 429 and 5xx bodies) and returning `injector.wrap(routes, its_faults)`; it then calls
//! [`FaultInjector::issue_token`] / [`FaultInjector::check_token`] from its auth,
//! [`FaultInjector::repeat_last`] and [`FaultInjector::mutate_around_page`] from its paging,
//! [`FaultInjector::revision`] when it renders a record, and [`sample`] to choose malformed
//! records. [`VendorMock`] is what `tributary sim serve` and the conformance kit need from it.
//!
//! Everything is deterministic given the seed: a request-level fault depends on the request's
//! number (1-based, over everything the mock instance receives), a record-level one on the
//! stream, the page and the record, never on the wall clock. Only token lifetimes in seconds
//! and the delays of `slow_ms` are measured in real time.

use crate::Faults;
use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// What the faults of one mock instance have done so far; read it with
/// [`FaultInjector::stats`] to assert that a test met the faults it configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Requests received, every route included.
    pub requests: u64,
    /// Requests answered with an injected 429.
    pub rate_limited: u64,
    /// Requests answered with an injected 500, 502 or 503.
    pub server_errors: u64,
    /// Responses delayed by `slow_ms`.
    pub slowed: u64,
    /// Successful responses whose body was cut short.
    pub truncated: u64,
    /// Access tokens issued by the mock's token endpoint.
    pub tokens_issued: u64,
    /// Requests refused because their issued access token had expired.
    pub expired_tokens: u64,
    /// Record changes made by the `mutate` knob (a record changed twice counts twice).
    pub mutated: u64,
    /// Records handed out again as the first record of the next page.
    pub duplicated: u64,
}

/// How a vendor says "slow down" and "I failed": the bodies the fault layer sends in the
/// vendor's name. The layer sets the status and `Retry-After` itself, so an implementation
/// only shapes the body and any vendor headers. The defaults are a generic JSON error, for a
/// mock whose vendor documents nothing better.
pub trait VendorFaults: Send + Sync + 'static {
    /// The vendor's 429 (the layer forces the status to [`VendorFaults::rate_limit_status`]
    /// and adds `Retry-After`).
    fn rate_limited(&self) -> Response {
        generic_error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded")
    }

    /// The status the vendor throttles with: 429 unless it says otherwise (Canvas answers a
    /// drained rate bucket with 403).
    fn rate_limit_status(&self) -> StatusCode {
        StatusCode::TOO_MANY_REQUESTS
    }

    /// The vendor's (or its load balancer's) 500, 502 or 503 (the layer forces `status`).
    fn server_error(&self, status: StatusCode) -> Response {
        generic_error(status, "internal server error")
    }
}

/// A vendor with no documented error bodies: the [`VendorFaults`] defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenericVendor;

impl VendorFaults for GenericVendor {}

fn generic_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response()
}

/// One vendor's mock, as `tributary sim serve` and tests use it.
pub trait VendorMock: Send + Sync {
    /// The vendor's short name (`hubspot`), first on the line `sim serve` prints.
    fn vendor(&self) -> &'static str;
    /// The mock's routes, already wrapped in its fault layer. Every router of one mock shares
    /// its state and fault counters.
    fn router(&self) -> Router;
    /// How to authenticate (`access_token=…`), printed after the base URL.
    fn credential_hint(&self) -> String;
    /// The mock's fault injector (its knobs and counters).
    fn faults(&self) -> &FaultInjector;
}

/// A newer version of a record, made by the `mutate` knob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision {
    /// How many times the record has changed (1 after the first change); the mock folds it
    /// into the changed property so that every change is visible.
    pub number: u32,
    /// The record's new last-modified time.
    pub updated_at: DateTime<Utc>,
}

/// An access token issued by a mock's token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token to send as `Authorization: Bearer`.
    pub access_token: String,
    /// Its lifetime in seconds, as the token response reports it.
    pub expires_in: u64,
}

/// What [`FaultInjector::check_token`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// Issued and still valid; the request has been counted against it.
    Valid,
    /// Issued, but used up or past its lifetime since `expired_at`.
    Expired {
        /// When it stopped being valid (wall clock, for the vendor's error message).
        expired_at: DateTime<Utc>,
    },
    /// Never issued by this mock.
    Unknown,
}

/// The faults of one mock instance: its knobs, its counters, the tokens it issued and the
/// records it changed. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct FaultInjector {
    inner: Arc<Inner>,
}

struct Inner {
    seed: u64,
    /// Simulated time from which mutated records are stamped.
    epoch: DateTime<Utc>,
    faults: Faults,
    counters: Counters,
    tokens: Mutex<Tokens>,
    revisions: Mutex<HashMap<String, StreamRevisions>>,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    slowed: AtomicU64,
    truncated: AtomicU64,
    tokens_issued: AtomicU64,
    expired_tokens: AtomicU64,
    mutated: AtomicU64,
    duplicated: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

#[derive(Default)]
struct Tokens {
    next: u64,
    issued: HashMap<String, Issued>,
}

struct Issued {
    issued_at: Instant,
    issued_wall: DateTime<Utc>,
    lifetime: Duration,
    uses: u64,
    used_up_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct StreamRevisions {
    /// Changes made in this stream so far: each one is stamped a second after the previous.
    changes: u64,
    records: HashMap<usize, Revision>,
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical section
/// here is a handful of map updates).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for FaultInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultInjector")
            .field("seed", &self.inner.seed)
            .field("faults", &self.inner.faults)
            .field("stats", &self.stats())
            .finish()
    }
}

impl FaultInjector {
    /// Injects `faults`, drawing from `seed`; mutated records are stamped from `epoch` on (one
    /// second apart per stream), so `epoch` must be later than every generated timestamp.
    pub fn new(seed: u64, epoch: DateTime<Utc>, faults: Faults) -> Self {
        Self {
            inner: Arc::new(Inner {
                seed,
                epoch,
                faults,
                counters: Counters::default(),
                tokens: Mutex::new(Tokens::default()),
                revisions: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Injects `faults` into a mock of a simulated world generated from `seed` as of `today`:
    /// mutated records are stamped from `today` at midnight UTC, after every generated event.
    pub fn for_world(seed: u64, today: NaiveDate, faults: Faults) -> Self {
        Self::new(seed, today.and_time(NaiveTime::MIN).and_utc(), faults)
    }

    /// The knobs.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The seed every draw derives from.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// What the faults have done so far.
    pub fn stats(&self) -> FaultStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FaultStats {
            requests: get(&c.requests),
            rate_limited: get(&c.rate_limited),
            server_errors: get(&c.server_errors),
            slowed: get(&c.slowed),
            truncated: get(&c.truncated),
            tokens_issued: get(&c.tokens_issued),
            expired_tokens: get(&c.expired_tokens),
            mutated: get(&c.mutated),
            duplicated: get(&c.duplicated),
        }
    }

    /// Wraps `routes` (every route and the fallback) in the request-level faults, speaking in
    /// `vendor`'s name. This is the one place request-level faults are injected.
    pub fn wrap(&self, routes: Router, vendor: impl VendorFaults) -> Router {
        let state = LayerState {
            injector: self.clone(),
            vendor: Arc::new(vendor),
        };
        routes.layer(axum::middleware::from_fn_with_state(state, inject))
    }

    /// Issues an access token named `prefix` + 32 hex digits (deterministic in the seed and the
    /// issue order), valid for [`Faults::token_ttl_secs`] seconds, or `default_lifetime_secs`
    /// when that knob is off, and for [`Faults::token_ttl_requests`] requests when that is on.
    pub fn issue_token(&self, prefix: &str, default_lifetime_secs: u64) -> IssuedToken {
        let faults = &self.inner.faults;
        let lifetime_secs = if faults.token_ttl_secs > 0 {
            faults.token_ttl_secs
        } else {
            default_lifetime_secs
        };
        let mut tokens = lock(&self.inner.tokens);
        let n = tokens.next;
        tokens.next += 1;
        let access_token = format!(
            "{prefix}{:016x}{:016x}",
            draw(self.inner.seed, "token", &[n, 0]),
            draw(self.inner.seed, "token", &[n, 1])
        );
        tokens.issued.insert(
            access_token.clone(),
            Issued {
                issued_at: Instant::now(),
                issued_wall: Utc::now(),
                lifetime: Duration::from_secs(lifetime_secs),
                uses: 0,
                used_up_at: None,
            },
        );
        bump(&self.inner.counters.tokens_issued, 1);
        IssuedToken {
            access_token,
            expires_in: lifetime_secs,
        }
    }

    /// Checks a bearer token this mock issued, counting the request against it when it is
    /// valid; an expired token is counted in [`FaultStats::expired_tokens`]. Static tokens
    /// (never issued here) are [`TokenCheck::Unknown`]: the mock checks those itself.
    pub fn check_token(&self, token: &str) -> TokenCheck {
        let max_uses = self.inner.faults.token_ttl_requests;
        let mut tokens = lock(&self.inner.tokens);
        let Some(issued) = tokens.issued.get_mut(token) else {
            return TokenCheck::Unknown;
        };
        let expired_at = if issued.issued_at.elapsed() >= issued.lifetime {
            let lifetime = TimeDelta::from_std(issued.lifetime).unwrap_or(TimeDelta::MAX);
            Some(issued.issued_wall.checked_add_signed(lifetime))
        } else if max_uses > 0 && issued.uses >= max_uses {
            Some(issued.used_up_at)
        } else {
            None
        };
        if let Some(at) = expired_at {
            drop(tokens);
            bump(&self.inner.counters.expired_tokens, 1);
            return TokenCheck::Expired {
                expired_at: at.unwrap_or_else(Utc::now),
            };
        }
        issued.uses += 1;
        if max_uses > 0 && issued.uses == max_uses {
            issued.used_up_at = Some(Utc::now());
        }
        TokenCheck::Valid
    }

    /// The `duplicates` knob: whether a page of `stream` whose last record is `last_record`
    /// should hand that record out again as the first of the next page. Only a page of at
    /// least two records with a next page qualifies, so paging always moves forward. The
    /// answer depends on the stream and the record only, and a yes is counted in
    /// [`FaultStats::duplicated`].
    pub fn repeat_last(
        &self,
        stream: &str,
        last_record: &str,
        page_len: usize,
        has_next: bool,
    ) -> bool {
        let p = self.inner.faults.duplicates;
        if p.is_zero() || page_len < 2 || !has_next {
            return false;
        }
        let hit = p.hits(draw(
            self.inner.seed,
            "duplicates",
            &[fnv1a(stream), fnv1a(last_record)],
        ));
        if hit {
            bump(&self.inner.counters.duplicated, 1);
        }
        hit
    }

    /// The `mutate` knob, called after the page of `stream` that started at cursor `page_key`
    /// was rendered: each record of `served` (that page) and `upcoming` (the next page) changes
    /// with the knob's probability, decided by the stream, the cursor and the record. A change
    /// gives the record a new [`Revision`], stamped one second after the stream's previous
    /// change. Returns how many records changed.
    pub fn mutate_around_page(
        &self,
        stream: &str,
        page_key: &str,
        served: &[usize],
        upcoming: &[usize],
    ) -> usize {
        let p = self.inner.faults.mutate;
        if p.is_zero() {
            return 0;
        }
        let (s, k) = (fnv1a(stream), fnv1a(page_key));
        let picks: Vec<usize> = served
            .iter()
            .chain(upcoming)
            .copied()
            .filter(|&i| p.hits(draw(self.inner.seed, "mutate", &[s, k, i as u64])))
            .collect();
        if picks.is_empty() {
            return 0;
        }
        let mut revisions = lock(&self.inner.revisions);
        let entry = revisions.entry(stream.to_owned()).or_default();
        for &i in &picks {
            entry.changes += 1;
            let offset = TimeDelta::try_seconds(i64::try_from(entry.changes).unwrap_or(i64::MAX))
                .unwrap_or(TimeDelta::MAX);
            let at = self
                .inner
                .epoch
                .checked_add_signed(offset)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            let rev = entry.records.entry(i).or_insert(Revision {
                number: 0,
                updated_at: at,
            });
            rev.number = rev.number.saturating_add(1);
            rev.updated_at = at;
        }
        drop(revisions);
        bump(&self.inner.counters.mutated, picks.len() as u64);
        picks.len()
    }

    /// The latest revision of record `index` of `stream`, if the `mutate` knob changed it.
    pub fn revision(&self, stream: &str, index: usize) -> Option<Revision> {
        lock(&self.inner.revisions)
            .get(stream)
            .and_then(|s| s.records.get(&index))
            .copied()
    }
}

#[derive(Clone)]
struct LayerState {
    injector: FaultInjector,
    vendor: Arc<dyn VendorFaults>,
}

/// The 5xx statuses `server_errors` cycles through, by request number.
pub const SERVER_ERROR_STATUSES: [StatusCode; 3] = [
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
];

/// The status `server_errors` gives request number `request`.
pub fn server_error_status(request: u64) -> StatusCode {
    SERVER_ERROR_STATUSES[(request.saturating_sub(1) % 3) as usize]
}

async fn inject(State(layer): State<LayerState>, request: Request, next: Next) -> Response {
    let inner = &layer.injector.inner;
    let counters = &inner.counters;
    let faults = &inner.faults;
    let n = counters.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if faults.slow_ms > 0 {
        bump(&counters.slowed, 1);
        tokio::time::sleep(Duration::from_millis(faults.slow_ms)).await;
    }
    if faults.rate_limit.hits(n, inner.seed, "rate_limit") {
        bump(&counters.rate_limited, 1);
        let mut response = layer.vendor.rate_limited();
        *response.status_mut() = layer.vendor.rate_limit_status();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(faults.retry_after_secs),
        );
        tracing::debug!(request = n, "fault: 429");
        return response;
    }
    if faults.server_errors.hits(n, inner.seed, "server_errors") {
        bump(&counters.server_errors, 1);
        let status = server_error_status(n);
        let mut response = layer.vendor.server_error(status);
        *response.status_mut() = status;
        tracing::debug!(request = n, status = status.as_u16(), "fault: 5xx");
        return response;
    }
    let response = next.run(request).await;
    if response.status().is_success() && faults.truncate.hits(n, inner.seed, "truncate") {
        return truncate(response, counters, n).await;
    }
    response
}

/// Sends a complete response whose body is the first half of the real one, cut on a UTF-8
/// character boundary: a client sees a 200 with JSON that ends too early.
async fn truncate(response: Response, counters: &Counters, request: u64) -> Response {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            // The handler's body failed on its own; an empty body is as truncated as it gets.
            tracing::warn!(request, error = %e, "fault: body unreadable while truncating");
            bump(&counters.truncated, 1);
            return Response::from_parts(parts, Body::empty());
        }
    };
    if bytes.is_empty() {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let mut cut = bytes.len() / 2;
    while cut > 0 && (bytes[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    bump(&counters.truncated, 1);
    tracing::debug!(
        request,
        from = bytes.len(),
        to = cut,
        "fault: truncated body"
    );
    Response::from_parts(parts, Body::from(bytes.slice(..cut)))
}

/// Chooses `n` of `candidates` (all of them when there are fewer), uniformly and
/// deterministically from `seed` and `label`: how mocks pick the records of
/// [`Faults::malformed_records`].
pub fn sample(seed: u64, label: &str, candidates: Vec<usize>, n: usize) -> HashSet<usize> {
    // The simulator's stream derivation (FNV-1a of the label, SplitMix64 of seed and index 0,
    // ChaCha8): the records a seed makes malformed stay the same records wherever the
    // sampling code lives.
    let mut rng = ChaCha8Rng::seed_from_u64(splitmix(splitmix(seed ^ fnv1a(label))));
    let mut c = candidates;
    let take = n.min(c.len());
    // A partial Fisher–Yates shuffle: the first `take` slots are a uniform sample.
    for i in 0..take {
        let j = rng.random_range(i..c.len());
        c.swap(i, j);
    }
    c.truncate(take);
    c.into_iter().collect()
}

/// A uniform 64-bit draw from `seed`, a `label` naming the decision and the `parts` that
/// identify its instance (a request number, a hashed record id…).
pub fn draw(seed: u64, label: &str, parts: &[u64]) -> u64 {
    let mut h = splitmix(seed ^ fnv1a(label));
    for &p in parts {
        h = splitmix(h ^ p);
    }
    h
}

/// FNV-1a (64-bit) of `s`: how mocks turn a stream name or a record id into a draw's part.
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MockServer, Probability, Schedule};
    use axum::{http::HeaderMap, routing::get};
    use chrono::TimeZone;

    const BODY: &str =
        r#"{"results":[{"id":"1","name":"Zoë"},{"id":"2","name":"Ådne"}],"paging":null}"#;

    fn epoch() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    async fn serve(faults: Faults) -> (FaultInjector, MockServer) {
        let injector = FaultInjector::new(42, epoch(), faults);
        let routes = Router::new().route("/things", get(|| async { BODY }));
        let server = MockServer::start(injector.wrap(routes, GenericVendor))
            .await
            .unwrap();
        (injector, server)
    }

    async fn get_n(server: &MockServer, path: &str) -> (u16, HeaderMap, String) {
        let resp = reqwest::get(format!("{}{path}", server.base_url))
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.text().await.unwrap())
    }

    #[tokio::test]
    async fn request_faults_hit_exactly_the_scheduled_requests_of_any_router() {
        let faults = Faults::none()
            .with_rate_limit(Schedule::requests(2..=3))
            .with_retry_after_secs(0)
            .with_server_errors(Schedule::burst(3, 4))
            .with_truncate(Schedule::requests(8..=8));
        let (injector, server) = serve(faults).await;
        let mut seen = Vec::new();
        for _ in 0..9 {
            let (status, headers, body) = get_n(&server, "/things").await;
            seen.push((status, headers.get("retry-after").cloned(), body));
        }
        let statuses: Vec<u16> = seen.iter().map(|s| s.0).collect();
        assert_eq!(statuses, [200, 429, 429, 500, 502, 503, 200, 200, 200]);
        assert_eq!(seen[1].1.as_ref().unwrap(), "0");
        assert_eq!(seen[2].1.as_ref().unwrap(), "0");
        assert!(seen[0].1.is_none() && seen[3].1.is_none());
        assert_eq!(seen[1].2, r#"{"error":"rate limit exceeded"}"#);
        assert_eq!(seen[0].2, BODY);
        assert_eq!(seen[6].2, BODY);
        assert_eq!(seen[8].2, BODY);
        // Request 8: a complete 200 whose JSON stops halfway, on a character boundary.
        let cut = &seen[7].2;
        assert!(
            cut.len() < BODY.len() && BODY.starts_with(cut.as_str()),
            "{cut}"
        );
        assert!(cut.len() >= BODY.len() / 2 - 3, "{cut}");
        let err = serde_json::from_str::<serde_json::Value>(cut).unwrap_err();
        assert!(err.is_eof(), "{err}");
        assert_eq!(
            injector.stats(),
            FaultStats {
                requests: 9,
                rate_limited: 2,
                server_errors: 3,
                truncated: 1,
                ..FaultStats::default()
            }
        );
    }

    #[tokio::test]
    async fn every_route_is_counted_and_only_successes_are_truncated() {
        let (injector, server) = serve(Faults::none().with_truncate(Schedule::burst(2, 1))).await;
        // Request 1 goes to no route: a 404, counted, left whole.
        let (status, _, body) = get_n(&server, "/nowhere").await;
        assert_eq!((status, body.as_str()), (404, ""));
        let (status, _, body) = get_n(&server, "/things").await;
        assert_eq!(status, 200);
        assert!(body.len() < BODY.len());
        let stats = injector.stats();
        assert_eq!((stats.requests, stats.truncated), (2, 1));
    }

    #[tokio::test]
    async fn slow_responses_take_at_least_the_configured_time() {
        let (injector, server) = serve(Faults::none().with_slow_ms(150)).await;
        for _ in 0..2 {
            let started = Instant::now();
            let (status, _, body) = get_n(&server, "/things").await;
            assert!(started.elapsed() >= Duration::from_millis(150));
            assert_eq!((status, body.as_str()), (200, BODY));
        }
        assert_eq!(injector.stats().slowed, 2);
    }

    #[test]
    fn issued_tokens_expire_after_their_requests() {
        let faults = Faults::none().with_token_ttl_requests(2);
        let injector = FaultInjector::new(7, epoch(), faults.clone());
        let first = injector.issue_token("tok-", 1800);
        assert_eq!(first.expires_in, 1800);
        assert!(first.access_token.starts_with("tok-"));
        assert_eq!(first.access_token.len(), 4 + 32);
        assert_eq!(injector.check_token(&first.access_token), TokenCheck::Valid);
        assert_eq!(injector.check_token(&first.access_token), TokenCheck::Valid);
        let TokenCheck::Expired { expired_at } = injector.check_token(&first.access_token) else {
            panic!("the third use is refused");
        };
        assert!(expired_at <= Utc::now());
        assert_eq!(injector.check_token("tok-unknown"), TokenCheck::Unknown);
        let second = injector.issue_token("tok-", 1800);
        assert_ne!(second.access_token, first.access_token);
        assert_eq!(
            injector.check_token(&second.access_token),
            TokenCheck::Valid
        );
        let stats = injector.stats();
        assert_eq!((stats.tokens_issued, stats.expired_tokens), (2, 1));
        // Tokens are deterministic in the seed and the issue order.
        let again = FaultInjector::new(7, epoch(), faults.clone());
        assert_eq!(again.issue_token("tok-", 1800), first);
        let other = FaultInjector::new(8, epoch(), faults);
        assert_ne!(other.issue_token("tok-", 1800), first);
    }

    #[test]
    fn issued_tokens_expire_after_their_lifetime() {
        let injector = FaultInjector::new(7, epoch(), Faults::none().with_token_ttl_secs(1));
        let token = injector.issue_token("tok-", 1800);
        assert_eq!(
            token.expires_in, 1,
            "the knob overrides the vendor's lifetime"
        );
        assert_eq!(injector.check_token(&token.access_token), TokenCheck::Valid);
        std::thread::sleep(Duration::from_millis(1_100));
        assert!(matches!(
            injector.check_token(&token.access_token),
            TokenCheck::Expired { .. }
        ));
        assert_eq!(injector.stats().expired_tokens, 1);
    }

    #[test]
    fn duplicates_only_where_paging_still_moves_forward() {
        let always =
            FaultInjector::new(1, epoch(), Faults::none().with_duplicates(Probability::ONE));
        assert!(always.repeat_last("deals", "42", 2, true));
        assert!(
            !always.repeat_last("deals", "42", 1, true),
            "one-record page"
        );
        assert!(!always.repeat_last("deals", "42", 5, false), "last page");
        assert_eq!(always.stats().duplicated, 1);
        let never = FaultInjector::new(1, epoch(), Faults::none());
        assert!(!never.repeat_last("deals", "42", 5, true));

        let some = Faults::none().with_duplicates(Probability::new(0.3));
        let decide = |seed: u64| -> Vec<bool> {
            let inj = FaultInjector::new(seed, epoch(), some.clone());
            (0..200)
                .map(|i| inj.repeat_last("deals", &i.to_string(), 10, true))
                .collect()
        };
        let a = decide(1);
        assert_eq!(a, decide(1));
        assert_ne!(a, decide(2));
        let hits = a.iter().filter(|&&x| x).count();
        assert!((30..90).contains(&hits), "{hits}");
    }

    #[test]
    fn mutations_stamp_newer_revisions_deterministically() {
        let none = FaultInjector::new(1, epoch(), Faults::none());
        assert_eq!(none.mutate_around_page("companies", "0", &[1, 2], &[3]), 0);
        assert_eq!(none.revision("companies", 1), None);

        let all = FaultInjector::new(1, epoch(), Faults::none().with_mutate(Probability::ONE));
        assert_eq!(
            all.mutate_around_page("companies", "0", &[0, 1], &[2, 3]),
            4
        );
        assert_eq!(all.mutate_around_page("companies", "2", &[2, 3], &[]), 2);
        let second = TimeDelta::seconds(1);
        assert_eq!(
            all.revision("companies", 0),
            Some(Revision {
                number: 1,
                updated_at: epoch() + second
            })
        );
        assert_eq!(
            all.revision("companies", 3),
            Some(Revision {
                number: 2,
                updated_at: epoch() + second * 6
            })
        );
        assert_eq!(all.revision("contacts", 0), None, "streams are apart");
        assert_eq!(all.stats().mutated, 6);

        let some = Faults::none().with_mutate(Probability::new(0.25));
        let changed = |seed: u64| -> Vec<Option<Revision>> {
            let inj = FaultInjector::new(seed, epoch(), some.clone());
            let served: Vec<usize> = (0..100).collect();
            let upcoming: Vec<usize> = (100..200).collect();
            inj.mutate_around_page("deals", "0", &served, &upcoming);
            (0..200).map(|i| inj.revision("deals", i)).collect()
        };
        let a = changed(5);
        assert_eq!(a, changed(5));
        assert_ne!(a, changed(6));
        let n = a.iter().flatten().count();
        assert!((25..75).contains(&n), "{n}");
    }

    #[test]
    fn sample_is_a_deterministic_subset() {
        let a = sample(3, "label", (0..50).collect(), 5);
        assert_eq!(a.len(), 5);
        assert!(a.iter().all(|&i| i < 50));
        assert_eq!(a, sample(3, "label", (0..50).collect(), 5));
        assert_ne!(a, sample(3, "other", (0..50).collect(), 5));
        assert_eq!(sample(3, "label", vec![7, 9], 5), HashSet::from([7, 9]));
    }
}
