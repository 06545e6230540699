//! The simulated company: its customer accounts, their people, contracts, learning, product
//! usage and support tickets, generated from one seed.
//!
//! Determinism comes from *named random streams*: every concern (account attributes, each
//! account's people, contract history, enrollments, adoption, usage, tickets) draws from its
//! own ChaCha8 stream derived from the seed, a label and the account's index. Adding a concern
//! never shifts the data an existing one produces, and within a stream every record consumes
//! a fixed number of draws wherever the sequence could depend on `today`.
//!
//! Time: the history is anchored at `SimConfig::history_start`, not at `today`. Every record
//! is planned over its whole life (created, changed, closed) independently of `today`; the
//! company at a given `today` is those plans seen as of then. Moving `today` forward therefore
//! gives a superset world: records created before the old today are the same records with the
//! same ids, changed only where something happened in between (with a later `updated_at`),
//! and new records appear.

use crate::causal::{self, CausalConfig, ContractPath, Origin};
use crate::learning::{self, Catalog, EnrollmentPlan, SimCourse, SimEnrollment, SimFeature};
use crate::support::{self, SimTicket};
use crate::usage::{self, UsageEvents, UsagePlan};
use crate::{SimConfig, names};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use tributary_model::{Currency, PersonRole, Segment, SubscriptionStatus};

/// A sales rep who owns accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimOwner {
    /// The rep's id in the world: eight digits, unique.
    pub id: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Work email.
    pub email: String,
}

/// A customer account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimAccount {
    /// The world's id (digits), ascending in creation order.
    pub id: String,
    /// Company name, unique within the company.
    pub name: String,
    /// Web domain, unique, lower-case.
    pub domain: String,
    /// The account's industry.
    pub industry: Industry,
    /// Sales region: `NA`, `EMEA`, `APAC` or `LATAM`.
    pub region: String,
    /// Country name in English, e.g. `United States`.
    pub country: String,
    /// City.
    pub city: String,
    /// Size band.
    pub segment: Segment,
    /// Licensed seats today (after every won renewal and add-on).
    pub seats: u32,
    /// Number of employees.
    pub employees: u32,
    /// Index into [`Company::owners`].
    pub owner: usize,
    /// The currency the account is billed in.
    pub currency: Currency,
    /// Price per seat per month the account pays, in `currency`.
    pub seat_price_monthly: Decimal,
    /// When the company record was created.
    pub created_at: DateTime<Utc>,
    /// When the company record was last modified.
    pub updated_at: DateTime<Utc>,
    /// When the record was archived (deleted) in the CRM; served only with `archived=true`.
    pub archived_at: Option<DateTime<Utc>>,
    /// The day its last contract ended without renewal, when it churned.
    pub churned_on: Option<NaiveDate>,
}

/// A person at an account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimContact {
    /// The world's id (digits), ascending in creation order.
    pub id: String,
    /// Index into [`Company::accounts`].
    pub account: usize,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Email: on the account's domain for most, free-mail for some; unique.
    pub email: String,
    /// Job title.
    pub job_title: String,
    /// Role at the account.
    pub role: PersonRole,
    /// When the contact was created.
    pub created_at: DateTime<Utc>,
    /// When the contact was last modified.
    pub updated_at: DateTime<Utc>,
    /// When the record was archived (deleted) in the CRM.
    pub archived_at: Option<DateTime<Utc>>,
    /// Index into [`Company::contacts`] of the first record of the same human. Equal to the
    /// contact's own index except for people who moved companies: their record at the new
    /// account (new email on the new domain) points at their record at the old one.
    pub human: usize,
    /// When the person left the account (moved to another company), if they have.
    pub left_at: Option<DateTime<Utc>>,
}

/// What a deal does to its account's contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DealMotion {
    /// The first contract of the account.
    NewBusiness,
    /// A renewal at the same seat count.
    Renewal,
    /// A renewal with more seats.
    Expansion,
    /// A renewal with fewer seats.
    Contraction,
    /// Seats added mid-term, co-terminous with the running contract.
    AddOn,
}

/// Where a deal stands in the sales process. Each CRM mock maps these to its vendor's own
/// pipeline stages (ids, labels, probabilities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DealStage {
    /// First meetings: the need is being explored.
    Discovery,
    /// The buyer is qualified: budget, authority, need and timing.
    Qualified,
    /// A proposal or demo has been presented.
    Proposal,
    /// The decision makers are committed to buy.
    Commitment,
    /// The contract is out for negotiation and signature.
    Negotiation,
    /// Closed: the contract was signed.
    Won,
    /// Closed: the buyer decided against it.
    Lost,
}

impl DealStage {
    /// The open stages, in order.
    pub const OPEN: [DealStage; 5] = [
        DealStage::Discovery,
        DealStage::Qualified,
        DealStage::Proposal,
        DealStage::Commitment,
        DealStage::Negotiation,
    ];

    /// Every stage, the open ones in order, then won and lost.
    pub const ALL: [DealStage; 7] = [
        DealStage::Discovery,
        DealStage::Qualified,
        DealStage::Proposal,
        DealStage::Commitment,
        DealStage::Negotiation,
        DealStage::Won,
        DealStage::Lost,
    ];

    /// Whether the deal was won.
    pub fn is_won(self) -> bool {
        self == DealStage::Won
    }

    /// Whether the deal is closed (won or lost).
    pub fn is_closed(self) -> bool {
        matches!(self, DealStage::Won | DealStage::Lost)
    }
}

/// The industry an account is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Industry {
    /// Computer software.
    ComputerSoftware,
    /// Financial services.
    FinancialServices,
    /// Hospitals and health care.
    HospitalHealthCare,
    /// Machinery.
    Machinery,
    /// Retail.
    Retail,
    /// E-learning.
    ELearning,
    /// Logistics and supply chain.
    LogisticsAndSupplyChain,
    /// Marketing and advertising.
    MarketingAndAdvertising,
    /// Telecommunications.
    Telecommunications,
    /// Oil and energy.
    OilEnergy,
    /// Management consulting.
    ManagementConsulting,
    /// Insurance.
    Insurance,
}

impl Industry {
    /// Every industry, in declaration order.
    pub const ALL: [Industry; 12] = [
        Industry::ComputerSoftware,
        Industry::FinancialServices,
        Industry::HospitalHealthCare,
        Industry::Machinery,
        Industry::Retail,
        Industry::ELearning,
        Industry::LogisticsAndSupplyChain,
        Industry::MarketingAndAdvertising,
        Industry::Telecommunications,
        Industry::OilEnergy,
        Industry::ManagementConsulting,
        Industry::Insurance,
    ];
}

/// A deal: one contract, or an attempt at one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimDeal {
    /// The world's id (digits), ascending in creation order.
    pub id: String,
    /// Index into [`Company::accounts`].
    pub account: usize,
    /// Deal name, e.g. `Bluepeak Analytics – Professional renewal 2025`.
    pub name: String,
    /// What the deal does to the contract.
    pub motion: DealMotion,
    /// Pipeline stage.
    pub stage: DealStage,
    /// Contract value over the whole term, two decimals, in `currency`.
    pub amount: Decimal,
    /// Currency of `amount`.
    pub currency: Currency,
    /// Seats the contract covers (for an add-on: the seats added).
    pub seats: u32,
    /// Close date: when a closed deal closed, the expected close for an open one (which may
    /// lie after `today`). A won deal's term starts on this date (UTC).
    pub close_date: DateTime<Utc>,
    /// Term length in months: 12, shorter for a co-terminous add-on.
    pub term_months: u32,
    /// When the deal was created.
    pub created_at: DateTime<Utc>,
    /// When the deal was last modified.
    pub updated_at: DateTime<Utc>,
    /// When the record was archived (deleted) in the CRM.
    pub archived_at: Option<DateTime<Utc>>,
}

impl SimDeal {
    /// First day of the term of a won deal.
    pub fn start_date(&self) -> NaiveDate {
        self.close_date.date_naive()
    }

