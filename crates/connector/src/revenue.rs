//! How a CRM instance's won deals become subscriptions: the per-instance field mapping of
//! `tributary.toml` (`[connectors.<name>.mapping]`), shared by every CRM connector so that ARR,
//! term and motion mean the same everywhere.
//!
//! A connector starts from its vendor's standard fields ([`RevenueMapping`] built by the
//! connector), overlays what the instance configures ([`MappingSettings::resolve`]), requests
//! exactly the fields the result names ([`RevenueMapping::fields`], so a custom field that an
//! org does not have is never selected unless configured), reads their values with its own
//! vendor-aware accessors and hands them to [`RevenueMapping::arr`] and
//! [`RevenueMapping::motion`]. [`CrmSettings::parse`] checks what every CRM configuration
//! has alike (endpoint, default currency, mapping); [`RevenueMapping::ensure_fields_exist`]
//! and [`RevenueMapping::fields_on`] check the mapping against the vendor's field metadata.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tributary_model::{ArrBasis, Currency, RevenueEventKind};

use crate::{ConnectorError, check_endpoint};

/// Longest term a contract may have, in months.
pub const MAX_TERM_MONTHS: u32 = 120;

/// The resolved mapping of one CRM instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueMapping {
    /// A field holding ARR directly (`ARR__c`, `hs_arr`); when set and non-empty on a record it
    /// wins over the amount.
    pub arr_field: Option<String>,
    /// The field holding the contract value of the whole term (`Amount`, `amount`).
    pub amount_field: String,
    /// A field holding the term in months (`Term_Months__c`); when unset or empty on a record,
    /// [`RevenueMapping::default_term_months`].
    pub term_field: Option<String>,
    /// The term of records without one.
    pub default_term_months: u32,
    /// The field whose value says what the deal is (`Type`, `dealtype`, `pipeline`).
    pub motion_field: Option<String>,
    /// Values of [`RevenueMapping::motion_field`] and the kind each means; values not listed
    /// leave the motion unknown.
    pub motions: BTreeMap<String, RevenueEventKind>,
}

/// The `[connectors.<name>.mapping]` table: every key optional, overlaying the connector's
/// defaults. `arr_field = ""` / `term_field = ""` / `motion_field = ""` switch a default off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MappingSettings {
    /// Field holding ARR (custom fields welcome: `ARR__c`).
    pub arr_field: Option<String>,
    /// Field holding the term's contract value.
    pub amount_field: Option<String>,
    /// Field holding the term in months.
    pub term_field: Option<String>,
    /// Term of records without one, in months.
    pub default_term_months: Option<u32>,
    /// Field naming the deal's motion.
    pub motion_field: Option<String>,
    /// Motion values and their kinds (`new`, `renewal`, `expansion`, `contraction`,
    /// `churn`); replaces the default table when given.
    pub motions: Option<BTreeMap<String, RevenueEventKind>>,
}

/// A mapping that cannot work; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapping.{key}: {message}")]
pub struct MappingError {
    /// The offending key.
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Why a record's ARR could not be derived; the connector names its record and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrProblem {
    /// The term is outside 1..=[`MAX_TERM_MONTHS`].
    Term(i64),
    /// Neither an ARR nor an amount.
    NoValue,
    /// A negative value.
    Negative(Decimal),
}

impl MappingSettings {
    /// Whether these settings name the field of `mapping.<key>` (a non-empty value).
    pub fn configures(&self, key: &str) -> bool {
        let set = match key {
            "arr_field" => &self.arr_field,
            "amount_field" => &self.amount_field,
            "term_field" => &self.term_field,
            "motion_field" => &self.motion_field,
            _ => return false,
        };
        set.as_deref().is_some_and(|v| !v.trim().is_empty())
    }

