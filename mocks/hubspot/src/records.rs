//! The world → HubSpot translation: every property of a company, contact and deal as HubSpot
//! stores it, and a record rendered as the list and search endpoints return it. The only place
//! (with the pipelines and property definitions) that names HubSpot's properties.

use crate::*;

impl MockState {
    pub(crate) fn archived_at(&self, object: HubspotObject, i: usize) -> Option<DateTime<Utc>> {
        match object {
            HubspotObject::Companies => self.company.accounts[i].archived_at,
            HubspotObject::Contacts => self.company.contacts[i].archived_at,
            HubspotObject::Deals => self.company.deals[i].archived_at,
        }
    }

    pub(crate) fn len(&self, object: HubspotObject) -> usize {
        self.ids[slot(object)].len()
    }

    pub(crate) fn id(&self, object: HubspotObject, i: usize) -> &str {
        match object {
            HubspotObject::Companies => &self.company.accounts[i].id,
            HubspotObject::Contacts => &self.company.contacts[i].id,
            HubspotObject::Deals => &self.company.deals[i].id,
        }
    }

    /// The record's latest change by the `mutate` knob, if any.
    pub(crate) fn revision(&self, object: HubspotObject, i: usize) -> Option<Revision> {
        self.faults.revision(object.as_str(), i)
    }

    /// Every property of a record, by name, as HubSpot would store it (strings or null).
    pub(crate) fn properties(
        &self,
        object: HubspotObject,
        i: usize,
    ) -> Vec<(&'static str, Option<String>)> {
        let co = &self.company;
        let malformed = self.malformed[slot(object)].contains(&i);
        let revision = self.revision(object, i);
        let rev = revision.map_or(0, |r| r.number);
        let (_, updated) = self.created_updated(object, i);
        // A changed text property keeps its value and says which revision it is.
        let revised = |text: &str| match rev {
            0 => text.to_owned(),
            n => format!("{text} (rev {n})"),
        };
        match object {
            HubspotObject::Companies => {
                let a = &co.accounts[i];
                vec![
                    (
                        "name",
                        Some(if malformed {
                            String::new()
                        } else {
                            a.name.clone()
                        }),
                    ),
                    ("domain", Some(a.domain.clone())),
                    ("industry", Some(industry(a.industry).to_owned())),
                    ("city", Some(a.city.clone())),
                    ("country", Some(a.country.clone())),
                    (
                        "numberofemployees",
                        Some((u64::from(a.employees) + u64::from(rev)).to_string()),
                    ),
                    (
                        "hubspot_owner_id",
                        co.owners.get(a.owner).map(|o| o.id.clone()),
                    ),
                    ("lifecyclestage", Some("customer".to_owned())),
                    ("segment", Some(a.segment.as_str().to_owned())),
                    ("region", Some(a.region.clone())),
                    ("seats", Some(a.seats.to_string())),
                    ("createdate", Some(timestamp(a.created_at))),
                    ("hs_lastmodifieddate", Some(timestamp(updated))),
                    ("hs_object_id", Some(a.id.clone())),
                ]
            }
            HubspotObject::Contacts => {
                let c: &SimContact = &co.contacts[i];
                let (first, last, email) = if malformed {
                    (None, None, MALFORMED_EMAIL.to_owned())
                } else {
                    (
                        Some(c.first_name.clone()),
                        Some(c.last_name.clone()),
                        c.email.clone(),
                    )
                };
                vec![
                    ("firstname", first),
                    ("lastname", last),
                    ("email", Some(email)),
                    ("jobtitle", Some(revised(&c.job_title))),
                    ("role", Some(c.role.as_str().to_owned())),
                    ("lifecyclestage", Some("customer".to_owned())),
                    (
                        "associatedcompanyid",
                        co.accounts.get(c.account).map(|a| a.id.clone()),
                    ),
                    ("createdate", Some(timestamp(c.created_at))),
                    ("lastmodifieddate", Some(timestamp(updated))),
                    ("hs_object_id", Some(c.id.clone())),
                ]
            }
            HubspotObject::Deals => {
                let d: &SimDeal = &co.deals[i];
                let amount = if malformed {
                    MALFORMED_AMOUNT.to_owned()
                } else {
                    // HubSpot echoes numbers as entered: `4200`, not `4200.00`.
                    d.amount.normalize().to_string()
                };
                let stage = deal_stage(d);
                let mut props = vec![
                    ("dealname", Some(revised(&d.name))),
                    ("amount", Some(amount)),
                ];
                if self.config.multi_currency {
                    props.push(("deal_currency_code", Some(d.currency.to_string())));
                }
                props.extend([
                    ("dealstage", Some(stage.id.to_owned())),
                    ("pipeline", Some(deal_pipeline(d).id.to_owned())),
                    ("closedate", Some(timestamp(d.close_date))),
                    ("dealtype", Some(dealtype(d.motion).to_owned())),
                    (DEAL_MOTION_PROPERTY, Some(deal_motion(d.motion).to_owned())),
                    ("hs_is_closed_won", Some(d.stage.is_won().to_string())),
                    ("hs_is_closed", Some(d.stage.is_closed().to_string())),
                    (
                        "hs_deal_stage_probability",
                        Some(stage.probability.to_owned()),
                    ),
                    (
                        "hubspot_owner_id",
                        co.accounts
                            .get(d.account)
                            .and_then(|a| co.owners.get(a.owner))
                            .map(|o| o.id.clone()),
                    ),
                    ("term_months", Some(d.term_months.to_string())),
                    ("createdate", Some(timestamp(d.created_at))),
                    ("hs_lastmodifieddate", Some(timestamp(updated))),
                    ("hs_object_id", Some(d.id.clone())),
                ]);
                props
            }
        }
    }

