//! The ground truth of a generated company (SPEC §7): the planted parameters and what training
//! really did, per renewal decision, per account and in total, known exactly because every
//! account was also simulated without its training from the same draws (the twin).
//!
//! Two counterfactuals are reported:
//! - **per decision** (one step): the renewal decision of a contract year taken without that
//!   year's training, everything before it held as it happened. Its mean over trained
//!   decisions is the ATT an estimator of "the effect of training in a contract year on
//!   renewal" targets.
//! - **per account** (the twin): the whole history replayed with no training ever. Its
//!   differences are the incremental renewals, ARR and bookings due to training.

use crate::Company;
use crate::causal::{CausalConfig, DGP, Dgp, Treatment};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;
use tributary_model::Segment;

/// Fixed exchange rates into the reporting currency (units of reporting currency per unit).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FxTable {
    /// ISO code of the reporting currency.
    pub reporting_currency: String,
    /// Rate per currency code.
    pub rates: BTreeMap<String, Decimal>,
}

impl FxTable {
    /// The simulator's table: USD reporting, EUR at 1.08, GBP at 1.27.
    pub fn simulator() -> Self {
        let rates = [
            ("EUR", Decimal::new(108, 2)),
            ("GBP", Decimal::new(127, 2)),
            ("USD", Decimal::ONE),
        ]
        .into_iter()
        .map(|(c, r)| (c.to_owned(), r))
        .collect();
        Self {
            reporting_currency: "USD".to_owned(),
            rates,
        }
    }

    /// `amount` in `currency` converted exactly to the reporting currency (unknown
    /// currencies convert at 1).
    pub fn to_reporting(&self, currency: &str, amount: Decimal) -> Decimal {
        amount * self.rates.get(currency).copied().unwrap_or(Decimal::ONE)
    }
}

/// What generated the data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlantedParameters {
    /// The causal configuration as given.
    pub causal: CausalConfig,
    /// The effects in force (all neutral in a placebo world).
    pub effective: CausalConfig,
    /// The fixed coefficients of the data-generating process.
    pub dgp: Dgp,
    /// How a contract year's treatment is defined in the data.
    pub treatment_definition: String,
    /// The covariates that suffice to adjust for confounding (when `unobserved_confounder` is 0).
    pub covariates: String,
}

/// One renewal decision (the end of a contract year) before today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionTruth {
    /// Index into [`Company::accounts`].
    pub account: usize,
    /// The account's CRM id.
    pub account_id: String,
    /// Contract year, 1-based.
    pub year: u32,
    /// First day of the contract year.
    pub term_start: NaiveDate,
    /// The renewal date.
    pub anniversary: NaiveDate,
    /// Segment.
    pub segment: Segment,
    /// Seats under contract at the term's start.
    pub seats: u32,
    /// ARR at the term's start, in the account's currency.
    pub arr: Decimal,
    /// Currency of the amounts.
    pub currency: String,
    /// Full contract years before this one.
    pub tenure_years: u32,
    /// Expected usage events per ordinary weekday in the pre-period (the observable proxy of
    /// health, before any training uplift).
    pub pre_period_usage_rate: f64,
    /// Whether the previous contract year was trained (it lifts pre-period usage).
    pub trained_previous_year: bool,
    /// Latent health of the year (standard normal).
    pub health: f64,
    /// The unobserved confounder (standard normal; only matters when its knob is on).
    pub confounder: f64,
    /// True probability of training in this year.
    pub propensity: f64,
    /// The training the year had.
    pub treatment: Treatment,
    /// Renewal probability given the year's training.
    pub p_renew: f64,
    /// Renewal probability without it.
    pub p_renew_untrained: f64,
    /// Whether the account renewed.
    pub renewed: bool,
    /// Whether it would have renewed without this year's training (same draw).
    pub renewed_if_untrained: bool,
    /// ARR after the decision (0 when churned).
    pub arr_after: Decimal,
    /// ARR after the decision had the year been untrained.
    pub arr_after_if_untrained: Decimal,
}

