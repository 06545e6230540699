//! The §3 entities as connectors emit them. References to other entities are [`ExternalRef`]s;
//! the store resolves them to our ids.

use crate::{Currency, ExternalRef, ModelError, Money};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Which entity a record holds; also the name of its table family in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// [`Account`]
    Account,
    /// [`Person`]
    Person,
    /// [`Subscription`]
    Subscription,
    /// [`RevenueEvent`]
    RevenueEvent,
    /// [`Course`]
    Course,
    /// [`Enrollment`]
    Enrollment,
    /// [`UsageEvent`]
    UsageEvent,
    /// [`Ticket`]
    Ticket,
    /// [`DealContact`]
    DealContact,
    /// [`FxRate`]
    FxRate,
    /// [`LearningEvent`]
    LearningEvent,
}

impl EntityKind {
    /// Every kind, in dependency order (referenced kinds first).
    pub const ALL: [EntityKind; 11] = [
        EntityKind::Account,
        EntityKind::Person,
        EntityKind::Subscription,
        EntityKind::RevenueEvent,
        EntityKind::Course,
        EntityKind::Enrollment,
        EntityKind::UsageEvent,
        EntityKind::Ticket,
        EntityKind::DealContact,
        EntityKind::FxRate,
        EntityKind::LearningEvent,
    ];

    /// The stable snake_case name used in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Account => "account",
            EntityKind::Person => "person",
            EntityKind::Subscription => "subscription",
            EntityKind::RevenueEvent => "revenue_event",
            EntityKind::Course => "course",
            EntityKind::Enrollment => "enrollment",
            EntityKind::UsageEvent => "usage_event",
            EntityKind::Ticket => "ticket",
            EntityKind::DealContact => "deal_contact",
            EntityKind::FxRate => "fx_rate",
            EntityKind::LearningEvent => "learning_event",
        }
    }

    /// Parses [`EntityKind::as_str`] back.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A mapped entity of any kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entity {
    /// A customer account.
    Account(Account),
    /// A person at an account.
    Person(Person),
    /// A subscription (contract) of an account.
    Subscription(Subscription),
    /// A change of an account's ARR.
    RevenueEvent(RevenueEvent),
    /// A course in a learning catalog.
    Course(Course),
    /// A person's enrollment in a course.
    Enrollment(Enrollment),
    /// One product usage event.
    UsageEvent(UsageEvent),
    /// A support ticket.
    Ticket(Ticket),
    /// A person's role on a deal.
    DealContact(DealContact),
    /// A dated exchange rate.
    FxRate(FxRate),
    /// One learning statement (an xAPI statement) as received.
    LearningEvent(LearningEvent),
}

impl Entity {
    /// The kind of this entity.
    pub fn kind(&self) -> EntityKind {
        match self {
            Entity::Account(_) => EntityKind::Account,
            Entity::Person(_) => EntityKind::Person,
            Entity::Subscription(_) => EntityKind::Subscription,
            Entity::RevenueEvent(_) => EntityKind::RevenueEvent,
            Entity::Course(_) => EntityKind::Course,
            Entity::Enrollment(_) => EntityKind::Enrollment,
            Entity::UsageEvent(_) => EntityKind::UsageEvent,
            Entity::Ticket(_) => EntityKind::Ticket,
            Entity::DealContact(_) => EntityKind::DealContact,
            Entity::FxRate(_) => EntityKind::FxRate,
            Entity::LearningEvent(_) => EntityKind::LearningEvent,
        }
    }

