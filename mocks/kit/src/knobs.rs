//! The fault knobs every mock shares ([`Faults`]), how they are written on the command line
//! (`--faults rate_limit=3@5/50,truncate=0.1`) and in config files, and the two value types
//! they are made of: a request [`Schedule`] and a [`Probability`].

use serde::Deserialize;
use std::{fmt, ops::RangeInclusive};

/// Fault knobs of the mock servers; every knob is off by default.
///
/// Every vendor mock gets the same knobs through one mechanism: its router is wrapped in the
/// shared fault layer of a [`FaultInjector`](crate::FaultInjector), which answers for the
/// request-level knobs (429s, 5xx, slowness, truncation), and the mock asks the same injector
/// about the record-level ones (token expiry, mutations, duplicates, malformed records) where
/// its wire format needs them.
///
/// Every knob is deterministic: which requests or records it hits follows from the company's
/// seed and the request number (or the record and the page), so a failing test replays
/// exactly. Requests are numbered from 1 over everything one mock instance receives, token
/// requests included; a sequential reader therefore sees exactly the same faults on every run.
///
/// | `--faults` knob | field | value | effect |
/// |---|---|---|---|
/// | `rate_limit` | [`rate_limit`](Self::rate_limit) | [`Schedule`] | those requests get the vendor's 429 body with `Retry-After` |
/// | `retry_after` | [`retry_after_secs`](Self::retry_after_secs) | seconds (default 1) | the `Retry-After` value of those 429s |
/// | `server_errors` | [`server_errors`](Self::server_errors) | [`Schedule`] | those requests get 500, 502 or 503 (cycling by request number) |
/// | `slow_ms` | [`slow_ms`](Self::slow_ms) | milliseconds | every response is delayed that long |
/// | `truncate` | [`truncate`](Self::truncate) | [`Schedule`] | those requests, when successful, get a 200 whose body is cut to half its length |
/// | `token_ttl` | [`token_ttl_requests`](Self::token_ttl_requests) | requests | an OAuth-issued access token authorizes that many API requests, then gets the vendor's 401 |
/// | `token_ttl_secs` | [`token_ttl_secs`](Self::token_ttl_secs) | seconds | OAuth-issued access tokens expire that long after issue (instead of the vendor's default) |
/// | `mutate` | [`mutate`](Self::mutate) | [`Probability`] | after a page is served, each record on it and on the next page changes with that probability (newer last-modified time, a changed property) |
/// | `duplicates` | [`duplicates`](Self::duplicates) | [`Probability`] | each page (of two or more records, with a next page) repeats its last record as the first of the next page with that probability |
/// | `malformed` | [`malformed_records`](Self::malformed_records) | count | that many records of each object type are served malformed |
///
/// A [`Schedule`] is written `K` (requests 1 to K), `A-B` (requests A to B), `K@N` (K
/// requests from request N), any of those followed by `/P` (and again every P requests), or a
/// fraction such as `0.2` (each request with that probability, drawn from the seed). A
/// [`Probability`] is a fraction (`0.05`) or a percentage (`5%`). For example:
/// `--faults rate_limit=3@5/50,retry_after=0,server_errors=2@20,truncate=0.1,slow_ms=200,token_ttl=5,mutate=0.05,duplicates=0.05,malformed=3`.
///
/// When several request-level knobs pick the same request, the delay comes first, then a 429
/// wins over a 5xx, and truncation applies only to a response that would have succeeded.
///
/// Build values with the builders (`Faults::none().with_malformed_records(2)`) or
/// [`Faults::parse`], so callers keep compiling as knobs are added. A new knob is a new field
/// with an off default, a name in [`Faults::KNOBS`], an arm in [`Faults::parse`], a `with_*`
/// builder, a line in [`Faults::fmt`](std::fmt::Display) and a row in the table above (and in
/// the crate docs).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// How many records of each object type are served malformed (for HubSpot: companies
    /// with an empty `name`, closed-won deals whose `amount` is not a number, contacts with a
    /// garbage `email` and no name). Archived records are never chosen.
    pub malformed_records: usize,
    /// Requests answered with the vendor's 429 body and a `Retry-After` of
    /// [`retry_after_secs`](Self::retry_after_secs), without reaching the vendor's handler.
    pub rate_limit: Schedule,
    /// The `Retry-After` (seconds) sent with every injected 429; 0 in tests that should not
    /// wait. Not a knob on its own: it only shapes `rate_limit`.
    pub retry_after_secs: u64,
    /// Requests answered with a 500, 502 or 503 (cycling by request number), without reaching
    /// the vendor's handler.
    pub server_errors: Schedule,
    /// Latency added to every response, in milliseconds.
    pub slow_ms: u64,
    /// Requests whose successful (2xx) response is sent as a complete 200 whose body is cut to
    /// half its length, so it is no longer valid JSON. A scheduled request that fails anyway is
    /// left alone.
    pub truncate: Schedule,
    /// How many API requests one OAuth-issued access token authorizes; the next request with it
    /// gets the vendor's "expired" 401. 0 means no request limit. Static tokens (HubSpot's
    /// private-app token) never expire.
    pub token_ttl_requests: u64,
    /// Lifetime of OAuth-issued access tokens in seconds, reported as `expires_in` and
    /// enforced; 0 means the vendor's own default (HubSpot: 1800).
    pub token_ttl_secs: u64,
    /// After a page is served, each record on it and on the page after it independently gets a
    /// newer last-modified time and a changed property with this probability, so a reader
    /// sees records change mid-sync. Paging stays consistent: every record is still served
    /// once per pass.
    pub mutate: Probability,
    /// With this probability a page that has at least two records and a next page hands out
    /// its last record again as the first record of the next page.
    pub duplicates: Probability,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            malformed_records: 0,
            rate_limit: Schedule::Off,
            retry_after_secs: 1,
            server_errors: Schedule::Off,
            slow_ms: 0,
            truncate: Schedule::Off,
            token_ttl_requests: 0,
            token_ttl_secs: 0,
            mutate: Probability::ZERO,
            duplicates: Probability::ZERO,
        }
    }
}