/// Summary over renewal decisions before today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionSummary {
    /// Renewal decisions.
    pub decisions: usize,
    /// Decisions after a trained year.
    pub trained: usize,
    /// Decisions after a certified year.
    pub certified: usize,
    /// Renewal rate after trained years.
    pub renewal_rate_trained: f64,
    /// Renewal rate after untrained years.
    pub renewal_rate_untrained: f64,
    /// The naive comparison: `renewal_rate_trained − renewal_rate_untrained`.
    pub naive_renewal_gap: f64,
    /// ATT on renewal: mean over trained decisions of `renewed − renewed_if_untrained`.
    pub att_renewal: f64,
    /// The same in expectation: mean of `p_renew − p_renew_untrained` over trained decisions.
    pub att_renewal_expected: f64,
    /// Renewals that happened only because of training: Σ over trained decisions.
    pub incremental_renewals: i64,
    /// Σ over trained decisions of `arr_after − arr_after_if_untrained`, in reporting currency.
    pub incremental_arr_reporting: Decimal,
}

/// One account, factual versus twin, as of today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountTruth {
    /// Index into [`Company::accounts`].
    pub account: usize,
    /// CRM id.
    pub account_id: String,
    /// Segment.
    pub segment: Segment,
    /// Billing currency.
    pub currency: String,
    /// Latent health in the first contract year.
    pub health_first_year: f64,
    /// The unobserved confounder.
    pub confounder: f64,
    /// Renewal decisions before today.
    pub decisions: usize,
    /// Of which after trained years.
    pub trained_decisions: usize,
    /// Of which after certified years.
    pub certified_decisions: usize,
    /// Renewals before today.
    pub renewals: usize,
    /// Renewals before today in the twin.
    pub renewals_twin: usize,
    /// Churn day (anniversary) before today.
    pub churned_on: Option<NaiveDate>,
    /// Churn day in the twin.
    pub churned_on_twin: Option<NaiveDate>,
    /// ARR on today (CRM view), account currency.
    pub arr_today: Decimal,
    /// ARR on today in the twin.
    pub arr_today_twin: Decimal,
    /// `arr_today − arr_today_twin` in the reporting currency.
    pub incremental_arr_today_reporting: Decimal,
    /// Contract value booked before today, account currency.
    pub bookings: Decimal,
    /// The same in the twin.
    pub bookings_twin: Decimal,
    /// Days from the first contract's start to the first key action, once it happened.
    pub ttv_days: Option<i64>,
    /// The same in the twin.
    pub ttv_days_twin: Option<i64>,
    /// Features adopted before today (and before churn).
    pub adopted_features: usize,
    /// The same in the twin.
    pub adopted_features_twin: usize,
    /// How-to tickets before today.
    pub howto_tickets: usize,
    /// The same in the twin.
    pub howto_tickets_twin: usize,
}

/// Totals over accounts, factual versus twin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TwinTotals {
    /// Accounts with at least one trained renewal decision before today.
    pub trained_accounts: usize,
    /// Accounts with at least one completion before today.
    pub accounts_with_completions: usize,
    /// Renewals before today.
    pub renewals: usize,
    /// Renewals in the twin.
    pub renewals_twin: usize,
    /// `renewals − renewals_twin`.
    pub incremental_renewals: i64,
    /// Churned accounts.
    pub churned_accounts: usize,
    /// Churned accounts in the twin.
    pub churned_accounts_twin: usize,
    /// ARR on today by currency.
    pub arr_today: BTreeMap<String, Decimal>,
    /// ARR on today in the twin, by currency.
    pub arr_today_twin: BTreeMap<String, Decimal>,
    /// `arr_today − arr_today_twin` by currency.
    pub incremental_arr_today: BTreeMap<String, Decimal>,
    /// Incremental ARR on today in the reporting currency (exact).
    pub incremental_arr_today_reporting: Decimal,
    /// Incremental ARR per trained account, reporting currency, rounded to the cent.
    pub att_arr_per_trained_account_reporting: Decimal,
    /// Incremental bookings before today by currency.
    pub incremental_bookings: BTreeMap<String, Decimal>,
    /// Incremental bookings in the reporting currency (exact).
    pub incremental_bookings_reporting: Decimal,
    /// Feature adoptions before today.
    pub adopted_features: usize,
    /// Feature adoptions in the twin.
    pub adopted_features_twin: usize,
    /// How-to tickets before today.
    pub howto_tickets: usize,
    /// How-to tickets in the twin.
    pub howto_tickets_twin: usize,
    /// Mean time-to-value in days over accounts with onboarding training.
    pub mean_ttv_days_onboarded: f64,
    /// The same accounts' mean time-to-value in the twin.
    pub mean_ttv_days_onboarded_twin: f64,
}

