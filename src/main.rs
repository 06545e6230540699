//! The `tributary` command line. Parsing only: every command is implemented in the library.

use anyhow::{Context, Result, bail};

/// mimalloc instead of glibc's malloc: a sync allocates and frees many small values per record
/// on several threads, and glibc's allocator took about a third of its CPU (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Args, Parser, Subcommand};
use std::{net::SocketAddr, path::PathBuf};
use tributary::{Config, demo, progress, registry, serve};
use tributary_connector::SyncMode;
use tributary_mock_kit::Faults;
use tributary_store::Store;
use tributary_sync::SyncEngine;

#[derive(Parser)]
#[command(
    name = "tributary",
    version,
    about = "Does training move revenue? One honest answer from CRM, LMS, product and support data."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log line format on stderr: `text` for people, `json` (one object a line, with the
    /// span's fields such as `request_id`) for log collectors.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "TRIBUTARY_LOG_FORMAT"
    )]
    log_format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// JSON lines.
    Json,
}

#[derive(Args)]
struct ConfigArg {
    /// Configuration file.
    #[arg(
        long,
        short,
        default_value = "tributary.toml",
        env = "TRIBUTARY_CONFIG"
    )]
    config: PathBuf,
}

impl ConfigArg {
    fn load(&self) -> Result<Config> {
        Config::load(&self.config)
    }
}

/// Which simulated company.
#[derive(Args)]
struct CompanyArgs {
    /// Seed of the simulated company; the same seed gives the same company.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Number of simulated accounts.
    #[arg(long, default_value_t = 2000)]
    accounts: usize,
}

impl CompanyArgs {
    fn sim_config(&self) -> tributary_sim::SimConfig {
        tributary_sim::SimConfig {
            seed: self.seed,
            accounts: self.accounts,
            ..tributary_sim::SimConfig::default()
        }
    }
}

/// The `--faults` syntax, in full, for `demo --help` and `sim serve --help` alike.
const FAULTS_HELP: &str = "\
Make the simulated vendor misbehave, deterministically (the same seed and knobs give the same
faults on every run), so you can watch the sync cope. Knobs are comma-separated NAME=VALUE:

  rate_limit=SCHEDULE     those requests get the vendor's 429 with Retry-After
  retry_after=SECS        the Retry-After of those 429s (default 1)
  server_errors=SCHEDULE  those requests get a 500, 502 or 503
  truncate=SCHEDULE       those successful responses have their body cut in half
  slow_ms=MS              every response is delayed this long
  token_ttl=N             an OAuth access token works for N requests, then gets a 401
  token_ttl_secs=SECS     OAuth access tokens expire this long after issue
  mutate=P                records change (newer modified time) while a sync pages through them
  duplicates=P            a page repeats its last record as the next page's first
  malformed=N             N records of each object type are served malformed

Requests are numbered from 1 per mock. A SCHEDULE is K (requests 1 to K), A-B (requests A to
B), or K@N (K requests from request N), any of them optionally followed by /P (and again every
P requests); or a fraction such as 0.1 (each request with that probability, drawn from the
seed). A probability P is a fraction (0.05) or a percentage (5%).

Example: --faults rate_limit=3@5/50,retry_after=1,server_errors=2@20,slow_ms=200,malformed=3
answers requests 5-7 of every 50 with 429 and Retry-After: 1, requests 20-21 with a 5xx,
delays every response by 200 ms, and serves 3 broken records of each type (they go to
quarantine with their reason while the rest lands).";

