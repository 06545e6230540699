//! The data-generating process of SPEC §7: latent account health, training propensity and the
//! renewal/expansion outcome models, simulated once as it happened (the factual world the CRM
//! mock serves) and once without any training (the twin), from the same uniform draws.
//!
//! Every contract year of an account consumes exactly [`YEAR_DRAWS`] uniforms from the
//! account's `contract` stream whatever happens in it, so the factual path and the twin see the
//! same draw for the same decision (common random numbers), and a path generated up to a later
//! horizon starts with exactly the years of a shorter one.

use crate::company::{SimAccount, draws, midnight, normal, stream_rng, time_on_u};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tributary_model::Segment;

/// The planted effects of training and the confounding knobs (SPEC §7). All effects apply to
/// an account-year in which at least one of its people completed a course between the term's
/// start and 30 days before its anniversary (the renewal decision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CausalConfig {
    /// Odds ratio of renewal for a contract year with a completion but no certification.
    pub renewal_odds_ratio: f64,
    /// Odds ratio of renewal for a contract year in which someone earned a certification
    /// (replaces `renewal_odds_ratio`, it is not multiplied on top).
    pub certification_odds_ratio: f64,
    /// Odds ratio of expanding at renewal (given renewal) for a trained contract year.
    pub expansion_odds_ratio: f64,
    /// Relative increase of the seats an expansion adds in a trained contract year.
    pub expansion_seat_uplift: f64,
    /// Probability that completing a course on a feature the account has not adopted yet makes
    /// it adopt that feature within two weeks.
    pub adoption_uplift: f64,
    /// Relative increase of the account's product usage during the 365 days after any of its
    /// people completed a course.
    pub usage_uplift: f64,
    /// Days by which onboarding training (a completion within 21 days of the first contract's
    /// start) shortens time-to-value (first use of the key-action feature), at least 1 day left.
    pub time_to_value_reduction_days: u32,
    /// Share of how-to tickets that do not happen during the 365 days after a completion.
    pub howto_ticket_reduction: f64,
    /// Multiplies the observed confounders' coefficients in the training propensity (size,
    /// segment, health as seen through usage): 1.0 by default, 0.0 makes training random.
    pub confounding_strength: f64,
    /// Log-odds per standard deviation of an unobserved account trait that raises both the
    /// propensity to train and the chance to renew; 0.0 (default) keeps all confounding
    /// observable through the synced data.
    pub unobserved_confounder: f64,
    /// A placebo world: every effect of training is zero (people still train).
    pub placebo: bool,
}

impl Default for CausalConfig {
    fn default() -> Self {
        Self {
            renewal_odds_ratio: 1.6,
            certification_odds_ratio: 2.4,
            expansion_odds_ratio: 1.5,
            expansion_seat_uplift: 0.2,
            adoption_uplift: 0.5,
            usage_uplift: 0.25,
            time_to_value_reduction_days: 10,
            howto_ticket_reduction: 0.35,
            confounding_strength: 1.0,
            unobserved_confounder: 0.0,
            placebo: false,
        }
    }
}

impl CausalConfig {
    /// The default effects in a placebo world (every effect of training is zero).
    pub fn placebo() -> Self {
        Self {
            placebo: true,
            ..Self::default()
        }
    }

    /// The effects in force: neutral ones (odds ratios 1, uplifts 0) in a placebo world.
    pub fn effective(&self) -> CausalConfig {
        if !self.placebo {
            return self.clone();
        }
        CausalConfig {
            renewal_odds_ratio: 1.0,
            certification_odds_ratio: 1.0,
            expansion_odds_ratio: 1.0,
            expansion_seat_uplift: 0.0,
            adoption_uplift: 0.0,
            usage_uplift: 0.0,
            time_to_value_reduction_days: 0,
            howto_ticket_reduction: 0.0,
            ..self.clone()
        }
    }

    /// The renewal odds ratio of a treatment level.
    pub fn renewal_odds_ratio_of(&self, t: Treatment) -> f64 {
        match t {
            Treatment::Untrained => 1.0,
            Treatment::Completed => self.renewal_odds_ratio,
            Treatment::Certified => self.certification_odds_ratio,
        }
    }
}