    /// Day after the last day of the term (exclusive).
    pub fn end_date(&self) -> NaiveDate {
        self.start_date()
            .checked_add_months(Months::new(self.term_months))
            .unwrap_or(NaiveDate::MAX)
    }

    /// Annual recurring revenue: `amount × 12 / term_months`, exact for every generated deal.
    pub fn arr(&self) -> Decimal {
        self.amount * Decimal::from(12) / Decimal::from(self.term_months.max(1))
    }
}

/// Counts and totals the tests and `tributary sim truth` compare against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Truth {
    /// The seed the company was generated from.
    pub seed: u64,
    /// The simulated today.
    pub today: NaiveDate,
    /// Number of accounts.
    pub accounts: usize,
    /// Number of contacts.
    pub contacts: usize,
    /// Contacts with a free-mail address (never matched to an account by domain).
    pub free_mail_contacts: usize,
    /// Number of deals of every stage.
    pub deals: usize,
    /// Closed-won deals (each is one subscription).
    pub closed_won_deals: usize,
    /// Closed-lost deals.
    pub closed_lost_deals: usize,
    /// Open deals.
    pub open_deals: usize,
    /// Accounts that churned (a contract ended without renewal).
    pub churned_accounts: usize,
    /// Accounts with a subscription active on `today`.
    pub active_accounts: usize,
    /// Won deals by motion (`new_business`, `renewal`, `expansion`, `contraction`, `add_on`).
    pub won_deals_by_motion: BTreeMap<String, usize>,
    /// ARR of subscriptions active on `today`, by currency code.
    pub arr_today: BTreeMap<String, Decimal>,
    /// People who moved companies (contacts whose `human` points at an earlier record).
    pub moved_people: usize,
    /// Features announced.
    pub features: usize,
    /// Courses published.
    pub courses: usize,
    /// Enrollments.
    pub enrollments: usize,
    /// Completed enrollments.
    pub completions: usize,
    /// Enrollments that earned a certification.
    pub certifications: usize,
    /// Support tickets.
    pub tickets: usize,
    /// How-to tickets.
    pub howto_tickets: usize,
}

/// A generated company as of [`Company::today`]: accounts, contacts and deals (the CRM),
/// features, courses and enrollments (the LMS), support tickets, and — streamed, never stored —
/// product usage events ([`Company::usage_events`]). [`Company::ground_truth`] states what
/// training really did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Company {
    /// The seed it was generated from.
    pub seed: u64,
    /// The simulated today.
    pub today: NaiveDate,
    /// Sales reps owning accounts.
    pub owners: Vec<SimOwner>,
    /// Customer accounts, in id (creation) order.
    pub accounts: Vec<SimAccount>,
    /// Contacts, in id (creation) order.
    pub contacts: Vec<SimContact>,
    /// Deals, in id (creation) order.
    pub deals: Vec<SimDeal>,
    /// First day of the history.
    pub history_start: NaiveDate,
    /// The causal configuration the company was generated with (as configured; a placebo
    /// world applies neutral effects).
    pub causal: CausalConfig,
    /// Product features announced before today, in release order.
    pub features: Vec<SimFeature>,
    /// Courses published before today, in id (creation) order.
    pub courses: Vec<SimCourse>,
    /// Enrollments, in id (enrollment) order.
    pub enrollments: Vec<SimEnrollment>,
    /// Support tickets, in id (creation) order.
    pub tickets: Vec<SimTicket>,
    /// Per account: the simulated life behind the records (what its usage events and the
    /// ground truth are generated from), compactly. Not serialised: the records and
    /// [`Company::ground_truth`] are its public face.
    #[serde(skip)]
    pub(crate) lives: Lives,
}

/// Derives an independent random stream from the seed and a label (and an index, for
/// per-account streams). FNV-1a over the label, then SplitMix64 to mix in seed and index.
pub(crate) fn stream_rng(seed: u64, label: &str, index: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(splitmix(splitmix(seed ^ fnv(label)) ^ index))
}