#[derive(Subcommand)]
enum Command {
    /// Simulated company → real connectors over HTTP → database → GraphQL with GraphiQL.
    Demo {
        #[command(flatten)]
        company: CompanyArgs,
        /// Make the mock vendor misbehave: comma-separated knobs, e.g.
        /// `rate_limit=3@5/50,malformed=3` (`--help` lists every knob).
        #[arg(long, default_value = "", value_name = "KNOBS", long_help = FAULTS_HELP)]
        faults: String,
        /// Where to serve GraphQL.
        #[arg(long, default_value = "127.0.0.1:4000")]
        listen: SocketAddr,
        /// Database URL.
        #[arg(long, default_value = "sqlite://tributary-demo.db")]
        database: String,
        /// Drop and re-create every table before syncing.
        #[arg(long)]
        reset: bool,
    },
    /// Serve GraphQL and sync every connector on its interval.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// What this process does: serve GraphQL, run scheduled syncs, or both.
        #[arg(long, value_enum, default_value = "all")]
        role: serve::Role,
        /// Log as JSON lines (the same as `--log-format json`).
        #[arg(long)]
        log_json: bool,
    },
    /// Sync connectors once, with a progress bar per stream and a summary.
    Sync {
        #[command(flatten)]
        config: ConfigArg,
        /// Only these connectors (default: all).
        #[arg(long = "connector")]
        connectors: Vec<String>,
        /// Only these streams.
        #[arg(long = "stream")]
        streams: Vec<String>,
        /// Read everything instead of what changed.
        #[arg(long)]
        full_refresh: bool,
    },
    /// Apply database migrations.
    Migrate {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Check everything a run needs: the database URL and that the database answers, the files
    /// the configuration names, the secrets it references, and each connector's credentials.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The simulator on its own.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
    /// API keys of GraphQL clients and credentials of push sources: create (shown once), list,
    /// revoke.
    #[command(name = "apikey")]
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// The connector kinds this build knows (`list`), and a new one scaffolded (`new`).
    #[command(visible_alias = "connector")]
    Connectors {
        #[command(subcommand)]
        command: ConnectorsCommand,
    },
}