    /// `defaults` with these settings laid over them, checked.
    pub fn resolve(&self, defaults: RevenueMapping) -> Result<RevenueMapping, MappingError> {
        let optional = |set: &Option<String>, default: Option<String>| match set {
            None => default,
            Some(s) if s.trim().is_empty() => None,
            Some(s) => Some(s.trim().to_owned()),
        };
        let mapping = RevenueMapping {
            arr_field: optional(&self.arr_field, defaults.arr_field),
            amount_field: match &self.amount_field {
                None => defaults.amount_field,
                Some(s) if s.trim().is_empty() => {
                    return Err(MappingError {
                        key: "amount_field",
                        message: "must name a field".to_owned(),
                    });
                }
                Some(s) => s.trim().to_owned(),
            },
            term_field: optional(&self.term_field, defaults.term_field),
            default_term_months: self
                .default_term_months
                .unwrap_or(defaults.default_term_months),
            motion_field: optional(&self.motion_field, defaults.motion_field),
            motions: self.motions.clone().unwrap_or(defaults.motions),
        };
        if !(1..=MAX_TERM_MONTHS).contains(&mapping.default_term_months) {
            return Err(MappingError {
                key: "default_term_months",
                message: format!(
                    "must be between 1 and {MAX_TERM_MONTHS}, got {}",
                    mapping.default_term_months
                ),
            });
        }
        for (key, field) in mapping.keyed_fields() {
            if let Some(f) = field
                && !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(MappingError {
                    key,
                    message: format!("`{f}` is not a field name (letters, digits and `_`)"),
                });
            }
        }
        Ok(mapping)
    }
}

impl RevenueMapping {
    /// Every field slot of the mapping with its `mapping.*` key, in a stable order (ARR,
    /// amount, term, motion); `None` where the mapping has no such field.
    pub fn keyed_fields(&self) -> [(&'static str, Option<&str>); 4] {
        [
            ("arr_field", self.arr_field.as_deref()),
            ("amount_field", Some(self.amount_field.as_str())),
            ("term_field", self.term_field.as_deref()),
            ("motion_field", self.motion_field.as_deref()),
        ]
    }

    /// The `mapping.*` key that names `field`, for messages.
    pub fn key_of(&self, field: &str) -> &'static str {
        if self.arr_field.as_deref() == Some(field) {
            "arr_field"
        } else if self.amount_field == field {
            "amount_field"
        } else if self.term_field.as_deref() == Some(field) {
            "term_field"
        } else {
            "motion_field"
        }
    }

    /// The fields a read must request for this mapping, without duplicates, in a stable order.
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for f in self.keyed_fields().into_iter().filter_map(|(_, f)| f) {
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }

    /// The term in months, the ARR and how it was derived ([`ArrBasis`]) of a record with
    /// these values of [`RevenueMapping::arr_field`], [`RevenueMapping::amount_field`] and
    /// [`RevenueMapping::term_field`]: the ARR field when present, else `amount × 12 / term`
    /// (the record's term, else [`RevenueMapping::default_term_months`]). Not rounded: the
    /// caller knows the currency and rounds to its minor unit ([`crate::map::Fields::revenue`]).
    pub fn arr(
        &self,
        arr: Option<Decimal>,
        amount: Option<Decimal>,
        term: Option<i64>,
    ) -> Result<(u32, Decimal, ArrBasis), ArrProblem> {
        let (term, term_basis) = match term {
            None => (self.default_term_months, ArrBasis::AmountOverDefaultTerm),
            Some(n) if (1..=i64::from(MAX_TERM_MONTHS)).contains(&n) => {
                (n as u32, ArrBasis::AmountOverTerm)
            }
            Some(n) => return Err(ArrProblem::Term(n)),
        };
        let (value, basis) = match (arr, amount) {
            (Some(arr), _) => (arr, ArrBasis::ArrField),
            (None, Some(amount)) => (amount * Decimal::from(12) / Decimal::from(term), term_basis),
            (None, None) => return Err(ArrProblem::NoValue),
        };
        if value.is_sign_negative() && !value.is_zero() {
            return Err(ArrProblem::Negative(value));
        }
        Ok((term, value, basis))
    }

