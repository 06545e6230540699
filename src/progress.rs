//! Terminal progress for syncs: one bar per stream (indicatif), then a summary table.
//!
//! A stream whose vendor reports how many records it holds gets a bar filling towards that
//! total; one without a total gets a spinner with running counts.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::{collections::HashMap, sync::Mutex, time::Duration};
use tributary_connector::StreamSpec;
use tributary_store::CommitOutcome;
use tributary_sync::{Progress, StreamReport, SyncReport};

/// Draws a bar (or a spinner, until a total is known) per stream with running counts.
pub struct Bars {
    multi: MultiProgress,
    connector: String,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

const SPINNER: &str = "{spinner} {prefix:.bold} {msg} [{elapsed}]";
const BAR: &str = "{prefix:.bold} [{bar:30}] {pos}/{len} {msg} [{elapsed}, eta {eta}]";

impl Bars {
    /// Bars for one connector's streams.
    pub fn new(connector: &str) -> Self {
        Self {
            multi: MultiProgress::new(),
            connector: connector.to_owned(),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, stream: &str) -> Option<ProgressBar> {
        self.bars.lock().ok()?.get(stream).cloned()
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Progress for Bars {
    fn stream_started(&self, stream: &StreamSpec) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(style(SPINNER));
        bar.set_prefix(format!("{}/{}", self.connector, stream.name));
        bar.set_message("starting");
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(stream.name.clone(), bar);
        }
    }

    fn expected(&self, stream: &StreamSpec, more: u64) {
        if let Some(bar) = self.bar(&stream.name) {
            // The first total turns the spinner into a bar; later phases add to it.
            match bar.length() {
                Some(len) => bar.set_length(len + more),
                None => {
                    bar.set_length(bar.position() + more);
                    bar.set_style(style(BAR));
                }
            }
        }
    }

    fn committed(&self, stream: &StreamSpec, read: u64, o: &CommitOutcome) {
        if let Some(bar) = self.bar(&stream.name) {
            if bar.length().is_some_and(|len| read > len) {
                // The vendor undercounted (records created while we read): grow, never overflow.
                bar.set_length(read);
            }
            bar.set_position(read);
            bar.set_message(format!(
                "{read} read, {} written, {} quarantined",
                o.written, o.quarantined
            ));
        }
    }

    fn stream_finished(&self, r: &StreamReport) {
        if let Some(bar) = self.bar(&r.stream) {
            bar.set_style(style(SPINNER));
            bar.finish_with_message(format!("{}: {} read", status(r), r.read));
        }
    }
}

/// One word (and the reason) for how a stream ended.
fn status(r: &StreamReport) -> String {
    match (&r.error, &r.paused) {
        (Some(e), _) => format!("FAILED: {e}"),
        (None, Some(_)) => "paused (vendor quota spent)".to_owned(),
        (None, None) => "ok".to_owned(),
    }
}

const COLUMNS: [&str; 9] = [
    "read",
    "written",
    "unchanged",
    "skipped",
    "quarantined",
    "deleted",
    "swept",
    "secs",
    "status",
];

/// The summary of a sync: a table with one aligned row per stream, then what the run
/// checked besides landing rows, then a legend saying how the columns add up.
pub fn summary(report: &SyncReport) -> String {
    let mut rows: Vec<Vec<String>> = vec![
        std::iter::once("stream".to_owned())
            .chain(COLUMNS.iter().map(|c| (*c).to_owned()))
            .collect(),
    ];
    for s in &report.streams {
        let o = &s.outcome;
        rows.push(vec![
            format!("{}/{}", report.connector, s.stream),
            s.read.to_string(),
            o.written.to_string(),
            o.unchanged.to_string(),
            o.skipped.to_string(),
            o.quarantined.to_string(),
            o.deleted.to_string(),
            o.swept.to_string(),
            format!("{:.2}", s.duration.as_secs_f64()),
            status(s),
        ]);
    }
    let last = COLUMNS.len();
    let widths: Vec<usize> = (0..last)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let mut line = format!("{:<w$}", row[0], w = widths[0]);
        for c in 1..last {
            line.push_str(&format!("  {:>w$}", row[c], w = widths[c]));
        }
        line.push_str("  ");
        line.push_str(&row[last]);
        out.push_str(line.trim_end());
        out.push('\n');
        let Some(s) = i.checked_sub(1).map(|i| &report.streams[i]) else {
            continue;
        };
        // What the run checked besides landing rows: loud, under the line it concerns.
        for w in &s.checks.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
        for d in &s.drift {
            out.push_str(&format!(
                "  schema drift: `{}` {} -> {} ({})\n",
                d.field,
                d.old_type,
                d.new_type.as_deref().unwrap_or("gone"),
                d.policy
            ));
        }
    }
    out.push_str(
        "read = written + unchanged + skipped + quarantined + deleted; skipped: read but not \
         loaded on purpose (a deal not won, a delete of a row not stored, a record read twice); swept: \
         rows a full refresh removed because the source no longer has them\n",
    );
    out
}

/// The streams of `report` that failed, as `connector/stream (reason)`, for a one-line
/// message; empty when none did.
pub fn failed_streams(report: &SyncReport) -> Vec<String> {
    report
        .streams
        .iter()
        .filter_map(|s| {
            let e = s.error.as_deref()?;
            Some(format!("{}/{} ({e})", report.connector, s.stream))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_model::SyncRunId;
    use tributary_store::RunChecks;

    fn stream(name: &str, read: u64, o: CommitOutcome, error: Option<&str>) -> StreamReport {
        StreamReport {
            stream: name.to_owned(),
            run_id: SyncRunId::new(),
            read,
            outcome: o,
            error: error.map(str::to_owned),
            paused: None,
            checks: RunChecks::default(),
            drift: Vec::new(),
            duration: Duration::from_millis(1_250),
        }
    }

    #[test]
    fn the_summary_is_an_aligned_table_whatever_the_names() {
        let report = SyncReport {
            connector: "hubspot-demo".to_owned(),
            streams: vec![
                stream(
                    "companies",
                    2_000,
                    CommitOutcome {
                        written: 1_990,
                        quarantined: 10,
                        ..CommitOutcome::default()
                    },
                    None,
                ),
                stream(
                    "deals",
                    6_310,
                    CommitOutcome {
                        written: 5_512,
                        skipped: 798,
                        swept: 3,
                        ..CommitOutcome::default()
                    },
                    None,
                ),
                stream(
                    "deal_contacts",
                    1,
                    CommitOutcome {
                        skipped: 1,
                        ..CommitOutcome::default()
                    },
                    Some("server error 503 after 5 attempts"),
                ),
            ],
        };
        let expected = "\
stream                      read  written  unchanged  skipped  quarantined  deleted  swept  secs  status
hubspot-demo/companies      2000     1990          0        0           10        0      0  1.25  ok
hubspot-demo/deals          6310     5512          0      798            0        0      3  1.25  ok
hubspot-demo/deal_contacts     1        0          0        1            0        0      0  1.25  FAILED: server error 503 after 5 attempts
read = written + unchanged + skipped + quarantined + deleted; skipped: read but not loaded on purpose (a deal not won, a delete of a row not stored, a record read twice); swept: rows a full refresh removed because the source no longer has them
";
        assert_eq!(summary(&report), expected);
        assert_eq!(
            failed_streams(&report),
            ["hubspot-demo/deal_contacts (server error 503 after 5 attempts)"]
        );
    }
}
