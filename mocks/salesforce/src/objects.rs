//! The sObjects the mock serves, their fields and Salesforce's id and date-time formats.

use crate::*;

/// The sObjects the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SObject {
    /// Accounts.
    Account,
    /// Contacts.
    Contact,
    /// Opportunities (deals).
    Opportunity,
    /// Users (account owners).
    User,
    /// Contracts, one per closed-won deal.
    Contract,
    /// Contacts' roles on closed-won deals.
    OpportunityContactRole,
    /// The org's currencies (multi-currency orgs only).
    CurrencyType,
    /// Dated exchange rates against the corporate currency (multi-currency orgs only).
    DatedConversionRate,
}

impl SObject {
    /// Every sObject the mock serves.
    pub const ALL: [SObject; 8] = [
        Self::Account,
        Self::Contact,
        Self::Opportunity,
        Self::User,
        Self::Contract,
        Self::OpportunityContactRole,
        Self::CurrencyType,
        Self::DatedConversionRate,
    ];

    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether the object exists only in multi-currency orgs.
    pub(crate) fn multi_currency_only(self) -> bool {
        matches!(self, Self::CurrencyType | Self::DatedConversionRate)
    }

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account => "Account",
            Self::Contact => "Contact",
            Self::Opportunity => "Opportunity",
            Self::User => "User",
            Self::Contract => "Contract",
            Self::OpportunityContactRole => "OpportunityContactRole",
            Self::CurrencyType => "CurrencyType",
            Self::DatedConversionRate => "DatedConversionRate",
        }
    }

    /// The three-character key prefix of its ids.
    pub(crate) fn key_prefix(self) -> &'static str {
        match self {
            Self::Account => "001",
            Self::Contact => "003",
            Self::Opportunity => "006",
            Self::User => "005",
            Self::Contract => "800",
            Self::OpportunityContactRole => "00K",
            Self::CurrencyType => "02N",
            Self::DatedConversionRate => "04w",
        }
    }

    /// The fields it has, by API name.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Account => &[
                "Id",
                "Name",
                "Type",
                "Industry",
                "BillingCountry",
                "BillingCity",
                "Website",
                "NumberOfEmployees",
                "OwnerId",
                "CurrencyIsoCode",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            Self::Contact => &[
                "Id",
                "AccountId",
                "FirstName",
                "LastName",
                "Name",
                "Email",
                "Title",
                "OwnerId",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            Self::Opportunity => &[
                "Id",
                "AccountId",
                "Name",
                "StageName",
                "Amount",
                "CloseDate",
                "Type",
                "IsWon",
                "IsClosed",
                "Probability",
                "CurrencyIsoCode",
                "ARR__c",
                "Term_Months__c",
                "OwnerId",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            Self::User => &[
                "Id",
                "Username",
                "FirstName",
                "LastName",
                "Name",
                "Email",
                "IsActive",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            Self::Contract => &[
                "Id",
                "AccountId",
                "ContractNumber",
                "Status",
                "StatusCode",
                "StartDate",
                "EndDate",
                "ContractTerm",
                "ActivatedDate",
                "ARR__c",
                "CurrencyIsoCode",
                "OwnerId",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            Self::OpportunityContactRole => &[
                "Id",
                "OpportunityId",
                "ContactId",
                "Role",
                "IsPrimary",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            // Neither currency object has `IsDeleted`: rows are edited, never soft-deleted.
            Self::CurrencyType => &[
                "Id",
                "IsoCode",
                "ConversionRate",
                "DecimalPlaces",
                "IsActive",
                "IsCorporate",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
            ],
            Self::DatedConversionRate => &[
                "Id",
                "IsoCode",
                "ConversionRate",
                "StartDate",
                "NextStartDate",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
            ],
        }
    }

    /// The describe `type` of a field (the same on every object that has it).
    pub(crate) fn field_type(field: &str) -> &'static str {
        match field {
            "Id" => "id",
            "AccountId" | "OwnerId" | "OpportunityId" | "ContactId" => "reference",
            "Amount" | "ARR__c" | "AnnualRevenue" => "currency",
            "CloseDate" | "StartDate" | "EndDate" | "NextStartDate" => "date",
            "CreatedDate" | "LastModifiedDate" | "SystemModstamp" | "ActivatedDate" => "datetime",
            "IsDeleted" | "IsWon" | "IsClosed" | "IsActive" | "IsPrimary" | "IsCorporate" => {
                "boolean"
            }
            "NumberOfEmployees" | "ContractTerm" | "DecimalPlaces" => "int",
            "Term_Months__c" | "ConversionRate" => "double",
            "Probability" => "percent",
            "Website" => "url",
            "Email" => "email",
            "Username" => "string",
            "StageName"
            | "Type"
            | "Industry"
            | "Status"
            | "StatusCode"
            | "Role"
            | "CurrencyIsoCode"
            | "ForecastCategoryName"
            | "IsoCode" => "picklist",
            _ => "string",
        }
    }

    pub(crate) fn canonical_field(self, name: &str) -> Option<&'static str> {
        self.fields()
            .iter()
            .copied()
            .find(|f| f.eq_ignore_ascii_case(name))
    }
}

/// The 18-character id Salesforce would give record `n` of `object`: the key prefix, `SIM`,
/// `n` in nine digits, and the three-character case-safe suffix.
pub fn salesforce_id(object: SObject, n: u64) -> String {
    let base = format!("{}SIM{:09}", object.key_prefix(), n % 1_000_000_000);
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let mut id = base.clone();
    for chunk in base.as_bytes().chunks(5) {
        let bits = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |acc, (i, _)| acc | (1 << i));
        id.push(char::from(alphabet[bits]));
    }
    id
}

/// A Salesforce datetime: `2024-04-25T15:50:37.000+0000`.
pub fn sf_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

pub(crate) fn parse_sf_datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub(crate) fn decimal_number(d: rust_decimal::Decimal) -> Value {
    Number::from_str(&d.normalize().to_string()).map_or(Value::Null, Value::Number)
}

pub(crate) fn numeric_id(id: &str, fallback: usize) -> u64 {
    id.parse().unwrap_or(fallback as u64 + 1)
}