    /// Checks the invariants a record must meet before it is stored; a failure sends the
    /// record to quarantine with the error as its reason.
    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            Entity::Account(a) => non_empty("name", &a.name),
            Entity::Person(p) => {
                if p.email.is_none() && p.name.trim().is_empty() {
                    return Err(ModelError::MissingField("name or email"));
                }
                Ok(())
            }
            Entity::Subscription(s) => {
                if s.arr.amount.is_sign_negative() {
                    return Err(ModelError::InvalidField {
                        field: "arr",
                        reason: format!("ARR must not be negative, got {}", s.arr),
                    });
                }
                if let Some(end) = s.end_date
                    && end < s.start_date
                {
                    return Err(ModelError::InvalidField {
                        field: "end_date",
                        reason: format!("ends {end} before it starts {}", s.start_date),
                    });
                }
                Ok(())
            }
            Entity::RevenueEvent(_) => Ok(()),
            Entity::Course(c) => non_empty("title", &c.title),
            Entity::Enrollment(_) => Ok(()),
            Entity::UsageEvent(u) => non_empty("event", &u.event),
            Entity::Ticket(_) => Ok(()),
            Entity::DealContact(_) => Ok(()),
            Entity::LearningEvent(e) => {
                non_empty("verb", &e.verb)?;
                if let Some(score) = e.score
                    && !(Decimal::from(-100)..=Decimal::from(100)).contains(&score)
                {
                    return Err(ModelError::InvalidField {
                        field: "score",
                        reason: format!("a score is a percentage in -100..100, got {score}"),
                    });
                }
                Ok(())
            }
            Entity::FxRate(r) => {
                if r.rate <= Decimal::ZERO {
                    return Err(ModelError::InvalidField {
                        field: "rate",
                        reason: format!(
                            "an exchange rate must be positive, got {} for {}",
                            r.rate, r.currency
                        ),
                    });
                }
                Ok(())
            }
        }
    }

    /// The references this entity holds to other entities, with the kind each points at.
    pub fn links(&self) -> Vec<(EntityKind, &ExternalRef)> {
        use EntityKind as K;
        let fields: Vec<(EntityKind, &Option<ExternalRef>)> = match self {
            Entity::Account(_) | Entity::Course(_) | Entity::FxRate(_) => vec![],
            Entity::Person(p) => vec![(K::Account, &p.account)],
            Entity::Subscription(s) => vec![(K::Account, &s.account)],
            Entity::RevenueEvent(e) => {
                vec![(K::Account, &e.account), (K::Subscription, &e.subscription)]
            }
            Entity::Enrollment(e) => vec![(K::Person, &e.person), (K::Course, &e.course)],
            Entity::UsageEvent(u) => vec![(K::Person, &u.person), (K::Account, &u.account)],
            Entity::Ticket(t) => vec![(K::Account, &t.account), (K::Person, &t.requester)],
            Entity::DealContact(d) => {
                vec![(K::Subscription, &d.subscription), (K::Person, &d.person)]
            }
            Entity::LearningEvent(e) => vec![(K::Person, &e.person), (K::Course, &e.course)],
        };
        fields
            .into_iter()
            .filter_map(|(kind, r)| r.as_ref().map(|r| (kind, r)))
            .collect()
    }
}

fn non_empty(field: &'static str, value: &str) -> Result<(), ModelError> {
    if value.trim().is_empty() {
        Err(ModelError::MissingField(field))
    } else {
        Ok(())
    }
}

/// An account's size band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Small and medium business.
    Smb,
    /// Mid-market.
    MidMarket,
    /// Enterprise.
    Enterprise,
}

impl Segment {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::Smb => "smb",
            Segment::MidMarket => "mid_market",
            Segment::Enterprise => "enterprise",
        }
    }

    /// Parses a name leniently: `SMB`, `mid-market`, `Mid Market`, `enterprise` …
    pub fn parse(s: &str) -> Option<Self> {
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match norm.as_str() {
            "smb" | "small" | "smallbusiness" => Some(Segment::Smb),
            "midmarket" | "mid" | "mm" => Some(Segment::MidMarket),
            "enterprise" | "ent" => Some(Segment::Enterprise),
            _ => None,
        }
    }
}

