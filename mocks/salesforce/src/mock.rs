//! [`SalesforceMock`]: the state one mock instance serves from, and its routes.

use crate::*;

pub(crate) struct QueryCursor {
    pub(crate) object: SObject,
    pub(crate) fields: Vec<&'static str>,
    /// Matching record indices in order.
    pub(crate) rows: Vec<usize>,
    /// Records per batch, as the query request asked (`Sforce-Query-Options`) or the org's
    /// default; further batches keep it unless they ask again.
    pub(crate) batch: usize,
}

pub(crate) struct MockState {
    pub(crate) company: Arc<Company>,
    pub(crate) config: SalesforceMockConfig,
    pub(crate) faults: FaultInjector,
    pub(crate) api_used: AtomicU64,
    /// Records deleted through `config.deleted`, by sObject and index.
    pub(crate) deleted: HashSet<(SObject, usize)>,
    /// Records served malformed (the `malformed` knob), by sObject and index.
    pub(crate) malformed: HashSet<(SObject, usize)>,
    pub(crate) cursors: Mutex<HashMap<String, Arc<QueryCursor>>>,
    pub(crate) next_cursor: AtomicU64,
    /// Bulk API 2.0 query jobs.
    pub(crate) bulk: bulk::Jobs,
    /// The deal (index into `company.deals`) of each contract: the closed-won ones.
    pub(crate) contracts: Vec<usize>,
    /// The contact roles on closed-won deals.
    pub(crate) contact_roles: Vec<ContactRole>,
    /// The dated rates, in the order served.
    pub(crate) rates: Vec<DatedRate>,
}

/// The Salesforce mock's routes serving `company`, wrapped in the fault layer of
/// `config.faults`. Use [`SalesforceMock`] to read the fault counters.
/// The revenue field mapping of the simulated org, as the `mapping` table of a Salesforce
/// connector's configuration: ARR in the custom field `ARR__c`, the term in `Term_Months__c`,
/// and its customised `Type` picklist. The demo and the tests configure it so that synced
/// subscriptions match the generator's; the connector knows nothing of the simulator.
pub fn revenue_mapping() -> Value {
    json!({
        "arr_field": "ARR__c",
        "term_field": "Term_Months__c",
        "motions": {
            "New Business": "new",
            "Renewal": "renewal",
            "Existing Customer - Upgrade": "expansion",
            "Existing Customer - Downgrade": "contraction",
        },
    })
}

pub fn router(company: Arc<Company>, config: SalesforceMockConfig) -> Router {
    SalesforceMock::new(company, config).router()
}

/// One Salesforce mock instance. Clones share everything.
#[derive(Clone)]
pub struct SalesforceMock {
    pub(crate) state: Arc<MockState>,
}

