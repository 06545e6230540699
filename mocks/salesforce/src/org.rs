//! The simulated org's vocabulary and extra data: picklist labels (industries, stages,
//! opportunity types, contact roles), contact roles on won deals and dated conversion rates.

use crate::*;

/// The org's `Industry` picklist label of an industry.
pub(crate) fn industry_label(industry: Industry) -> &'static str {
    match industry {
        Industry::ComputerSoftware => "Computer Software",
        Industry::FinancialServices => "Financial Services",
        Industry::HospitalHealthCare => "Hospital Health Care",
        Industry::Machinery => "Machinery",
        Industry::Retail => "Retail",
        Industry::ELearning => "E Learning",
        Industry::LogisticsAndSupplyChain => "Logistics And Supply Chain",
        Industry::MarketingAndAdvertising => "Marketing And Advertising",
        Industry::Telecommunications => "Telecommunications",
        Industry::OilEnergy => "Oil Energy",
        Industry::ManagementConsulting => "Management Consulting",
        Industry::Insurance => "Insurance",
    }
}

/// The org's `StageName` (Salesforce's default sales process) of a deal stage.
pub fn stage_name(stage: DealStage) -> &'static str {
    match stage {
        DealStage::Discovery => "Prospecting",
        DealStage::Qualified => "Qualification",
        DealStage::Proposal => "Value Proposition",
        DealStage::Commitment => "Id. Decision Makers",
        DealStage::Negotiation => "Negotiation/Review",
        DealStage::Won => "Closed Won",
        DealStage::Lost => "Closed Lost",
    }
}

pub(crate) fn probability(stage: DealStage) -> u32 {
    match stage {
        DealStage::Discovery => 10,
        DealStage::Qualified => 20,
        DealStage::Proposal => 50,
        DealStage::Commitment => 60,
        DealStage::Negotiation => 90,
        DealStage::Won => 100,
        DealStage::Lost => 0,
    }
}

/// The opportunity `Type` of a deal's motion (this org's customised picklist).
pub fn opportunity_type(motion: DealMotion) -> &'static str {
    match motion {
        DealMotion::NewBusiness => "New Business",
        DealMotion::Renewal => "Renewal",
        DealMotion::Expansion | DealMotion::AddOn => "Existing Customer - Upgrade",
        DealMotion::Contraction => "Existing Customer - Downgrade",
    }
}

/// The org's opportunity `Type` picklist: its customised values first, then Salesforce's
/// defaults it keeps inactive.
pub(crate) const OPPORTUNITY_TYPES: [(&str, bool); 6] = [
    ("New Business", true),
    ("Renewal", true),
    ("Existing Customer - Upgrade", true),
    ("Existing Customer - Downgrade", true),
    ("New Customer", false),
    ("Existing Customer - Replacement", false),
];

/// The standard `OpportunityContactRole.Role` picklist.
pub const CONTACT_ROLES: [&str; 8] = [
    "Decision Maker",
    "Economic Buyer",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Business User",
    "Other",
];

/// The org's corporate currency: every dated rate is quoted against it.
pub const CORPORATE_CURRENCY: &str = "USD";

/// A contact's role on a closed-won deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContactRole {
    /// Index into `company.deals`.
    pub(crate) deal: usize,
    /// Index into `company.contacts`.
    pub(crate) contact: usize,
    pub(crate) role: &'static str,
    pub(crate) primary: bool,
    /// The number its id is made from (stable as the company moves on).
    pub(crate) n: u64,
}

/// A mixing hash (splitmix64's finaliser): a deterministic draw from a number.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One to three roles per closed-won deal, on contacts of its account created before it
/// closed (in id order, so the draw does not change as the company moves on), drawn from the
/// deal's id; the first is primary.
pub(crate) fn contact_roles(company: &Company, won: &[usize]) -> Vec<ContactRole> {
    let mut by_account: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, c) in company.contacts.iter().enumerate() {
        by_account.entry(c.account).or_default().push(i);
    }
    for contacts in by_account.values_mut() {
        contacts.sort_by_key(|&i| (numeric_id(&company.contacts[i].id, i), i));
    }
    let mut out = Vec::new();
    for &d in won {
        let deal = &company.deals[d];
        let candidates: Vec<usize> = by_account
            .get(&deal.account)
            .map(|cs| {
                cs.iter()
                    .copied()
                    .filter(|&c| company.contacts[c].created_at <= deal.close_date)
                    .collect()
            })
            .unwrap_or_default();
        if candidates.is_empty() {
            continue;
        }
        let deal_n = numeric_id(&deal.id, d);
        let h = mix(deal_n);
        let count = (1 + (h % 3) as usize).min(candidates.len());
        let start = ((h >> 8) % candidates.len() as u64) as usize;
        let first_role = ((h >> 24) % CONTACT_ROLES.len() as u64) as usize;
        for k in 0..count {
            out.push(ContactRole {
                deal: d,
                contact: candidates[(start + k) % candidates.len()],
                role: CONTACT_ROLES[(first_role + 3 * k) % CONTACT_ROLES.len()],
                primary: k == 0,
                n: deal_n * 4 + k as u64,
            });
        }
    }
    out
}

/// One `DatedConversionRate` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedRate {
    /// The currency quoted.
    pub iso_code: &'static str,
    /// First day the rate applies.
    pub start_date: NaiveDate,
    /// Units of `iso_code` per unit of [`CORPORATE_CURRENCY`], exactly as served.
    pub rate: Decimal,
}

/// The dated rates the mock serves (besides the corporate currency's own rows at 1): EUR at
/// 1/1.08 and GBP at 1/1.27 (rounded to six decimals, as Salesforce keeps them) from
/// 2000-01-01, then EUR at 1/1.10 and GBP at 1/1.25 from 2025-01-01 — so a conversion must
/// pick the rate of its date.
pub fn dated_conversion_rates() -> Vec<DatedRate> {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a valid calendar date");
    let inverse = |per_unit: Decimal| (Decimal::ONE / per_unit).round_dp(6);
    vec![
        DatedRate {
            iso_code: CORPORATE_CURRENCY,
            start_date: day(2000, 1, 1),
            rate: Decimal::ONE,
        },
        DatedRate {
            iso_code: "EUR",
            start_date: day(2000, 1, 1),
            rate: inverse(Decimal::new(108, 2)),
        },
        DatedRate {
            iso_code: "GBP",
            start_date: day(2000, 1, 1),
            rate: inverse(Decimal::new(127, 2)),
        },
        DatedRate {
            iso_code: "EUR",
            start_date: day(2025, 1, 1),
            rate: inverse(Decimal::new(110, 2)),
        },
        DatedRate {
            iso_code: "GBP",
            start_date: day(2025, 1, 1),
            rate: inverse(Decimal::new(125, 2)),
        },
    ]
}

/// The currencies of the org (`CurrencyType.IsoCode`), the corporate one first.
pub(crate) const CURRENCIES: [&str; 3] = [CORPORATE_CURRENCY, "EUR", "GBP"];