/// A customer account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Display name.
    pub name: String,
    /// Primary web domain, lower-case, without scheme or `www.`.
    pub domain: Option<String>,
    /// Size band.
    pub segment: Option<Segment>,
    /// Industry as the source names it.
    pub industry: Option<String>,
    /// Sales region.
    pub region: Option<String>,
    /// Owner (account manager) as the source names it.
    pub owner: Option<String>,
    /// Number of licensed seats, where known.
    pub seats: Option<i64>,
    /// When the account was created in the source.
    pub created_at: Option<DateTime<Utc>>,
}

impl Account {
    /// An account known only by its name, every other field unknown.
    pub fn named(name: impl Into<String>) -> Self {
        Account {
            name: name.into(),
            domain: None,
            segment: None,
            industry: None,
            region: None,
            owner: None,
            seats: None,
            created_at: None,
        }
    }
}

/// Normalises a web address or domain: `https://www.Acme.com/x` → `acme.com`.
pub fn normalize_domain(raw: &str) -> Option<String> {
    let s = raw.trim().to_ascii_lowercase();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(&s);
    let s = s.split(['/', '?', '#']).next().unwrap_or_default();
    let s = s.strip_prefix("www.").unwrap_or(s);
    (!s.is_empty() && s.contains('.')).then(|| s.to_owned())
}

/// Normalises an email address (trim, lower-case); `None` when it is not an address.
pub fn normalize_email(raw: &str) -> Option<String> {
    let s = raw.trim().to_ascii_lowercase();
    let (local, domain) = s.split_once('@')?;
    (!local.is_empty() && domain.contains('.') && !domain.contains('@')).then_some(s)
}

/// A person's role at their account, as far as training and adoption care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonRole {
    /// Administers the product for the account.
    Admin,
    /// Uses the product.
    EndUser,
    /// Sponsors or signs.
    Executive,
}

impl PersonRole {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonRole::Admin => "admin",
            PersonRole::EndUser => "end_user",
            PersonRole::Executive => "executive",
        }
    }

    /// Parses [`PersonRole::as_str`] back.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(PersonRole::Admin),
            "end_user" => Some(PersonRole::EndUser),
            "executive" => Some(PersonRole::Executive),
            _ => None,
        }
    }
}

/// A person (CRM contact, LMS learner, product user, ticket requester).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// Full name.
    pub name: String,
    /// Normalised email (see [`normalize_email`]).
    pub email: Option<String>,
    /// Job title as the source names it.
    pub title: Option<String>,
    /// Role at the account.
    pub role: Option<PersonRole>,
    /// The account the source says this person belongs to.
    pub account: Option<ExternalRef>,
    /// When the source first saw this person.
    pub first_seen_at: Option<DateTime<Utc>>,
    /// What the source says about this person's identity elsewhere (a CRM id in an LMS field,
    /// a company name typed at sign-up…), kept for identity resolution (SPEC §4). Empty for
    /// most CRM records; left out of the serialised form when empty, so adding hints to one
    /// source changes no other source's content hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<IdentityHint>,
}

/// What an [`IdentityHint`] claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityHintKind {
    /// The id of this person's contact record in a CRM (e.g. an LMS user's SIS id field).
    CrmContactId,
    /// The id of this person's account (company) record in a CRM.
    CrmAccountId,
    /// The company name the person gave (a sign-up field, an institution).
    CompanyName,
    /// A company web domain given separately from the email address.
    EmailDomain,
}

