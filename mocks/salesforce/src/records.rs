//! The world → Salesforce translation: every field of every sObject as the org stores it,
//! describe results, and SOQL checked against what this org has. The only place (with
//! `org.rs`) that knows Salesforce's field names.

use crate::*;
use tributary_mock_kit::auth::{self, Access};

impl MockState {
    /// Parses `q` against this org: [`parse_soql`], then what a single-currency org lacks
    /// (`CurrencyIsoCode` is `INVALID_FIELD`, the currency objects `INVALID_TYPE`).
    pub(crate) fn parse(&self, q: &str) -> Result<Soql, SoqlError> {
        let soql = parse_soql(q)?;
        if self.config.multi_currency {
            return Ok(soql);
        }
        let object = soql.object.as_str();
        if soql.object.multi_currency_only() {
            return Err((
                "INVALID_TYPE",
                format!("sObject type '{object}' is not supported."),
            ));
        }
        let uses_currency = soql
            .fields
            .iter()
            .chain(soql.conditions.iter().map(|c| &c.field))
            .chain(soql.order.iter().map(|(f, _)| f))
            .any(|f| *f == "CurrencyIsoCode");
        if uses_currency {
            return Err((
                "INVALID_FIELD",
                format!(
                    "No such column 'CurrencyIsoCode' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
                ),
            ));
        }
        Ok(soql)
    }

    /// The describe result of `object` in this org, or `None` when the org has no such object.
    pub(crate) fn describe(&self, object: SObject) -> Option<Value> {
        if object.multi_currency_only() && !self.config.multi_currency {
            return None;
        }
        let picklist = |values: &[(&str, bool)]| -> Value {
            values
                .iter()
                .enumerate()
                .map(|(n, (v, active))| {
                    json!({"value": v, "label": v, "active": active, "defaultValue": n == 0 && *active, "validFor": null})
                })
                .collect()
        };
        let active = |values: &[&str]| -> Vec<(String, bool)> {
            values.iter().map(|v| ((*v).to_owned(), true)).collect()
        };
        let fields: Vec<Value> = object
            .fields()
            .iter()
            .filter(|f| self.config.multi_currency || **f != "CurrencyIsoCode")
            .map(|f| {
                let values: Vec<(String, bool)> = match (object, *f) {
                    (SObject::Opportunity, "Type") => OPPORTUNITY_TYPES
                        .iter()
                        .map(|(v, a)| ((*v).to_owned(), *a))
                        .collect(),
                    (SObject::Opportunity, "StageName") => active(
                        &DealStage::ALL.map(stage_name),
                    ),
                    (SObject::Contract, "Status" | "StatusCode") => {
                        active(&["Draft", "InApproval", "Activated", "Terminated", "Expired"])
                    }
                    (SObject::OpportunityContactRole, "Role") => active(&CONTACT_ROLES),
                    (SObject::Account, "Type") => active(&["Prospect", "Customer", "Partner"]),
                    (_, "CurrencyIsoCode" | "IsoCode") => active(&CURRENCIES),
                    _ => Vec::new(),
                };
                let borrowed: Vec<(&str, bool)> =
                    values.iter().map(|(v, a)| (v.as_str(), *a)).collect();
                json!({
                    "name": f,
                    "label": f.trim_end_matches("__c").replace('_', " "),
                    "type": SObject::field_type(f),
                    "nillable": !matches!(*f, "Id" | "IsDeleted" | "CreatedDate" | "LastModifiedDate" | "SystemModstamp"),
                    "custom": f.ends_with("__c"),
                    "picklistValues": picklist(&borrowed),
                })
            })
            .collect();
        Some(json!({
            "name": object.as_str(),
            "label": object.as_str(),
            "keyPrefix": object.key_prefix(),
            "queryable": true,
            "custom": false,
            "fields": fields,
        }))
    }

