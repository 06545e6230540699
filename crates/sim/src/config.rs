//! What to simulate: the size and seed of the company ([`SimConfig`]). Which faults a mock
//! server injects is the mocks' business (`tributary-mock-kit`'s `Faults`), not the world's.

use crate::CausalConfig;
use chrono::NaiveDate;
use serde::Deserialize;

/// Parameters of one simulated company.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Seed of every random draw; the same seed gives byte-identical data.
    pub seed: u64,
    /// Number of customer accounts to generate.
    pub accounts: usize,
    /// The simulated "today": every event happens strictly before it.
    pub today: NaiveDate,
    /// First day of the company's history. Accounts are acquired from this day over the
    /// following 1,675 days (five years less 150 days). It is fixed rather than derived from
    /// `today`, so that moving `today` forward only reveals more of the same world.
    pub history_start: NaiveDate,
    /// The planted causal structure: how much training changes renewal, expansion, adoption,
    /// time-to-value and how-to tickets, and how strong the confounding is (SPEC §7).
    pub causal: CausalConfig,
    /// Multiplies the expected number of product usage events (1.0 gives about 300 per
    /// account over the default history, weekday-heavy, scaled by account size and health).
    pub usage_scale: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            accounts: 2000,
            today: NaiveDate::from_ymd_opt(2026, 11, 1).expect("2026-11-01 is a valid date"),
            history_start: NaiveDate::from_ymd_opt(2021, 11, 1)
                .expect("2021-11-01 is a valid date"),
            causal: CausalConfig::default(),
            usage_scale: 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_deserializes() {
        let c = SimConfig::default();
        assert_eq!((c.seed, c.accounts), (42, 2000));
        assert_eq!(c.today.to_string(), "2026-11-01");
        let c: SimConfig = serde_json::from_str(r#"{"accounts": 10, "seed": 7}"#).unwrap();
        assert_eq!((c.seed, c.accounts), (7, 10));
        assert!(serde_json::from_str::<SimConfig>(r#"{"acounts": 10}"#).is_err());
        // Faults belong to the mocks, not to the world.
        assert!(serde_json::from_str::<SimConfig>(r#"{"faults": {}}"#).is_err());
    }
}
