//! Product usage: which features each account adopts and when (training accelerates it),
//! its time-to-value, and the stream of usage events.
//!
//! Events are never materialised as a whole: [`UsageEvents`] generates them account by
//! account, one calendar week at a time, from a per-account random stream, so 100,000 accounts
//! with tens of millions of events stream in constant memory. The number of events of a week
//! follows the account's expected rate (size, latent health, a training uplift, a weekday
//! rhythm and holidays) with cumulative rounding, so that usage over any stretch of weeks
//! tracks health closely: usage is the observable proxy of health the causal model promises.

use crate::SimContact;
use crate::causal::{CausalConfig, ContractPath, DGP};
use crate::company::{Lives, Presence, draws, midnight, normal, splitmix, stream_rng};
use crate::learning::{Catalog, Completion};
use crate::names;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use rand::Rng;
use serde::Serialize;

/// One product usage event (what Segment `track`, Mixpanel or Amplitude would carry).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimUsageEvent {
    /// Stable id: account, week and sequence packed (`account << 40 | week << 16 | seq`).
    pub id: u64,
    /// Index into [`crate::Company::accounts`].
    pub account: usize,
    /// Index into [`crate::Company::contacts`] of the identified user, if identified.
    pub person: Option<usize>,
    /// Anonymous visitor number within the account when not identified.
    pub anonymous_id: Option<u32>,
    /// Key of the feature ([`crate::SimFeature::key`]).
    pub feature: &'static str,
    /// Event name, e.g. `Workflow Created`.
    pub event: &'static str,
    /// When it happened (UTC, millisecond precision). Events are immutable: this is also
    /// their creation time.
    pub occurred_at: DateTime<Utc>,
}

impl SimUsageEvent {
    /// A UUID-shaped message id derived from [`SimUsageEvent::id`] (Segment's `messageId`,
    /// Mixpanel's `$insert_id`), stable across runs.
    pub fn message_id(&self) -> String {
        let a = splitmix(self.id ^ 0x005e_ed0f_u64);
        let b = splitmix(a ^ self.id);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

/// Which features an account adopted when, factual and twin, and its time-to-value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Adoption {
    /// Per feature of [`names::FEATURES`]: the day the account first used it, if ever.
    pub factual: Vec<Option<NaiveDate>>,
    /// The same without any training.
    pub twin: Vec<Option<NaiveDate>>,
    /// Days from the first contract's start to the first key action.
    pub ttv_days: i64,
    /// The same without any training.
    pub ttv_days_twin: i64,
}

/// Decides feature adoption and time-to-value for one account (stream `adoption`).
pub(crate) fn adoption(
    seed: u64,
    idx: usize,
    path: &ContractPath,
    completions: &[Completion],
    catalog: &Catalog,
    history_start: NaiveDate,
    cfg: &CausalConfig,
) -> Adoption {
    let mut rng = stream_rng(seed, "adoption", idx as u64);
    let t: [f64; 2] = draws(&mut rng);
    let tier = path.years.first().map_or(0, |y| y.state.tier);
    let health = path.years.first().map_or(0.0, |y| y.state.health);
    let trial = path.start - Duration::days(DGP.trial_days);

    let ttv0 =
        (DGP.time_to_value_days[tier] * (-0.35 * health).exp() * (0.5 * normal(t[0], t[1])).exp())
            .round()
            .clamp(3.0, 150.0) as i64;
    // Onboarding training (a completion in the first three weeks, before the key action)
    // brings the key action forward by up to the planted days, never before the completion.
    let start = midnight(path.start);
    let onboarding = completions
        .iter()
        .find(|c| c.at >= start && c.at < start + Duration::days(DGP.onboarding_days))
        .map(|c| (c.at - start).num_days());
    let reduction = i64::from(cfg.time_to_value_reduction_days);
    let ttv = match onboarding {
        Some(d) if d < ttv0 && reduction > 0 => (ttv0 - reduction).max(d + 1),
        _ => ttv0,
    };

    let mut factual = Vec::with_capacity(names::FEATURES.len());
    let mut twin = Vec::with_capacity(names::FEATURES.len());
    for f in names::FEATURES {
        let u: [f64; 4] = draws(&mut rng);
        if f.core {
            factual.push(Some(trial));
            twin.push(Some(trial));
            continue;
        }
        if f.key_action {
            factual.push(Some(path.start + Duration::days(ttv)));
            twin.push(Some(path.start + Duration::days(ttv0)));
            continue;
        }
        let released = history_start + Duration::days(f.release_offset_days);
        let available = released.max(trial);
        let p = (f.adoption * (1.0 + 0.15 * health)).clamp(0.0, 1.0);
        let base = (u[0] < p).then(|| {
            let mean = 150.0 * (-0.3 * health).exp();
            available + Duration::days((-(1.0 - u[1]).ln() * mean) as i64)
        });
        // The first completion of a course on the feature, after its release, may make the
        // account adopt it within two weeks.
        let trained = completions.iter().find(|c| {
            c.at.date_naive() >= available && catalog.courses[c.course].features.contains(&f.key)
        });
        let with_training = match trained {
            Some(c) if u[2] < cfg.adoption_uplift => {
                let day = c.at.date_naive() + Duration::days(1 + (u[3] * 13.0) as i64);
                Some(base.map_or(day, |b| b.min(day)))
            }
            _ => base,
        };
        factual.push(with_training);
        twin.push(base);
    }
    Adoption {
        factual,
        twin,
        ttv_days: ttv,
        ttv_days_twin: ttv0,
    }
}

/// Days `[from, to)` during which training lifts usage and deflects how-to tickets: the 365
/// days after each completion, merged.
pub(crate) fn uplift_intervals(completions: &[Completion]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for c in completions {
        let from = c.at.date_naive() + Duration::days(1);
        let to = from + Duration::days(365);
        match out.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => out.push((from, to)),
        }
    }
    out
}