#[derive(Subcommand)]
enum ConnectorsCommand {
    /// Every kind with its auth and streams (cursor field, sync modes, delete strategy), then
    /// the instances configured in tributary.toml (when there is one) with the streams each
    /// syncs.
    List {
        /// Configuration file; without it, `tributary.toml` when it exists.
        #[arg(long, short, env = "TRIBUTARY_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Scaffold a connector for a paged JSON API: `connectors/<kind>` (the connector),
    /// `mocks/<kind>` (its mock) and its conformance test, registered in the workspace, the
    /// registry, `sim serve` and CI, and passing the conformance kit as generated. Run at the
    /// root of a Tributary checkout; CONNECTORS.md continues from there.
    New {
        /// The new kind: a lower-case word of letters and digits (`zendesk`).
        kind: String,
        /// The root of the Tributary checkout to add it to.
        #[arg(long, default_value = ".")]
        workspace: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print it once (with its id); only its hash is stored.
    #[command(group(clap::ArgGroup::new("scope").required(true).args(["role", "push"])))]
    Create {
        #[command(flatten)]
        config: ConfigArg,
        /// A GraphQL key with this role: viewer, cs, ce, finance or admin.
        #[arg(long, value_parser = |s: &str| s.parse::<tributary_store::Role>())]
        role: Option<tributary_store::Role>,
        /// A credential of this push source (its instance name), usable only at its endpoint.
        #[arg(long, value_name = "CONNECTOR_INSTANCE")]
        push: Option<String>,
        /// A name for the key, unique among keys not revoked (`bi-prod`).
        #[arg(long)]
        name: String,
    },
    /// Every key: id, name, role or push source, prefix, created, last used, revoked. Never
    /// the key.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Revoke a key by name or id.
    Revoke {
        #[command(flatten)]
        config: ConfigArg,
        /// The key's name or id.
        name_or_id: String,
    },
}

#[derive(Subcommand)]
enum SimCommand {
    /// Serve every vendor mock until stopped, printing `<vendor> <base URL> <credentials>`.
    Serve {
        #[command(flatten)]
        company: CompanyArgs,
        /// Make the mocks misbehave: comma-separated knobs, e.g.
        /// `rate_limit=3@5/50,malformed=3` (`--help` lists every knob).
        #[arg(long, default_value = "", value_name = "KNOBS", long_help = FAULTS_HELP)]
        faults: String,
        /// Address of the first mock.
        #[arg(long, default_value = "127.0.0.1:4100")]
        listen: SocketAddr,
    },
    /// Print the planted causal parameters and the twin ground truth as JSON.
    Truth {
        #[command(flatten)]
        company: CompanyArgs,
        /// Leave out the per-account and per-decision lists (totals only).
        #[arg(long)]
        summary: bool,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The cause chain on one line; no backtrace noise for an operator.
            eprintln!("error: {}", tributary::error_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let json = cli.log_format == LogFormat::Json;
    match cli.command {
        Command::Demo {
            company,
            faults,
            listen,
            database,
            reset,
        } => {
            tributary::init_tracing("warn", json);
            let opts = demo::DemoOptions {
                seed: company.seed,
                accounts: company.accounts,
                faults: Faults::parse(&faults)?,
                listen,
                database,
                reset,
                progress: true,
            };
            demo::run(opts, tributary::shutdown_signal()).await
        }
        Command::Serve {
            config,
            role,
            log_json,
        } => {
            tributary::init_tracing("info", json || log_json);
            serve::serve(&config.load()?, role, tributary::shutdown_signal()).await
        }
        Command::Sync {
            config,
            connectors,
            streams,
            full_refresh,
        } => {
            tributary::init_tracing("warn", json);
            sync(&config.load()?, &connectors, &streams, full_refresh).await
        }
        Command::Migrate { config } => {
            tributary::init_tracing("info", json);
            let config = config.load()?;
            let url = config.database_url()?;
            let store = Store::connect(&url).await?;
            store.migrate().await?;
            println!("migrated {}", serve::redact(&url));
            Ok(())
        }
        Command::Schema => print_out(tributary_gateway::sdl().trim_end()),
        Command::ApiKey { command } => {
            tributary::init_tracing("warn", false);
            api_key(command).await
        }
        Command::Connectors {
            command: ConnectorsCommand::List { config },
        } => {
            let mut out = format!("kinds:\n{}", registry::list());
            let default = PathBuf::from("tributary.toml");
            let path = config.or_else(|| default.exists().then_some(default));
            match path {
                Some(path) => {
                    let config = Config::load(&path)?;
                    let lookup = |var: &str| std::env::var(var).ok();
                    out.push_str(&format!("\ninstances ({}):\n", path.display()));
                    out.push_str(&registry::list_instances(&config, &lookup));
                }
                None => out.push_str("\nno tributary.toml here: no configured instances\n"),
            }
            print_out(out.trim_end())
        }
        Command::Connectors {
            command: ConnectorsCommand::New { kind, workspace },
        } => {
            use tributary::scaffold;
            let names = scaffold::Names::new(&kind)?;
            let planned = scaffold::plan(&workspace, &names)?;
            let written = scaffold::write(&workspace, &planned)?;
            for path in &written {
                println!("wrote {}", path.display());
            }
            if let Err(e) = scaffold::format(&workspace, &written) {
                eprintln!("warning: {e}");
            }
            print_out(&scaffold::next_steps(&names))
        }
        Command::CheckConfig { config } => {
            // Each check prints its own line; the HTTP client's retry warnings would repeat them.
            tributary::init_tracing("error", json);
            check_config(&config).await
        }
        Command::Sim { command } => match command {
            SimCommand::Serve {
                company,
                faults,
                listen,
            } => {
                tributary::init_tracing("info", json);
                tributary::demo::serve_mocks(
                    company.seed,
                    company.accounts,
                    Faults::parse(&faults)?,
                    listen,
                    tributary::shutdown_signal(),
                )
                .await
            }
            SimCommand::Truth { company, summary } => {
                let truth = if summary {
                    let company = tributary_sim::Company::generate(&company.sim_config());
                    serde_json::to_value(company.ground_truth_summary())?
                } else {
                    tributary_sim::truth_json(&company.sim_config())
                };
                print_out(&serde_json::to_string_pretty(&truth)?)
            }
        },
    }
}

/// Writes a command's output; a reader that went away (`| head`) is not an error.
fn print_out(text: &str) -> Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

async fn sync(
    config: &Config,
    only: &[String],
    streams: &[String],
    full_refresh: bool,
) -> Result<()> {
    for name in only {
        if !config.connectors.contains_key(name) {
            bail!("no connector `{name}` in the configuration");
        }
    }
    let store = Store::connect(&config.database_url()?).await?;
    store.migrate().await?;
    let engine = SyncEngine::new(store.clone());
    let mode = if full_refresh {
        SyncMode::FullRefresh
    } else {
        SyncMode::Incremental
    };
    let mut failed = Vec::new();
    for (name, section) in &config.connectors {
        if !only.is_empty() && !only.contains(name) {
            continue;
        }
        if registry::push_kind(section).is_some() {
            // Push sources receive their data at the gateway; there is nothing to pull.
            if only.contains(name) {
                bail!(
                    "connector `{name}` is a push source (kind `{}`): `tributary serve` receives its data, there is nothing to sync",
                    section.kind
                );
            }
            continue;
        }
        let connector = registry::build(name, section, &|v| std::env::var(v).ok())?;
        let bars = progress::Bars::new(name);
        let report = engine
            .clone()
            .with_drift_policy(section.drift_policy)
            .sync(connector.as_ref(), mode, streams, &bars)
            .await?;
        print!("{}", progress::summary(&report));
        if let Some(p) = report.paused() {
            match p.resume_at {
                Some(t) => println!(
                    "{name}: paused, the vendor's quota is spent ({}); the next sync after {t} resumes from the checkpoint",
                    p.message
                ),
                None => println!(
                    "{name}: paused, the vendor's quota is spent ({}); the next sync resumes from the checkpoint",
                    p.message
                ),
            }
        }
        failed.extend(progress::failed_streams(&report));
    }
    // The ledger is derived from what landed: a ledger that cannot be refreshed (a missing FX
    // rate or file, say) does not undo the sync, but the run failed a step and says so.
    let ledger = match config.ledger.refresh(&store).await {
        Ok(ledger) => {
            println!(
                "revenue ledger: {} events, {} written, {} removed",
                ledger.events, ledger.written, ledger.removed
            );
            None
        }
        Err(e) => {
            let reason = tributary::error_line(&e);
            println!("revenue ledger: FAILED, not refreshed: {reason}");
            Some(reason)
        }
    };
    let mut problems = Vec::new();
    if !failed.is_empty() {
        problems.push(format!(
            "{} stream(s) failed: {}; committed checkpoints are kept and the next sync resumes from them",
            failed.len(),
            failed.join("; ")
        ));
    }
    if let Some(reason) = ledger {
        problems.push(format!("the revenue ledger was not refreshed: {reason}"));
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(())
}

async fn api_key(command: ApiKeyCommand) -> Result<()> {
    use tributary::apikey::{self, NewKey};
    let (ApiKeyCommand::Create { config, .. }
    | ApiKeyCommand::List { config }
    | ApiKeyCommand::Revoke { config, .. }) = &command;
    let config = config.load()?;
    let store = Store::connect(&config.database_url()?).await?;
    store.migrate().await?;
    let out = match command {
        ApiKeyCommand::Create {
            role, push, name, ..
        } => {
            let kind = match (role, push) {
                (Some(role), None) => NewKey::Role(role),
                (None, Some(source)) => {
                    if !config.connectors.contains_key(&source) {
                        eprintln!(
                            "note: no connector `{source}` in the configuration yet; the key works once a push source of that name is served"
                        );
                    }
                    NewKey::Push(source)
                }
                _ => bail!("give exactly one of --role and --push"),
            };
            apikey::create(&store, &name, kind).await?
        }
        ApiKeyCommand::List { .. } => apikey::list(&store).await?,
        ApiKeyCommand::Revoke { name_or_id, .. } => apikey::revoke(&store, &name_or_id).await?,
    };
    print_out(out.trim_end())
}

async fn check_config(arg: &ConfigArg) -> Result<()> {
    let config = arg.load()?;
    println!("{}: parsed", arg.config.display());
    let findings = tributary::check::run(&config, &|v| std::env::var(v).ok()).await;
    for finding in &findings {
        println!("{finding}");
    }
    let failed = findings.iter().filter(|f| !f.ok).count();
    if failed > 0 {
        bail!("{failed} of {} checks failed", findings.len());
    }
    println!("all {} checks passed", findings.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    /// `--help` stands alone: it names every knob the mocks accept, and its example parses.
    #[test]
    fn the_faults_help_lists_every_knob_and_its_example_parses() {
        for knob in Faults::KNOBS {
            assert!(
                FAULTS_HELP.contains(&format!("\n  {knob}=")),
                "`{knob}` is missing from the --faults help"
            );
        }
        let example = FAULTS_HELP
            .split("Example: --faults ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the help has an example");
        Faults::parse(example).expect("the help's example parses");
    }
}