impl std::fmt::Debug for SalesforceMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceMock")
            .field("config", &self.state.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SalesforceMock {
    /// A mock serving `company` as configured.
    pub fn new(company: Arc<Company>, config: SalesforceMockConfig) -> Self {
        let contracts: Vec<usize> = (0..company.deals.len())
            .filter(|&i| company.deals[i].stage == DealStage::Won)
            .collect();
        let contact_roles = contact_roles(&company, &contracts);
        let ids = |object: SObject| -> Vec<&str> {
            match object {
                SObject::Account => company.accounts.iter().map(|a| a.id.as_str()).collect(),
                SObject::Contact => company.contacts.iter().map(|c| c.id.as_str()).collect(),
                SObject::Opportunity => company.deals.iter().map(|d| d.id.as_str()).collect(),
                SObject::User => company.owners.iter().map(|o| o.id.as_str()).collect(),
                // A contract goes by its deal's id.
                SObject::Contract => contracts
                    .iter()
                    .map(|&d| company.deals[d].id.as_str())
                    .collect(),
                SObject::OpportunityContactRole
                | SObject::CurrencyType
                | SObject::DatedConversionRate => Vec::new(),
            }
        };
        let deleted = config
            .deleted
            .iter()
            .filter_map(|(object, id)| {
                ids(*object)
                    .iter()
                    .position(|candidate| candidate == id)
                    .map(|i| (*object, i))
            })
            .collect();
        let n = config.faults.malformed_records;
        let mut malformed = HashSet::new();
        if n > 0 {
            let seed = company.seed;
            let live_accounts = (0..company.accounts.len())
                .filter(|&i| company.accounts[i].archived_at.is_none())
                .collect();
            let live_contacts = (0..company.contacts.len())
                .filter(|&i| company.contacts[i].archived_at.is_none())
                .collect();
            let won_deals = (0..company.deals.len())
                .filter(|&i| {
                    company.deals[i].stage == DealStage::Won
                        && company.deals[i].archived_at.is_none()
                })
                .collect();
            for (object, label, candidates) in [
                (
                    SObject::Account,
                    "faults.malformed.sf.accounts",
                    live_accounts,
                ),
                (
                    SObject::Contact,
                    "faults.malformed.sf.contacts",
                    live_contacts,
                ),
                (
                    SObject::Opportunity,
                    "faults.malformed.sf.opportunities",
                    won_deals,
                ),
                (
                    SObject::Contract,
                    "faults.malformed.sf.contracts",
                    (0..contracts.len())
                        .filter(|&i| company.deals[contracts[i]].archived_at.is_none())
                        .collect(),
                ),
                (
                    SObject::OpportunityContactRole,
                    "faults.malformed.sf.contact_roles",
                    (0..contact_roles.len())
                        .filter(|&i| {
                            let role = &contact_roles[i];
                            company.deals[role.deal].archived_at.is_none()
                                && company.contacts[role.contact].archived_at.is_none()
                        })
                        .collect(),
                ),
            ] {
                malformed.extend(
                    faults::sample(seed, label, candidates, n)
                        .into_iter()
                        .map(|i| (object, i)),
                );
            }
        }
        let state = Arc::new(MockState {
            malformed,
            deleted,
            faults: FaultInjector::for_world(company.seed, company.today, config.faults.clone()),
            company,
            config,
            api_used: AtomicU64::new(0),
            cursors: Mutex::new(HashMap::new()),
            next_cursor: AtomicU64::new(1),
            bulk: bulk::Jobs::default(),
            contracts,
            contact_roles,
            rates: dated_conversion_rates(),
        });
        Self { state }
    }

    /// The routes, wrapped in the limit accounting and the fault layer.
    pub fn router(&self) -> Router {
        let api = Router::new()
            // Salesforce answers each resource with and without a trailing slash; official
            // clients use both (simple-salesforce asks for `query/` and `queryAll/`).
            .route("/services/data/{version}/query", get(query))
            .route("/services/data/{version}/query/", get(query))
            .route("/services/data/{version}/queryAll", get(query_all))
            .route("/services/data/{version}/queryAll/", get(query_all))
            .route("/services/data/{version}/query/{locator}", get(next_batch))
            .route("/services/data/{version}/query/{locator}/", get(next_batch))
            .route(
                "/services/data/{version}/sobjects/{object}/describe",
                get(describe),
            )
            .route(
                "/services/data/{version}/sobjects/{object}/describe/",
                get(describe),
            )
            .route("/services/data/{version}/sobjects", get(describe_global))
            .route("/services/data/{version}/sobjects/", get(describe_global))
            .route(
                "/services/data/{version}/sobjects/{object}/{id}",
                get(retrieve),
            )
            .route(
                "/services/data/{version}/sobjects/{object}/{id}/",
                get(retrieve),
            )
            .merge(bulk::routes())
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                api_limits,
            ));
        let routes = Router::new()
            .route(TOKEN_PATH, post(issue_token))
            .route("/services/data", get(versions))
            .route("/services/data/", get(versions))
            .merge(api)
            .with_state(self.state.clone());
        self.state.faults.wrap(routes, SalesforceFaults)
    }

    /// The configuration it serves with.
    pub fn config(&self) -> &SalesforceMockConfig {
        &self.state.config
    }

    /// Its fault injector.
    pub fn faults(&self) -> &FaultInjector {
        &self.state.faults
    }

    /// What its faults have done so far.
    pub fn stats(&self) -> FaultStats {
        self.state.faults.stats()
    }

    /// The records `query` serves (not deleted), per sObject, rendered exactly as its query
    /// routes render them (every field). What a full read of the org must land, before the
    /// connector's own choices (which objects, which rows); conformance tests compare with it.
    pub fn live_rows(&self) -> BTreeMap<&'static str, Vec<Map<String, Value>>> {
        let s = &self.state;
        SObject::ALL
            .into_iter()
            .map(|object| {
                let rows = (0..s.len(object))
                    .map(|i| s.record(object, i))
                    .filter(|r| r.get("IsDeleted") != Some(&Value::Bool(true)))
                    .collect();
                (object.as_str(), rows)
            })
            .collect()
    }

    /// The deleted records only `queryAll` serves (`IsDeleted = true`), per sObject, rendered
    /// as its routes render them.
    pub fn deleted_rows(&self) -> BTreeMap<&'static str, Vec<Map<String, Value>>> {
        let s = &self.state;
        SObject::ALL
            .into_iter()
            .map(|object| {
                let rows = (0..s.len(object))
                    .map(|i| s.record(object, i))
                    .filter(|r| r.get("IsDeleted") == Some(&Value::Bool(true)))
                    .collect();
                (object.as_str(), rows)
            })
            .collect()
    }

    /// A row's `Id` and `SystemModstamp`, as [`SalesforceMock::live_rows`] renders them.
    pub fn id_and_modstamp(row: &Map<String, Value>) -> Option<(String, DateTime<Utc>)> {
        let id = row.get("Id")?.as_str()?.to_owned();
        let stamp = parse_sf_datetime(row.get("SystemModstamp")?.as_str()?)?;
        Some((id, stamp))
    }

    /// API requests counted against the daily limit so far.
    pub fn api_usage(&self) -> u64 {
        self.state.api_used.load(Ordering::Relaxed)
    }

    /// Every record of `object` as the mock serves it (all fields, deleted ones included with
    /// `IsDeleted = true`), in storage order: what tests compare a connector's reads against.
    pub fn records(&self, object: SObject) -> Vec<Map<String, Value>> {
        (0..self.state.len(object))
            .map(|i| self.state.record(object, i))
            .collect()
    }
}

/// The API versions the mock answers to, oldest first, as `GET /services/data/` lists them.
pub const API_VERSIONS: [&str; 4] = ["59.0", "60.0", "61.0", "62.0"];

/// `GET /services/data/`: the version discovery resource, which Salesforce serves without a
/// session. Every version path is answered alike; these are the ones listed.
async fn versions() -> Response {
    Json(
        API_VERSIONS
            .iter()
            .map(|v| {
                json!({
                    "label": format!("API {v}"),
                    "url": format!("/services/data/v{v}"),
                    "version": v,
                })
            })
            .collect::<Vec<_>>(),
    )
    .into_response()
}

impl VendorMock for SalesforceMock {
    fn vendor(&self) -> &'static str {
        "salesforce"
    }

    fn router(&self) -> Router {
        SalesforceMock::router(self)
    }

    fn credential_hint(&self) -> String {
        self.state.config.credential_hint()
    }

    fn faults(&self) -> &FaultInjector {
        SalesforceMock::faults(self)
    }
}