/// What training an account had in one contract year (its exposure window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Treatment {
    /// Nobody completed a course in the window.
    Untrained,
    /// Someone completed a course (a failed certification exam counts), nobody certified.
    Completed,
    /// Someone earned a certification in the window.
    Certified,
}

impl Treatment {
    /// Whether anyone completed anything.
    pub fn is_trained(self) -> bool {
        self != Treatment::Untrained
    }
}

/// The fixed coefficients of the data-generating process; published in the ground truth so
/// that an estimator's assumptions can be checked against what really generated the data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dgp {
    /// Year-to-year autocorrelation of latent health (standard normal, stationary).
    pub health_autocorrelation: f64,
    /// Propensity to train in a contract year: intercept (log-odds).
    pub propensity_intercept: f64,
    /// Propensity: log-odds by segment (smb, mid-market, enterprise), times confounding strength.
    pub propensity_segment: [f64; 3],
    /// Propensity: log-odds per SD of health, times confounding strength.
    pub propensity_health: f64,
    /// Propensity: log-odds per unit of ln(seats / 25), times confounding strength.
    pub propensity_log_seats: f64,
    /// Certification given training: intercept, per segment step, per SD of health.
    pub certification: [f64; 3],
    /// Renewal: log-odds by segment when untrained at average health and tenure 0.
    pub renewal_segment: [f64; 3],
    /// Renewal: log-odds per SD of health.
    pub renewal_health: f64,
    /// Renewal: log-odds per year of tenure, up to `renewal_tenure_cap` years.
    pub renewal_tenure: f64,
    /// Cap of the tenure term, years.
    pub renewal_tenure_cap: u32,
    /// Expansion given renewal: intercept, per SD of health, per segment step (log-odds).
    pub expansion: [f64; 3],
    /// Seats an expansion adds: a fraction uniform in this range (before the training uplift).
    pub expansion_fraction: [f64; 2],
    /// Contraction given renewal without expansion: intercept, per SD of health (log-odds).
    pub contraction: [f64; 2],
    /// A mid-term add-on in a contract year: intercept, per SD of health (log-odds).
    pub add_on: [f64; 2],
    /// Probability of a lost upsell attempt in a contract year.
    pub lost_upsell: f64,
    /// Expected usage events per weekday per square root of employees at average health.
    pub usage_per_sqrt_employee: f64,
    /// Log usage per SD of health.
    pub usage_health: f64,
    /// Days of usage before a contract year's start that reflect its health (the pre-period).
    pub pre_period_days: i64,
    /// Days of free trial (usage) before the first contract.
    pub trial_days: i64,
    /// Days before the anniversary at which the exposure window of a contract year closes.
    pub exposure_window_end_days: i64,
    /// Base time-to-value in days by segment at average health.
    pub time_to_value_days: [f64; 3],
    /// Onboarding window: a completion this many days after the first start is onboarding.
    pub onboarding_days: i64,
}

/// The coefficients in force.
pub const DGP: Dgp = Dgp {
    health_autocorrelation: 0.8,
    propensity_intercept: -0.5,
    propensity_segment: [-0.5, 0.1, 0.6],
    propensity_health: 0.9,
    propensity_log_seats: 0.15,
    certification: [-1.3, 0.4, 0.4],
    renewal_segment: [1.3, 1.9, 2.4],
    renewal_health: 0.8,
    renewal_tenure: 0.12,
    renewal_tenure_cap: 4,
    expansion: [-1.7, 0.5, 0.2],
    expansion_fraction: [0.1, 0.5],
    contraction: [-2.4, -0.6],
    add_on: [-2.0, 0.4],
    lost_upsell: 0.06,
    usage_per_sqrt_employee: 0.018,
    usage_health: 0.5,
    pre_period_days: 90,
    trial_days: 30,
    exposure_window_end_days: 30,
    time_to_value_days: [14.0, 30.0, 55.0],
    onboarding_days: 21,
};

/// Uniform draws every contract year consumes, used or not.
pub(crate) const YEAR_DRAWS: usize = 32;