impl IdentityHintKind {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityHintKind::CrmContactId => "crm_contact_id",
            IdentityHintKind::CrmAccountId => "crm_account_id",
            IdentityHintKind::CompanyName => "company_name",
            IdentityHintKind::EmailDomain => "email_domain",
        }
    }

    /// Parses [`IdentityHintKind::as_str`] back.
    pub fn parse(s: &str) -> Option<Self> {
        [
            IdentityHintKind::CrmContactId,
            IdentityHintKind::CrmAccountId,
            IdentityHintKind::CompanyName,
            IdentityHintKind::EmailDomain,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One identity claim a source makes about a person, with its evidence: which of the
/// source's fields carried which value. Identity resolution decides what it is worth.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdentityHint {
    /// What the value claims to be.
    pub kind: IdentityHintKind,
    /// The source field it came from, as the source names it (e.g. `sis_user_id`).
    pub field: String,
    /// The value, trimmed; domains normalised (see [`normalize_domain`]).
    pub value: String,
}

impl IdentityHint {
    /// A hint from `field`, or `None` when the value is blank (or, for a domain, not a
    /// domain). Values are trimmed; domains are normalised.
    pub fn from_field(kind: IdentityHintKind, field: &str, value: &str) -> Option<Self> {
        let value = value.trim();
        let value = match kind {
            IdentityHintKind::EmailDomain => normalize_domain(value)?,
            _ if value.is_empty() => return None,
            _ => value.to_owned(),
        };
        Some(IdentityHint {
            kind,
            field: field.to_owned(),
            value,
        })
    }
}

/// Lifecycle of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Signed, not yet started.
    Pending,
    /// Running.
    Active,
    /// Ended (renewed into another subscription or churned).
    Ended,
    /// Cancelled before its end.
    Cancelled,
}

impl SubscriptionStatus {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Ended => "ended",
            SubscriptionStatus::Cancelled => "cancelled",
        }
    }

    /// Parses [`SubscriptionStatus::as_str`] back.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(SubscriptionStatus::Pending),
            "active" => Some(SubscriptionStatus::Active),
            "ended" => Some(SubscriptionStatus::Ended),
            "cancelled" => Some(SubscriptionStatus::Cancelled),
            _ => None,
        }
    }

    /// The status of a subscription running from `start` to `end` as seen on `today`.
    pub fn on(start: NaiveDate, end: Option<NaiveDate>, today: NaiveDate) -> Self {
        if today < start {
            SubscriptionStatus::Pending
        } else if end.is_some_and(|e| today >= e) {
            SubscriptionStatus::Ended
        } else {
            SubscriptionStatus::Active
        }
    }
}

/// A subscription of an account, derived from CRM opportunities or contracts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// The subscribing account.
    pub account: Option<ExternalRef>,
    /// Product or plan name.
    pub plan: String,
    /// First day of the term.
    pub start_date: NaiveDate,
    /// Day after the last day of the term (exclusive), when known.
    pub end_date: Option<NaiveDate>,
    /// Annual recurring revenue of the subscription.
    pub arr: Money,
    /// Lifecycle status.
    pub status: SubscriptionStatus,
    /// What the source says this subscription's start is (new business, renewal,
    /// expansion…), read from the field the instance's mapping names (opportunity `Type`, deal
    /// `dealtype`); `None` when the source does not say. The ledger derives event kinds from
    /// ARR and reports where they disagree with this.
    pub motion: Option<RevenueEventKind>,
    /// How `arr` was derived from the source record; `None` when the source did not say
    /// (a row stored before it was recorded).
    #[serde(default)]
    pub arr_basis: Option<ArrBasis>,
}

/// What a revenue event did to an account's ARR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevenueEventKind {
    /// First subscription of the account.
    New,
    /// A subscription renewed at the same ARR.
    Renewal,
    /// ARR went up.
    Expansion,
    /// ARR went down but stayed above zero.
    Contraction,
    /// ARR went to zero.
    Churn,
}

impl RevenueEventKind {
    /// Every kind, in the order a bridge lists movements: new, renewal, expansion,
    /// contraction, churn.
    pub const ALL: [RevenueEventKind; 5] = [
        RevenueEventKind::New,
        RevenueEventKind::Renewal,
        RevenueEventKind::Expansion,
        RevenueEventKind::Contraction,
        RevenueEventKind::Churn,
    ];