    /// The kind the motion field's `value` means, when the mapping lists it.
    pub fn motion(&self, value: Option<&str>) -> Option<RevenueEventKind> {
        let v = value?.trim();
        self.motions.get(v).copied().or_else(|| {
            self.motions
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(v))
                .map(|(_, kind)| *kind)
        })
    }
}

impl ArrProblem {
    /// A sentence for a quarantine reason.
    pub fn describe(&self) -> String {
        match self {
            ArrProblem::Term(n) => {
                format!("expected a term between 1 and {MAX_TERM_MONTHS} months, got {n}")
            }
            ArrProblem::NoValue => "a won deal needs an ARR or an amount to derive ARR".to_owned(),
            ArrProblem::Negative(d) => format!("ARR must not be negative, got {d}"),
        }
    }
}

impl RevenueMapping {
    /// Checks that every field this mapping names exists in the instance: `exists` looks a
    /// field up in the vendor's field metadata (HubSpot's property definitions, Salesforce's
    /// `describe`), which `within` describes for the message. The first field missing is a
    /// [`ConnectorError::Config`] of connector `instance` naming its `mapping.<key>` and the
    /// field, so that a typo fails before anything is read instead of as a query error.
    pub fn ensure_fields_exist(
        &self,
        instance: &str,
        within: &str,
        exists: impl Fn(&str) -> bool,
    ) -> Result<(), ConnectorError> {
        match self.fields().into_iter().find(|f| !exists(f)) {
            None => Ok(()),
            Some(field) => Err(ConnectorError::config(
                instance,
                format!(
                    "mapping.{}: `{field}` is not among {within}; name an existing field by its \
                     API name",
                    self.key_of(field)
                ),
            )),
        }
    }

    /// The mapping's fields that `object` has, spelt as its field metadata spells them
    /// (`lookup` finds a field there: Salesforce's `describe`, case-insensitive), for a vendor
    /// whose objects differ in the standard fields they have. A field `settings` configure
    /// must exist, and so must the amount when there is no ARR field (ARR cannot do without
    /// it): else a [`ConnectorError::Config`] of connector `instance` naming the object, the
    /// field and its `mapping.<key>`, before anything is read. A default field the object
    /// lacks is left out (`Type` on a Salesforce `Contract`): its motion is then unknown, its
    /// term the default.
    pub fn fields_on<'d>(
        &self,
        settings: &MappingSettings,
        instance: &str,
        object: &str,
        lookup: impl Fn(&str) -> Option<&'d str>,
    ) -> Result<Vec<&'d str>, ConnectorError> {
        let mut out = Vec::new();
        for (key, field) in self.keyed_fields() {
            let Some(field) = field else { continue };
            let required =
                settings.configures(key) || (key == "amount_field" && self.arr_field.is_none());
            match lookup(field) {
                Some(name) if out.contains(&name) => {}
                Some(name) => out.push(name),
                None if required => {
                    return Err(ConnectorError::config(
                        instance,
                        format!(
                            "`{object}` has no field `{field}` (mapping.{key}); name a field of \
                             `{object}` that exists, by its API name"
                        ),
                    ));
                }
                None => tracing::debug!(
                    object,
                    field,
                    key,
                    "default mapping field absent on the object; not selected"
                ),
            }
        }
        Ok(out)
    }
}

/// What every CRM connector's configuration has and checks alike, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmSettings {
    /// The currency of deals that name none (a single-currency org or portal).
    pub default_currency: Currency,
    /// The instance's `mapping` over the vendor's defaults.
    pub mapping: RevenueMapping,
}