pub(crate) fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// `p` with its odds multiplied by `odds_ratio`.
pub(crate) fn with_odds_ratio(p: f64, odds_ratio: f64) -> f64 {
    if odds_ratio == 1.0 {
        return p;
    }
    logistic(logit(p) + odds_ratio.ln())
}

pub(crate) fn tier(segment: Segment) -> usize {
    match segment {
        Segment::Smb => 0,
        Segment::MidMarket => 1,
        Segment::Enterprise => 2,
    }
}

/// The covariates of one renewal decision as they stood at the start of the contract year.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct State {
    pub tier: usize,
    pub seats: u32,
    pub tenure_years: u32,
    pub health: f64,
    pub confounder: f64,
}

/// Probability that the account trains during the contract year.
pub(crate) fn propensity(s: &State, cfg: &CausalConfig) -> f64 {
    let observed = DGP.propensity_segment[s.tier]
        + DGP.propensity_health * s.health
        + DGP.propensity_log_seats * (f64::from(s.seats.max(1)) / 25.0).ln();
    logistic(
        DGP.propensity_intercept
            + cfg.confounding_strength * observed
            + cfg.unobserved_confounder * s.confounder,
    )
}

/// Probability that a trained account-year includes a certification.
pub(crate) fn certification_probability(s: &State) -> f64 {
    logistic(
        DGP.certification[0]
            + DGP.certification[1] * s.tier as f64
            + DGP.certification[2] * s.health,
    )
}

/// Probability of renewal without training.
pub(crate) fn renewal_probability_untrained(s: &State, cfg: &CausalConfig) -> f64 {
    logistic(
        DGP.renewal_segment[s.tier]
            + DGP.renewal_health * s.health
            + DGP.renewal_tenure * f64::from(s.tenure_years.min(DGP.renewal_tenure_cap))
            + cfg.unobserved_confounder * s.confounder,
    )
}

fn expansion_probability(s: &State, trained: bool, cfg: &CausalConfig) -> f64 {
    let p =
        logistic(DGP.expansion[0] + DGP.expansion[1] * s.health + DGP.expansion[2] * s.tier as f64);
    if trained {
        with_odds_ratio(p, cfg.expansion_odds_ratio)
    } else {
        p
    }
}

/// A mid-term add-on: seats added, co-terminous with the running contract.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AddOnPlan {
    pub day: NaiveDate,
    pub months_left: u32,
    pub seats: u32,
    pub created: DateTime<Utc>,
    pub close: DateTime<Utc>,
    pub closed_at: DateTime<Utc>,
}

/// An upsell attempt that was lost.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LostUpsellPlan {
    pub seats: u32,
    pub created: DateTime<Utc>,
    pub close: DateTime<Utc>,
    pub closed_at: DateTime<Utc>,
}

/// The renewal deal of a contract year (absent when a churning account simply lapses).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RenewalDealPlan {
    pub created: DateTime<Utc>,
    pub close: DateTime<Utc>,
    pub closed_at: DateTime<Utc>,
}

/// One contract year and the renewal decision at its end.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContractYear {
    pub year: u32,
    pub term_start: NaiveDate,
    pub anniversary: NaiveDate,
    /// Covariates at the term's start.
    pub state: State,
    pub propensity: f64,
    pub certification_probability: f64,
    pub treatment: Treatment,
    pub add_on: Option<AddOnPlan>,
    pub lost_upsell: Option<LostUpsellPlan>,
    /// Seats under contract just before the anniversary (add-on included).
    pub seats_end: u32,
    pub p_renew: f64,
    pub p_renew_untrained: f64,
    pub renewed: bool,
    /// The same draw decided without this year's training (everything before held fixed).
    pub renewed_if_untrained: bool,
    /// Seats of the renewal contract (0 when churned).
    pub seats_after: u32,
    /// Seats of the renewal contract had this year been untrained (0 when it would churn).
    pub seats_after_if_untrained: u32,
    pub renewal_deal: Option<RenewalDealPlan>,
    /// When the CRM marks a lapsed (churned) account: the anniversary plus a few hours.
    pub churn_marked_at: DateTime<Utc>,
}