    /// The stable snake_case name (the one serde uses, and the one stored).
    pub fn as_str(self) -> &'static str {
        match self {
            RevenueEventKind::New => "new",
            RevenueEventKind::Renewal => "renewal",
            RevenueEventKind::Expansion => "expansion",
            RevenueEventKind::Contraction => "contraction",
            RevenueEventKind::Churn => "churn",
        }
    }

    /// Parses [`RevenueEventKind::as_str`] back.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A change in an account's ARR: the ledger finance reconciles against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevenueEvent {
    /// The account.
    pub account: Option<ExternalRef>,
    /// The subscription the event belongs to.
    pub subscription: Option<ExternalRef>,
    /// Effective date.
    pub date: NaiveDate,
    /// What happened.
    pub kind: RevenueEventKind,
    /// Change of ARR.
    pub arr_delta: Money,
    /// ARR after the event.
    pub arr_after: Money,
    /// The change in the contracts' own currency, before conversion: what the started
    /// contracts add less what the ended ones took away. `None` when the event's contracts
    /// are in several currencies (there is no one original amount).
    #[serde(default)]
    pub original_delta: Option<Money>,
    /// The exchange rate that converted the event's contracts into the reporting currency,
    /// when they were all converted at the same one; `None` when several rates contributed
    /// (a renewal booked at a newer rate than the contract it replaces).
    #[serde(default)]
    pub fx: Option<FxConversion>,
}

/// How an amount was converted into the reporting currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FxConversion {
    /// The rate as quoted.
    pub rate: Decimal,
    /// Whether amounts are multiplied or divided by `rate`.
    pub quote: FxQuote,
    /// The day from which the rate is effective (the dated rate the conversion looked up:
    /// the latest on or before the booking day); `None` for an amount already in the
    /// reporting currency, which converts at 1 on every day.
    pub rate_date: Option<NaiveDate>,
}

/// Which way a rate is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FxQuote {
    /// Units of the reporting currency per unit of the amount's currency: multiply.
    Multiply,
    /// Units of the amount's currency per unit of the reporting currency (how Salesforce's
    /// `DatedConversionRate` quotes against the corporate currency): divide.
    Divide,
}

impl FxQuote {
    /// The stable snake_case name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            FxQuote::Multiply => "multiply",
            FxQuote::Divide => "divide",
        }
    }

    /// Parses [`FxQuote::as_str`] back.
    pub fn parse(s: &str) -> Option<Self> {
        [FxQuote::Multiply, FxQuote::Divide]
            .into_iter()
            .find(|q| q.as_str() == s)
    }
}

/// How a subscription's ARR was derived from its source record (the CRM field mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrBasis {
    /// Read from the mapping's ARR field (`ARR__c`, `hs_arr`).
    ArrField,
    /// The amount field × 12 / the term in months read from the record's term field.
    AmountOverTerm,
    /// The amount field × 12 / the mapping's default term: the record gave no term.
    AmountOverDefaultTerm,
}

impl ArrBasis {
    /// Every basis.
    pub const ALL: [ArrBasis; 3] = [
        ArrBasis::ArrField,
        ArrBasis::AmountOverTerm,
        ArrBasis::AmountOverDefaultTerm,
    ];

    /// The stable snake_case name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ArrBasis::ArrField => "arr_field",
            ArrBasis::AmountOverTerm => "amount_over_term",
            ArrBasis::AmountOverDefaultTerm => "amount_over_default_term",
        }
    }

    /// Parses [`ArrBasis::as_str`] back.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

/// A person's part in a deal: Salesforce `OpportunityContactRole`, HubSpot deal→contact
/// associations. Links the people who bought (or renewed) to the subscription it became.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealContact {
    /// The deal's subscription (a reference is kept even before the deal is won).
    pub subscription: Option<ExternalRef>,
    /// The person.
    pub person: Option<ExternalRef>,
    /// The role as the source names it (`Decision Maker`, `Economic Buyer`…).
    pub role: Option<String>,
    /// Whether the source marks this person as the deal's primary contact.
    pub primary: bool,
}

