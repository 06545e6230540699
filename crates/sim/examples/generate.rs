//! Generates a simulated company and streams all of its usage events, printing counts, a
//! checksum of every event (so the work cannot be optimised away) and the rates achieved.
//!
//! ```text
//! cargo run --release -p tributary-sim --example generate -- --accounts 100000
//! cargo run --release -p tributary-sim --example generate -- --seed 7 --truth
//! ```
//!
//! Options: `--accounts N` (default 2000), `--seed N` (default 42), `--today YYYY-MM-DD`,
//! `--usage-scale F` (default 1.0), `--placebo`, `--truth` (also print the ground-truth
//! summary as JSON), `--hash` (instead of the figures, print hashes of everything generated:
//! the company's JSON, the ground truth's JSON and every usage event's JSON with its message
//! id — what proves that a change to the generator left the data byte-identical; compare
//! hashes printed by builds with the same toolchain).

use std::hash::Hasher;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;
use tributary_sim::{CausalConfig, Company, SimConfig};

struct Args {
    config: SimConfig,
    truth: bool,
    hash: bool,
}

/// A `Write` that hashes what is written to it (SipHash-1-3 with fixed keys) and counts bytes.
#[derive(Default)]
struct HashWriter {
    hasher: std::hash::DefaultHasher,
    bytes: u64,
}

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.write(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl HashWriter {
    fn line(&self, what: &str) -> String {
        format!(
            "{what:<20}{:016x} ({} bytes)",
            self.hasher.finish(),
            self.bytes
        )
    }
}

/// Hashes of the company's JSON, the ground truth's JSON and every usage event's JSON.
fn print_hashes(company: &Company) -> Result<(), serde_json::Error> {
    let mut w = HashWriter::default();
    serde_json::to_writer(&mut w, company)?;
    println!("{}", w.line("company json"));
    let mut w = HashWriter::default();
    serde_json::to_writer(&mut w, &company.ground_truth())?;
    println!("{}", w.line("ground truth json"));
    let mut w = HashWriter::default();
    let mut events = 0u64;
    for e in company.usage_events() {
        events += 1;
        serde_json::to_writer(&mut w, &e)?;
        w.hasher.write(e.message_id().as_bytes());
    }
    println!("{} {events} events", w.line("usage events json"));
    Ok(())
}

fn parse_args() -> Result<Args, String> {
    let mut config = SimConfig::default();
    let mut truth = false;
    let mut hash = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("`{name}` needs a value"));
        match arg.as_str() {
            "--accounts" => {
                config.accounts = value("--accounts")?
                    .parse()
                    .map_err(|e| format!("invalid --accounts: {e}"))?;
            }
            "--seed" => {
                config.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("invalid --seed: {e}"))?;
            }
            "--today" => {
                config.today = value("--today")?
                    .parse()
                    .map_err(|e| format!("invalid --today: {e}"))?;
            }
            "--usage-scale" => {
                config.usage_scale = value("--usage-scale")?
                    .parse()
                    .map_err(|e| format!("invalid --usage-scale: {e}"))?;
            }
            "--placebo" => config.causal = CausalConfig::placebo(),
            "--truth" => truth = true,
            "--hash" => hash = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Args {
        config,
        truth,
        hash,
    })
}

fn main() -> ExitCode {
    let Args {
        config,
        truth: print_truth,
        hash,
    } = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let company = Company::generate(&config);
    let generated = started.elapsed();
    if hash {
        return match print_hashes(&company) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }

    // The headline figures of the ground truth; `ground_truth()` would also hold a row per
    // account and per renewal decision (~100 MB at 100,000 accounts).
    let started = Instant::now();
    let truth = company.ground_truth_summary();
    let truth_elapsed = started.elapsed();

    let started = Instant::now();
    let mut events = 0u64;
    let mut checksum = 0u64;
    // A cheap multiplicative fold over every field, so no event can be skipped unseen.
    let mut fold =
        |v: u64| checksum = (checksum.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    for e in company.usage_events() {
        events += 1;
        fold(e.id);
        fold(e.account as u64);
        fold(e.person.map_or(u64::MAX, |p| p as u64));
        fold(e.anonymous_id.map_or(u64::MAX, u64::from));
        fold(e.event.len() as u64 ^ (e.feature.len() as u64) << 32);
        fold(e.occurred_at.timestamp_millis() as u64);
    }
    let streamed = started.elapsed();

    let t = company.truth();
    println!("seed                {}", config.seed);
    println!("today               {}", company.today);
    println!("accounts            {}", t.accounts);
    println!(
        "people              {} ({} moved companies)",
        t.contacts, t.moved_people
    );
    println!("deals               {}", t.deals);
    println!("courses             {}", t.courses);
    println!(
        "enrollments         {} ({} completed, {} certified)",
        t.enrollments, t.completions, t.certifications
    );
    println!(
        "tickets             {} ({} how-to)",
        t.tickets, t.howto_tickets
    );
    println!("usage events        {events}");
    println!("event checksum      {checksum:016x}");
    println!(
        "generate            {:.3} s (everything but usage events)",
        generated.as_secs_f64()
    );
    println!(
        "ground truth        {:.3} s (summary)",
        truth_elapsed.as_secs_f64()
    );
    println!(
        "stream events       {:.3} s ({:.0} events/s)",
        streamed.as_secs_f64(),
        events as f64 / streamed.as_secs_f64().max(1e-9)
    );
    println!(
        "decisions           {} ({} trained): naive gap {:.4}, ATT {:.4} (expected {:.4})",
        truth.decisions.decisions,
        truth.decisions.trained,
        truth.decisions.naive_renewal_gap,
        truth.decisions.att_renewal,
        truth.decisions.att_renewal_expected
    );
    println!(
        "incremental         {} renewals, ARR today {} {} (twin), {} per trained account",
        truth.totals.incremental_renewals,
        truth.totals.incremental_arr_today_reporting,
        truth.fx.reporting_currency,
        truth.totals.att_arr_per_trained_account_reporting
    );
    if print_truth {
        let summary = serde_json::json!({
            "parameters": truth.parameters,
            "decisions": truth.decisions,
            "totals": truth.totals,
        });
        match serde_json::to_string_pretty(&summary) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
