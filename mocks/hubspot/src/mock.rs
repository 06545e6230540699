//! [`HubspotMock`]: the state one mock instance serves from, its routes and its fault bodies.

use crate::*;

pub(crate) struct RateWindow {
    pub(crate) started: Instant,
    pub(crate) used: u32,
}

pub(crate) struct MockState {
    pub(crate) company: Arc<Company>,
    pub(crate) config: HubspotMockConfig,
    pub(crate) faults: FaultInjector,
    pub(crate) malformed: [HashSet<usize>; 3],
    /// Numeric ids per object type, ascending (the generator assigns them so).
    pub(crate) ids: [Vec<u64>; 3],
    pub(crate) contacts_by_account: Vec<Vec<usize>>,
    pub(crate) deals_by_account: Vec<Vec<usize>>,
    /// Per deal, its contacts (indices), the primary first ([`deal_contacts`]).
    pub(crate) deal_contacts: Vec<Vec<usize>>,
    /// Per contact, the deals it is associated with, in id order.
    pub(crate) contact_deals: Vec<Vec<usize>>,
    pub(crate) window: Mutex<RateWindow>,
    pub(crate) daily_used: AtomicU64,
}

pub(crate) fn slot(object: HubspotObject) -> usize {
    match object {
        HubspotObject::Companies => 0,
        HubspotObject::Contacts => 1,
        HubspotObject::Deals => 2,
    }
}

/// The HubSpot mock's routes, serving `company`, wrapped in the fault layer of
/// `config.faults`. Use [`HubspotMock`] to read the fault counters.
/// The revenue field mapping of the simulated portal, as the `mapping` table of a HubSpot
/// connector's configuration: the term in its custom `term_months` property, and the motion
/// in its custom `deal_motion` property, whose options name every motion the generator has (a
/// mid-term `add_on` adds ARR: an expansion). With it, every subscription's ARR, term and
/// motion equal the generator's truth; HubSpot's own `dealtype` (`newbusiness` /
/// `existingbusiness`) could not tell renewals from expansions. Data, not a connector type:
/// the simulator knows the portal, the connector knows nothing of the simulator.
pub fn revenue_mapping() -> Value {
    json!({
        "term_field": "term_months",
        "motion_field": "deal_motion",
        "motions": {
            "new_business": "new",
            "renewal": "renewal",
            "expansion": "expansion",
            "contraction": "contraction",
            "add_on": "expansion",
        },
    })
}

pub fn router(company: Arc<Company>, config: HubspotMockConfig) -> Router {
    HubspotMock::new(company, config).router()
}

/// One HubSpot mock instance: its state, its fault injector and the routes serving them.
/// Clones share everything.
#[derive(Clone)]
pub struct HubspotMock {
    pub(crate) state: Arc<MockState>,
}