/// An account's contract history up to a horizon, factual or twin.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContractPath {
    pub start: NaiveDate,
    pub first_seats: u32,
    pub first_created: DateTime<Utc>,
    pub first_close: DateTime<Utc>,
    pub first_closed_at: DateTime<Utc>,
    pub confounder: f64,
    pub years: Vec<ContractYear>,
    /// The anniversary at which the account churned, if it did before the horizon.
    pub churned_on: Option<NaiveDate>,
}

fn add_months(d: NaiveDate, m: u32) -> NaiveDate {
    d.checked_add_months(Months::new(m))
        .unwrap_or(NaiveDate::MAX)
}

/// `seats × fraction`, rounded down, at least `min`.
fn scale_seats(seats: u32, fraction: f64, min: u32) -> u32 {
    ((f64::from(seats) * fraction) as u32).max(min)
}

/// What an account's contract history starts from: the account as it was created. Kept by
/// the company (a few bytes per account) so that a path can be simulated again whenever it
/// is needed instead of being stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Origin {
    pub created_at: DateTime<Utc>,
    pub segment: Segment,
    /// Seats of the first contract.
    pub seats: u32,
}

impl Origin {
    /// The origin of an account as generated (before its seats follow its deals).
    pub(crate) fn of(account: &SimAccount) -> Origin {
        Origin {
            created_at: account.created_at,
            segment: account.segment,
            seats: account.seats,
        }
    }
}

