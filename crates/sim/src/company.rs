//! The simulated company: its customer accounts, their contacts and the deals that carry their
//! contracts, generated from one seed.
//!
//! Determinism comes from *named random streams*: every concern (account attributes, each
//! account's contacts, each account's deal history) draws from its own ChaCha8 stream derived
//! from the seed and a label. Adding a new concern later (courses, usage, tickets, the training
//! twin) therefore never shifts the data an existing seed already produces for the old ones.

use crate::{SimConfig, names};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use tributary_model::{Currency, PersonRole, Segment, SubscriptionStatus};

/// A sales rep who owns accounts (a HubSpot owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimOwner {
    /// HubSpot owner id (numeric string).
    pub id: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Work email.
    pub email: String,
}

/// A customer account (a HubSpot company).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimAccount {
    /// HubSpot-style numeric id, ascending in creation order.
    pub id: String,
    /// Company name, unique within the company.
    pub name: String,
    /// Web domain, unique, lower-case.
    pub domain: String,
    /// HubSpot `industry` enumeration value, e.g. `COMPUTER_SOFTWARE`.
    pub industry: String,
    /// Sales region: `NA`, `EMEA`, `APAC` or `LATAM`.
    pub region: String,
    /// Country name as HubSpot stores it, e.g. `United States`.
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

/// A person at an account (a HubSpot contact).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimContact {
    /// HubSpot-style numeric id, ascending in creation order.
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

/// A stage of HubSpot's default sales pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DealStage {
    /// `appointmentscheduled`
    AppointmentScheduled,
    /// `qualifiedtobuy`
    QualifiedToBuy,
    /// `presentationscheduled`
    PresentationScheduled,
    /// `decisionmakerboughtin`
    DecisionMakerBoughtIn,
    /// `contractsent`
    ContractSent,
    /// `closedwon`
    ClosedWon,
    /// `closedlost`
    ClosedLost,
}

impl DealStage {
    /// The open stages, in pipeline order.
    pub const OPEN: [DealStage; 5] = [
        DealStage::AppointmentScheduled,
        DealStage::QualifiedToBuy,
        DealStage::PresentationScheduled,
        DealStage::DecisionMakerBoughtIn,
        DealStage::ContractSent,
    ];

    /// HubSpot's internal stage id.
    pub fn as_str(self) -> &'static str {
        match self {
            DealStage::AppointmentScheduled => "appointmentscheduled",
            DealStage::QualifiedToBuy => "qualifiedtobuy",
            DealStage::PresentationScheduled => "presentationscheduled",
            DealStage::DecisionMakerBoughtIn => "decisionmakerboughtin",
            DealStage::ContractSent => "contractsent",
            DealStage::ClosedWon => "closedwon",
            DealStage::ClosedLost => "closedlost",
        }
    }

    /// Whether the deal was won.
    pub fn is_won(self) -> bool {
        self == DealStage::ClosedWon
    }

    /// Whether the deal is closed (won or lost).
    pub fn is_closed(self) -> bool {
        matches!(self, DealStage::ClosedWon | DealStage::ClosedLost)
    }

    /// HubSpot's default win probability of the stage (`hs_deal_stage_probability`).
    pub fn probability(self) -> &'static str {
        match self {
            DealStage::AppointmentScheduled => "0.2",
            DealStage::QualifiedToBuy => "0.4",
            DealStage::PresentationScheduled => "0.6",
            DealStage::DecisionMakerBoughtIn => "0.8",
            DealStage::ContractSent => "0.9",
            DealStage::ClosedWon => "1.0",
            DealStage::ClosedLost => "0.0",
        }
    }
}

/// A deal (HubSpot deal): one contract, or an attempt at one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimDeal {
    /// HubSpot-style numeric id, ascending in creation order.
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
    /// HubSpot's `dealtype`: `newbusiness` or `existingbusiness`.
    pub fn dealtype(&self) -> &'static str {
        match self.motion {
            DealMotion::NewBusiness => "newbusiness",
            _ => "existingbusiness",
        }
    }

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
}

/// A generated company: accounts, contacts and deals, all before [`Company::today`].
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
}

/// Derives an independent random stream from the seed and a label (and an index, for
/// per-account streams). FNV-1a over the label, then SplitMix64 to mix in seed and index.
pub(crate) fn stream_rng(seed: u64, label: &str, index: u64) -> ChaCha8Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(splitmix(splitmix(seed ^ h) ^ index))
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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
fn midnight(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
}