/// An unparsable `--faults` list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultsParseError {
    /// A knob name that does not exist.
    #[error("unknown fault `{name}`; known faults: {known}")]
    UnknownFault {
        /// The name given.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },
    /// A knob without `=value`, or with a value of the wrong type.
    #[error("invalid value `{value}` for fault `{name}`: {reason}")]
    InvalidValue {
        /// The knob.
        name: String,
        /// The value given.
        value: String,
        /// What was expected.
        reason: String,
    },
}

impl Faults {
    /// The knob names [`Faults::parse`] accepts (aliases not listed).
    pub const KNOBS: &'static [&'static str] = &[
        "rate_limit",
        "retry_after",
        "server_errors",
        "slow_ms",
        "truncate",
        "token_ttl",
        "token_ttl_secs",
        "mutate",
        "duplicates",
        "malformed",
    ];

    /// No faults at all (same as [`Faults::default`]).
    pub fn none() -> Self {
        Self::default()
    }

    /// Serves `n` records of each object type malformed.
    pub fn with_malformed_records(mut self, n: usize) -> Self {
        self.malformed_records = n;
        self
    }

    /// Answers the requests of `schedule` with 429.
    pub fn with_rate_limit(mut self, schedule: Schedule) -> Self {
        self.rate_limit = schedule;
        self
    }

    /// Sends `secs` as the `Retry-After` of injected 429s.
    pub fn with_retry_after_secs(mut self, secs: u64) -> Self {
        self.retry_after_secs = secs;
        self
    }

    /// Answers the requests of `schedule` with 500, 502 or 503.
    pub fn with_server_errors(mut self, schedule: Schedule) -> Self {
        self.server_errors = schedule;
        self
    }

    /// Delays every response by `ms` milliseconds.
    pub fn with_slow_ms(mut self, ms: u64) -> Self {
        self.slow_ms = ms;
        self
    }

    /// Cuts the successful bodies of the requests of `schedule` short.
    pub fn with_truncate(mut self, schedule: Schedule) -> Self {
        self.truncate = schedule;
        self
    }

    /// Lets each OAuth-issued access token authorize `n` requests.
    pub fn with_token_ttl_requests(mut self, n: u64) -> Self {
        self.token_ttl_requests = n;
        self
    }

    /// Lets OAuth-issued access tokens live `secs` seconds.
    pub fn with_token_ttl_secs(mut self, secs: u64) -> Self {
        self.token_ttl_secs = secs;
        self
    }

    /// Changes records around each served page with probability `p`.
    pub fn with_mutate(mut self, p: Probability) -> Self {
        self.mutate = p;
        self
    }

    /// Repeats the last record of a page on the next page with probability `p`.
    pub fn with_duplicates(mut self, p: Probability) -> Self {
        self.duplicates = p;
        self
    }

    /// Whether any knob is on (`retry_after_secs` only shapes `rate_limit`, so it does not
    /// count).
    pub fn any(&self) -> bool {
        self.malformed_records > 0
            || !self.rate_limit.is_off()
            || !self.server_errors.is_off()
            || self.slow_ms > 0
            || !self.truncate.is_off()
            || self.token_ttl_requests > 0
            || self.token_ttl_secs > 0
            || !self.mutate.is_zero()
            || !self.duplicates.is_zero()
    }

    /// Parses a CLI list such as `rate_limit=3@5,server_errors=2,malformed=3`: comma-separated
    /// `name=value` pairs (see the table on [`Faults`]); a knob given twice keeps the last
    /// value. An empty string or `none` means no faults. Aliases: `malformed_records`,
    /// `retry_after_secs`, `token_ttl_requests` (the field names).
    pub fn parse(list: &str) -> Result<Self, FaultsParseError> {
        let mut faults = Self::default();
        let list = list.trim();
        if list.is_empty() || list.eq_ignore_ascii_case("none") {
            return Ok(faults);
        }
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), v.trim()),
                None => (item, ""),
            };
            let invalid = |reason: String| FaultsParseError::InvalidValue {
                name: name.to_owned(),
                value: value.to_owned(),
                reason,
            };
            match name {
                "malformed" | "malformed_records" => {
                    faults.malformed_records = parse_count(name, value)?;
                }
                "rate_limit" => faults.rate_limit = Schedule::parse(value).map_err(invalid)?,
                "retry_after" | "retry_after_secs" => {
                    faults.retry_after_secs = parse_count(name, value)?;
                }
                "server_errors" => {
                    faults.server_errors = Schedule::parse(value).map_err(invalid)?;
                }
                "slow_ms" => faults.slow_ms = parse_count(name, value)?,
                "truncate" => faults.truncate = Schedule::parse(value).map_err(invalid)?,
                "token_ttl" | "token_ttl_requests" => {
                    faults.token_ttl_requests = parse_count(name, value)?;
                }
                "token_ttl_secs" => faults.token_ttl_secs = parse_count(name, value)?,
                "mutate" => faults.mutate = Probability::parse(value).map_err(invalid)?,
                "duplicates" => faults.duplicates = Probability::parse(value).map_err(invalid)?,
                _ => {
                    return Err(FaultsParseError::UnknownFault {
                        name: name.to_owned(),
                        known: Self::KNOBS.join(", "),
                    });
                }
            }
        }
        Ok(faults)
    }
}