    /// `None` when the request carries a valid session, else the 401.
    pub(crate) fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        match auth::authorize(headers, &[], &self.faults) {
            Access::Granted => None,
            Access::Missing | Access::Expired { .. } | Access::Unknown => Some(api_error(
                StatusCode::UNAUTHORIZED,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
            )),
        }
    }

    pub(crate) fn len(&self, object: SObject) -> usize {
        let co = &self.company;
        match object {
            SObject::Account => co.accounts.len(),
            SObject::Contact => co.contacts.len(),
            SObject::Opportunity => co.deals.len(),
            SObject::User => co.owners.len(),
            SObject::Contract => self.contracts.len(),
            SObject::OpportunityContactRole => self.contact_roles.len(),
            SObject::CurrencyType if self.config.multi_currency => CURRENCIES.len(),
            SObject::DatedConversionRate if self.config.multi_currency => self.rates.len(),
            SObject::CurrencyType | SObject::DatedConversionRate => 0,
        }
    }

    /// Whether record `i` of `object` was deleted through `config.deleted`.
    pub(crate) fn deleted_by_config(&self, object: SObject, i: usize) -> bool {
        self.deleted.contains(&(object, i))
    }

    /// When a deal was deleted: archived by the generator or through `config.deleted`.
    pub(crate) fn deal_deleted_at(&self, d: usize) -> Option<DateTime<Utc>> {
        let co = &self.company;
        co.deals[d].archived_at.or_else(|| {
            self.deleted_by_config(SObject::Opportunity, d)
                .then(|| co.today.and_time(NaiveTime::MIN).and_utc())
        })
    }

    /// When a contact was deleted: archived by the generator or through `config.deleted`.
    pub(crate) fn contact_deleted_at(&self, c: usize) -> Option<DateTime<Utc>> {
        let co = &self.company;
        co.contacts[c].archived_at.or_else(|| {
            self.deleted_by_config(SObject::Contact, c)
                .then(|| co.today.and_time(NaiveTime::MIN).and_utc())
        })
    }

    /// A deal's `ARR__c`: the annual value of its term, rounded to cents.
    pub(crate) fn deal_arr(&self, d: usize) -> Value {
        let d = &self.company.deals[d];
        if d.term_months == 0 {
            Value::Null
        } else {
            decimal_number(
                (d.amount * Decimal::from(12) / Decimal::from(d.term_months)).round_dp(2),
            )
        }
    }

    pub(crate) fn account_id(&self, i: usize) -> Value {
        self.company.accounts.get(i).map_or(Value::Null, |a| {
            Value::String(salesforce_id(SObject::Account, numeric_id(&a.id, i)))
        })
    }

    pub(crate) fn owner_id(&self, i: usize) -> Value {
        self.company.owners.get(i).map_or(Value::Null, |o| {
            Value::String(salesforce_id(SObject::User, numeric_id(&o.id, i)))
        })
    }

    /// Every field of record `i` of `object`, as Salesforce would serve it.
    pub(crate) fn record(&self, object: SObject, i: usize) -> Map<String, Value> {
        let co = &self.company;
        let revision = self.faults.revision(object.as_str(), i);
        let rev_suffix = revision.map_or(String::new(), |r| format!(" (rev {})", r.number));
        let mut r = Map::new();
        let mut put = |k: &str, v: Value| {
            r.insert(k.to_owned(), v);
        };
        let (created, updated, deleted_at) = match object {
            SObject::Account => {
                let a = &co.accounts[i];
                put(
                    "Id",
                    Value::String(salesforce_id(object, numeric_id(&a.id, i))),
                );
                put("Name", json!(a.name));
                put("Type", json!("Customer"));
                put("Industry", json!(industry_label(a.industry)));
                put("BillingCountry", json!(a.country));
                put("BillingCity", json!(a.city));
                put("Website", json!(format!("https://www.{}", a.domain)));
                let employees =
                    u64::from(a.employees) + u64::from(revision.map_or(0, |r| r.number));
                put("NumberOfEmployees", json!(employees));
                put("OwnerId", self.owner_id(a.owner));
                put("CurrencyIsoCode", json!(a.currency.as_str()));
                (a.created_at, a.updated_at, a.archived_at)
            }
            SObject::Contact => {
                let c = &co.contacts[i];
                put(
                    "Id",
                    Value::String(salesforce_id(object, numeric_id(&c.id, i))),
                );
                put("AccountId", self.account_id(c.account));
                put("FirstName", json!(c.first_name));
                put("LastName", json!(c.last_name));
                put("Name", json!(format!("{} {}", c.first_name, c.last_name)));
                put("Email", json!(c.email));
                put("Title", json!(format!("{}{rev_suffix}", c.job_title)));
                let owner = co.accounts.get(c.account).map_or(usize::MAX, |a| a.owner);
                put("OwnerId", self.owner_id(owner));
                (c.created_at, c.updated_at, c.archived_at)
            }
            SObject::Opportunity => {
                let d = &co.deals[i];
                put(
                    "Id",
                    Value::String(salesforce_id(object, numeric_id(&d.id, i))),
                );
                put("AccountId", self.account_id(d.account));
                put("Name", json!(format!("{}{rev_suffix}", d.name)));
                put("StageName", json!(stage_name(d.stage)));
                put("Amount", decimal_number(d.amount));
                put(
                    "CloseDate",
                    json!(d.close_date.date_naive().format("%Y-%m-%d").to_string()),
                );
                put("Type", json!(opportunity_type(d.motion)));
                let won = d.stage == DealStage::Won;
                let closed = won || d.stage == DealStage::Lost;
                put("IsWon", json!(won));
                put("IsClosed", json!(closed));
                put("Probability", json!(probability(d.stage)));
                put("CurrencyIsoCode", json!(d.currency.as_str()));
                put("ARR__c", self.deal_arr(i));
                put("Term_Months__c", json!(d.term_months));
                let owner = co.accounts.get(d.account).map_or(usize::MAX, |a| a.owner);
                put("OwnerId", self.owner_id(owner));
                (d.created_at, d.updated_at, d.archived_at)
            }
            SObject::User => {
                let o = &co.owners[i];
                put(
                    "Id",
                    Value::String(salesforce_id(object, numeric_id(&o.id, i))),
                );
                put("Username", json!(o.email));
                put("FirstName", json!(o.first_name));
                put("LastName", json!(o.last_name));
                put("Name", json!(format!("{} {}", o.first_name, o.last_name)));
                put("Email", json!(o.email));
                put("IsActive", json!(true));
                let start = co.history_start.and_time(NaiveTime::MIN).and_utc();
                (start, start, None)
            }
            SObject::Contract => {
                let di = self.contracts[i];
                let d = &co.deals[di];
                let n = numeric_id(&d.id, di);
                put("Id", Value::String(salesforce_id(object, n)));
                put("AccountId", self.account_id(d.account));
                put("ContractNumber", json!(format!("{:08}", n % 100_000_000)));
                // Salesforce derives EndDate as the last day of the term, inclusive.
                let end = d.end_date();
                let last_day = end.checked_sub_days(Days::new(1)).unwrap_or(end);
                let expired = co.today > last_day;
                let status = if expired { "Expired" } else { "Activated" };
                put("Status", json!(status));
                put("StatusCode", json!(status));
                put(
                    "StartDate",
                    json!(d.start_date().format("%Y-%m-%d").to_string()),
                );
                put("EndDate", json!(last_day.format("%Y-%m-%d").to_string()));
                put("ContractTerm", json!(d.term_months));
                put("ActivatedDate", json!(sf_datetime(d.close_date)));
                put("ARR__c", self.deal_arr(di));
                put("CurrencyIsoCode", json!(d.currency.as_str()));
                let owner = co.accounts.get(d.account).map_or(usize::MAX, |a| a.owner);
                put("OwnerId", self.owner_id(owner));
                let created = d.close_date.max(d.created_at);
                let mut updated = created.max(d.updated_at);
                if expired {
                    // The nightly job that expires contracts touches them.
                    updated = updated.max(end.and_time(NaiveTime::MIN).and_utc());
                }
                (created, updated, self.deal_deleted_at(di))
            }
            SObject::OpportunityContactRole => {
                let role = &self.contact_roles[i];
                let d = &co.deals[role.deal];
                let c = &co.contacts[role.contact];
                put("Id", Value::String(salesforce_id(object, role.n)));
                put(
                    "OpportunityId",
                    Value::String(salesforce_id(
                        SObject::Opportunity,
                        numeric_id(&d.id, role.deal),
                    )),
                );
                put(
                    "ContactId",
                    Value::String(salesforce_id(
                        SObject::Contact,
                        numeric_id(&c.id, role.contact),
                    )),
                );
                put("Role", json!(role.role));
                put("IsPrimary", json!(role.primary));
                let created = d.close_date.max(c.created_at);
                let deleted = match (
                    self.deal_deleted_at(role.deal),
                    self.contact_deleted_at(role.contact),
                ) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                (created, created, deleted)
            }
            SObject::CurrencyType => {
                let code = CURRENCIES[i];
                put("Id", Value::String(salesforce_id(object, i as u64 + 1)));
                put("IsoCode", json!(code));
                let latest = self
                    .rates
                    .iter()
                    .filter(|r| r.iso_code == code)
                    .max_by_key(|r| r.start_date)
                    .map_or(Decimal::ONE, |r| r.rate);
                put("ConversionRate", decimal_number(latest));
                put("DecimalPlaces", json!(2));
                put("IsActive", json!(true));
                put("IsCorporate", json!(code == CORPORATE_CURRENCY));
                let start = co.history_start.and_time(NaiveTime::MIN).and_utc();
                (start, start, None)
            }
            SObject::DatedConversionRate => {
                let rate = &self.rates[i];
                put("Id", Value::String(salesforce_id(object, i as u64 + 1)));
                put("IsoCode", json!(rate.iso_code));
                put("ConversionRate", decimal_number(rate.rate));
                put(
                    "StartDate",
                    json!(rate.start_date.format("%Y-%m-%d").to_string()),
                );
                // Salesforce keeps each rate's end as the next rate's start.
                let next = self
                    .rates
                    .iter()
                    .filter(|r| r.iso_code == rate.iso_code && r.start_date > rate.start_date)
                    .map(|r| r.start_date)
                    .min();
                put(
                    "NextStartDate",
                    next.map_or(Value::Null, |n| json!(n.format("%Y-%m-%d").to_string())),
                );
                let start = co.history_start.and_time(NaiveTime::MIN).and_utc();
                (start, start, None)
            }
        };
        let deleted_at = deleted_at.or_else(|| {
            self.deleted
                .contains(&(object, i))
                .then(|| co.today.and_time(NaiveTime::MIN).and_utc())
        });
        let updated = revision.map_or(updated, |r| r.updated_at.max(updated));
        let modstamp = deleted_at.map_or(updated, |d| d.max(updated));
        put("CreatedDate", json!(sf_datetime(created)));
        put("LastModifiedDate", json!(sf_datetime(updated)));
        put("SystemModstamp", json!(sf_datetime(modstamp)));
        if object.fields().contains(&"IsDeleted") {
            put("IsDeleted", json!(deleted_at.is_some()));
        }
        if self.malformed.contains(&(object, i)) {
            // What a broken integration or a lenient proxy leaves behind.
            match object {
                SObject::Account => {
                    r.insert("NumberOfEmployees".into(), json!("lots"));
                }
                SObject::Contact => {
                    r.insert("CreatedDate".into(), json!("yesterday"));
                }
                SObject::Opportunity => {
                    r.insert("Amount".into(), json!("n/a"));
                    r.insert("ARR__c".into(), json!("n/a"));
                }
                SObject::Contract => {
                    r.insert("ContractTerm".into(), json!("twelve"));
                }
                SObject::OpportunityContactRole => {
                    r.insert("IsPrimary".into(), json!("sometimes"));
                }
                SObject::User | SObject::CurrencyType | SObject::DatedConversionRate => {}
            }
        }
        r
    }
}
