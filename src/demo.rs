//! `tributary demo`: a simulated company behind vendor-faithful mocks on loopback — HubSpot for
//! the CRM, Skilljar for the LMS — synced through the real connectors over HTTP into a
//! database, then served over GraphQL.

use crate::{progress, registry};
use anyhow::{Context, Result};
use std::{net::SocketAddr, sync::Arc};
use tributary_connector::{Connector, SyncMode};
use tributary_mock_hubspot as hubspot;
use tributary_mock_kit::{Faults, MockServer};
use tributary_sim::{Company, SimConfig};
use tributary_store::Store;
use tributary_sync::{NoProgress, Progress, SyncEngine, SyncReport};

/// The instance name the demo gives its HubSpot connector.
pub const DEMO_CONNECTOR: &str = "hubspot-demo";

/// The instance name the demo gives its Skilljar (LMS) connector.
pub const DEMO_LMS_CONNECTOR: &str = "skilljar-demo";

/// The instance name of the demo's xAPI statements endpoint (a push source).
pub const DEMO_XAPI_SOURCE: &str = "xapi-demo";

/// The name of the push key each demo creates for its xAPI endpoint: the basic-auth user name
/// of `xapi credentials: <user>:<pass>`.
pub const DEMO_XAPI_KEY: &str = "demo-xapi";

