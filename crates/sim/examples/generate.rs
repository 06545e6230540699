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
//! summary as JSON).

use std::process::ExitCode;
use std::time::Instant;
use tributary_sim::{CausalConfig, Company, SimConfig};

fn parse_args() -> Result<(SimConfig, bool), String> {
    let mut config = SimConfig::default();
    let mut truth = false;
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
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok((config, truth))
}

fn main() -> ExitCode {
    let (config, print_truth) = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let company = Company::generate(&config);
    let generated = started.elapsed();

    let started = Instant::now();
    let truth = company.ground_truth();
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
    println!("ground truth        {:.3} s", truth_elapsed.as_secs_f64());
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
