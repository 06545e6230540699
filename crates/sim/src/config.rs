//! What to simulate: the size and seed of the company ([`SimConfig`]) and which faults the
//! mock servers inject ([`Faults`]).

use chrono::NaiveDate;
use serde::Deserialize;

/// Parameters of one simulated company.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Seed of every random draw; the same seed gives byte-identical data.
    pub seed: u64,
    /// Number of customer accounts to generate.
    pub accounts: usize,
    /// The simulated "today": every event happens strictly before it.
    pub today: NaiveDate,
    /// Faults the mock servers inject. Generation ignores them (the company is the same with
    /// and without faults); hand them to each mock, e.g. `HubspotMockConfig::with_faults`.
    pub faults: Faults,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            accounts: 2000,
            today: NaiveDate::from_ymd_opt(2026, 11, 1).expect("2026-11-01 is a valid date"),
            faults: Faults::default(),
        }
    }
}

/// Fault knobs of the mock servers; all off by default.
///
/// Every knob is deterministic: which records or requests it hits follows from the company's
/// seed, so a failing test replays exactly. New knobs (429 storms, 5xx, slow pages, truncated
/// bodies, token expiry) are added as new fields with an off default, a name in
/// [`Faults::KNOBS`], an arm in [`Faults::parse`] and a `with_*` builder. Build values with
/// the builders (`Faults::none().with_malformed_records(2)`) or [`Faults::parse`], so callers
/// keep compiling as knobs are added (a struct literal needs `..Faults::default()` then, which
/// clippy's `needless_update` flags while there is only one field).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// How many records of each object type are served malformed (for HubSpot: companies
    /// with an empty `name`, closed-won deals whose `amount` is not a number, contacts with a
    /// garbage `email` and no name).
    pub malformed_records: usize,
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
    pub const KNOBS: &'static [&'static str] = &["malformed"];

    /// No faults at all (same as [`Faults::default`]).
    pub fn none() -> Self {
        Self::default()
    }

    /// Serves `n` records of each object type malformed.
    pub fn with_malformed_records(mut self, n: usize) -> Self {
        self.malformed_records = n;
        self
    }

    /// Whether any knob is on.
    pub fn any(&self) -> bool {
        *self != Self::default()
    }

    /// Parses a CLI list such as `malformed=3`: comma-separated `name=value` pairs. An empty
    /// string or `none` means no faults. `malformed_records` is accepted as an alias of
    /// `malformed`.
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
            match name {
                "malformed" | "malformed_records" => {
                    faults.malformed_records = parse_count(name, value)?;
                }
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

fn parse_count(name: &str, value: &str) -> Result<usize, FaultsParseError> {
    value.parse().map_err(|_| FaultsParseError::InvalidValue {
        name: name.to_owned(),
        value: value.to_owned(),
        reason: "expected a whole number such as `3`".to_owned(),
    })
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
            "unknown fault `storm`; known faults: malformed"
        );
        let err = Faults::parse("malformed").unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid value `` for fault `malformed`")
        );
        assert!(Faults::parse("malformed=-1").is_err());
    }

    #[test]
    fn config_defaults_and_deserializes() {
        let c = SimConfig::default();
        assert_eq!((c.seed, c.accounts), (42, 2000));
        assert_eq!(c.today.to_string(), "2026-11-01");
        let c: SimConfig =
            serde_json::from_str(r#"{"accounts": 10, "faults": {"malformed_records": 2}}"#)
                .unwrap();
        assert_eq!(c.accounts, 10);
        assert_eq!(c.faults.malformed_records, 2);
        assert!(serde_json::from_str::<SimConfig>(r#"{"acounts": 10}"#).is_err());
    }
}