/// How often the demo's worker syncs its connector (and how long after the initial sync the
/// first scheduled run is due); `triggerSync` runs it at once.
pub const DEMO_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Options of `tributary demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Seed of the simulated company.
    pub seed: u64,
    /// Number of simulated accounts.
    pub accounts: usize,
    /// Fault knobs of the mock APIs (`malformed=3,…`).
    pub faults: Faults,
    /// Where GraphQL is served.
    pub listen: SocketAddr,
    /// Database URL.
    pub database: String,
    /// Drop and re-create every table first.
    pub reset: bool,
    /// Draw progress bars.
    pub progress: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            accounts: 2_000,
            faults: Faults::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            database: "sqlite://tributary-demo.db".to_owned(),
            reset: false,
            progress: true,
        }
    }
}

/// A synced demo, ready to serve.
pub struct Demo {
    /// The store the demo synced into.
    pub store: Store,
    /// The running HubSpot mock (kept alive for later syncs).
    pub hubspot: MockServer,
    /// The running Skilljar mock.
    pub skilljar: MockServer,
    /// The HubSpot connector pointed at the mock.
    pub connector: Arc<dyn Connector>,
    /// The Skilljar connector pointed at its mock.
    pub lms: Arc<dyn Connector>,
    /// What the initial CRM sync did.
    pub report: SyncReport,
    /// What the initial LMS sync did.
    pub lms_report: SyncReport,
    /// The push sources the gateway mounts: the xAPI statements endpoint.
    pub push: Vec<tributary_gateway::PushMount>,
}

impl Demo {
    /// The initial syncs' reports, CRM first.
    pub fn reports(&self) -> [&SyncReport; 2] {
        [&self.report, &self.lms_report]
    }

    /// Whether every stream of the initial syncs succeeded.
    pub fn succeeded(&self) -> bool {
        self.reports().iter().all(|r| r.succeeded())
    }

    /// Syncs the CRM mock again and re-derives the revenue ledger (what `tributary sync` does
    /// against `tributary sim serve`).
    pub async fn sync(&self, mode: SyncMode) -> Result<SyncReport> {
        let report = SyncEngine::new(self.store.clone())
            .sync(self.connector.as_ref(), mode, &[], &NoProgress)
            .await?;
        crate::ledger::refresh(&self.store, &crate::ledger::simulator_fx()?, 30).await?;
        Ok(report)
    }

    /// Syncs the LMS mock again.
    pub async fn sync_lms(&self, mode: SyncMode) -> Result<SyncReport> {
        Ok(SyncEngine::new(self.store.clone())
            .sync(self.lms.as_ref(), mode, &[], &NoProgress)
            .await?)
    }

    /// Stops both mocks.
    pub async fn shutdown_mocks(self) -> Result<()> {
        self.hubspot.shutdown().await?;
        self.skilljar.shutdown().await?;
        Ok(())
    }

    /// A worker running the demo's connectors like `tributary serve` runs configured ones:
    /// scheduled every [`DEMO_INTERVAL`], listed by the `connectors` query, and run at once by
    /// `triggerSync(connector: "hubspot-demo")`, with the ledger derived after each CRM run.
    pub fn worker(&self) -> Result<crate::serve::Worker> {
        let scheduler = crate::config::SchedulerConfig::default();
        Ok(crate::serve::Worker::new(
            self.store.clone(),
            vec![
                (Arc::clone(&self.connector), DEMO_INTERVAL),
                (Arc::clone(&self.lms), DEMO_INTERVAL),
            ],
            std::time::Duration::from_secs(scheduler.lease_ttl_secs),
            std::time::Duration::from_millis(scheduler.poll_interval_ms),
        )
        .with_fixed_fx(crate::ledger::simulator_fx()?, 30))
    }
}

/// A CRM the simulator mocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimulatedCrm {
    /// The HubSpot mock (CRM v3 objects, search, associations, pipelines).
    Hubspot,
    /// The Salesforce mock (REST query/queryAll, Bulk API 2.0).
    Salesforce,
}

impl SimulatedCrm {
    /// The `kind` of its connector.
    pub fn kind(self) -> &'static str {
        match self {
            SimulatedCrm::Hubspot => "hubspot",
            SimulatedCrm::Salesforce => "salesforce",
        }
    }

    /// The `[connectors.<name>]` section that points its connector at the mock on
    /// `base_url`, as a `tributary.toml` user would write it — credentials by env-var
    /// reference, and the field mapping that matches the simulated org (the connector's
    /// `revenue_mapping` its mock publishes: custom ARR and term fields, the org's own deal types) — plus the
    /// values of those env vars.
    pub fn connector_toml(self, base_url: &str) -> Result<(String, Vec<(String, String)>)> {
        let env = |var: &str| {
            let mut t = toml::Table::new();
            t.insert("env".to_owned(), toml::Value::String(var.to_owned()));
            toml::Value::Table(t)
        };
        let mut section = toml::Table::new();
        section.insert("kind".to_owned(), self.kind().into());
        section.insert("endpoint".to_owned(), base_url.into());
        let (mapping, secrets) = match self {
            SimulatedCrm::Hubspot => {
                let mock = hubspot::HubspotMockConfig::default();
                section.insert("access_token".to_owned(), env("HUBSPOT_ACCESS_TOKEN"));
                (
                    hubspot::revenue_mapping(),
                    vec![("HUBSPOT_ACCESS_TOKEN".to_owned(), mock.access_token)],
                )
            }
            SimulatedCrm::Salesforce => {
                let mock = tributary_mock_salesforce::SalesforceMockConfig::default();
                let mut auth = toml::Table::new();
                auth.insert("kind".to_owned(), "oauth2".into());
                auth.insert("grant".to_owned(), "refresh_token".into());
                auth.insert(
                    "token_url".to_owned(),
                    format!("{base_url}/services/oauth2/token").into(),
                );
                auth.insert("client_id".to_owned(), mock.client_id.clone().into());
                auth.insert("client_secret".to_owned(), env("SFDC_CLIENT_SECRET"));
                auth.insert("refresh_token".to_owned(), env("SFDC_REFRESH_TOKEN"));
                section.insert("auth".to_owned(), toml::Value::Table(auth));
                (
                    tributary_mock_salesforce::revenue_mapping(),
                    vec![
                        ("SFDC_CLIENT_SECRET".to_owned(), mock.client_secret),
                        ("SFDC_REFRESH_TOKEN".to_owned(), mock.refresh_token),
                    ],
                )
            }
        };
        section.insert("mapping".to_owned(), toml::Value::try_from(&mapping)?);
        Ok((toml::to_string(&section)?, secrets))
    }

    /// Its connector, named `name`, configured by [`SimulatedCrm::connector_toml`] through
    /// the same registry `tributary.toml` goes through.
    pub fn connector(self, name: &str, base_url: &str) -> Result<Box<dyn Connector>> {
        build_connector(name, self.connector_toml(base_url)?)
    }
}

/// The `[connectors.<name>]` section that points a Skilljar connector at the mock on
/// `base_url`, as a `tributary.toml` user would write it: the key by env-var reference, and
/// the course metadata Skilljar does not keep (kind, level, the features a course teaches)
/// as the `courses` mapping a customer-education team writes for its catalog, keyed by slug.
/// Returns the section and the env var's value.
pub fn skilljar_toml(base_url: &str, company: &Company) -> Result<(String, Vec<(String, String)>)> {
    let mut section = toml::Table::new();
    section.insert("kind".to_owned(), "skilljar".into());
    section.insert("endpoint".to_owned(), base_url.into());
    let mut env = toml::Table::new();
    env.insert("env".to_owned(), "SKILLJAR_API_KEY".into());
    section.insert("api_key".to_owned(), toml::Value::Table(env));
    // Per-learner progress is one request each; loopback answers them in parallel.
    section.insert("user_concurrency".to_owned(), 8.into());
    let mut map = toml::Table::new();
    for course in &company.courses {
        let mut entry = toml::Table::new();
        entry.insert("kind".to_owned(), toml::Value::try_from(course.kind)?);
        entry.insert("level".to_owned(), toml::Value::try_from(course.level)?);
        entry.insert(
            "features".to_owned(),
            toml::Value::try_from(&course.features)?,
        );
        map.insert(course.code.clone(), toml::Value::Table(entry));
    }
    let mut courses = toml::Table::new();
    courses.insert("map".to_owned(), toml::Value::Table(map));
    section.insert("courses".to_owned(), toml::Value::Table(courses));
    Ok((
        toml::to_string(&section)?,
        vec![(
            "SKILLJAR_API_KEY".to_owned(),
            tributary_mock_skilljar::DEFAULT_API_KEY.to_owned(),
        )],
    ))
}

/// A connector named `name` from a section and its secrets, through the same registry
/// `tributary.toml` goes through.
fn build_connector(
    name: &str,
    (text, secrets): (String, Vec<(String, String)>),
) -> Result<Box<dyn Connector>> {
    let section: crate::config::ConnectorSection =
        toml::from_str(&text).with_context(|| format!("the simulator's section for {name}"))?;
    registry::build(name, &section, &|var| {
        secrets
            .iter()
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.clone())
    })
}

/// Generates the company, starts the mocks, and syncs them into the database (the CRM and
/// the LMS side by side).
pub async fn prepare(opts: &DemoOptions) -> Result<Demo> {
    let sim = SimConfig {
        seed: opts.seed,
        accounts: opts.accounts,
        ..SimConfig::default()
    };
    let company = Arc::new(Company::generate(&sim));
    let mock_config = hubspot::HubspotMockConfig {
        faults: opts.faults.clone(),
        ..Default::default()
    };
    let hubspot = MockServer::start(hubspot::router(Arc::clone(&company), mock_config))
        .await
        .context("cannot start the HubSpot mock")?;
    let skilljar_mock =
        tributary_mock_skilljar::SkilljarMock::new(Arc::clone(&company), opts.faults.clone());
    let skilljar = MockServer::start(tributary_mock_kit::VendorMock::router(&skilljar_mock))
        .await
        .context("cannot start the Skilljar mock")?;

    // The store's connect error names the file or the host and port.
    let store = Store::connect(&opts.database).await?;
    if opts.reset {
        store.reset().await?;
    }
    store.migrate().await?;

    // The demo's token is the mock's, not a secret from the environment.
    let connector: Arc<dyn Connector> =
        Arc::from(SimulatedCrm::Hubspot.connector(DEMO_CONNECTOR, &hubspot.base_url)?);
    let lms: Arc<dyn Connector> = Arc::from(build_connector(
        DEMO_LMS_CONNECTOR,
        skilljar_toml(&skilljar.base_url, &company)?,
    )?);
    let engine = SyncEngine::new(store.clone());
    let bars = progress::Bars::new(DEMO_CONNECTOR);
    let lms_bars = progress::Bars::new(DEMO_LMS_CONNECTOR);
    let (progress, lms_progress): (&dyn Progress, &dyn Progress) = if opts.progress {
        (&bars, &lms_bars)
    } else {
        (&NoProgress, &NoProgress)
    };
    // The two sources sync side by side: each waits on its own vendor, and the store orders
    // their commits.
    let (report, lms_report) = tokio::try_join!(
        async {
            let report = engine
                .sync(connector.as_ref(), SyncMode::FullRefresh, &[], progress)
                .await?;
            crate::ledger::refresh(&store, &crate::ledger::simulator_fx()?, 30).await?;
            Ok::<_, anyhow::Error>(report)
        },
        async {
            Ok::<_, anyhow::Error>(
                engine
                    .sync(lms.as_ref(), SyncMode::FullRefresh, &[], lms_progress)
                    .await?,
            )
        },
    )?;
    // The initial sync was this slot's run: the worker's first is due an interval later
    // (kept if a schedule exists from an earlier demo on this database).
    let next = chrono::Utc::now() + chrono::Duration::from_std(DEMO_INTERVAL)?;
    for c in [&connector, &lms] {
        store.ensure_schedule(c.instance(), c.kind(), next).await?;
    }
    let push = vec![registry::build_push(
        DEMO_XAPI_SOURCE,
        &toml::from_str("kind = \"xapi\"")?,
        &|_| None,
    )?];
    Ok(Demo {
        store,
        hubspot,
        skilljar,
        connector,
        lms,
        report,
        lms_report,
        push,
    })
}

/// The name of the admin key each demo creates (the previous demo's is revoked).
pub const DEMO_ADMIN_KEY: &str = "demo-admin";

/// A fresh admin key for this demo, printed at start: the previous demo's `demo-admin` key is
/// revoked first, so only the latest printed key works.
pub async fn admin_key(store: &Store) -> Result<tributary_store::ApiKeySecret> {
    store.revoke_api_key(DEMO_ADMIN_KEY).await?;
    let new = store
        .create_api_key(
            DEMO_ADMIN_KEY,
            tributary_store::KeyScope::Graphql(tributary_store::Role::Admin),
        )
        .await?;
    Ok(new.secret)
}

/// A fresh push key for the demo's xAPI endpoint (the previous demo's is revoked): the
/// password of `xapi credentials: demo-xapi:<key>`.
pub async fn xapi_key(store: &Store) -> Result<tributary_store::ApiKeySecret> {
    store.revoke_api_key(DEMO_XAPI_KEY).await?;
    let new = store
        .create_api_key(
            DEMO_XAPI_KEY,
            tributary_store::KeyScope::Push {
                source: DEMO_XAPI_SOURCE.to_owned(),
            },
        )
        .await?;
    Ok(new.secret)
}

/// The query printed for newcomers.
pub const EXAMPLE_QUERY: &str =
    "{ accounts(first: 5) { totalCount edges { node { name segment people { name email } } } } }";

/// Runs the whole demo until `shutdown` resolves.
pub async fn run(
    opts: DemoOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let started = std::time::Instant::now();
    // The port first: a busy one fails now, not after the sync.
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another demo running? pick another with --listen)",
                opts.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let demo = prepare(&opts).await?;
    let key = admin_key(&demo.store).await?;
    let xapi = xapi_key(&demo.store).await?;
    if opts.progress {
        for report in demo.reports() {
            print!("{}", progress::summary(report));
        }
    }
    println!("{}", ready_line(started.elapsed(), &demo.reports()));
    println!("graphql: http://{addr}/graphql");
    println!("admin api key: {}", key.expose());
    println!(
        "graphiql: http://{addr}/ (add the header {{\"Authorization\": \"Bearer <admin api key>\"}})"
    );
    println!("hubspot mock: {}", demo.hubspot.base_url);
    println!("skilljar mock: {}", demo.skilljar.base_url);
    for m in &demo.push {
        println!(
            "xapi: http://{addr}{}/statements (X-Experience-API-Version: 1.0.3)",
            m.prefix
        );
    }
    println!("xapi credentials: {DEMO_XAPI_KEY}:{}", xapi.expose());
    println!(
        "connectors {DEMO_CONNECTOR}, {DEMO_LMS_CONNECTOR}: synced; run hourly, or now with mutation {{ triggerSync(connector: \"{DEMO_CONNECTOR}\") {{ connector }} }}"
    );
    println!("try: curl -s http://{addr}/graphql -H 'content-type: application/json' \\");
    println!("       -H 'authorization: Bearer {}' \\", key.expose());
    println!("       -d '{{\"query\":\"{EXAMPLE_QUERY}\"}}'");
    println!("press Ctrl-C to stop");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(demo.worker()?.run(stopped));
    let state = tributary_gateway::AppState {
        push: demo.push.clone(),
        ..tributary_gateway::AppState::new(demo.store.clone())
    };
    tributary_gateway::serve(listener, state, shutdown).await?;
    let _ = stop.send(true);
    worker.await??;
    let store = demo.store.clone();
    demo.shutdown_mocks().await?;
    store.close().await?;
    Ok(())
}

/// The line that says the demo serves: how long it took, and which streams failed (the
/// data served then is partial), naming each with its reason.
pub fn ready_line(took: std::time::Duration, reports: &[&SyncReport]) -> String {
    let failed: Vec<String> = reports
        .iter()
        .flat_map(|r| progress::failed_streams(r))
        .collect();
    if failed.is_empty() {
        format!("ready in {:.1}s", took.as_secs_f64())
    } else {
        format!(
            "ready in {:.1}s, but {} stream(s) failed and their data is partial: {}",
            took.as_secs_f64(),
            failed.len(),
            failed.join("; ")
        )
    }
}

/// `tributary sim serve`: every vendor mock on its own, until `shutdown` resolves.
pub async fn serve_mocks(
    seed: u64,
    accounts: usize,
    faults: Faults,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let sim = SimConfig {
        seed,
        accounts,
        ..SimConfig::default()
    };
    let company = Arc::new(Company::generate(&sim));
    // One mock per vendor on consecutive ports from `listen`.
    let mocks: Vec<Box<dyn tributary_mock_kit::VendorMock>> = registry::MOCKS
        .iter()
        .map(|mock| mock(Arc::clone(&company), faults.clone()))
        .collect();
    let mut servers = Vec::new();
    for (i, mock) in mocks.iter().enumerate() {
        let vendor = mock.vendor();
        let port = if listen.port() == 0 {
            0
        } else {
            listen.port() + i as u16
        };
        let addr = SocketAddr::new(listen.ip(), port);
        let server = MockServer::start_on(addr, mock.router())
            .await
            .with_context(|| format!("cannot listen on {addr} for the {vendor} mock"))?;
        println!("{vendor} {} {}", server.base_url, mock.credential_hint());
        servers.push(server);
    }
    shutdown.await;
    for server in servers {
        server.shutdown().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tributary_store::{CommitOutcome, RunChecks};
    use tributary_sync::StreamReport;

    fn report(errors: &[(&str, Option<&str>)]) -> SyncReport {
        SyncReport {
            connector: DEMO_CONNECTOR.to_owned(),
            streams: errors
                .iter()
                .map(|(stream, error)| StreamReport {
                    stream: (*stream).to_owned(),
                    run_id: tributary_model::SyncRunId::new(),
                    read: 0,
                    outcome: CommitOutcome::default(),
                    error: error.map(str::to_owned),
                    paused: None,
                    checks: RunChecks::default(),
                    drift: Vec::new(),
                    duration: Duration::ZERO,
                })
                .collect(),
        }
    }

    #[test]
    fn the_ready_line_names_failed_streams_and_why() {
        let took = Duration::from_millis(2_340);
        assert_eq!(
            ready_line(took, &[&report(&[("companies", None), ("deals", None)])]),
            "ready in 2.3s"
        );
        assert_eq!(
            ready_line(
                took,
                &[&report(&[
                    ("companies", None),
                    ("deals", Some("rate limited after 5 attempts")),
                    ("deal_contacts", Some("server error 503")),
                ])]
            ),
            "ready in 2.3s, but 2 stream(s) failed and their data is partial: \
             hubspot-demo/deals (rate limited after 5 attempts); \
             hubspot-demo/deal_contacts (server error 503)"
        );
    }
}