    /// When the record was created and last modified (by the `mutate` knob, when it was).
    pub(crate) fn created_updated(
        &self,
        object: HubspotObject,
        i: usize,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let (created, updated) = self.generated_times(object, i);
        match self.revision(object, i) {
            Some(r) => (created, r.updated_at.max(updated)),
            None => (created, updated),
        }
    }

    pub(crate) fn generated_times(
        &self,
        object: HubspotObject,
        i: usize,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        match object {
            HubspotObject::Companies => {
                let a = &self.company.accounts[i];
                (a.created_at, a.updated_at)
            }
            HubspotObject::Contacts => {
                let c = &self.company.contacts[i];
                (c.created_at, c.updated_at)
            }
            HubspotObject::Deals => {
                let d = &self.company.deals[i];
                (d.created_at, d.updated_at)
            }
        }
    }

    /// Ids of the records of `to` associated with record `i` of `from`.
    pub(crate) fn associated(&self, from: HubspotObject, i: usize, to: HubspotObject) -> Vec<&str> {
        use HubspotObject as O;
        let co = &self.company;
        let live = |object: HubspotObject, j: usize| self.archived_at(object, j).is_none();
        let company_of = |a: usize| -> Vec<&str> {
            if a < co.accounts.len() && live(O::Companies, a) {
                vec![co.accounts[a].id.as_str()]
            } else {
                Vec::new()
            }
        };
        match (from, to) {
            (O::Contacts, O::Companies) => company_of(co.contacts[i].account),
            (O::Deals, O::Companies) => company_of(co.deals[i].account),
            (O::Companies, O::Contacts) => self.contacts_by_account[i]
                .iter()
                .filter(|&&j| live(O::Contacts, j))
                .map(|&j| co.contacts[j].id.as_str())
                .collect(),
            (O::Companies, O::Deals) => self.deals_by_account[i]
                .iter()
                .filter(|&&j| live(O::Deals, j))
                .map(|&j| co.deals[j].id.as_str())
                .collect(),
            (O::Deals, O::Contacts) => self.deal_contacts[i]
                .iter()
                .filter(|&&j| live(O::Contacts, j))
                .map(|&j| co.contacts[j].id.as_str())
                .collect(),
            (O::Contacts, O::Deals) => self.contact_deals[i]
                .iter()
                .filter(|&&j| live(O::Deals, j))
                .map(|&j| co.deals[j].id.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn render(
        &self,
        object: HubspotObject,
        i: usize,
        requested: &Option<Vec<String>>,
        associations: &[HubspotObject],
    ) -> Value {
        let all = self.properties(object, i);
        let always = ["createdate", object.modified_property(), "hs_object_id"];
        let mut props = Map::new();
        for (name, value) in all {
            let wanted = match requested {
                Some(list) => always.contains(&name) || list.iter().any(|p| p == name),
                None => object.default_properties().contains(&name),
            };
            if wanted {
                let value = match value {
                    None => Value::Null,
                    Some(v) if self.config.numeric_properties.iter().any(|p| p == name) => v
                        .parse::<serde_json::Number>()
                        .map_or(Value::String(v), Value::Number),
                    Some(v) => Value::String(v),
                };
                props.insert(name.to_owned(), value);
            }
        }
        let (created, updated) = self.created_updated(object, i);
        let archived_at = self.archived_at(object, i);
        let mut record = Map::new();
        record.insert("id".into(), Value::String(self.id(object, i).to_owned()));
        record.insert("properties".into(), Value::Object(props));
        record.insert("createdAt".into(), Value::String(timestamp(created)));
        record.insert(
            "updatedAt".into(),
            Value::String(timestamp(archived_at.unwrap_or(updated).max(updated))),
        );
        record.insert("archived".into(), Value::Bool(archived_at.is_some()));
        if let Some(at) = archived_at {
            record.insert("archivedAt".into(), Value::String(timestamp(at)));
        }
        let mut assoc = Map::new();
        for &to in associations {
            let ids = self.associated(object, i, to);
            if ids.is_empty() {
                continue;
            }
            let label = format!("{}_to_{}", object.singular(), to.singular());
            let mut results = Vec::new();
            for id in ids {
                results.push(json!({"id": id, "type": label}));
                // Real portals list a primary association a second time, unlabeled.
                if to == HubspotObject::Companies {
                    results.push(json!({"id": id, "type": format!("{label}_unlabeled")}));
                }
            }
            assoc.insert(to.as_str().to_owned(), json!({ "results": results }));
        }
        if !assoc.is_empty() {
            record.insert("associations".into(), Value::Object(assoc));
        }
        Value::Object(record)
    }
}

/// HubSpot's `industry` enumeration value of an industry (from the portal's default options).
pub(crate) fn industry(industry: Industry) -> &'static str {
    match industry {
        Industry::ComputerSoftware => "COMPUTER_SOFTWARE",
        Industry::FinancialServices => "FINANCIAL_SERVICES",
        Industry::HospitalHealthCare => "HOSPITAL_HEALTH_CARE",
        Industry::Machinery => "MACHINERY",
        Industry::Retail => "RETAIL",
        Industry::ELearning => "E_LEARNING",
        Industry::LogisticsAndSupplyChain => "LOGISTICS_AND_SUPPLY_CHAIN",
        Industry::MarketingAndAdvertising => "MARKETING_AND_ADVERTISING",
        Industry::Telecommunications => "TELECOMMUNICATIONS",
        Industry::OilEnergy => "OIL_ENERGY",
        Industry::ManagementConsulting => "MANAGEMENT_CONSULTING",
        Industry::Insurance => "INSURANCE",
    }
}

/// HubSpot's own `dealtype`: `newbusiness` or `existingbusiness`, which cannot tell a renewal
/// from an expansion (the portal's custom `deal_motion` can).
pub(crate) fn dealtype(motion: DealMotion) -> &'static str {
    match motion {
        DealMotion::NewBusiness => "newbusiness",
        _ => "existingbusiness",
    }
}