fn fnv(label: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub(crate) fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform in `[0, 1)` that is a pure function of the seed, a label and two indices: for
/// draws that must not depend on how far any stream has been consumed (e.g. a record's
/// updates, which continue past any `today`).
pub(crate) fn hash_unit(seed: u64, label: &str, a: u64, b: u64) -> f64 {
    let x = splitmix(splitmix(splitmix(seed ^ fnv(label)) ^ a) ^ b);
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `N` uniforms in `[0, 1)`, always exactly `N` draws from the stream.
pub(crate) fn draws<const N: usize, R: Rng>(rng: &mut R) -> [f64; N] {
    std::array::from_fn(|_| rng.random::<f64>())
}

/// A standard normal from two uniforms (Box–Muller).
pub(crate) fn normal(u1: f64, u2: f64) -> f64 {
    (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `floor(u × n)` kept below `n`: picks one of `n` items with exactly one draw.
pub(crate) fn idx_of(u: f64, n: usize) -> usize {
    ((u * n as f64) as usize).min(n.saturating_sub(1))
}

fn pick_u<'a>(u: f64, items: &[&'a str]) -> &'a str {
    items[idx_of(u, items.len())]
}

fn pick<'a, R: Rng>(rng: &mut R, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// Lower-case ASCII letters and digits only: `O'Brien` → `obrien`, `Müller` → `muller`.
fn ascii_slug(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let c = match c {
                'ä' | 'á' | 'à' | 'â' | 'ã' | 'Ä' | 'Á' => 'a',
                'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
                'í' | 'ì' | 'î' | 'ï' => 'i',
                'ö' | 'ó' | 'ò' | 'ô' | 'õ' | 'Ö' => 'o',
                'ü' | 'ú' | 'ù' | 'û' | 'Ü' => 'u',
                'ç' => 'c',
                'ñ' => 'n',
                c => c,
            };
            c.is_ascii_alphanumeric().then(|| c.to_ascii_lowercase())
        })
        .collect()
}

/// Midnight UTC at the start of `date`.
pub(crate) fn midnight(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
}

/// The instant a fraction `u` into working hours (08:00–20:00 UTC) on `date`, in milliseconds.
pub(crate) fn time_on_u(date: NaiveDate, u: f64) -> DateTime<Utc> {
    midnight(date) + Duration::milliseconds(8 * 3_600_000 + (u * 12.0 * 3_600_000.0) as i64)
}

/// A random instant between `from` and `to` (inclusive), millisecond precision.
fn between<R: Rng>(rng: &mut R, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let span = (to - from).num_milliseconds();
    if span <= 0 {
        return from;
    }
    from + Duration::milliseconds(rng.random_range(0..=span))
}

/// Assigns ascending ids with small random gaps (real portals are not dense). Records are
/// numbered in creation order, so the records of an earlier `today` keep their ids.
fn assign_ids<R: Rng>(rng: &mut R, start: u64, n: usize) -> Vec<u64> {
    let mut ids = IdSequence::new(rng, start);
    (0..n).map(|_| ids.next_id()).collect()
}

/// The ids [`assign_ids`] gives, one at a time (no vector of ids for millions of records).
struct IdSequence<R> {
    rng: R,
    next: u64,
}

impl<R: Rng> IdSequence<R> {
    fn new(rng: R, start: u64) -> Self {
        Self { rng, next: start }
    }

    fn next_id(&mut self) -> u64 {
        self.next += self.rng.random_range(1..=17u64);
        self.next
    }
}

/// `s` without spare capacity: records keep their strings for the company's lifetime.
fn compact(mut s: String) -> String {
    s.shrink_to_fit();
    s
}

/// A person's time at an account: from when they were created there until they left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Presence {
    pub from: DateTime<Utc>,
    /// When they left (whatever `today`); [`DateTime::MAX_UTC`] for people who stay.
    pub to: DateTime<Utc>,
    /// Index into [`Company::contacts`].
    pub contact: u32,
}

/// One of the people at the account over `[from, to]`, chosen by `u` (one draw whatever the
/// number of candidates).
pub(crate) fn present_at(
    people: &[Presence],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    u: f64,
) -> Option<usize> {
    let ok = |p: &&Presence| p.from <= from && p.to > to;
    let n = people.iter().filter(ok).count();
    if n == 0 {
        return None;
    }
    people
        .iter()
        .filter(ok)
        .nth(idx_of(u, n))
        .map(|p| p.contact as usize)
}

/// Variable-length lists of items, one list per account, stored back to back in one vector
/// (a few bytes of overhead per account instead of a heap allocation per list).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pool<T> {
    items: Vec<T>,
    /// Per list: where it ends in `items` (exclusive).
    ends: Vec<u32>,
}

impl<T> Pool<T> {
    pub(crate) fn with_capacity(lists: usize) -> Self {
        Self {
            items: Vec::new(),
            ends: Vec::with_capacity(lists),
        }
    }

    /// Appends the next list.
    pub(crate) fn push(&mut self, list: impl IntoIterator<Item = T>) {
        self.items.extend(list);
        self.ends
            .push(u32::try_from(self.items.len()).expect("fewer than 2^32 pooled items"));
    }

    /// List `i` (empty when out of range).
    pub(crate) fn get(&self, i: usize) -> &[T] {
        let start = match i {
            0 => 0,
            _ => self
                .ends
                .get(i - 1)
                .map_or(self.items.len(), |&e| e as usize),
        };
        let end = self.ends.get(i).map_or(start, |&e| e as usize);
        &self.items[start..end]
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.items.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// What the generator keeps about one account beyond its records, in a few dozen bytes; its
/// lists are in [`Lives`]' pools. The contract history is not kept: it is simulated again
/// from [`AccountLife::origin`] when the ground truth needs it (microseconds per account).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AccountLife {
    /// The account as created: what its contract history is simulated from.
    pub origin: Origin,
    /// Seed of the account's usage event stream.
    pub stream_seed: u64,
    /// Expected usage events on an ordinary weekday at average health, without training.
    pub base_rate: f64,
    /// Sales region (sets business hours and holidays).
    pub region: &'static str,
    /// First day of usage (the trial, before the first contract).
    pub usage_start: NaiveDate,
    /// Day usage stops (churn, whatever `today`), exclusive.
    pub usage_end: Option<NaiveDate>,
    /// The first use of the key-action feature.
    pub key_day: NaiveDate,
    /// Days from the first contract's start to the first key action, factual and twin.
    pub ttv_days: i64,
    pub ttv_days_twin: i64,
    /// Features adopted before today (and before churn), factual and twin.
    pub adopted_features: u8,
    pub adopted_features_twin: u8,
    /// Whether any of its people completed a course before today.
    pub completed_before_today: bool,
    /// Whether it had onboarding training (a completion in the first days of the first
    /// contract, whatever `today`).
    pub onboarded: bool,
    /// How-to tickets before today, factual and had the account never trained.
    pub howto_tickets: u32,
    pub howto_tickets_twin: u32,
}

/// The simulated lives behind the records of every account: what the usage event stream
/// and the ground truth need, and nothing that can cheaply be derived again.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lives {
    pub accounts: Vec<AccountLife>,
    /// Per account: `(from, health)` periods sorted by `from`.
    pub health: Pool<(NaiveDate, f64)>,
    /// Per account: the days `[from, to)` during which training lifts usage.
    pub uplift: Pool<(NaiveDate, NaiveDate)>,
    /// Per account: `(day, feature index)` of the features it adopted (factual), by day.
    pub adopted: Pool<(NaiveDate, u8)>,
    /// Per account: its people (contact indices, in contact order); when each was there
    /// is on their contact record, except a leaving day after today ([`Lives::leaves`]).
    pub people: Pool<u32>,
    /// `(contact, left_at)` of the people who leave their account after today (their
    /// records do not show it yet), by contact.
    pub leaves: Vec<(u32, DateTime<Utc>)>,
    /// What the paths were simulated with.
    pub seed: u64,
    pub effects: CausalConfig,
    pub horizon: NaiveDate,
    /// Index of the key-action feature in [`names::FEATURES`].
    pub key_feature: u8,
}

impl Lives {
    pub(crate) fn len(&self) -> usize {
        self.accounts.len()
    }

    /// The people of account `i` over time (whatever `today`), in contact order, into `out`.
    pub(crate) fn presence(&self, i: usize, contacts: &[SimContact], out: &mut Vec<Presence>) {
        out.clear();
        out.extend(self.people.get(i).iter().filter_map(|&c| {
            let contact = contacts.get(c as usize)?;
            let left = contact.left_at.or_else(|| {
                self.leaves
                    .binary_search_by_key(&c, |(k, _)| *k)
                    .ok()
                    .map(|k| self.leaves[k].1)
            });
            Some(Presence {
                from: contact.created_at,
                to: left.unwrap_or(DateTime::<Utc>::MAX_UTC),
                contact: c,
            })
        }));
    }

    /// The contract history of account `i` as it happened (what the CRM shows).
    pub(crate) fn path(&self, i: usize) -> ContractPath {
        causal::simulate(
            self.seed,
            i,
            &self.accounts[i].origin,
            &self.effects,
            self.horizon,
            false,
        )
    }

    /// The contract history of account `i` had it never trained (the twin).
    pub(crate) fn twin(&self, i: usize) -> ContractPath {
        causal::simulate(
            self.seed,
            i,
            &self.accounts[i].origin,
            &self.effects,
            self.horizon,
            true,
        )
    }

    /// How the usage events of account `i` are generated.
    pub(crate) fn usage_plan(&self, i: usize) -> UsagePlan<'_> {
        let life = &self.accounts[i];
        UsagePlan {
            stream_seed: life.stream_seed,
            start: life.usage_start,
            end: life.usage_end,
            base_rate: life.base_rate,
            region: life.region,
            health: self.health.get(i),
            uplift: self.uplift.get(i),
            usage_uplift: self.effects.usage_uplift,
            adopted: self.adopted.get(i),
            key_feature: self.key_feature,
            key_day: life.key_day,
        }
    }
}

/// Days over which accounts are acquired, from `history_start`.
const ACQUISITION_DAYS: i64 = 5 * 365 - 150;

impl Company {
    /// Generates the company described by `config`. Deterministic in `config.seed`; see the
    /// module docs for how `config.today` cuts the world.
    ///
    /// Memory: the records plus a few hundred bytes per account. Accounts are simulated one
    /// at a time (contract history, learning, adoption, usage plan, tickets, deals) and only
    /// their records and a compact summary of their life are kept; nothing is materialised
    /// for all accounts at once beyond that.
    pub fn generate(config: &SimConfig) -> Company {
        let seed = config.seed;
        let today = config.today;
        let cutoff = midnight(today);
        let effects = config.causal.effective();
        let owners = gen_owners(seed);
        let mut accounts = gen_accounts(config, owners.len());
        let visible = accounts.partition_point(|a| a.created_at < cutoff);
        accounts.truncate(visible);
        accounts.shrink_to_fit();
        let origins: Vec<Origin> = accounts.iter().map(Origin::of).collect();

        // Contract histories, factual and twin, run through the year after today. People
        // only need each account's churn day (arrivals stop, movers join live customers);
        // the histories themselves are simulated again account by account below.
        let horizon = today + Duration::days(400);
        let churned: Vec<Option<NaiveDate>> = origins
            .iter()
            .enumerate()
            .map(|(i, o)| causal::simulate(seed, i, o, &effects, horizon, false).churned_on)
            .collect();
        let People {
            contacts,
            people,
            leaves,
        } = gen_people(seed, today, &accounts, &churned);
        drop(churned);

        // Learning, adoption, usage plans, tickets and deals, account by account.
        let catalog = Catalog::build(seed, config.history_start);
        let key_feature = names::FEATURES
            .iter()
            .position(|f| f.key_action)
            .unwrap_or(0) as u8;
        let n = accounts.len();
        let mut lives = Lives {
            accounts: Vec::with_capacity(n),
            health: Pool::with_capacity(n),
            uplift: Pool::with_capacity(n),
            adopted: Pool::with_capacity(n),
            people,
            leaves,
            seed,
            effects: effects.clone(),
            horizon,
            key_feature,
        };
        // Until they are numbered, an enrollment's and a ticket's id holds its index within
        // its account (which breaks ties in creation order).
        let mut enrollments: Vec<SimEnrollment> = Vec::new();
        let mut tickets: Vec<SimTicket> = Vec::new();
        let mut deals: Vec<(u32, SimDeal)> = Vec::new();
        let mut presence = Vec::new();
        for (i, (account, origin)) in accounts.iter_mut().zip(&origins).enumerate() {
            let path = causal::simulate(seed, i, origin, &effects, horizon, false);
            let twin = causal::simulate(seed, i, origin, &effects, horizon, true);
            lives.presence(i, &contacts, &mut presence);
            let people = &presence[..];
            let plans = learning::plan_enrollments(seed, i, &path, people, &catalog, today);
            let completions = learning::completions(&plans);
            enrollments.extend(plans.iter().filter_map(|p: &EnrollmentPlan| {
                p.as_of(today).map(|e| SimEnrollment {
                    id: u64::from(p.seq),
                    ..e
                })
            }));
            drop(plans);
            let adoption = usage::adoption(
                seed,
                i,
                &path,
                &completions,
                &catalog,
                config.history_start,
                &effects,
            );
            let mut adopted: Vec<(NaiveDate, u8)> = adoption
                .factual
                .iter()
                .enumerate()
                .filter_map(|(f, d)| d.map(|d| (d, f as u8)))
                .collect();
            adopted.sort();
            let health = path.health_periods();
            let uplift = usage::uplift_intervals(&completions);
            let life = AccountLife {
                origin: *origin,
                stream_seed: usage::usage_stream_seed(seed, i),
                base_rate: config.usage_scale
                    * causal::DGP.usage_per_sqrt_employee
                    * f64::from(account.employees).sqrt(),
                region: static_region(&account.region),
                usage_start: path.start - Duration::days(causal::DGP.trial_days),
                usage_end: path.churned_on,
                key_day: path.start + Duration::days(adoption.ttv_days),
                ttv_days: adoption.ttv_days,
                ttv_days_twin: adoption.ttv_days_twin,
                adopted_features: 0,
                adopted_features_twin: 0,
                completed_before_today: completions.iter().any(|c| c.at < cutoff),
                onboarded: {
                    let start = midnight(path.start);
                    let end = start + Duration::days(causal::DGP.onboarding_days);
                    completions.iter().any(|c| c.at >= start && c.at < end)
                },
                howto_tickets: 0,
                howto_tickets_twin: 0,
            };
            let usage_plan = UsagePlan {
                stream_seed: life.stream_seed,
                start: life.usage_start,
                end: life.usage_end,
                base_rate: life.base_rate,
                region: life.region,
                health: &health,
                uplift: &uplift,
                usage_uplift: effects.usage_uplift,
                adopted: &adopted,
                key_feature,
                key_day: life.key_day,
            };
            let account_tickets = support::plan_tickets(
                seed,
                i,
                account.employees,
                &usage_plan,
                people,
                &effects,
                today,
            );
            tickets.extend(
                account_tickets
                    .plans
                    .into_iter()
                    .enumerate()
                    .filter_map(|(k, p)| {
                        p.into_as_of(today).map(|t| SimTicket { id: k as u64, ..t })
                    }),
            );

            // Deals as of today, and the account's fields they determine.
            let first_deal = deals.len();
            for (k, plan) in plan_deals(i, account, &path).into_iter().enumerate() {
                if let Some(d) = plan.into_as_of(account, cutoff) {
                    deals.push((k as u32, d));
                }
            }
            as_of_deals(account, &deals[first_deal..], &path, today);

            // What the ground truth needs as of today.
            let active_end = path.churned_on.filter(|c| *c < today).unwrap_or(today);
            let active_end_twin = twin.churned_on.filter(|c| *c < today).unwrap_or(today);
            let count_before = |days: &[Option<NaiveDate>], end: NaiveDate| {
                days.iter().filter(|d| d.is_some_and(|d| d < end)).count() as u8
            };
            lives.accounts.push(AccountLife {
                adopted_features: count_before(&adoption.factual, active_end),
                adopted_features_twin: count_before(&adoption.twin, active_end_twin),
                howto_tickets: u32::try_from(account_tickets.howto).expect("fewer than 2^32"),
                howto_tickets_twin: u32::try_from(account_tickets.howto_twin)
                    .expect("fewer than 2^32"),
                ..life
            });
            lives.health.push(health);
            lives.uplift.push(uplift);
            lives.adopted.push(adopted);
        }
        drop(origins);
        lives.health.shrink_to_fit();
        lives.uplift.shrink_to_fit();
        lives.adopted.shrink_to_fit();

        // Enrollments, tickets and deals as of today, numbered in creation order. Their sort
        // keys are unique, so an unstable sort (which needs no scratch memory) gives the
        // order a stable one would.
        enrollments.sort_unstable_by_key(|e| (e.enrolled_at, e.account, e.id));
        let mut ids = IdSequence::new(stream_rng(seed, "enrollment-ids", 0), 100_000);
        for e in &mut enrollments {
            e.id = ids.next_id();
        }
        enrollments.shrink_to_fit();
        tickets.sort_unstable_by_key(|t| (t.created_at, t.account, t.id));
        for (n, t) in tickets.iter_mut().enumerate() {
            t.id = n as u64 + 1;
        }
        tickets.shrink_to_fit();
        deals.sort_unstable_by_key(|(k, d)| (d.created_at, d.account, *k));
        let mut ids = IdSequence::new(stream_rng(seed, "deal-ids", 0), 12_000_000_000);
        let mut deals: Vec<SimDeal> = deals
            .into_iter()
            .map(|(_, mut d)| {
                d.id = compact(ids.next_id().to_string());
                d
            })
            .collect();
        deals.shrink_to_fit();

        Company {
            seed,
            today,
            owners,
            accounts,
            contacts,
            deals,
            history_start: config.history_start,
            causal: config.causal.clone(),
            features: learning::features_as_of(config.history_start, today),
            courses: catalog.as_of(seed, today),
            enrollments,
            tickets,
            lives,
        }
    }

    /// The closed-won deals: exactly the subscriptions a CRM connector must land.
    pub fn expected_closed_won_deals(&self) -> impl Iterator<Item = &SimDeal> + '_ {
        self.deals.iter().filter(|d| d.stage.is_won())
    }

    /// The account a contact or deal belongs to.
    pub fn account_of(&self, index: usize) -> Option<&SimAccount> {
        self.accounts.get(index)
    }

    /// The subscriptions (won deals) active on `day`.
    pub fn active_deals_on(&self, day: NaiveDate) -> impl Iterator<Item = &SimDeal> + '_ {
        self.expected_closed_won_deals().filter(move |d| {
            SubscriptionStatus::on(d.start_date(), Some(d.end_date()), day)
                == SubscriptionStatus::Active
        })
    }

    /// Every product usage event before today, account by account and in time order within
    /// an account, generated lazily: memory stays at one week of one account however many
    /// events there are.
    pub fn usage_events(&self) -> UsageEvents<'_> {
        UsageEvents::new(
            &self.lives,
            &self.contacts,
            0..self.accounts.len(),
            self.today,
        )
    }

    /// The usage events of one account (empty for an index out of range).
    pub fn account_usage_events(&self, account: usize) -> UsageEvents<'_> {
        UsageEvents::new(
            &self.lives,
            &self.contacts,
            account..account + 1,
            self.today,
        )
    }

    /// Pairs `(earlier, later)` of contact indices that are the same human: people who moved
    /// from one account to another and got a new record (and email) there.
    pub fn same_person_pairs(&self) -> Vec<(usize, usize)> {
        self.contacts
            .iter()
            .enumerate()
            .filter(|(i, c)| c.human != *i)
            .map(|(i, c)| (c.human, i))
            .collect()
    }

    /// The enrollments that earned a certification (the learner, course and completion date).
    pub fn certifications(&self) -> impl Iterator<Item = &SimEnrollment> + '_ {
        self.enrollments.iter().filter(|e| e.certified)
    }

    /// Counts and totals of the generated data.
    pub fn truth(&self) -> Truth {
        let mut won_deals_by_motion = BTreeMap::new();
        for d in self.expected_closed_won_deals() {
            let key = serde_json::to_value(d.motion)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            *won_deals_by_motion.entry(key).or_insert(0) += 1;
        }
        let mut arr_today: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut active = HashSet::new();
        for d in self.active_deals_on(self.today) {
            *arr_today.entry(d.currency.to_string()).or_default() += d.arr();
            active.insert(d.account);
        }
        Truth {
            seed: self.seed,
            today: self.today,
            accounts: self.accounts.len(),
            contacts: self.contacts.len(),
            free_mail_contacts: self
                .contacts
                .iter()
                .filter(|c| {
                    c.email
                        .rsplit_once('@')
                        .is_some_and(|(_, d)| names::FREE_MAIL.contains(&d))
                })
                .count(),
            deals: self.deals.len(),
            closed_won_deals: self.deals.iter().filter(|d| d.stage.is_won()).count(),
            closed_lost_deals: self
                .deals
                .iter()
                .filter(|d| d.stage == DealStage::Lost)
                .count(),
            open_deals: self.deals.iter().filter(|d| !d.stage.is_closed()).count(),
            churned_accounts: self
                .accounts
                .iter()
                .filter(|a| a.churned_on.is_some())
                .count(),
            active_accounts: active.len(),
            won_deals_by_motion,
            arr_today,
            moved_people: self.same_person_pairs().len(),
            features: self.features.len(),
            courses: self.courses.len(),
            enrollments: self.enrollments.len(),
            completions: self
                .enrollments
                .iter()
                .filter(|e| e.completed_at.is_some())
                .count(),
            certifications: self.certifications().count(),
            tickets: self.tickets.len(),
            howto_tickets: self
                .tickets
                .iter()
                .filter(|t| t.category == tributary_model::TicketCategory::HowTo)
                .count(),
        }
    }
}

/// Sets the fields of `account` that follow from its deals as of today (`deals`: the
/// account's deals with their index in its plan, in plan order) and from its contract path:
/// today's seats, the churn day and the last modification.
fn as_of_deals(
    account: &mut SimAccount,
    deals: &[(u32, SimDeal)],
    path: &ContractPath,
    today: NaiveDate,
) {
    let cutoff = midnight(today);
    let mut touched = account.created_at;
    let mut won: Vec<&(u32, SimDeal)> = Vec::new();
    for kd in deals {
        let d = &kd.1;
        if d.stage.is_closed() {
            touched = touched.max(d.updated_at);
        }
        if d.stage.is_won() {
            won.push(kd);
        }
    }
    // Won deals in close order, a renewal before an add-on closing the same moment, ties in
    // creation order (the order of the deals' ids).
    won.sort_unstable_by_key(|(k, d)| {
        (
            d.close_date,
            d.motion == DealMotion::AddOn,
            d.created_at,
            *k,
        )
    });
    for (_, d) in won {
        if d.motion == DealMotion::AddOn {
            account.seats += d.seats;
        } else {
            account.seats = d.seats;
        }
    }
    account.churned_on = path.churned_on.filter(|c| *c < today);
    let mut updated = touched;
    if let (Some(_), Some(last)) = (account.churned_on, path.years.last())
        && last.churn_marked_at < cutoff
    {
        updated = updated.max(last.churn_marked_at);
    }
    account.updated_at = updated;
}

fn static_region(region: &str) -> &'static str {
    names::GEOGRAPHY
        .iter()
        .map(|g| g.region)
        .find(|r| *r == region)
        .unwrap_or("NA")
}

fn gen_owners(seed: u64) -> Vec<SimOwner> {
    let mut rng = stream_rng(seed, "owners", 0);
    let mut ids = HashSet::new();
    let mut owners = Vec::new();
    while owners.len() < 12 {
        let id = rng.random_range(10_000_000..99_999_999u64).to_string();
        if !ids.insert(id.clone()) {
            continue;
        }
        let first = pick(&mut rng, names::FIRST_NAMES).to_owned();
        let last = pick(&mut rng, names::LAST_NAMES).to_owned();
        let email = format!(
            "{}.{}{}@tributary-sim.example",
            ascii_slug(&first),
            ascii_slug(&last),
            owners.len() + 1
        );
        owners.push(SimOwner {
            id,
            first_name: first,
            last_name: last,
            email,
        });
    }
    owners
}

fn gen_accounts(config: &SimConfig, owner_count: usize) -> Vec<SimAccount> {
    let mut rng = stream_rng(config.seed, "accounts", 0);
    let mut cores = HashSet::new();
    let mut slugs = HashSet::new();
    let total_weight: u32 = names::GEOGRAPHY.iter().map(|g| g.weight).sum();
    // Accounts are acquired over five years less 150 days from the start of the history, so
    // that with the default today (five years in) every first deal has closed.
    let oldest = midnight(config.history_start);
    let newest = oldest + Duration::days(ACQUISITION_DAYS);
    let mut created: Vec<DateTime<Utc>> = (0..config.accounts)
        .map(|_| between(&mut rng, oldest, newest))
        .collect();
    created.sort();
    let ids = assign_ids(&mut rng, 9_000_000_000, config.accounts);

    let mut accounts = Vec::with_capacity(config.accounts);
    for (created_at, id) in created.into_iter().zip(ids) {
        let (core, slug) = unique_name(&mut rng, &mut cores, &mut slugs);
        let name = format!("{core}{}", pick(&mut rng, names::LEGAL_SUFFIXES));

        let mut w = rng.random_range(0..total_weight);
        let geo = names::GEOGRAPHY
            .iter()
            .find(|g| {
                if w < g.weight {
                    true
                } else {
                    w -= g.weight;
                    false
                }
            })
            .unwrap_or(&names::GEOGRAPHY[0]);
        let (region, country, cities, tld, currency) =
            (geo.region, geo.country, geo.cities, geo.tld, geo.currency);

        let roll: f64 = rng.random();
        let (segment, employees) = if roll < 0.6 {
            (Segment::Smb, rng.random_range(10..200u32))
        } else if roll < 0.9 {
            (Segment::MidMarket, rng.random_range(200..2000u32))
        } else {
            // Log-uniform between 2,000 and 60,000 employees.
            let e = (2000f64.ln() + rng.random::<f64>() * (60_000f64 / 2000f64).ln()).exp();
            (Segment::Enterprise, e as u32)
        };
        let seats_fraction = rng.random_range(0.05..0.4);
        let seats = ((f64::from(employees) * seats_fraction) as u32).max(3);

        let tier = match segment {
            Segment::Smb => 0,
            Segment::MidMarket => 1,
            Segment::Enterprise => 2,
        };
        // List price per seat per month by tier and currency; a discount of up to 20%.
        let list = match (currency, tier) {
            ("EUR", t) => [32, 28, 23][t],
            ("GBP", t) => [28, 24, 20][t],
            (_, t) => [35, 30, 25][t],
        };
        let discount = rng.random_range(0..=20u32);
        let mut seat_price_monthly =
            (Decimal::from(list) * Decimal::from(100 - discount) / Decimal::from(100)).round_dp(2);
        seat_price_monthly.rescale(2);

        accounts.push(SimAccount {
            id: compact(id.to_string()),
            name: compact(name),
            domain: compact(format!("{slug}.{tld}")),
            industry: names::INDUSTRIES[rng.random_range(0..names::INDUSTRIES.len())],
            region: region.to_owned(),
            country: country.to_owned(),
            city: pick(&mut rng, cities).to_owned(),
            segment,
            seats,
            employees,
            owner: rng.random_range(0..owner_count.max(1)),
            currency: Currency::parse(currency).unwrap_or_else(|_| Currency::usd()),
            seat_price_monthly,
            created_at,
            updated_at: created_at,
            archived_at: None,
            churned_on: None,
        });
    }
    accounts
}

/// A company name core ("Bluepeak Analytics") and its domain slug, both unused so far.
fn unique_name<R: Rng>(
    rng: &mut R,
    cores: &mut HashSet<String>,
    slugs: &mut HashSet<String>,
) -> (String, String) {
    const QUALIFIERS: &[&str] = &[
        "Global",
        "International",
        "Holdings",
        "Ventures",
        "Worldwide",
        "Direct",
    ];
    for attempt in 0..64 {
        let mut core = format!(
            "{}{} {}",
            pick(rng, names::NAME_HEADS),
            pick(rng, names::NAME_TAILS),
            pick(rng, names::NAME_TRADES)
        );
        // Past 45,000 accounts the plain combinations run out; qualify them.
        if attempt >= 16 {
            core = format!("{core} {}", pick(rng, QUALIFIERS));
        }
        let slug = ascii_slug(&core);
        if !cores.contains(&core) && !slugs.contains(&slug) {
            cores.insert(core.clone());
            slugs.insert(slug.clone());
            return (core, slug);
        }
    }
    // Still colliding (hundreds of thousands of accounts): number the name.
    let base = format!(
        "{}{} {}",
        pick(rng, names::NAME_HEADS),
        pick(rng, names::NAME_TAILS),
        pick(rng, names::NAME_TRADES)
    );
    let mut n = 2;
    loop {
        let core = format!("{base} {n}");
        let slug = ascii_slug(&core);
        if !cores.contains(&core) && !slugs.contains(&slug) {
            cores.insert(core.clone());
            slugs.insert(slug.clone());
            return (core, slug);
        }
        n += 1;
    }
}

/// A person's record over its whole life, before the `today` cut.
struct PersonPlan {
    account: usize,
    /// Stable key: `account << 24 | n` for an account's own people; movers get the key of
    /// their original record with the top bit set.
    key: u64,
    /// Key of the first record of the same human, for a mover's new record.
    origin: Option<u64>,
    first: &'static str,
    last: &'static str,
    job_title: &'static str,
    role: PersonRole,
    /// Email as drawn, before making it unique.
    email: String,
    created_at: DateTime<Utc>,
    left_at: Option<DateTime<Utc>>,
    /// For someone who will move: when they join the next company.
    joins_at: Option<DateTime<Utc>>,
}

const MOVER: u64 = 1 << 63;

fn role_title(u_role: f64, u_title: f64, n: usize) -> (PersonRole, &'static str) {
    let role = match n {
        0 => PersonRole::Admin,
        1 => PersonRole::Executive,
        _ if u_role < 0.1 => PersonRole::Admin,
        _ if u_role < 0.15 => PersonRole::Executive,
        _ => PersonRole::EndUser,
    };
    let title = match role {
        PersonRole::Admin => pick_u(u_title, names::ADMIN_TITLES),
        PersonRole::Executive => pick_u(u_title, names::EXECUTIVE_TITLES),
        PersonRole::EndUser => pick_u(u_title, names::END_USER_TITLES),
    };
    (role, title)
}

/// The people of one account (stream `contacts`): the admin and an executive when the account
/// is created, a few more during onboarding, then arrivals at a rate set by the segment until
/// the account churns. Some leave later for another company.
fn plan_people(
    seed: u64,
    idx: usize,
    account: &SimAccount,
    end: DateTime<Utc>,
    out: &mut Vec<PersonPlan>,
) {
    let mut rng = stream_rng(seed, "contacts", idx as u64);
    let tier = causal::tier(account.segment);
    let head: [f64; 1] = draws(&mut rng);
    let initial = 2 + [0, 1, 4][tier] + idx_of(head[0], [2, 4, 7][tier]);
    let rate_per_day = [0.7, 1.8, 3.5][tier] / 365.0;
    let make = |n: usize, created_at: DateTime<Utc>, u: &[f64; 12]| {
        let first = pick_u(u[0], names::FIRST_NAMES);
        let last = pick_u(u[1], names::LAST_NAMES);
        let (role, title) = role_title(u[2], u[3], n);
        let (f, l) = (ascii_slug(first), ascii_slug(last));
        let email = if u[4] < 0.12 {
            format!(
                "{f}{l}{}@{}",
                1 + idx_of(u[5], 99),
                pick_u(u[6], names::FREE_MAIL)
            )
        } else {
            format!("{f}.{l}@{}", account.domain)
        };
        // The first two people stay; others may move to another company after 6 months to
        // 4 years, joining it 2 weeks to 4 months later.
        let (left_at, joins_at) = if n >= 2 && u[7] < 0.07 {
            let left = created_at + Duration::minutes(((180.0 + u[8] * 1320.0) * 1440.0) as i64);
            let joins = left + Duration::minutes(((14.0 + u[9] * 106.0) * 1440.0) as i64);
            (Some(left), Some(joins))
        } else {
            (None, None)
        };
        PersonPlan {
            account: idx,
            key: ((idx as u64) << 24) | n as u64,
            origin: None,
            first,
            last,
            job_title: title,
            role,
            email,
            created_at,
            left_at,
            joins_at,
        }
    };
    for n in 0..initial {
        let u: [f64; 12] = draws(&mut rng);
        let created = if n < 2 {
            account.created_at + Duration::minutes(1 + (u[11] * (60.0 * 24.0 * 7.0 - 1.0)) as i64)
        } else {
            account.created_at + Duration::minutes(((1.0 + u[11] * 59.0) * 1440.0) as i64)
        };
        out.push(make(n, created, &u));
    }
    let mut t = account.created_at + Duration::days(60);
    for n in initial.. {
        let gap: [f64; 1] = draws(&mut rng);
        t += Duration::milliseconds((-(1.0 - gap[0]).ln() / rate_per_day * 86_400_000.0) as i64);
        if t >= end {
            break;
        }
        let u: [f64; 12] = draws(&mut rng);
        out.push(make(n, t, &u));
    }
}

/// The people of the company: what [`gen_people`] makes.
struct People {
    /// Every contact as of `today`, in creation order.
    contacts: Vec<SimContact>,
    /// Per account, its contacts (by index, in contact order).
    people: Pool<u32>,
    /// `(contact, left_at)` of those who leave their account after `today`.
    leaves: Vec<(u32, DateTime<Utc>)>,
}

/// Every contact as of `today`, numbered in creation order, and per account the people
/// present over time for learning, usage and tickets to draw from. `churned[i]`: the day
/// account `i` churns, whatever `today`.
fn gen_people(
    seed: u64,
    today: NaiveDate,
    accounts: &[SimAccount],
    churned: &[Option<NaiveDate>],
) -> People {
    let cutoff = midnight(today);
    let mut plans = Vec::new();
    for (i, account) in accounts.iter().enumerate() {
        let end = churned[i].map_or(cutoff, |c| midnight(c).min(cutoff));
        plan_people(seed, i, account, end, &mut plans);
    }
    // People who moved: a new record at a company that was a customer when they joined.
    let created: Vec<DateTime<Utc>> = accounts.iter().map(|a| a.created_at).collect();
    let mut movers = Vec::new();
    for p in &plans {
        let Some(joins) = p.joins_at.filter(|j| *j < cutoff) else {
            continue;
        };
        let candidates = created.partition_point(|c| *c < joins);
        let dest = (0..8u64)
            .map(|k| idx_of(hash_unit(seed, "moves", p.key, k), candidates))
            .find(|&j| j != p.account && churned[j].is_none_or(|c| c > joins.date_naive()));
        let Some(dest) = dest else {
            continue;
        };
        let u_role = hash_unit(seed, "moves", p.key, 100);
        let u_title = hash_unit(seed, "moves", p.key, 101);
        let (role, title) = role_title(u_role, u_title, 2);
        movers.push(PersonPlan {
            account: dest,
            key: MOVER | p.key,
            origin: Some(p.key),
            first: p.first,
            last: p.last,
            job_title: title,
            role,
            email: format!(
                "{}.{}@{}",
                ascii_slug(p.first),
                ascii_slug(p.last),
                accounts[dest].domain
            ),
            created_at: joins,
            left_at: None,
            joins_at: None,
        });
    }
    drop(created);
    plans.extend(movers);
    plans.retain(|p| p.created_at < cutoff);
    // Emails are made unique and ids assigned in creation order, so an earlier today's
    // contacts keep both. Keys are unique, so an unstable sort gives the stable order.
    plans.sort_unstable_by_key(|p| (p.created_at, p.account, p.key));
    let mut ids = IdSequence::new(stream_rng(seed, "contact-ids", 0), 1_000);
    // Only the first records of people who moved are looked up by key.
    let origins: HashSet<u64> = plans.iter().filter_map(|p| p.origin).collect();
    let index_of: HashMap<u64, usize> = plans
        .iter()
        .enumerate()
        .filter(|(_, p)| origins.contains(&p.key))
        .map(|(i, p)| (p.key, i))
        .collect();
    drop(origins);
    // The people of each account, in contact order: counted first, so that each account's
    // list can be filled in place.
    let mut ends = vec![0u32; accounts.len()];
    for p in &plans {
        ends[p.account] += 1;
    }
    let mut total = 0u32;
    for e in &mut ends {
        total += *e;
        *e = total;
    }
    let mut next: Vec<u32> = std::iter::once(0)
        .chain(ends.iter().copied())
        .take(accounts.len())
        .collect();
    let mut people = vec![0u32; plans.len()];
    let mut leaves = Vec::new();
    let mut emails = EmailSet::default();
    let mut contacts: Vec<SimContact> = Vec::with_capacity(plans.len());
    for (i, p) in plans.into_iter().enumerate() {
        let mut email = p.email;
        let mut n = 2;
        while emails.contains(&email, &contacts) {
            let (f, l) = (ascii_slug(p.first), ascii_slug(p.last));
            email = match email.split_once('@') {
                Some((_, domain)) => format!("{f}.{l}{n}@{domain}"),
                None => format!("{f}.{l}{n}@{}", accounts[p.account].domain),
            };
            n += 1;
        }
        let contact = u32::try_from(i).expect("fewer than 2^32 contacts");
        emails.insert(&email, contact, &contacts);
        let slot = &mut next[p.account];
        people[*slot as usize] = contact;
        *slot += 1;
        let left_at = p.left_at.filter(|t| *t < cutoff);
        if let (Some(left), None) = (p.left_at, left_at) {
            leaves.push((contact, left));
        }
        // Contacts are edited now and then (every 1–14 months); leaving is an edit too.
        let mut updated_at = p.created_at;
        let mut t = p.created_at;
        for k in 0u64.. {
            let gap_days = 30.0 + 400.0 * hash_unit(seed, "contact-updates", p.key, k);
            t += Duration::minutes((gap_days * 1440.0) as i64);
            if t >= cutoff {
                break;
            }
            updated_at = t;
        }
        if let Some(l) = left_at {
            updated_at = updated_at.max(l);
        }
        contacts.push(SimContact {
            id: compact(ids.next_id().to_string()),
            account: p.account,
            first_name: p.first.to_owned(),
            last_name: p.last.to_owned(),
            email: compact(email),
            job_title: p.job_title.to_owned(),
            role: p.role,
            created_at: p.created_at,
            updated_at,
            archived_at: None,
            human: p
                .origin
                .and_then(|k| index_of.get(&k).copied())
                .unwrap_or(i),
            left_at,
        });
    }
    leaves.shrink_to_fit();
    People {
        contacts,
        people: Pool {
            items: people,
            ends,
        },
        leaves,
    }
}

/// The emails given to contacts so far, without a second copy of each: by hash, each hash
/// confirmed against the contact holding the email (exact: an email whose hash another one
/// already has is kept apart, in full).
#[derive(Default)]
struct EmailSet {
    by_hash: HashMap<u64, u32>,
    collided: HashSet<String>,
}

impl EmailSet {
    fn contains(&self, email: &str, contacts: &[SimContact]) -> bool {
        match self.by_hash.get(&fnv(email)) {
            None => false,
            Some(&i) => contacts[i as usize].email == email || self.collided.contains(email),
        }
    }

    /// Adds the email of contact `index` (about to be pushed onto `contacts`).
    fn insert(&mut self, email: &str, index: u32, contacts: &[SimContact]) {
        match self.by_hash.entry(fnv(email)) {
            Entry::Vacant(v) => {
                v.insert(index);
            }
            Entry::Occupied(o) => {
                if contacts[*o.get() as usize].email != email {
                    self.collided.insert(email.to_owned());
                }
            }
        }
    }
}

/// A deal over its whole life: open from creation, closed (won or lost) at `closed_at`.
struct DealPlan {
    account: usize,
    name: String,
    /// Motion once closed.
    motion: DealMotion,
    won: bool,
    seats: u32,
    term_months: u32,
    close: DateTime<Utc>,
    created: DateTime<Utc>,
    closed_at: DateTime<Utc>,
    /// Motion and seats shown while open (a renewal is worked as a flat renewal).
    open_motion: DealMotion,
    open_seats: u32,
}

impl DealPlan {
    /// The deal as of `cutoff` (midnight of today), id unset. While open, it moves through the
    /// pipeline's stages in five equal steps between creation and close.
    fn into_as_of(self, account: &SimAccount, cutoff: DateTime<Utc>) -> Option<SimDeal> {
        if self.created >= cutoff {
            return None;
        }
        let closed = self.closed_at < cutoff;
        let (stage, motion, seats, updated_at) = if closed {
            let stage = if self.won {
                DealStage::Won
            } else {
                DealStage::Lost
            };
            (stage, self.motion, self.seats, self.closed_at)
        } else {
            let span = (self.closed_at - self.created).num_milliseconds().max(1);
            let elapsed = (cutoff - self.created).num_milliseconds();
            let step = ((elapsed * 5 / span) as usize).min(DealStage::OPEN.len() - 1);
            let changed = self.created + Duration::milliseconds(span * step as i64 / 5);
            (
                DealStage::OPEN[step],
                self.open_motion,
                self.open_seats,
                changed,
            )
        };
        let mut amount =
            account.seat_price_monthly * Decimal::from(seats) * Decimal::from(self.term_months);
        amount.rescale(2);
        Some(SimDeal {
            id: String::new(),
            account: self.account,
            name: compact(self.name),
            motion,
            stage,
            amount,
            currency: account.currency.clone(),
            seats,
            close_date: self.close,
            term_months: self.term_months,
            created_at: self.created,
            updated_at: updated_at.max(self.created),
            archived_at: None,
        })
    }
}

/// The deals the factual contract path produces: new business; per contract year an
/// optional co-terminous add-on and an optional lost upsell; at each anniversary a renewal
/// (flat, expansion or contraction), a lost renewal, or nothing (a lapse).
fn plan_deals(idx: usize, account: &SimAccount, path: &ContractPath) -> Vec<DealPlan> {
    let plan = names::PLANS[causal::tier(account.segment)];
    let mut out = vec![DealPlan {
        account: idx,
        name: format!("{} – {plan} new business", account.name),
        motion: DealMotion::NewBusiness,
        won: true,
        seats: path.first_seats,
        term_months: 12,
        close: path.first_close,
        created: path.first_created,
        closed_at: path.first_closed_at,
        open_motion: DealMotion::NewBusiness,
        open_seats: path.first_seats,
    }];
    for y in &path.years {
        if let Some(a) = &y.add_on {
            out.push(DealPlan {
                account: idx,
                name: format!("{} – {} additional seats", account.name, a.seats),
                motion: DealMotion::AddOn,
                won: true,
                seats: a.seats,
                term_months: a.months_left,
                close: a.close,
                created: a.created,
                closed_at: a.closed_at,
                open_motion: DealMotion::AddOn,
                open_seats: a.seats,
            });
        }
        if let Some(l) = &y.lost_upsell {
            out.push(DealPlan {
                account: idx,
                name: format!("{} – upsell {} seats", account.name, l.seats),
                motion: DealMotion::Expansion,
                won: false,
                seats: l.seats,
                term_months: 12,
                close: l.close,
                created: l.created,
                closed_at: l.closed_at,
                open_motion: DealMotion::Expansion,
                open_seats: l.seats,
            });
        }
        if let Some(r) = &y.renewal_deal {
            let motion = match y.seats_after.cmp(&y.seats_end) {
                _ if !y.renewed => DealMotion::Renewal,
                std::cmp::Ordering::Greater => DealMotion::Expansion,
                std::cmp::Ordering::Less => DealMotion::Contraction,
                std::cmp::Ordering::Equal => DealMotion::Renewal,
            };
            out.push(DealPlan {
                account: idx,
                name: format!("{} – {plan} renewal {}", account.name, y.anniversary.year()),
                motion,
                won: y.renewed,
                seats: if y.renewed {
                    y.seats_after
                } else {
                    y.seats_end
                },
                term_months: 12,
                close: r.close,
                created: r.created,
                closed_at: r.closed_at,
                open_motion: DealMotion::Renewal,
                open_seats: y.seats_end,
            });
        }
    }
    out
}

#[cfg(test)]
impl Company {
    /// The enrollment plans of account `i`, planned again as generation planned them.
    pub(crate) fn enrollment_plans(&self, i: usize) -> Vec<EnrollmentPlan> {
        let catalog = Catalog::build(self.seed, self.history_start);
        let mut people = Vec::new();
        self.lives.presence(i, &self.contacts, &mut people);
        learning::plan_enrollments(
            self.seed,
            i,
            &self.lives.path(i),
            &people,
            &catalog,
            self.today,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> Company {
        Company::generate(&SimConfig {
            seed,
            accounts: 300,
            ..SimConfig::default()
        })
    }

    #[test]
    fn same_seed_gives_identical_json_and_other_seeds_differ() {
        let a = serde_json::to_string(&small(7)).unwrap();
        let b = serde_json::to_string(&small(7)).unwrap();
        assert_eq!(a, b);
        let c = serde_json::to_string(&small(8)).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn names_domains_ids_and_emails_are_unique() {
        let co = small(1);
        let uniq = |v: Vec<&String>| v.iter().collect::<HashSet<_>>().len() == v.len();
        assert!(uniq(co.accounts.iter().map(|a| &a.name).collect()));
        assert!(uniq(co.accounts.iter().map(|a| &a.domain).collect()));
        assert!(uniq(co.accounts.iter().map(|a| &a.id).collect()));
        assert!(uniq(co.contacts.iter().map(|c| &c.id).collect()));
        assert!(uniq(co.contacts.iter().map(|c| &c.email).collect()));
        assert!(uniq(co.deals.iter().map(|d| &d.id).collect()));
        // Ids ascend numerically in vector order.
        for ids in [
            co.accounts.iter().map(|a| &a.id).collect::<Vec<_>>(),
            co.contacts.iter().map(|c| &c.id).collect(),
            co.deals.iter().map(|d| &d.id).collect(),
        ] {
            let nums: Vec<u64> = ids.iter().map(|i| i.parse().unwrap()).collect();
            assert!(nums.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn history_happens_before_today_and_contracts_chain() {
        let co = small(3);
        let cutoff = midnight(co.today);
        for a in &co.accounts {
            assert!(a.created_at < cutoff && a.updated_at < cutoff);
        }
        for c in &co.contacts {
            assert!(c.created_at < cutoff && c.updated_at < cutoff);
            assert!(c.created_at <= c.updated_at);
            assert!(c.created_at >= co.accounts[c.account].created_at);
        }
        for d in &co.deals {
            assert!(d.created_at < cutoff && d.updated_at < cutoff, "{d:?}");
            assert!(d.created_at <= d.updated_at);
            assert_eq!(d.amount.scale(), 2, "{d:?}");
            if d.stage.is_closed() {
                assert!(d.close_date < cutoff, "{d:?}");
            }
        }
        // Every account has exactly one new-business deal, won, and its renewals chain.
        for (i, _) in co.accounts.iter().enumerate() {
            let won: Vec<&SimDeal> = co
                .expected_closed_won_deals()
                .filter(|d| d.account == i && d.motion != DealMotion::AddOn)
                .collect();
            assert_eq!(won[0].motion, DealMotion::NewBusiness);
            assert_eq!(
                co.deals
                    .iter()
                    .filter(|d| d.account == i && d.motion == DealMotion::NewBusiness)
                    .count(),
                1
            );
            for w in won.windows(2) {
                assert_eq!(w[0].end_date(), w[1].start_date());
            }
        }
        // Add-ons end with the contract they were added to.
        for d in co.expected_closed_won_deals() {
            if d.motion == DealMotion::AddOn {
                assert!(d.term_months < 12);
                assert!(
                    co.expected_closed_won_deals()
                        .any(|r| r.account == d.account
                            && r.motion != DealMotion::AddOn
                            && r.end_date() == d.end_date())
                );
            }
        }
    }

    #[test]
    fn the_mix_looks_like_a_saas_company() {
        let co = Company::generate(&SimConfig::default());
        let t = co.truth();
        assert_eq!(t.accounts, 2000);
        assert!(t.contacts > 8000, "{t:?}");
        assert!(t.closed_won_deals > 2000 && t.closed_lost_deals > 100 && t.open_deals > 50);
        assert!(
            t.churned_accounts > 100 && t.churned_accounts < 1000,
            "{t:?}"
        );
        assert!(t.won_deals_by_motion["expansion"] > 50);
        assert!(t.won_deals_by_motion["contraction"] > 10);
        assert!(t.won_deals_by_motion["add_on"] > 50);
        assert!(t.free_mail_contacts > 500);
        let usd = co
            .deals
            .iter()
            .filter(|d| d.currency.as_str() == "USD")
            .count();
        assert!(usd * 2 > co.deals.len());
        assert!(t.arr_today.contains_key("EUR") && t.arr_today.contains_key("GBP"));
        let segs: HashSet<Segment> = co.accounts.iter().map(|a| a.segment).collect();
        assert_eq!(segs.len(), 3);
    }

    #[test]
    fn what_is_kept_of_each_life_replays_its_records() {
        // Nothing per account is stored beyond a compact summary: planning an account's
        // enrollments again, from its contract path simulated again and its people as the
        // contact records (and the leaving days after today) state them, gives exactly the
        // records generation made, and its usage plan matches its records.
        let co = small(5);
        for i in 0..co.accounts.len() {
            let mut again: Vec<(u32, SimEnrollment)> = co
                .enrollment_plans(i)
                .iter()
                .filter_map(|p| p.as_of(co.today).map(|e| (p.seq, e)))
                .collect();
            again.sort_by_key(|(seq, e)| (e.enrolled_at, *seq));
            let kept: Vec<&SimEnrollment> =
                co.enrollments.iter().filter(|e| e.account == i).collect();
            assert_eq!(again.len(), kept.len());
            for ((_, a), k) in again.iter().zip(kept) {
                assert_eq!(
                    &SimEnrollment {
                        id: k.id,
                        ..a.clone()
                    },
                    k
                );
            }
            let path = co.lives.path(i);
            let plan = co.lives.usage_plan(i);
            assert_eq!(plan.end, path.churned_on);
            assert_eq!(plan.health, &path.health_periods()[..]);
            assert_eq!(plan.region, co.accounts[i].region);
            let mut people = Vec::new();
            co.lives.presence(i, &co.contacts, &mut people);
            assert!(
                people
                    .iter()
                    .all(|p| co.contacts[p.contact as usize].account == i)
            );
            assert_eq!(
                people.len(),
                co.contacts.iter().filter(|c| c.account == i).count()
            );
        }
        // Some people leave after today: their contact does not show it, the life does.
        assert!(!co.lives.leaves.is_empty());
        for (c, left) in &co.lives.leaves {
            assert!(*left >= midnight(co.today));
            assert_eq!(co.contacts[*c as usize].left_at, None);
        }
    }

    #[test]
    fn the_default_company_has_two_thousand_accounts() {
        // No wall-clock bound here: generation speed is a benchmark's business (BENCHMARKS.md),
        // and a time limit in a test fails on a busy machine, not on slow code.
        let co = Company::generate(&SimConfig::default());
        assert_eq!(co.accounts.len(), 2000);
    }
}