impl std::fmt::Debug for HubspotMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubspotMock")
            .field("config", &self.state.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl HubspotMock {
    /// A mock serving `company` as configured; faults draw from the company's seed.
    pub fn new(company: Arc<Company>, config: HubspotMockConfig) -> Self {
        let parse_ids = |ids: Vec<&String>| -> Vec<u64> {
            ids.into_iter()
                .map(|id| id.parse().unwrap_or(u64::MAX))
                .collect()
        };
        let ids = [
            parse_ids(company.accounts.iter().map(|a| &a.id).collect()),
            parse_ids(company.contacts.iter().map(|c| &c.id).collect()),
            parse_ids(company.deals.iter().map(|d| &d.id).collect()),
        ];
        debug_assert!(
            ids.iter().all(|v| v.windows(2).all(|w| w[0] < w[1])),
            "generated ids ascend"
        );
        let mut contacts_by_account = vec![Vec::new(); company.accounts.len()];
        for (i, c) in company.contacts.iter().enumerate() {
            if let Some(list) = contacts_by_account.get_mut(c.account) {
                list.push(i);
            }
        }
        let mut deals_by_account = vec![Vec::new(); company.accounts.len()];
        for (i, d) in company.deals.iter().enumerate() {
            if let Some(list) = deals_by_account.get_mut(d.account) {
                list.push(i);
            }
        }
        let deal_contacts = deal_contacts(&company);
        let mut contact_deals = vec![Vec::new(); company.contacts.len()];
        for (i, list) in deal_contacts.iter().enumerate() {
            for &j in list {
                contact_deals[j].push(i);
            }
        }
        let state = Arc::new(MockState {
            deal_contacts,
            contact_deals,
            malformed: malformed_indices(&company, &config.faults),
            faults: FaultInjector::for_world(company.seed, company.today, config.faults.clone()),
            company,
            config,
            ids,
            contacts_by_account,
            deals_by_account,
            window: Mutex::new(RateWindow {
                started: Instant::now(),
                used: 0,
            }),
            daily_used: AtomicU64::new(0),
        });
        HubspotMock { state }
    }

    /// The mock's routes wrapped in its fault layer; every router of one mock shares its
    /// state, tokens and counters.
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route("/crm/v3/objects/{object_type}", get(list_objects))
            .route("/crm/v3/objects/{object_type}/search", post(search_objects))
            .route("/crm/v3/objects/{object_type}/{object_id}", get(get_object))
            .route("/crm/v3/pipelines/{object_type}", get(list_pipelines))
            .route("/crm/v3/properties/{object_type}", get(list_properties))
            .route(
                "/crm/v4/associations/{from_type}/{to_type}/batch/read",
                post(batch_read_associations),
            )
            .route(TOKEN_PATH, post(issue_token))
            .fallback(not_found)
            .with_state(self.state.clone());
        self.state
            .faults
            .wrap(routes, HubspotFaults(self.state.clone()))
    }

    /// The configuration it serves with.
    pub fn config(&self) -> &HubspotMockConfig {
        &self.state.config
    }

    /// Its fault injector: the knobs, issued tokens and changed records.
    pub fn faults(&self) -> &FaultInjector {
        &self.state.faults
    }

    /// What its faults have done so far.
    pub fn stats(&self) -> FaultStats {
        self.state.faults.stats()
    }

    /// The records it serves as live (not archived), per object type (`companies`,
    /// `contacts`, `deals`): id → last-modified time (`hs_lastmodifieddate`,
    /// `lastmodifieddate` for contacts), read through the same accessors its routes render
    /// from. What a full read of the portal must land; conformance tests compare with it.
    pub fn live_records(&self) -> BTreeMap<&'static str, BTreeMap<String, DateTime<Utc>>> {
        let s = &self.state;
        HubspotObject::ALL
            .into_iter()
            .map(|object| {
                let records = (0..s.len(object))
                    .filter(|&i| s.archived_at(object, i).is_none())
                    .map(|i| (s.id(object, i).to_owned(), s.created_updated(object, i).1))
                    .collect();
                (object.as_str(), records)
            })
            .collect()
    }

    /// The records it lists under `archived=true`, per object type: id → when archived.
    pub fn archived_records(&self) -> BTreeMap<&'static str, BTreeMap<String, DateTime<Utc>>> {
        let s = &self.state;
        HubspotObject::ALL
            .into_iter()
            .map(|object| {
                let records = (0..s.len(object))
                    .filter_map(|i| Some((s.id(object, i).to_owned(), s.archived_at(object, i)?)))
                    .collect();
                (object.as_str(), records)
            })
            .collect()
    }

    /// The deal→contact associations it serves between live records, as (deal id, contact
    /// id) in deal order, the primary contact first: the same edges as its associations
    /// routes.
    pub fn live_deal_contacts(&self) -> Vec<(String, String)> {
        let s = &self.state;
        let co = &s.company;
        let mut out = Vec::new();
        for (d, contacts) in s.deal_contacts.iter().enumerate() {
            if s.archived_at(HubspotObject::Deals, d).is_some() {
                continue;
            }
            for &c in contacts {
                if s.archived_at(HubspotObject::Contacts, c).is_none() {
                    out.push((co.deals[d].id.clone(), co.contacts[c].id.clone()));
                }
            }
        }
        out
    }
}

impl VendorMock for HubspotMock {
    fn vendor(&self) -> &'static str {
        "hubspot"
    }

    fn router(&self) -> Router {
        HubspotMock::router(self)
    }

    fn credential_hint(&self) -> String {
        self.state.config.credential_hint()
    }

    fn faults(&self) -> &FaultInjector {
        HubspotMock::faults(self)
    }
}

/// HubSpot's bodies for the shared fault layer.
pub(crate) struct HubspotFaults(Arc<MockState>);

impl VendorFaults for HubspotFaults {
    /// The ten-secondly limit's 429, with the rate-limit headers showing nothing left. See
    /// <https://developers.hubspot.com/docs/api/usage-details#error-responses>.
    fn rate_limited(&self) -> Response {
        let body = json!({
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": uuid::Uuid::now_v7().to_string(),
            "policyName": "TEN_SECONDLY_ROLLING",
            "requestId": uuid::Uuid::now_v7().to_string(),
        });
        let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
        response.headers_mut().extend(self.0.rate_headers(true));
        response
    }

    /// A 500 is HubSpot's own JSON error; 502 and 503 come from the edge in front of it, as
    /// HTML, which a client must survive without decoding.
    fn server_error(&self, status: StatusCode) -> Response {
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return error(status, "INTERNAL_ERROR", "internal error");
        }
        let reason = status.canonical_reason().unwrap_or("Server Error");
        let code = status.as_u16();
        (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/html"))],
            format!(
                "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n\
                 <center><h1>{code} {reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n\
                 </body>\r\n</html>\r\n"
            ),
        )
            .into_response()
    }
}
