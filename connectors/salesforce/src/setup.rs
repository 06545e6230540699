//! What a read needs to know about the org before its first query, fetched when the read
//! starts: the object's `describe` (cached for [`crate::DESCRIBE_MAX_AGE`]), from which the
//! select list is built and the mapping's fields are checked, the users who own accounts,
//! and the corporate currency that dated rates are quoted against.

use crate::{ACCOUNT, DESCRIBE_MAX_AGE, OPPORTUNITY, Object, RATES, SalesforceConnector, mapping};
use chrono::{NaiveDate, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::Instant;
use tributary_connector::map::{FieldCatalog, Fields};
use tributary_connector::{ConnectorError, HttpRequest};
use tributary_model::Currency;

/// What one read of a stream knows about the org, fetched once when the read starts.
#[derive(Debug)]
pub(crate) struct Run {
    /// The select list ([`SalesforceConnector::select_list`]).
    pub(crate) fields: Vec<String>,
    /// User id → email (else name); filled for `Account` reads.
    pub(crate) owners: HashMap<String, String>,
    /// The org's corporate currency; known for `DatedConversionRate` reads.
    pub(crate) corporate: Option<Currency>,
    /// The day the read started, for terms that run to today.
    pub(crate) today: NaiveDate,
}

impl SalesforceConnector {
    /// `GET …/sobjects/{object}/describe`, at most once per [`DESCRIBE_MAX_AGE`]; `None` when
    /// the org has no such object (404).
    async fn describe(
        &self,
        object: &'static str,
    ) -> Result<Option<Arc<FieldCatalog>>, ConnectorError> {
        let cached = self
            .describes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(object)
            .filter(|(at, _)| at.elapsed() < DESCRIBE_MAX_AGE)
            .map(|(_, d)| d.clone());
        if let Some(describe) = cached {
            return Ok(describe);
        }
        let base = self.instance_url().await?;
        let url = format!(
            "{base}/services/data/{}/sobjects/{object}/describe",
            self.config.api_version
        );
        let describe = match self.ctx.http.send(&HttpRequest::get(&url)).await {
            Ok(response) => Some(Arc::new(
                FieldCatalog::from_names(&response.body, "fields").ok_or_else(|| {
                    ConnectorError::Decode {
                        url: url.clone(),
                        message: "the describe result has no `fields` array".to_owned(),
                    }
                })?,
            )),
            Err(ConnectorError::Http { status: 404, .. }) => None,
            Err(e) => return Err(e),
        };
        self.describes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(object, (Instant::now(), describe.clone()));
        Ok(describe)
    }

    /// Whether the org has multi-currency enabled: `Opportunity` has `CurrencyIsoCode`.
    async fn multi_currency(&self) -> Result<bool, ConnectorError> {
        Ok(self
            .describe(OPPORTUNITY)
            .await?
            .is_some_and(|d| d.field("CurrencyIsoCode").is_some()))
    }

    /// The fields a REST read of `object` selects: its base fields, `CurrencyIsoCode` when the
    /// org has it (a single-currency org answers `INVALID_FIELD` otherwise), and for the
    /// subscription object the mapping's fields. A field the instance configured must exist
    /// (else a config error naming object and field, before any record is read); a default
    /// field the object lacks is left out (`Type` on `Contract`), except the amount when there
    /// is no ARR field, which ARR cannot do without.
    pub(crate) async fn select_list(&self, object: Object) -> Result<Vec<String>, ConnectorError> {
        let mut fields: Vec<String> = object
            .vendor
            .fields
            .split(", ")
            .map(str::to_owned)
            .collect();
        let mapped = object.name == self.subscription_object();
        if !object.vendor.currency && !mapped {
            return Ok(fields);
        }
        let Some(describe) = self.describe(object.name).await? else {
            return Err(self.config_error(format!(
                "the org has no sObject `{}` (describe answered 404)",
                object.name
            )));
        };
        if object.vendor.currency
            && let Some(f) = describe.field("CurrencyIsoCode")
        {
            fields.push(f.to_owned());
        }
        if mapped {
            let instance = &self.ctx.instance;
            let lookup = |f: &str| describe.field(f);
            let settings = &self.config.mapping;
            for name in self
                .mapping
                .fields_on(settings, instance, object.name, lookup)?
            {
                if !fields.iter().any(|f| f.eq_ignore_ascii_case(name)) {
                    fields.push(name.to_owned());
                }
            }
        }
        Ok(fields)
    }

    /// User id → email (else name), for resolving account owners: one query per read.
    async fn load_owners(&self) -> Result<HashMap<String, String>, ConnectorError> {
        let rows = self
            .query_all_rows("SELECT Id, Email, Name FROM User".to_owned())
            .await?;
        let owners: HashMap<String, String> = rows
            .iter()
            .filter_map(|u| {
                let id = mapping::record_id(u)?;
                let f = Fields::new(u, "User", &id);
                let email = f.text("Email").map(|e| e.to_ascii_lowercase());
                Some((id.clone(), email.or_else(|| f.text("Name"))?))
            })
            .collect();
        tracing::debug!(
            stream = ACCOUNT,
            users = owners.len(),
            "salesforce users loaded for account owners"
        );
        Ok(owners)
    }

    /// The org's corporate currency, which dated rates are quoted against.
    async fn load_corporate(&self) -> Result<Currency, ConnectorError> {
        let rows = self
            .query_all_rows("SELECT IsoCode FROM CurrencyType WHERE IsCorporate = true".to_owned())
            .await?;
        let code = rows
            .first()
            .and_then(|r| r.get("IsoCode"))
            .and_then(Value::as_str)
            .ok_or_else(|| ConnectorError::Decode {
                url: self.config.endpoint.clone(),
                message: "the org has no corporate currency (CurrencyType with IsCorporate = true)"
                    .to_owned(),
            })?;
        let currency = Currency::parse(code).map_err(|e| ConnectorError::Decode {
            url: self.config.endpoint.clone(),
            message: format!("corporate currency `{code}`: {e}"),
        })?;
        Ok(currency)
    }

    /// Everything a read of `object` needs before its first query: the describe checks and
    /// select list, the owners (`Account`), the corporate currency (`DatedConversionRate`).
    /// `None` when there is nothing to read (rates of a single-currency org).
    pub(crate) async fn prepare(&self, object: Object) -> Result<Option<Run>, ConnectorError> {
        let mut run = Run {
            fields: Vec::new(),
            owners: HashMap::new(),
            corporate: None,
            today: Utc::now().date_naive(),
        };
        match object.name {
            RATES => {
                if !self.multi_currency().await? {
                    tracing::info!(
                        stream = object.name,
                        "single-currency salesforce org: no dated conversion rates to read"
                    );
                    return Ok(None);
                }
                run.corporate = Some(self.load_corporate().await?);
            }
            ACCOUNT => run.owners = self.load_owners().await?,
            _ => {}
        }
        run.fields = self.select_list(object).await?;
        Ok(Some(run))
    }
}