/// A random instant on `date` during working hours (UTC), with millisecond precision.
fn time_on<R: Rng>(rng: &mut R, date: NaiveDate) -> DateTime<Utc> {
    midnight(date) + Duration::milliseconds(rng.random_range(8 * 3_600_000..20 * 3_600_000))
}

/// Clamps an instant to strictly before `today` (one second before midnight at the latest).
fn before(today: NaiveDate, t: DateTime<Utc>) -> DateTime<Utc> {
    t.min(midnight(today) - Duration::seconds(1))
}

/// A random instant between `from` and `to` (inclusive), millisecond precision.
fn between<R: Rng>(rng: &mut R, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let span = (to - from).num_milliseconds();
    if span <= 0 {
        return from;
    }
    from + Duration::milliseconds(rng.random_range(0..=span))
}

/// Assigns ascending HubSpot-style ids with small random gaps (real portals are not dense).
fn assign_ids<R: Rng>(rng: &mut R, start: u64, n: usize) -> Vec<String> {
    let mut next = start;
    (0..n)
        .map(|_| {
            next += rng.random_range(1..=17u64);
            next.to_string()
        })
        .collect()
}

impl Company {
    /// Generates the company described by `config`. Deterministic in `config.seed`.
    pub fn generate(config: &SimConfig) -> Company {
        let today = config.today;
        let owners = gen_owners(config.seed);
        let accounts = gen_accounts(config, owners.len());
        let mut contacts = Vec::new();
        let mut emails = HashSet::new();
        let mut deals = Vec::new();
        let mut accounts = accounts;
        for (idx, account) in accounts.iter_mut().enumerate() {
            gen_contacts(config.seed, today, idx, account, &mut emails, &mut contacts);
            gen_deals(config.seed, today, idx, account, &mut deals);
        }

        // Ids ascend in creation order, as in a real portal; the list endpoint serves by id.
        contacts.sort_by_key(|c| (c.created_at, c.account));
        deals.sort_by_key(|d| (d.created_at, d.account));
        let mut rng = stream_rng(config.seed, "ids", 0);
        let contact_ids = assign_ids(&mut rng, 1_000, contacts.len());
        for (c, id) in contacts.iter_mut().zip(contact_ids) {
            c.id = id;
        }
        let deal_ids = assign_ids(&mut rng, 12_000_000_000, deals.len());
        for (d, id) in deals.iter_mut().zip(deal_ids) {
            d.id = id;
        }

        Company {
            seed: config.seed,
            today,
            owners,
            accounts,
            contacts,
            deals,
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
                .filter(|d| d.stage == DealStage::ClosedLost)
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
        }
    }
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
    let today = config.today;
    let mut rng = stream_rng(config.seed, "accounts", 0);
    let mut cores = HashSet::new();
    let mut slugs = HashSet::new();
    let total_weight: u32 = names::GEOGRAPHY.iter().map(|g| g.weight).sum();
    // Accounts were created over five years, the newest at least 150 days ago so that the
    // first deal has closed before today.
    let oldest = midnight(today) - Duration::days(5 * 365);
    let newest = midnight(today) - Duration::days(150);
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
            id,
            name,
            domain: format!("{slug}.{tld}"),
            industry: pick(&mut rng, names::INDUSTRIES).to_owned(),
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

fn gen_contacts(
    seed: u64,
    today: NaiveDate,
    idx: usize,
    account: &SimAccount,
    emails: &mut HashSet<String>,
    out: &mut Vec<SimContact>,
) {
    let mut rng = stream_rng(seed, "contacts", idx as u64);
    let n = match account.segment {
        Segment::Smb => rng.random_range(2..=5),
        Segment::MidMarket => rng.random_range(4..=10),
        Segment::Enterprise => rng.random_range(8..=20),
    };
    let end = midnight(today) - Duration::seconds(1);
    for i in 0..n {
        let first = pick(&mut rng, names::FIRST_NAMES).to_owned();
        let last = pick(&mut rng, names::LAST_NAMES).to_owned();
        let role = match i {
            0 => PersonRole::Admin,
            1 => PersonRole::Executive,
            _ if rng.random_bool(0.1) => PersonRole::Admin,
            _ if rng.random_bool(0.05) => PersonRole::Executive,
            _ => PersonRole::EndUser,
        };
        let job_title = match role {
            PersonRole::Admin => pick(&mut rng, names::ADMIN_TITLES),
            PersonRole::Executive => pick(&mut rng, names::EXECUTIVE_TITLES),
            PersonRole::EndUser => pick(&mut rng, names::END_USER_TITLES),
        }
        .to_owned();
        let (f, l) = (ascii_slug(&first), ascii_slug(&last));
        let free_mail = rng.random_bool(0.12);
        let mut email = if free_mail {
            format!(
                "{f}{l}{}@{}",
                rng.random_range(1..100u32),
                pick(&mut rng, names::FREE_MAIL)
            )
        } else {
            format!("{f}.{l}@{}", account.domain)
        };
        let mut n = 2;
        while emails.contains(&email) {
            email = match email.split_once('@') {
                Some((_, domain)) => format!("{f}.{l}{n}@{domain}"),
                None => format!("{f}.{l}{n}@{}", account.domain),
            };
            n += 1;
        }
        emails.insert(email.clone());

        // The first two people arrive with the account; the rest over its lifetime.
        let created_at = if i < 2 {
            account.created_at + Duration::minutes(rng.random_range(1..=60 * 24 * 7))
        } else {
            between(&mut rng, account.created_at, end)
        };
        let created_at = before(today, created_at);
        let updated_at = between(&mut rng, created_at, end);
        out.push(SimContact {
            id: String::new(),
            account: idx,
            first_name: first,
            last_name: last,
            email,
            job_title,
            role,
            created_at,
            updated_at,
            archived_at: None,
        });
    }
}

fn churn_probability(segment: Segment) -> f64 {
    match segment {
        Segment::Smb => 0.18,
        Segment::MidMarket => 0.10,
        Segment::Enterprise => 0.06,
    }
}

/// Builds the deal history of one account: new business, then per contract year an optional
/// co-terminous add-on, an optional lost upsell, and at each anniversary a renewal (flat,
/// expansion or contraction) or churn; an open renewal when the next anniversary is near.
fn gen_deals(
    seed: u64,
    today: NaiveDate,
    idx: usize,
    account: &mut SimAccount,
    out: &mut Vec<SimDeal>,
) {
    let mut rng = stream_rng(seed, "deals", idx as u64);
    let tier = match account.segment {
        Segment::Smb => 0,
        Segment::MidMarket => 1,
        Segment::Enterprise => 2,
    };
    let plan = names::PLANS[tier];
    let price = account.seat_price_monthly;
    let currency = account.currency.clone();
    let end_of_history = midnight(today) - Duration::seconds(1);

    let deal = |rng: &mut ChaCha8Rng,
                name: String,
                motion: DealMotion,
                stage: DealStage,
                seats: u32,
                term_months: u32,
                close_date: DateTime<Utc>,
                created_at: DateTime<Utc>| {
        let created_at = before(today, created_at);
        let updated_at = if stage.is_closed() {
            before(
                today,
                close_date + Duration::minutes(rng.random_range(0..=72 * 60)),
            )
        } else {
            between(rng, created_at, end_of_history)
        };
        let mut amount = price * Decimal::from(seats) * Decimal::from(term_months);
        amount.rescale(2);
        SimDeal {
            id: String::new(),
            account: idx,
            name,
            motion,
            stage,
            amount,
            currency: currency.clone(),
            seats,
            close_date,
            term_months,
            created_at,
            updated_at: updated_at.max(created_at),
            archived_at: None,
        }
    };

    // New business closes 14–120 days after the company is created, on day 1–28 of a month
    // so that adding months never clamps and contract years chain exactly.
    let mut start = account.created_at.date_naive() + Duration::days(rng.random_range(14..=120));
    if start.day() > 28 {
        start = start.with_day(28).unwrap_or(start);
    }
    let first_close = time_on(&mut rng, start);
    let first_created = between(&mut rng, account.created_at, first_close);
    let mut seats = account.seats;
    out.push(deal(
        &mut rng,
        format!("{} – {plan} new business", account.name),
        DealMotion::NewBusiness,
        DealStage::ClosedWon,
        seats,
        12,
        first_close,
        first_created,
    ));
    account.updated_at = account.updated_at.max(before(today, first_close));

    for year in 1u32.. {
        let term_start = start
            .checked_add_months(Months::new(12 * (year - 1)))
            .unwrap_or(NaiveDate::MAX);
        // A mid-term add-on, co-terminous with the running contract.
        if rng.random_bool(0.12) {
            let month = rng.random_range(2..=9u32);
            let add_day = term_start
                .checked_add_months(Months::new(month))
                .unwrap_or(NaiveDate::MAX);
            if add_day < today {
                let added = ((f64::from(seats) * rng.random_range(0.1..0.4)) as u32).max(1);
                let close = time_on(&mut rng, add_day);
                let created = close - Duration::days(rng.random_range(7..=45));
                out.push(deal(
                    &mut rng,
                    format!("{} – {added} additional seats", account.name),
                    DealMotion::AddOn,
                    DealStage::ClosedWon,
                    added,
                    12 - month,
                    close,
                    created,
                ));
                seats += added;
            }
        }
        // An upsell attempt that was lost.
        if rng.random_bool(0.06) {
            let lost_day = term_start + Duration::days(rng.random_range(30..=330));
            if lost_day < today {
                let added = ((f64::from(seats) * rng.random_range(0.2..0.6)) as u32).max(1);
                let close = time_on(&mut rng, lost_day);
                let created = close - Duration::days(rng.random_range(14..=60));
                out.push(deal(
                    &mut rng,
                    format!("{} – upsell {added} seats", account.name),
                    DealMotion::Expansion,
                    DealStage::ClosedLost,
                    added,
                    12,
                    close,
                    created,
                ));
            }
        }

        let anniversary = start
            .checked_add_months(Months::new(12 * year))
            .unwrap_or(NaiveDate::MAX);
        let renewal_name = format!("{} – {plan} renewal {}", account.name, anniversary.year());
        if anniversary >= today {
            // The renewal is being worked when it is due within 90 days.
            if (anniversary - today).num_days() <= 90 {
                let stage = DealStage::OPEN[rng.random_range(0..DealStage::OPEN.len())];
                let close = time_on(&mut rng, anniversary);
                let created = midnight(anniversary) - Duration::days(rng.random_range(90..=120));
                out.push(deal(
                    &mut rng,
                    renewal_name,
                    DealMotion::Renewal,
                    stage,
                    seats,
                    12,
                    close,
                    created,
                ));
            } else if rng.random_bool(0.05) {
                // An early expansion conversation.
                let added = ((f64::from(seats) * rng.random_range(0.1..0.5)) as u32).max(1);
                let close_day = today + Duration::days(rng.random_range(15..=75));
                let close = time_on(&mut rng, close_day);
                let created = midnight(today) - Duration::days(rng.random_range(5..=60));
                let stage = DealStage::OPEN[rng.random_range(0..3)];
                out.push(deal(
                    &mut rng,
                    format!("{} – expansion {added} seats", account.name),
                    DealMotion::Expansion,
                    stage,
                    added,
                    12,
                    close,
                    created,
                ));
            }
            break;
        }

        let created = midnight(anniversary) - Duration::days(rng.random_range(30..=90));
        let close = time_on(&mut rng, anniversary);
        if rng.random_bool(churn_probability(account.segment)) {
            account.churned_on = Some(anniversary);
            // Most churn shows up as a lost renewal; some accounts just lapse.
            if rng.random_bool(0.6) {
                let lost_close = close - Duration::days(rng.random_range(0..=30));
                out.push(deal(
                    &mut rng,
                    renewal_name,
                    DealMotion::Renewal,
                    DealStage::ClosedLost,
                    seats,
                    12,
                    lost_close,
                    created.min(lost_close),
                ));
            }
            account.updated_at = account.updated_at.max(before(today, close));
            break;
        }
        let roll: f64 = rng.random();
        let before_seats = seats;
        if roll < 0.2 {
            seats = ((f64::from(seats) * rng.random_range(1.1..1.5)) as u32).max(seats + 1);
        } else if roll < 0.28 {
            seats = ((f64::from(seats) * rng.random_range(0.6..0.9)) as u32).max(1);
        }
        let motion = match seats.cmp(&before_seats) {
            std::cmp::Ordering::Greater => DealMotion::Expansion,
            std::cmp::Ordering::Less => DealMotion::Contraction,
            std::cmp::Ordering::Equal => DealMotion::Renewal,
        };
        out.push(deal(
            &mut rng,
            renewal_name,
            motion,
            DealStage::ClosedWon,
            seats,
            12,
            close,
            created,
        ));
        account.updated_at = account.updated_at.max(before(today, close));
    }
    account.seats = seats;
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
    fn two_thousand_accounts_generate_quickly() {
        let started = std::time::Instant::now();
        let co = Company::generate(&SimConfig::default());
        let elapsed = started.elapsed();
        assert_eq!(co.accounts.len(), 2000);
        // Generous for unoptimised test builds; release builds take a few milliseconds.
        assert!(elapsed.as_secs_f64() < 2.0, "took {elapsed:?}");
    }
}