/// Whether `day` lies in one of the (sorted, disjoint) intervals.
pub(crate) fn in_intervals(intervals: &[(NaiveDate, NaiveDate)], day: NaiveDate) -> bool {
    let i = intervals.partition_point(|(from, _)| *from <= day);
    i > 0 && day < intervals[i - 1].1
}

/// The health in force on `day` given `(from, health)` periods sorted by `from`.
pub(crate) fn health_on(periods: &[(NaiveDate, f64)], day: NaiveDate) -> f64 {
    let i = periods.partition_point(|(from, _)| *from <= day);
    periods[i.saturating_sub(1)..].first().map_or(0.0, |p| p.1)
}

/// Offset of an account's business hours from UTC, by sales region.
fn utc_offset_hours(region: &str) -> i64 {
    match region {
        "NA" => -5,
        "EMEA" => 1,
        "APAC" => 8,
        "LATAM" => -3,
        _ => 0,
    }
}

/// Public holidays on which usage dips: year-end everywhere, plus a few per region.
pub(crate) fn is_holiday(day: NaiveDate, region: &str) -> bool {
    let (m, d) = (day.month(), day.day());
    if matches!((m, d), (1, 1) | (12, 24) | (12, 25) | (12, 26) | (12, 31)) {
        return true;
    }
    match region {
        // Independence Day and Thanksgiving (fourth Thursday of November).
        "NA" => {
            (m, d) == (7, 4) || (m == 11 && day.weekday() == Weekday::Thu && (22..=28).contains(&d))
        }
        "EMEA" | "LATAM" => (m, d) == (5, 1),
        _ => false,
    }
}

/// Relative usage by weekday (Monday first): weekday-heavy, quiet weekends.
pub(crate) const WEEKDAY_WEIGHTS: [f64; 7] = [1.0, 1.1, 1.1, 1.05, 0.8, 0.12, 0.08];