/// A dated exchange rate as a source keeps it (Salesforce `DatedConversionRate`): from
/// `start_date` on, one unit of `base` is worth `rate` units of `currency`, until the next
/// rate of the same pair starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FxRate {
    /// The currency rates are quoted against (the org's corporate currency).
    pub base: Currency,
    /// The currency quoted.
    pub currency: Currency,
    /// First day the rate applies.
    pub start_date: NaiveDate,
    /// Units of `currency` per unit of `base`; positive, kept exactly.
    pub rate: Decimal,
}

/// A course's delivery format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CourseKind {
    /// Self-paced online.
    ELearning,
    /// Instructor-led training.
    Ilt,
    /// Live or recorded webinar.
    Webinar,
    /// Certification exam or track.
    Certification,
    /// A sequence of courses.
    LearningPath,
}

/// A course's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CourseLevel {
    /// Getting started.
    Foundational,
    /// For power users.
    Advanced,
}

/// A course in a learning catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Course {
    /// Title.
    pub title: String,
    /// Delivery format.
    pub kind: CourseKind,
    /// Level.
    pub level: CourseLevel,
    /// Free tags.
    pub tags: Vec<String>,
    /// Product features the course teaches.
    pub features: Vec<String>,
}

/// Where an enrollment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    /// Enrolled, not started.
    Enrolled,
    /// Started, not finished.
    InProgress,
    /// Finished.
    Completed,
    /// Withdrawn or expired.
    Dropped,
}

/// A person's enrollment in a course.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    /// The learner.
    pub person: Option<ExternalRef>,
    /// The course.
    pub course: Option<ExternalRef>,
    /// When the learner enrolled.
    pub enrolled_at: DateTime<Utc>,
    /// When the learner started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the learner completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Status.
    pub status: EnrollmentStatus,
    /// Score in percent, when graded.
    pub score: Option<Decimal>,
    /// Whether the learner passed, when graded.
    pub passed: Option<bool>,
    /// Whether the enrollment earned a certification.
    pub certified: bool,
}

/// One product usage event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageEvent {
    /// The identified user, when known.
    pub person: Option<ExternalRef>,
    /// The anonymous id, when the user is not identified.
    pub anonymous_id: Option<String>,
    /// The account (group) the event belongs to.
    pub account: Option<ExternalRef>,
    /// Event name.
    pub event: String,
    /// Product feature the event exercises.
    pub feature: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Event properties as sent.
    pub properties: serde_json::Value,
}

/// One learning statement as a learning record store received it (an xAPI statement: who did
/// what to which course, when, with which result), kept for audit beside the [`Enrollment`]
/// folded from it. The statement itself is the record's raw payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearningEvent {
    /// The learner (the statement's actor).
    pub person: Option<ExternalRef>,
    /// The course (the statement's activity), when the object is one.
    pub course: Option<ExternalRef>,
    /// What happened: the verb's IRI (e.g. `http://adlnet.gov/expapi/verbs/completed`).
    pub verb: String,
    /// When it happened (the statement's `timestamp`).
    pub occurred_at: DateTime<Utc>,
    /// When the record store stored it (the statement's `stored`).
    pub stored_at: DateTime<Utc>,
    /// Score in percent (−100..100; xAPI's scaled score × 100), when the statement has one.
    pub score: Option<Decimal>,
    /// Whether the attempt succeeded (`result.success`), when the statement says.
    pub success: Option<bool>,
    /// Whether the activity was completed (`result.completion`), when the statement says.
    pub completion: Option<bool>,
    /// The registration (attempt or enrollment id) the statement belongs to, when given.
    pub registration: Option<String>,
    /// Voided by a later statement: kept for audit, left out of everything derived.
    pub voided: bool,
}

/// Category of a support ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketCategory {
    /// "How do I …?" — what training should deflect.
    HowTo,
    /// A product defect.
    Defect,
    /// Anything else.
    Other,
}