/// Simulates the contract history of account `idx` through every contract year starting on
/// or before `horizon`. With `never_train`, the same draws are replayed with training forced
/// off in every year (the twin).
pub(crate) fn simulate(
    seed: u64,
    idx: usize,
    account: &Origin,
    cfg: &CausalConfig,
    horizon: NaiveDate,
    never_train: bool,
) -> ContractPath {
    let mut rng = stream_rng(seed, "contract", idx as u64);
    let a: [f64; 8] = draws(&mut rng);
    // New business closes 31–123 days after the company is created (so the 30-day trial its
    // usage starts with follows the creation), on day 1–28 of a month so that adding months
    // never clamps and contract years chain exactly.
    let mut start = account.created_at.date_naive() + Duration::days(34 + (a[0] * 90.0) as i64);
    if start.day() > 28 {
        start = start.with_day(28).unwrap_or(start);
    }
    let first_close = time_on_u(start, a[1]);
    let span = (first_close - account.created_at).num_milliseconds().max(0);
    let first_created = account.created_at + Duration::milliseconds((span as f64 * a[2]) as i64);
    let first_closed_at = first_close + Duration::minutes((a[3] * 72.0 * 60.0) as i64);
    let confounder = normal(a[4], a[5]);

    let t = tier(account.segment);
    let mut seats = account.seats;
    let mut health = 0.0;
    let mut years = Vec::new();
    let mut churned_on = None;
    let rho = DGP.health_autocorrelation;
    for year in 1u32.. {
        let term_start = add_months(start, 12 * (year - 1));
        if term_start > horizon {
            break;
        }
        let anniversary = add_months(start, 12 * year);
        let u: [f64; YEAR_DRAWS] = draws(&mut rng);
        let z = normal(u[0], u[1]);
        health = if year == 1 {
            z
        } else {
            rho * health + (1.0 - rho * rho).sqrt() * z
        };
        let state = State {
            tier: t,
            seats,
            tenure_years: year - 1,
            health,
            confounder,
        };
        let prop = propensity(&state, cfg);
        let p_cert = certification_probability(&state);
        let treatment = if never_train || u[2] >= prop {
            Treatment::Untrained
        } else if u[3] < p_cert {
            Treatment::Certified
        } else {
            Treatment::Completed
        };

        // A mid-term add-on, co-terminous with the running contract.
        let add_on = (u[4] < logistic(DGP.add_on[0] + DGP.add_on[1] * health)).then(|| {
            let months_left = 12 - (2 + (u[5] * 8.0) as u32).min(9);
            let day = add_months(term_start, 12 - months_left);
            let added = scale_seats(seats, 0.1 + 0.3 * u[6], 1);
            let close = time_on_u(day, u[7]);
            AddOnPlan {
                day,
                months_left,
                seats: added,
                created: close - Duration::days(7 + (u[8] * 39.0) as i64),
                close,
                closed_at: close + Duration::minutes((u[9] * 72.0 * 60.0) as i64),
            }
        });
        if let Some(add) = &add_on {
            seats += add.seats;
        }
        // An upsell attempt that was lost.
        let lost_upsell = (u[10] < DGP.lost_upsell).then(|| {
            let close = time_on_u(
                term_start + Duration::days(30 + (u[11] * 301.0) as i64),
                u[12],
            );
            LostUpsellPlan {
                seats: scale_seats(seats, 0.2 + 0.4 * u[13], 1),
                created: close - Duration::days(14 + (u[14] * 47.0) as i64),
                close,
                closed_at: close + Duration::minutes((u[15] * 72.0 * 60.0) as i64),
            }
        });

        // The renewal decision at the anniversary: the same uniform decides it with and
        // without training, so p_renew ≥ p_renew_untrained implies renewed ≥ renewed_if_untrained.
        let decision = State { seats, ..state };
        let p0 = renewal_probability_untrained(&decision, cfg);
        let p1 = with_odds_ratio(p0, cfg.renewal_odds_ratio_of(treatment));
        let renewed = u[16] < p1;
        let renewed_if_untrained = u[16] < p0;
        let seats_after_with = |trained: bool| {
            let p_exp = expansion_probability(&decision, trained, cfg);
            if u[17] < p_exp {
                let uplift = if trained {
                    1.0 + cfg.expansion_seat_uplift
                } else {
                    1.0
                };
                let fraction = DGP.expansion_fraction[0]
                    + (DGP.expansion_fraction[1] - DGP.expansion_fraction[0]) * u[18];
                ((f64::from(seats) * (1.0 + fraction * uplift)) as u32).max(seats + 1)
            } else if u[19] < logistic(DGP.contraction[0] + DGP.contraction[1] * health) {
                scale_seats(seats, 0.6 + 0.3 * u[20], 1)
            } else {
                seats
            }
        };
        let seats_after = if renewed {
            seats_after_with(treatment.is_trained())
        } else {
            0
        };
        let seats_after_if_untrained = if renewed_if_untrained {
            seats_after_with(false)
        } else {
            0
        };

        let close = time_on_u(anniversary, u[21]);
        let created = midnight(anniversary) - Duration::days(30 + (u[22] * 61.0) as i64);
        // Renewal deals are closed in the CRM on their close day, so every decision taken
        // before today is visible as of today.
        let same_day = |close: DateTime<Utc>| {
            let left = (midnight(close.date_naive() + Duration::days(1)) - close)
                .num_milliseconds()
                .max(1);
            close + Duration::milliseconds((u[23] * (left - 1) as f64) as i64)
        };
        // Most churn shows up as a lost renewal closed up to a month early; some accounts just lapse.
        let renewal_deal = if renewed {
            Some(RenewalDealPlan {
                created,
                close,
                closed_at: same_day(close),
            })
        } else if u[24] < 0.6 {
            let lost_close = close - Duration::days((u[25] * 31.0) as i64);
            Some(RenewalDealPlan {
                created: created.min(lost_close),
                close: lost_close,
                closed_at: same_day(lost_close),
            })
        } else {
            None
        };
        let churn_marked_at =
            midnight(anniversary) + Duration::minutes((u[26] * 48.0 * 60.0) as i64);

        years.push(ContractYear {
            year,
            term_start,
            anniversary,
            state,
            propensity: prop,
            certification_probability: p_cert,
            treatment,
            add_on,
            lost_upsell,
            seats_end: seats,
            p_renew: p1,
            p_renew_untrained: p0,
            renewed,
            renewed_if_untrained,
            seats_after,
            seats_after_if_untrained,
            renewal_deal,
            churn_marked_at,
        });
        if !renewed {
            churned_on = Some(anniversary);
            break;
        }
        seats = seats_after;
    }
    ContractPath {
        start,
        first_seats: account.seats,
        first_created,
        first_close,
        first_closed_at,
        confounder,
        years,
        churned_on,
    }
}