impl CrmSettings {
    /// Checks `endpoint` ([`check_endpoint`]), parses `default_currency` and resolves
    /// `mapping` over the vendor's `defaults`; a failure is a [`ConnectorError::Config`] of
    /// connector `instance` naming the key.
    pub fn parse(
        instance: &str,
        endpoint: &str,
        default_currency: &str,
        mapping: &MappingSettings,
        defaults: RevenueMapping,
    ) -> Result<Self, ConnectorError> {
        let fail = |message: String| ConnectorError::config(instance, message);
        check_endpoint(endpoint).map_err(fail)?;
        Ok(Self {
            default_currency: Currency::parse(default_currency)
                .map_err(|e| fail(format!("default_currency: {e}")))?,
            mapping: mapping.resolve(defaults).map_err(|e| fail(e.to_string()))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn sf() -> RevenueMapping {
        RevenueMapping {
            arr_field: None,
            amount_field: "Amount".into(),
            term_field: None,
            default_term_months: 12,
            motion_field: Some("Type".into()),
            motions: BTreeMap::from([("New Customer".to_owned(), RevenueEventKind::New)]),
        }
    }

    #[test]
    fn settings_overlay_defaults_and_switch_them_off() {
        let m = MappingSettings::default().resolve(sf()).unwrap();
        assert_eq!(m, sf());
        assert_eq!(m.fields(), vec!["Amount", "Type"]);
        let s: MappingSettings = serde_json::from_value(serde_json::json!({
            "arr_field": "ARR__c", "term_field": "Term_Months__c", "motion_field": "",
        }))
        .unwrap();
        let m = s.resolve(sf()).unwrap();
        assert_eq!(m.fields(), vec!["ARR__c", "Amount", "Term_Months__c"]);
        assert_eq!(m.motion(Some("New Customer")), Some(RevenueEventKind::New));
        let s: MappingSettings = serde_json::from_value(serde_json::json!({
            "motions": {"Renewal": "renewal", "New Business": "new"}
        }))
        .unwrap();
        let m = s.resolve(sf()).unwrap();
        assert_eq!(m.motion(Some("renewal ")), Some(RevenueEventKind::Renewal));
        assert_eq!(m.motion(Some("New Customer")), None);
        assert_eq!(m.motion(None), None);
        for (v, key) in [
            (
                serde_json::json!({"default_term_months": 0}),
                "default_term_months",
            ),
            (
                serde_json::json!({"arr_field": "ARR__c; DROP"}),
                "arr_field",
            ),
            (serde_json::json!({"amount_field": " "}), "amount_field"),
        ] {
            let s: MappingSettings = serde_json::from_value(v).unwrap();
            assert_eq!(s.resolve(sf()).unwrap_err().key, key);
        }
        let err =
            serde_json::from_value::<MappingSettings>(serde_json::json!({"arr": "x"})).unwrap_err();
        assert!(err.to_string().contains("unknown field `arr`"), "{err}");
        let err = serde_json::from_value::<MappingSettings>(
            serde_json::json!({"motions": {"Upsell": "upsell"}}),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown variant `upsell`"),
            "{err}"
        );
    }

    #[test]
    fn arr_comes_from_the_arr_field_or_the_amount_over_the_term() {
        let m = sf();
        use ArrBasis as B;
        assert_eq!(
            m.arr(None, Some(d("6000.5")), None),
            Ok((12, d("6000.50"), B::AmountOverDefaultTerm))
        );
        assert_eq!(
            m.arr(None, Some(d("24000")), Some(24)),
            Ok((24, d("12000"), B::AmountOverTerm))
        );
        assert_eq!(
            m.arr(None, Some(d("6000.5")), Some(6)),
            Ok((6, d("12001.00"), B::AmountOverTerm))
        );
        // Exact here; rounded to the currency's minor unit once the currency is known.
        let (_, sevenths, _) = m.arr(None, Some(d("1000")), Some(7)).unwrap();
        assert_eq!(sevenths.round_dp(6), d("1714.285714"));
        assert_eq!(
            m.arr(Some(d("9000")), Some(d("1")), Some(36)),
            Ok((36, d("9000"), B::ArrField))
        );
        assert_eq!(m.arr(None, None, None), Err(ArrProblem::NoValue));
        assert_eq!(m.arr(None, Some(d("1")), Some(0)), Err(ArrProblem::Term(0)));
        assert_eq!(
            m.arr(None, Some(d("1")), Some(121)),
            Err(ArrProblem::Term(121))
        );
        assert_eq!(
            m.arr(Some(d("-5")), None, None),
            Err(ArrProblem::Negative(d("-5")))
        );
        assert!(ArrProblem::Term(0).describe().contains("got 0"));
    }

    #[test]
    fn a_mapped_field_the_instance_lacks_is_a_config_error_naming_its_key() {
        let s: MappingSettings =
            serde_json::from_value(serde_json::json!({"term_field": "Term__c"})).unwrap();
        let m = s.resolve(sf()).unwrap();
        let existing = ["Amount", "Type"];
        let within = "the fields of `Opportunity`";
        let exists = |f: &str| existing.contains(&f);
        assert!(sf().ensure_fields_exist("prod", within, exists).is_ok());
        match m.ensure_fields_exist("prod", within, exists) {
            Err(ConnectorError::Config { instance, message }) => {
                assert_eq!(instance, "prod");
                assert_eq!(
                    message,
                    "mapping.term_field: `Term__c` is not among the fields of `Opportunity`; \
                     name an existing field by its API name"
                );
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn default_fields_an_object_lacks_are_left_out_and_configured_ones_required() {
        let contract = ["Id", "ARR__c", "ContractTerm"];
        let lookup = |f: &str| contract.iter().copied().find(|c| c.eq_ignore_ascii_case(f));
        let settings = |v| serde_json::from_value::<MappingSettings>(v).unwrap();
        let with_arr = settings(serde_json::json!({"arr_field": "arr__c"}));
        let m = with_arr.resolve(sf()).unwrap();
        // The amount is optional beside an ARR field, the default `Type` is left out, and the
        // object's own spelling is kept.
        assert_eq!(
            m.fields_on(&with_arr, "prod", "Contract", lookup).unwrap(),
            vec!["ARR__c"]
        );
        let default = MappingSettings::default();
        match sf().fields_on(&default, "prod", "Contract", lookup) {
            Err(ConnectorError::Config { instance, message }) => {
                assert_eq!(instance, "prod");
                assert!(
                    message.starts_with("`Contract` has no field `Amount` (mapping.amount_field)"),
                    "{message}"
                );
            }
            other => panic!("expected a config error, got {other:?}"),
        }
        let motion =
            settings(serde_json::json!({"arr_field": "ARR__c", "motion_field": "Kind__c"}));
        let m = motion.resolve(sf()).unwrap();
        let err = m
            .fields_on(&motion, "prod", "Contract", lookup)
            .unwrap_err();
        assert!(err.to_string().contains("(mapping.motion_field)"), "{err}");
        assert!(motion.configures("arr_field") && !motion.configures("term_field"));
        assert!(!settings(serde_json::json!({"term_field": " "})).configures("term_field"));
    }

    #[test]
    fn crm_settings_check_the_endpoint_currency_and_mapping() {
        let ok = CrmSettings::parse(
            "prod",
            "https://x.test",
            "EUR",
            &MappingSettings::default(),
            sf(),
        )
        .unwrap();
        assert_eq!((ok.default_currency.as_str(), ok.mapping), ("EUR", sf()));
        let bad_term =
            serde_json::from_value(serde_json::json!({"default_term_months": 0})).unwrap();
        for (endpoint, currency, mapping, expected) in [
            (
                "login",
                "EUR",
                MappingSettings::default(),
                "endpoint `login` is not a URL",
            ),
            (
                "https://x.test",
                "dollars",
                MappingSettings::default(),
                "default_currency: ",
            ),
            (
                "https://x.test",
                "EUR",
                bad_term,
                "mapping.default_term_months: ",
            ),
        ] {
            match CrmSettings::parse("prod", endpoint, currency, &mapping, sf()) {
                Err(ConnectorError::Config { instance, message }) => {
                    assert_eq!(instance, "prod");
                    assert!(message.starts_with(expected), "{message}");
                }
                other => panic!("expected a config error, got {other:?}"),
            }
        }
    }
}