/// Everything the simulator knows about the effect of training (`tributary sim truth`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroundTruth {
    /// Seed.
    pub seed: u64,
    /// Today.
    pub today: NaiveDate,
    /// First day of the history.
    pub history_start: NaiveDate,
    /// Accounts.
    pub accounts: usize,
    /// What generated the data.
    pub parameters: PlantedParameters,
    /// Exchange rates used for reporting-currency figures.
    pub fx: FxTable,
    /// Renewal decisions: naive gap versus ATT.
    pub decisions: DecisionSummary,
    /// Accounts: factual versus twin.
    pub totals: TwinTotals,
    /// Per account.
    pub per_account: Vec<AccountTruth>,
    /// Per renewal decision.
    pub per_decision: Vec<DecisionTruth>,
}

fn rate(hits: usize, n: usize) -> f64 {
    if n == 0 { 0.0 } else { hits as f64 / n as f64 }
}

/// The ground truth without its rows ([`GroundTruth`] less `per_account` and `per_decision`),
/// for when the headline figures are all that is needed: it takes no memory per account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroundTruthSummary {
    /// Seed.
    pub seed: u64,
    /// Today.
    pub today: NaiveDate,
    /// First day of the history.
    pub history_start: NaiveDate,
    /// Accounts.
    pub accounts: usize,
    /// What generated the data.
    pub parameters: PlantedParameters,
    /// Exchange rates used for reporting-currency figures.
    pub fx: FxTable,
    /// Renewal decisions: naive gap versus ATT.
    pub decisions: DecisionSummary,
    /// Accounts: factual versus twin.
    pub totals: TwinTotals,
}

/// Running sums over renewal decisions, in decision order.
#[derive(Default)]
struct DecisionSums {
    decisions: usize,
    trained: usize,
    certified: usize,
    renewed_trained: usize,
    renewed_untrained: usize,
    incremental: i64,
    expected: f64,
    incremental_arr_reporting: Decimal,
}

impl DecisionSums {
    fn add(&mut self, d: &DecisionTruth, fx: &FxTable) {
        self.decisions += 1;
        if d.treatment.is_trained() {
            self.trained += 1;
            self.certified += usize::from(d.treatment == Treatment::Certified);
            self.renewed_trained += usize::from(d.renewed);
            self.incremental += i64::from(d.renewed) - i64::from(d.renewed_if_untrained);
            self.expected += d.p_renew - d.p_renew_untrained;
            self.incremental_arr_reporting +=
                fx.to_reporting(&d.currency, d.arr_after - d.arr_after_if_untrained);
        } else {
            self.renewed_untrained += usize::from(d.renewed);
        }
    }

    fn summary(&self) -> DecisionSummary {
        let untrained = self.decisions - self.trained;
        let per_trained = |x: f64| {
            if self.trained == 0 {
                0.0
            } else {
                x / self.trained as f64
            }
        };
        DecisionSummary {
            decisions: self.decisions,
            trained: self.trained,
            certified: self.certified,
            renewal_rate_trained: rate(self.renewed_trained, self.trained),
            renewal_rate_untrained: rate(self.renewed_untrained, untrained),
            naive_renewal_gap: rate(self.renewed_trained, self.trained)
                - rate(self.renewed_untrained, untrained),
            att_renewal: per_trained(self.incremental as f64),
            att_renewal_expected: per_trained(self.expected),
            incremental_renewals: self.incremental,
            incremental_arr_reporting: self.incremental_arr_reporting,
        }
    }
}

impl Company {
    /// The planted parameters and the true effects of training, per decision, per account
    /// and in total.
    pub fn ground_truth(&self) -> GroundTruth {
        let mut per_account = Vec::with_capacity(self.accounts.len());
        let mut per_decision = Vec::new();
        let s = self.truth_pass(&mut |a| per_account.push(a), &mut |d| per_decision.push(d));
        GroundTruth {
            seed: s.seed,
            today: s.today,
            history_start: s.history_start,
            accounts: s.accounts,
            parameters: s.parameters,
            fx: s.fx,
            decisions: s.decisions,
            totals: s.totals,
            per_account,
            per_decision,
        }
    }