/// What the ground truth needs of a path as of one `today` (the twin is kept only as this).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PathSummary {
    pub renewals: usize,
    pub churned_on: Option<NaiveDate>,
    pub arr_today: Decimal,
    pub bookings: Decimal,
}

impl ContractPath {
    /// The path's outcomes as of `today` at `price` per seat per month.
    pub(crate) fn summary(&self, today: NaiveDate, price: Decimal) -> PathSummary {
        PathSummary {
            renewals: self.decisions_before(today).filter(|y| y.renewed).count(),
            churned_on: self.churned_on.filter(|c| *c < today),
            arr_today: self.arr_on(today, price),
            bookings: self.bookings_before(today, price),
        }
    }
}

/// A won contract of a path: what a closed-won deal carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WonContract {
    pub start: NaiveDate,
    pub months: u32,
    pub seats: u32,
    pub closed_at: DateTime<Utc>,
}

impl ContractPath {
    /// Every contract the path wins: new business, add-ons and renewals, in time order.
    pub(crate) fn won_contracts(&self) -> Vec<WonContract> {
        let mut out = vec![WonContract {
            start: self.start,
            months: 12,
            seats: self.first_seats,
            closed_at: self.first_closed_at,
        }];
        for y in &self.years {
            if let Some(a) = &y.add_on {
                out.push(WonContract {
                    start: a.day,
                    months: a.months_left,
                    seats: a.seats,
                    closed_at: a.closed_at,
                });
            }
            if let (true, Some(d)) = (y.renewed, &y.renewal_deal) {
                out.push(WonContract {
                    start: y.anniversary,
                    months: 12,
                    seats: y.seats_after,
                    closed_at: d.closed_at,
                });
            }
        }
        out
    }

    /// ARR on `today` as the CRM shows it then: contracts won (closed) before `today` whose
    /// term covers it, at `price` per seat per month.
    pub(crate) fn arr_on(&self, today: NaiveDate, price: Decimal) -> Decimal {
        let cutoff = midnight(today);
        self.won_contracts()
            .iter()
            .filter(|c| {
                c.closed_at < cutoff && c.start <= today && today < add_months(c.start, c.months)
            })
            .map(|c| price * Decimal::from(c.seats) * Decimal::from(12))
            .sum()
    }

    /// Contract value booked (won deals closed) before `today`.
    pub(crate) fn bookings_before(&self, today: NaiveDate, price: Decimal) -> Decimal {
        let cutoff = midnight(today);
        self.won_contracts()
            .iter()
            .filter(|c| c.closed_at < cutoff)
            .map(|c| price * Decimal::from(c.seats) * Decimal::from(c.months))
            .sum()
    }

    /// Renewal decisions taken before `today` (anniversary strictly before it).
    pub(crate) fn decisions_before(&self, today: NaiveDate) -> impl Iterator<Item = &ContractYear> {
        self.years.iter().filter(move |y| y.anniversary < today)
    }