/// Usage on a holiday relative to the same weekday otherwise.
const HOLIDAY_FACTOR: f64 = 0.15;

/// Share of events by users who are not identified.
const ANONYMOUS_SHARE: f64 = 0.08;

/// Everything needed to stream one account's usage events but its people (its lists borrowed
/// from the company's pools).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct UsagePlan<'a> {
    pub stream_seed: u64,
    /// First day of usage (the trial, 30 days before the first contract).
    pub start: NaiveDate,
    /// Day usage stops (churn), exclusive.
    pub end: Option<NaiveDate>,
    /// Expected events on an ordinary weekday at average health, without training.
    pub base_rate: f64,
    pub region: &'static str,
    pub health: &'a [(NaiveDate, f64)],
    pub uplift: &'a [(NaiveDate, NaiveDate)],
    pub usage_uplift: f64,
    /// `(day, feature index)` sorted by day: the features adopted (factual).
    pub adopted: &'a [(NaiveDate, u8)],
    pub key_feature: u8,
    pub key_day: NaiveDate,
}

impl UsagePlan<'_> {
    /// Expected events on `day`.
    pub(crate) fn rate(&self, day: NaiveDate) -> f64 {
        if day < self.start || self.end.is_some_and(|e| day >= e) {
            return 0.0;
        }
        let mut r = self.base_rate
            * (DGP.usage_health * health_on(self.health, day)).exp()
            * WEEKDAY_WEIGHTS[day.weekday().num_days_from_monday() as usize];
        if in_intervals(self.uplift, day) {
            r *= 1.0 + self.usage_uplift;
        }
        if is_holiday(day, self.region) {
            r *= HOLIDAY_FACTOR;
        }
        r
    }
}

/// A fast generator for the event stream (SplitMix64), seeded from the account's named
/// `usage` stream; tens of millions of draws a second matter here.
struct FastRng(u64);

impl FastRng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        (splitmix(self.0) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

pub(crate) fn usage_stream_seed(seed: u64, idx: usize) -> u64 {
    stream_rng(seed, "usage", idx as u64).next_u64()
}

/// Where one account's stream stands.
struct Cursor<'a> {
    account: usize,
    plan: UsagePlan<'a>,
    rng: FastRng,
    monday: NaiveDate,
    week: u64,
    cumulative: f64,
    stop: NaiveDate,
}

/// The usage events of a company, account by account and in time order within an account,
/// generated lazily a week at a time (memory: one week of one account).
pub struct UsageEvents<'a> {
    lives: &'a Lives,
    contacts: &'a [SimContact],
    next_account: usize,
    end_account: usize,
    today: NaiveDate,
    cursor: Option<Cursor<'a>>,
    /// The people of the current account over time.
    people: Vec<Presence>,
    /// The rest of the current week, latest first.
    buf: Vec<SimUsageEvent>,
}