    /// The same as [`Company::ground_truth`] without the rows per account and per decision
    /// (which take a few hundred bytes per account).
    pub fn ground_truth_summary(&self) -> GroundTruthSummary {
        self.truth_pass(&mut |_| {}, &mut |_| {})
    }

    /// Computes the ground truth account by account, handing each row over as it is made.
    fn truth_pass(
        &self,
        on_account: &mut dyn FnMut(AccountTruth),
        on_decision: &mut dyn FnMut(DecisionTruth),
    ) -> GroundTruthSummary {
        let today = self.today;
        let fx = FxTable::simulator();
        let arr_of = |price: Decimal, seats: u32| price * Decimal::from(seats) * Decimal::from(12);
        // Like `Iterator::sum` of floats, which starts from -0.0.
        let mut sums = DecisionSums {
            expected: -0.0,
            ..DecisionSums::default()
        };
        let mut totals = TwinTotals {
            trained_accounts: 0,
            accounts_with_completions: 0,
            renewals: 0,
            renewals_twin: 0,
            incremental_renewals: 0,
            churned_accounts: 0,
            churned_accounts_twin: 0,
            arr_today: BTreeMap::new(),
            arr_today_twin: BTreeMap::new(),
            incremental_arr_today: BTreeMap::new(),
            incremental_arr_today_reporting: Decimal::ZERO,
            att_arr_per_trained_account_reporting: Decimal::ZERO,
            incremental_bookings: BTreeMap::new(),
            incremental_bookings_reporting: Decimal::ZERO,
            adopted_features: 0,
            adopted_features_twin: 0,
            howto_tickets: 0,
            howto_tickets_twin: 0,
            mean_ttv_days_onboarded: 0.0,
            mean_ttv_days_onboarded_twin: 0.0,
        };
        let (mut ttv_sum, mut ttv_twin_sum, mut onboarded) = (0i64, 0i64, 0usize);
        for (i, (account, life)) in self.accounts.iter().zip(&self.lives.accounts).enumerate() {
            let price = account.seat_price_monthly;
            let currency = account.currency.to_string();
            // The histories are not stored: simulated again from the same draws.
            let path = &self.lives.path(i);
            let twin = self.lives.twin(i).summary(today, price);
            let mut previous_trained = false;
            let (mut trained, mut certified, mut decisions) = (0, 0, 0);
            for y in path.decisions_before(today) {
                decisions += 1;
                trained += usize::from(y.treatment.is_trained());
                certified += usize::from(y.treatment == Treatment::Certified);
                let row = DecisionTruth {
                    account: i,
                    account_id: account.id.clone(),
                    year: y.year,
                    term_start: y.term_start,
                    anniversary: y.anniversary,
                    segment: account.segment,
                    seats: y.state.seats,
                    arr: arr_of(price, y.state.seats),
                    currency: currency.clone(),
                    tenure_years: y.state.tenure_years,
                    pre_period_usage_rate: life.base_rate
                        * (DGP.usage_health * y.state.health).exp(),
                    trained_previous_year: previous_trained,
                    health: y.state.health,
                    confounder: y.state.confounder,
                    propensity: y.propensity,
                    treatment: y.treatment,
                    p_renew: y.p_renew,
                    p_renew_untrained: y.p_renew_untrained,
                    renewed: y.renewed,
                    renewed_if_untrained: y.renewed_if_untrained,
                    arr_after: arr_of(price, y.seats_after),
                    arr_after_if_untrained: arr_of(price, y.seats_after_if_untrained),
                };
                sums.add(&row, &fx);
                on_decision(row);
                previous_trained = y.treatment.is_trained();
            }
            let renewals = path.decisions_before(today).filter(|y| y.renewed).count();
            let renewals_twin = twin.renewals;
            let churned_on = path.churned_on.filter(|c| *c < today);
            let churned_on_twin = twin.churned_on;
            let arr_today = path.arr_on(today, price);
            let arr_today_twin = twin.arr_today;
            let bookings = path.bookings_before(today, price);
            let bookings_twin = twin.bookings;
            let adopted = usize::from(life.adopted_features);
            let adopted_twin = usize::from(life.adopted_features_twin);
            let (howto, howto_twin) = (
                life.howto_tickets as usize,
                life.howto_tickets_twin as usize,
            );
            let incremental_reporting = fx.to_reporting(&currency, arr_today - arr_today_twin);

            totals.trained_accounts += usize::from(trained > 0);
            totals.accounts_with_completions += usize::from(life.completed_before_today);
            totals.renewals += renewals;
            totals.renewals_twin += renewals_twin;
            totals.churned_accounts += usize::from(churned_on.is_some());
            totals.churned_accounts_twin += usize::from(churned_on_twin.is_some());
            *totals.arr_today.entry(currency.clone()).or_default() += arr_today;
            *totals.arr_today_twin.entry(currency.clone()).or_default() += arr_today_twin;
            *totals
                .incremental_arr_today
                .entry(currency.clone())
                .or_default() += arr_today - arr_today_twin;
            totals.incremental_arr_today_reporting += incremental_reporting;
            *totals
                .incremental_bookings
                .entry(currency.clone())
                .or_default() += bookings - bookings_twin;
            totals.incremental_bookings_reporting +=
                fx.to_reporting(&currency, bookings - bookings_twin);
            totals.adopted_features += adopted;
            totals.adopted_features_twin += adopted_twin;
            totals.howto_tickets += howto;
            totals.howto_tickets_twin += howto_twin;
            let reached =
                |days: i64| (path.start + chrono::Duration::days(days) < today).then_some(days);
            let ttv_days = reached(life.ttv_days);
            let ttv_days_twin = reached(life.ttv_days_twin);
            if let (Some(f), Some(t)) = (ttv_days, ttv_days_twin)
                && life.onboarded
            {
                onboarded += 1;
                ttv_sum += f;
                ttv_twin_sum += t;
            }
            on_account(AccountTruth {
                account: i,
                account_id: account.id.clone(),
                segment: account.segment,
                currency,
                health_first_year: path.years.first().map_or(0.0, |y| y.state.health),
                confounder: path.confounder,
                decisions,
                trained_decisions: trained,
                certified_decisions: certified,
                renewals,
                renewals_twin,
                churned_on,
                churned_on_twin,
                arr_today,
                arr_today_twin,
                incremental_arr_today_reporting: incremental_reporting,
                bookings,
                bookings_twin,
                ttv_days,
                ttv_days_twin,
                adopted_features: adopted,
                adopted_features_twin: adopted_twin,
                howto_tickets: howto,
                howto_tickets_twin: howto_twin,
            });
        }
        totals.incremental_renewals = totals.renewals as i64 - totals.renewals_twin as i64;
        if totals.trained_accounts > 0 {
            totals.att_arr_per_trained_account_reporting = (totals.incremental_arr_today_reporting
                / Decimal::from(totals.trained_accounts))
            .round_dp(2);
        }
        if onboarded > 0 {
            totals.mean_ttv_days_onboarded = ttv_sum as f64 / onboarded as f64;
            totals.mean_ttv_days_onboarded_twin = ttv_twin_sum as f64 / onboarded as f64;
        }

        let decisions = sums.summary();
        GroundTruthSummary {
            seed: self.seed,
            today,
            history_start: self.history_start,
            accounts: self.accounts.len(),
            parameters: PlantedParameters {
                causal: self.causal.clone(),
                effective: self.causal.effective(),
                dgp: DGP,
                treatment_definition: format!(
                    "a contract year is trained when at least one of the account's people completed \
                     a course (a failed certification exam counts) between the term's start and {} \
                     days before its anniversary, and certified when one of those completions earned \
                     a certification; untrained years have no completions in that window",
                    DGP.exposure_window_end_days
                ),
                covariates: format!(
                    "segment, seats and ARR at the term's start, tenure in contract years, usage in \
                     the {} days before the term's start ({} days of trial for the first year) per \
                     sqrt(employees), and whether the previous contract year was trained (training \
                     lifts usage by `usage_uplift` for a year)",
                    DGP.pre_period_days, DGP.trial_days
                ),
            },
            fx,
            decisions,
            totals,
        }
    }
}

/// The ground truth of the company `config` describes, as JSON: what `tributary sim truth`
/// prints.
pub fn truth_json(config: &crate::SimConfig) -> serde_json::Value {
    serde_json::to_value(Company::generate(config).ground_truth())
        .expect("the ground truth serialises: plain structs with string map keys")
}