    /// Health in force on `day` (the health of a contract year covers its pre-period, the 90
    /// days before the term starts, and the term until the next pre-period).
    pub(crate) fn health_periods(&self) -> Vec<(NaiveDate, f64)> {
        let trial = self.start - Duration::days(DGP.trial_days);
        self.years
            .iter()
            .map(|y| {
                let from = if y.year == 1 {
                    trial
                } else {
                    y.term_start - Duration::days(DGP.pre_period_days)
                };
                (from, y.state.health)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(health: f64, seats: u32, tier: usize) -> State {
        State {
            tier,
            seats,
            tenure_years: 1,
            health,
            confounder: 0.0,
        }
    }

    #[test]
    fn odds_ratios_apply_exactly_on_the_odds_scale() {
        for p in [0.1, 0.5, 0.85, 0.97] {
            let q = with_odds_ratio(p, 1.6);
            let odds = |x: f64| x / (1.0 - x);
            assert!((odds(q) / odds(p) - 1.6).abs() < 1e-9, "{p} → {q}");
            assert_eq!(with_odds_ratio(p, 1.0), p);
        }
    }

    #[test]
    fn propensity_and_renewal_rise_with_health_and_size() {
        let cfg = CausalConfig::default();
        assert!(propensity(&state(1.0, 50, 1), &cfg) > propensity(&state(-1.0, 50, 1), &cfg));
        assert!(propensity(&state(0.0, 5000, 2), &cfg) > propensity(&state(0.0, 10, 0), &cfg));
        assert!(
            renewal_probability_untrained(&state(1.0, 50, 1), &cfg)
                > renewal_probability_untrained(&state(-1.0, 50, 1), &cfg)
        );
        // Without confounding the propensity is the same for everyone.
        let random = CausalConfig {
            confounding_strength: 0.0,
            ..CausalConfig::default()
        };
        assert_eq!(
            propensity(&state(2.0, 9000, 2), &random),
            propensity(&state(-2.0, 3, 0), &random)
        );
    }

    #[test]
    fn placebo_neutralises_every_effect_and_config_deserialises() {
        let p = CausalConfig::placebo().effective();
        assert_eq!(p.renewal_odds_ratio_of(Treatment::Certified), 1.0);
        assert_eq!(p.renewal_odds_ratio_of(Treatment::Completed), 1.0);
        assert_eq!(
            (
                p.expansion_odds_ratio,
                p.expansion_seat_uplift,
                p.adoption_uplift
            ),
            (1.0, 0.0, 0.0)
        );
        assert_eq!(
            (
                p.usage_uplift,
                p.howto_ticket_reduction,
                p.time_to_value_reduction_days
            ),
            (0.0, 0.0, 0)
        );
        assert_eq!(p.confounding_strength, 1.0, "confounding stays on");
        let c: crate::SimConfig = serde_json::from_str(
            r#"{"causal": {"renewal_odds_ratio": 2.0, "placebo": true}, "usage_scale": 0.5}"#,
        )
        .unwrap();
        assert_eq!(c.causal.renewal_odds_ratio, 2.0);
        assert!(c.causal.placebo);
        assert_eq!(c.causal.certification_odds_ratio, 2.4);
        assert_eq!(c.usage_scale, 0.5);
        assert!(serde_json::from_str::<crate::SimConfig>(r#"{"causal": {"odds": 2}}"#).is_err());
    }

    #[test]
    fn the_twin_replays_the_same_draws_without_training() {
        let co = crate::Company::generate(&crate::SimConfig {
            accounts: 200,
            ..crate::SimConfig::default()
        });
        let cfg = co.causal.effective();
        let horizon = co.today + Duration::days(400);
        let truth = co.ground_truth();
        for (i, account) in co.accounts.iter().enumerate().take(50) {
            // The path starts from the account as created, with its first seats.
            let origin = Origin {
                created_at: account.created_at,
                segment: account.segment,
                seats: co.lives.accounts[i].origin.seats,
            };
            assert_eq!(origin, co.lives.accounts[i].origin);
            let factual = simulate(co.seed, i, &origin, &cfg, horizon, false);
            assert_eq!(factual, co.lives.path(i));
            assert_eq!(
                account.churned_on,
                factual.churned_on.filter(|c| *c < co.today)
            );
            let twin = simulate(co.seed, i, &origin, &cfg, horizon, true);
            assert_eq!(twin, co.lives.twin(i));
            assert!(
                twin.years
                    .iter()
                    .all(|y| y.treatment == Treatment::Untrained)
            );
            // Same health and same first decision draw: where the first year was untrained,
            // both worlds agree on it exactly.
            assert_eq!(twin.years[0].state, factual.years[0].state);
            if !factual.years[0].treatment.is_trained() {
                assert_eq!(twin.years[0].renewed, factual.years[0].renewed);
                assert_eq!(twin.years[0].seats_after, factual.years[0].seats_after);
            }
            let summary = twin.summary(co.today, account.seat_price_monthly);
            let a = &truth.per_account[i];
            assert_eq!(
                (
                    summary.renewals,
                    summary.churned_on,
                    summary.arr_today,
                    summary.bookings
                ),
                (
                    a.renewals_twin,
                    a.churned_on_twin,
                    a.arr_today_twin,
                    a.bookings_twin
                )
            );
        }
    }
}