/// A support ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The account.
    pub account: Option<ExternalRef>,
    /// Who raised it.
    pub requester: Option<ExternalRef>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was solved.
    pub solved_at: Option<DateTime<Utc>>,
    /// Channel (email, web, chat …).
    pub channel: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Category.
    pub category: TicketCategory,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_emails_normalise() {
        assert_eq!(
            normalize_domain("https://www.Acme.com/about").as_deref(),
            Some("acme.com")
        );
        assert_eq!(normalize_domain("acme").as_deref(), None);
        assert_eq!(
            normalize_email(" Jo.Doe@Acme.COM ").as_deref(),
            Some("jo.doe@acme.com")
        );
        assert_eq!(normalize_email("nobody"), None);
        assert_eq!(normalize_email("a@b@c.com"), None);
    }

    #[test]
    fn validation_rejects_what_cannot_be_stored() {
        let acct = Entity::Account(Account::named(" "));
        assert_eq!(acct.validate(), Err(ModelError::MissingField("name")));
        let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        let sub = Entity::Subscription(Subscription {
            account: None,
            plan: "pro".into(),
            start_date: start,
            end_date: Some(start.pred_opt().unwrap()),
            arr: Money::zero(Currency::usd()),
            status: SubscriptionStatus::Active,
            motion: None,
            arr_basis: None,
        });
        assert!(matches!(
            sub.validate(),
            Err(ModelError::InvalidField {
                field: "end_date",
                ..
            })
        ));
    }

    #[test]
    fn links_name_their_target_kind() {
        let r = ExternalRef::new("hubspot", "hs", "companies", "1");
        let p = Entity::Person(Person {
            name: "A".into(),
            email: None,
            title: None,
            role: None,
            account: Some(r.clone()),
            first_seen_at: None,
            hints: vec![],
        });
        assert_eq!(p.links(), vec![(EntityKind::Account, &r)]);
    }

    #[test]
    fn identity_hints_are_trimmed_normalised_and_left_out_when_empty() {
        use IdentityHintKind::*;
        let h = IdentityHint::from_field(CompanyName, "company", "  Acme Corp ").unwrap();
        assert_eq!(
            (h.field.as_str(), h.value.as_str()),
            ("company", "Acme Corp")
        );
        assert_eq!(
            IdentityHint::from_field(EmailDomain, "website", "https://www.Acme.com/x")
                .unwrap()
                .value,
            "acme.com"
        );
        assert_eq!(
            IdentityHint::from_field(CrmContactId, "sis_user_id", " "),
            None
        );
        assert_eq!(
            IdentityHint::from_field(EmailDomain, "website", "not a domain"),
            None
        );
        for kind in [CrmContactId, CrmAccountId, CompanyName, EmailDomain] {
            assert_eq!(IdentityHintKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::String(kind.as_str().to_owned())
            );
        }
        // A person without hints serialises as before hints existed: the content hash of
        // every CRM record stays what it was.
        let mut p = Person {
            name: "A".into(),
            email: None,
            title: None,
            role: None,
            account: None,
            first_seen_at: None,
            hints: vec![],
        };
        assert!(serde_json::to_value(&p).unwrap().get("hints").is_none());
        p.hints.push(h);
        let back: Person = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn segment_parses_leniently() {
        assert_eq!(Segment::parse("Mid-Market"), Some(Segment::MidMarket));
        assert_eq!(Segment::parse("SMB"), Some(Segment::Smb));
        assert_eq!(Segment::parse("whale"), None);
    }

    #[test]
    fn revenue_event_kind_names_round_trip_and_match_serde() {
        for kind in RevenueEventKind::ALL {
            assert_eq!(RevenueEventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::String(kind.as_str().to_owned())
            );
        }
        assert_eq!(RevenueEventKind::parse("Renewal"), None);
    }
}