impl<'a> UsageEvents<'a> {
    pub(crate) fn new(
        lives: &'a Lives,
        contacts: &'a [SimContact],
        accounts: std::ops::Range<usize>,
        today: NaiveDate,
    ) -> Self {
        Self {
            lives,
            contacts,
            next_account: accounts.start,
            end_account: accounts.end.min(lives.len()),
            today,
            cursor: None,
            people: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Generates the next week of the current account into `buf`; false when it is done.
    fn fill_week(&mut self) -> bool {
        let Some(c) = self.cursor.as_mut() else {
            return false;
        };
        if c.monday >= c.stop {
            return false;
        }
        let plan = c.plan;
        let mut weights = [0.0f64; 7];
        for (d, w) in weights.iter_mut().enumerate() {
            *w = plan.rate(c.monday + Duration::days(d as i64));
        }
        let total: f64 = weights.iter().sum();
        let noise = 0.85 + 0.3 * c.rng.unit();
        let before = c.cumulative.round();
        c.cumulative += total * noise;
        let n = ((c.cumulative.round() - before).max(0.0) as u64).min(65_000);
        self.buf.clear();
        let offset = Duration::hours(utc_offset_hours(plan.region));
        let cutoff = midnight(self.today);
        let base_id = ((c.account as u64) << 40) | (c.week << 16);
        let event_at = |day: NaiveDate, u_hour1: f64, u_hour2: f64| {
            // Local business hours, peaking early afternoon.
            let hour = 8.0 + 11.0 * (u_hour1 + u_hour2) / 2.0;
            midnight(day) - offset + Duration::milliseconds((hour * 3_600_000.0) as i64)
        };
        for seq in 0..n {
            let u: [f64; 6] = std::array::from_fn(|_| c.rng.unit());
            let mut x = u[0] * total;
            let mut d = 0;
            while d < 6 && x >= weights[d] {
                x -= weights[d];
                d += 1;
            }
            let day = c.monday + Duration::days(d as i64);
            let at = event_at(day, u[1], u[2]);
            let (person, anonymous_id) = if u[3] < ANONYMOUS_SHARE {
                (None, Some((u[3] / ANONYMOUS_SHARE * 16.0) as u32))
            } else {
                let v = (u[3] - ANONYMOUS_SHARE) / (1.0 - ANONYMOUS_SHARE);
                match crate::company::present_at(&self.people, at, at, v) {
                    Some(p) => (Some(p), None),
                    None => (None, Some((v * 16.0) as u32)),
                }
            };
            let adopted = plan.adopted.partition_point(|(from, _)| *from <= day);
            if adopted == 0 {
                continue;
            }
            // Features adopted early (the core) are used most.
            let f = plan.adopted[((adopted as f64) * u[4] * u[4]) as usize % adopted].1;
            let spec = &names::FEATURES[usize::from(f)];
            self.buf.push(SimUsageEvent {
                id: base_id | seq,
                account: c.account,
                person,
                anonymous_id,
                feature: spec.key,
                event: spec.events[(u[5] * spec.events.len() as f64) as usize % spec.events.len()],
                occurred_at: at,
            });
        }
        // The key action: its first use falls exactly on the time-to-value day.
        if plan.key_day >= c.monday && plan.key_day < c.monday + Duration::days(7) {
            let u: [f64; 3] = std::array::from_fn(|_| c.rng.unit());
            let at = event_at(plan.key_day, u[0], u[1]);
            let person = crate::company::present_at(&self.people, at, at, u[2]);
            let spec = &names::FEATURES[usize::from(plan.key_feature)];
            self.buf.push(SimUsageEvent {
                id: base_id | 65_535,
                account: c.account,
                person,
                anonymous_id: person.is_none().then_some(0),
                feature: spec.key,
                event: spec.events[0],
                occurred_at: at,
            });
        }
        self.buf.retain(|e| e.occurred_at < cutoff);
        // Latest first: `next` pops from the end, moving events out without copies.
        self.buf
            .sort_by_key(|e| std::cmp::Reverse((e.occurred_at, e.id)));
        c.monday += Duration::days(7);
        c.week += 1;
        true
    }
}

impl Iterator for UsageEvents<'_> {
    type Item = SimUsageEvent;

    fn next(&mut self) -> Option<SimUsageEvent> {
        loop {
            if let Some(e) = self.buf.pop() {
                return Some(e);
            }
            if self.fill_week() {
                continue;
            }
            if self.next_account >= self.end_account {
                return None;
            }
            let account = self.next_account;
            self.next_account += 1;
            let plan = self.lives.usage_plan(account);
            self.lives
                .presence(account, self.contacts, &mut self.people);
            let stop = plan.end.map_or(self.today, |e| e.min(self.today));
            let monday =
                plan.start - Duration::days(i64::from(plan.start.weekday().num_days_from_monday()));
            self.cursor = Some(Cursor {
                account,
                plan,
                rng: FastRng(plan.stream_seed),
                monday,
                week: 0,
                cumulative: 0.0,
                stop,
            });
        }
    }
}