impl std::str::FromStr for Faults {
    type Err = FaultsParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The `--faults` list that [`Faults::parse`] reads back as the same value: the knobs that
/// are on, in the order of [`Faults::KNOBS`], or `none`.
impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = Faults::default();
        let mut parts: Vec<String> = Vec::new();
        if !self.rate_limit.is_off() {
            parts.push(format!("rate_limit={}", self.rate_limit));
        }
        if self.retry_after_secs != d.retry_after_secs {
            parts.push(format!("retry_after={}", self.retry_after_secs));
        }
        if !self.server_errors.is_off() {
            parts.push(format!("server_errors={}", self.server_errors));
        }
        if self.slow_ms > 0 {
            parts.push(format!("slow_ms={}", self.slow_ms));
        }
        if !self.truncate.is_off() {
            parts.push(format!("truncate={}", self.truncate));
        }
        if self.token_ttl_requests > 0 {
            parts.push(format!("token_ttl={}", self.token_ttl_requests));
        }
        if self.token_ttl_secs > 0 {
            parts.push(format!("token_ttl_secs={}", self.token_ttl_secs));
        }
        if !self.mutate.is_zero() {
            parts.push(format!("mutate={}", self.mutate));
        }
        if !self.duplicates.is_zero() {
            parts.push(format!("duplicates={}", self.duplicates));
        }
        if self.malformed_records > 0 {
            parts.push(format!("malformed={}", self.malformed_records));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

fn parse_count<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, FaultsParseError> {
    value.parse().map_err(|_| FaultsParseError::InvalidValue {
        name: name.to_owned(),
        value: value.to_owned(),
        reason: "expected a whole number such as `3`".to_owned(),
    })
}

/// Which requests a request-level fault hits. Requests are numbered from 1 over everything one
/// mock instance receives.
///
/// Written (in `--faults` and as a string in config files) as:
/// - `off` (or `0`, `none`): no request;
/// - `K`: requests 1 to K;
/// - `A-B`: requests A to B, inclusive;
/// - `K@N`: K consecutive requests starting at request N;
/// - any of the three followed by `/P`: the same burst again every P requests
///   (`3@5/50` hits 5–7, 55–57, 105–107, …; `1@10/10` hits every tenth request);
/// - a fraction with a decimal point, such as `0.2`: each request independently with that
///   probability, drawn from the seed and the request number.
///
/// In a JSON or TOML config a whole number is `K` and a float a probability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "NumberOrText")]
pub enum Schedule {
    /// No request.
    #[default]
    Off,
    /// `count` consecutive requests from request `first` (1-based), repeated every `every`
    /// requests when `every` is not 0.
    Burst {
        /// The first request hit.
        first: u64,
        /// How many consecutive requests are hit.
        count: u64,
        /// The period of repetition, in requests; 0 for once.
        every: u64,
    },
    /// Each request independently with this probability.
    Random(Probability),
}

impl Schedule {
    /// Requests `range.start()` to `range.end()` (1-based, inclusive), once.
    pub fn requests(range: RangeInclusive<u64>) -> Self {
        let (first, last) = range.into_inner();
        if last < first || last == 0 {
            return Schedule::Off;
        }
        let first = first.max(1);
        Schedule::Burst {
            first,
            count: last - first + 1,
            every: 0,
        }
    }

    /// `count` consecutive requests starting at request `first` (1-based), once.
    pub fn burst(count: u64, first: u64) -> Self {
        if count == 0 {
            return Schedule::Off;
        }
        Schedule::Burst {
            first: first.max(1),
            count,
            every: 0,
        }
    }

    /// The same burst again every `period` requests (a no-op for `Off` and `Random`).
    pub fn repeating_every(self, period: u64) -> Self {
        match self {
            Schedule::Burst { first, count, .. } => Schedule::Burst {
                first,
                count,
                every: period,
            },
            other => other,
        }
    }

    /// Each request with probability `p`.
    pub fn random(p: Probability) -> Self {
        if p.is_zero() {
            Schedule::Off
        } else {
            Schedule::Random(p)
        }
    }

    /// Whether no request is hit.
    pub fn is_off(&self) -> bool {
        match self {
            Schedule::Off => true,
            Schedule::Burst { count, .. } => *count == 0,
            Schedule::Random(p) => p.is_zero(),
        }
    }

    /// Whether request number `request` (1-based) is hit. `seed` and `knob` decide the random
    /// draws, so two knobs with the same probability hit different requests.
    pub fn hits(&self, request: u64, seed: u64, knob: &str) -> bool {
        match *self {
            Schedule::Off => false,
            Schedule::Burst {
                first,
                count,
                every,
            } => {
                if request < first || count == 0 {
                    return false;
                }
                let offset = request - first;
                if every == 0 {
                    offset < count
                } else {
                    offset % every < count
                }
            }
            Schedule::Random(p) => p.hits(crate::injector::draw(seed, knob, &[request])),
        }
    }

    /// Parses the written form (see the type's docs); the error says what was expected.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let expected = "expected `K`, `A-B` or `K@N` (optionally followed by `/P`), \
                        or a fraction such as `0.2`";
        if s.is_empty() {
            return Err(expected.to_owned());
        }
        if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("none") || s == "0" {
            return Ok(Schedule::Off);
        }
        if s.contains('.') || s.ends_with('%') {
            return Probability::parse(s).map(Schedule::random);
        }
        let number = |t: &str| -> Result<u64, String> {
            t.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{t}` is not a whole number; {expected}"))
        };
        let (burst, every) = match s.split_once('/') {
            Some((b, p)) => {
                let p = number(p)?;
                if p == 0 {
                    return Err("the period after `/` must be at least 1".to_owned());
                }
                (b, p)
            }
            None => (s, 0),
        };
        let schedule = if let Some((k, n)) = burst.split_once('@') {
            let first = number(n)?;
            if first == 0 {
                return Err("requests are numbered from 1".to_owned());
            }
            Schedule::burst(number(k)?, first)
        } else if let Some((a, b)) = burst.split_once('-') {
            let (a, b) = (number(a)?, number(b)?);
            if a == 0 || b < a {
                return Err(format!(
                    "`{burst}` is not a range of requests such as `3-5` (numbered from 1)"
                ));
            }
            Schedule::requests(a..=b)
        } else {
            Schedule::burst(number(burst)?, 1)
        };
        Ok(schedule.repeating_every(every))
    }
}

/// The written form [`Schedule::parse`] reads back as the same value.
impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Schedule::Off => f.write_str("off"),
            Schedule::Burst { count: 0, .. } => f.write_str("off"),
            Schedule::Burst {
                first,
                count,
                every,
            } => {
                write!(f, "{count}@{first}")?;
                if every > 0 {
                    write!(f, "/{every}")?;
                }
                Ok(())
            }
            Schedule::Random(p) => {
                // A decimal point tells a probability from a burst length (`1.0` vs `1`).
                let p = p.to_string();
                if p.contains('.') {
                    f.write_str(&p)
                } else {
                    write!(f, "{p}.0")
                }
            }
        }
    }
}

impl std::str::FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<NumberOrText> for Schedule {
    type Error = String;
    fn try_from(v: NumberOrText) -> Result<Self, Self::Error> {
        match v {
            NumberOrText::Whole(k) => Ok(Schedule::burst(k, 1)),
            NumberOrText::Fraction(p) => Probability::try_from_f64(p).map(Schedule::random),
            NumberOrText::Text(s) => Schedule::parse(&s),
        }
    }
}

/// A probability between 0 and 1, kept exactly in millionths so that [`Faults`] stays `Eq`
/// and a value prints the way it was written.
///
/// Written as a fraction (`0.05`, `1`, `0`) or a percentage (`5%`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "NumberOrText")]
pub struct Probability(u32);

impl Probability {
    /// Never.
    pub const ZERO: Probability = Probability(0);
    /// Always.
    pub const ONE: Probability = Probability(Self::SCALE);
    const SCALE: u32 = 1_000_000;

    /// `p`, clamped to `0..=1` (NaN is 0) and rounded to a millionth.
    pub fn new(p: f64) -> Self {
        if p.is_nan() || p <= 0.0 {
            return Self::ZERO;
        }
        if p >= 1.0 {
            return Self::ONE;
        }
        // In range by the checks above, so the cast cannot truncate.
        Probability((p * f64::from(Self::SCALE)).round() as u32)
    }

    /// `p` if it is a probability, else why not.
    fn try_from_f64(p: f64) -> Result<Self, String> {
        if (0.0..=1.0).contains(&p) {
            Ok(Self::new(p))
        } else {
            Err(format!("`{p}` is not a probability between 0 and 1"))
        }
    }

    /// The value as a float.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / f64::from(Self::SCALE)
    }

    /// Whether it never hits.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Whether a uniform 64-bit `draw` falls under the probability.
    pub fn hits(self, draw: u64) -> bool {
        // Scales the draw to 0..SCALE without the bias of `%`.
        let scaled = (u128::from(draw) * u128::from(Self::SCALE)) >> 64;
        scaled < u128::from(self.0)
    }

    /// Parses `0.05`, `1`, `0` or `5%`; the error says what was expected.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (number, scale) = match s.strip_suffix('%') {
            Some(n) => (n.trim(), 100.0),
            None => (s, 1.0),
        };
        let p: f64 = number
            .parse()
            .map_err(|_| format!("`{s}` is not a probability such as `0.05` or `5%`"))?;
        if !p.is_finite() {
            return Err(format!("`{s}` is not a probability such as `0.05` or `5%`"));
        }
        Self::try_from_f64(p / scale)
    }
}

/// The shortest fraction that reads back as the same value (`0.05`, `1`, `0`).
impl fmt::Display for Probability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_f64())
    }
}

impl std::str::FromStr for Probability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<NumberOrText> for Probability {
    type Error = String;
    fn try_from(v: NumberOrText) -> Result<Self, Self::Error> {
        match v {
            NumberOrText::Whole(0) => Ok(Self::ZERO),
            NumberOrText::Whole(1) => Ok(Self::ONE),
            NumberOrText::Whole(n) => Err(format!("`{n}` is not a probability between 0 and 1")),
            NumberOrText::Fraction(p) => Self::try_from_f64(p),
            NumberOrText::Text(s) => Self::parse(&s),
        }
    }
}

/// How a schedule or a probability may be written in a config file.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Whole(u64),
    Fraction(f64),
    Text(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_from_cli_lists() {
        assert_eq!(Faults::parse("").unwrap(), Faults::none());
        assert_eq!(Faults::parse("none").unwrap(), Faults::none());
        let f = Faults::parse(" malformed = 3 ,").unwrap();
        assert_eq!(f.malformed_records, 3);
        assert!(f.any());
        assert_eq!(
            "malformed_records=1".parse::<Faults>().unwrap(),
            Faults::none().with_malformed_records(1)
        );
    }

    #[test]
    fn faults_parse_errors_name_the_problem() {
        let err = Faults::parse("malformed=3,storm=2").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown fault `storm`; known faults: rate_limit, retry_after, server_errors, \
             slow_ms, truncate, token_ttl, token_ttl_secs, mutate, duplicates, malformed"
        );
        for (list, says) in [
            ("rate_limit=5-3", "not a range of requests"),
            ("rate_limit=2@0", "numbered from 1"),
            ("server_errors=2@5/0", "period after `/`"),
            ("truncate=lots", "`lots` is not a whole number"),
            ("truncate=1.5", "between 0 and 1"),
            ("mutate=3", "between 0 and 1"),
            ("duplicates=often", "such as `0.05`"),
            ("slow_ms=fast", "whole number"),
            ("token_ttl=-1", "whole number"),
        ] {
            let err = Faults::parse(list).unwrap_err().to_string();
            assert!(err.contains(says), "{list}: {err}");
            let name = list.split('=').next().unwrap();
            assert!(
                err.contains(&format!("for fault `{name}`")),
                "{list}: {err}"
            );
        }
        let err = Faults::parse("malformed").unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid value `` for fault `malformed`")
        );
        assert!(Faults::parse("malformed=-1").is_err());
    }

    #[test]
    fn faults_parse_every_knob_and_print_back() {
        let list = "rate_limit=3@5/50,retry_after=0,server_errors=2-4,slow_ms=200,\
                    truncate=0.1,token_ttl=5,token_ttl_secs=30,mutate=5%,duplicates=0.05,malformed=3";
        let f = Faults::parse(list).unwrap();
        let expected = Faults::none()
            .with_rate_limit(Schedule::burst(3, 5).repeating_every(50))
            .with_retry_after_secs(0)
            .with_server_errors(Schedule::requests(2..=4))
            .with_slow_ms(200)
            .with_truncate(Schedule::random(Probability::new(0.1)))
            .with_token_ttl_requests(5)
            .with_token_ttl_secs(30)
            .with_mutate(Probability::new(0.05))
            .with_duplicates(Probability::new(0.05))
            .with_malformed_records(3);
        assert_eq!(f, expected);
        assert_eq!(
            f.to_string(),
            "rate_limit=3@5/50,retry_after=0,server_errors=3@2,slow_ms=200,truncate=0.1,\
             token_ttl=5,token_ttl_secs=30,mutate=0.05,duplicates=0.05,malformed=3"
        );
        assert_eq!(Faults::parse(&f.to_string()).unwrap(), f, "round trip");
        assert_eq!(Faults::none().to_string(), "none");
        assert_eq!(Faults::parse("none").unwrap().to_string(), "none");
        // Each knob on its own turns `any` on, except the shape of the 429s.
        assert!(!Faults::none().with_retry_after_secs(0).any());
        for knob in [
            "rate_limit=1",
            "server_errors=1",
            "slow_ms=1",
            "truncate=1",
            "token_ttl=1",
            "token_ttl_secs=1",
            "mutate=0.5",
            "duplicates=0.5",
            "malformed=1",
        ] {
            assert!(Faults::parse(knob).unwrap().any(), "{knob}");
        }
        assert!(
            !Faults::parse("rate_limit=0,mutate=0,truncate=off")
                .unwrap()
                .any()
        );
    }

    #[test]
    fn schedules_hit_exactly_the_requests_written() {
        let hit = |s: &str| -> Vec<u64> {
            let s = Schedule::parse(s).unwrap();
            (1..=40).filter(|&n| s.hits(n, 42, "test")).collect()
        };
        assert_eq!(hit("3"), [1, 2, 3]);
        assert_eq!(hit("3-5"), [3, 4, 5]);
        assert_eq!(hit("2@7"), [7, 8]);
        assert_eq!(hit("2@5/10"), [5, 6, 15, 16, 25, 26, 35, 36]);
        assert_eq!(hit("1@10/10"), [10, 20, 30, 40]);
        assert_eq!(hit("3-4/15"), [3, 4, 18, 19, 33, 34]);
        assert!(hit("off").is_empty() && hit("0").is_empty() && hit("0.0").is_empty());
        assert_eq!(hit("1.0"), (1..=40).collect::<Vec<_>>());

        // A fraction: deterministic in the seed and the knob, and about as often as asked.
        let s = Schedule::parse("0.2").unwrap();
        let run = |seed: u64, knob: &str| -> Vec<u64> {
            (1..=10_000).filter(|&n| s.hits(n, seed, knob)).collect()
        };
        let a = run(7, "rate_limit");
        assert_eq!(a, run(7, "rate_limit"), "same seed, same requests");
        assert_ne!(a, run(8, "rate_limit"), "another seed, other requests");
        assert_ne!(a, run(7, "truncate"), "another knob, other requests");
        assert!((1_800..2_200).contains(&a.len()), "{}", a.len());

        for written in ["3@1", "2@5/10", "0.25", "1.0", "off"] {
            let s = Schedule::parse(written).unwrap();
            assert_eq!(s.to_string(), written);
            assert_eq!(Schedule::parse(&s.to_string()).unwrap(), s);
        }
        assert_eq!(Schedule::parse("3-5").unwrap().to_string(), "3@3");
        assert_eq!(Schedule::parse("20%").unwrap().to_string(), "0.2");
    }

    #[test]
    fn probabilities_are_exact_and_bounded() {
        assert_eq!(Probability::parse("0.05").unwrap(), Probability::new(0.05));
        assert_eq!(Probability::parse("5%").unwrap(), Probability::new(0.05));
        assert_eq!(Probability::parse("1").unwrap(), Probability::ONE);
        assert_eq!(Probability::new(7.0), Probability::ONE);
        assert_eq!(Probability::new(f64::NAN), Probability::ZERO);
        assert!(Probability::parse("-0.1").is_err());
        assert!(Probability::parse("NaN").is_err());
        assert!(Probability::ONE.hits(u64::MAX));
        assert!(!Probability::ZERO.hits(0));
        assert!(Probability::new(0.5).hits(u64::MAX / 2 - 1));
        assert!(!Probability::new(0.5).hits(u64::MAX / 2 + 1));
    }

    #[test]
    fn faults_deserialize_from_config_files() {
        let f: Faults = serde_json::from_str(r#"{"malformed_records": 2}"#).unwrap();
        assert_eq!(f.malformed_records, 2);
        let f: Faults = serde_json::from_str(
            r#"{"rate_limit": "3@5/50", "server_errors": 2, "truncate": 0.1,
                "mutate": "5%", "duplicates": 0.05, "retry_after_secs": 0, "token_ttl_requests": 4}"#,
        )
        .unwrap();
        assert_eq!(f.rate_limit, Schedule::burst(3, 5).repeating_every(50));
        assert_eq!(f.server_errors, Schedule::burst(2, 1));
        assert_eq!(f.truncate, Schedule::random(Probability::new(0.1)));
        assert_eq!(f.mutate, Probability::new(0.05));
        assert_eq!(f.duplicates, Probability::new(0.05));
        assert_eq!(f.retry_after_secs, 0);
        assert_eq!(f.token_ttl_requests, 4);
        assert_eq!(Faults::default().retry_after_secs, 1);
        for bad in [
            r#"{"mutate": 2}"#,
            r#"{"rate_limit": "sometimes"}"#,
            r#"{"storms": 1}"#,
        ] {
            assert!(serde_json::from_str::<Faults>(bad).is_err(), "{bad}");
        }
    }
}
