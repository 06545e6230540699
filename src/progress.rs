//! Terminal progress for syncs: one line per stream (indicatif), then a summary table.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::{collections::HashMap, sync::Mutex, time::Duration};
use tributary_connector::StreamSpec;
use tributary_store::CommitOutcome;
use tributary_sync::{Progress, StreamReport, SyncReport};

/// Draws a spinner per stream with running counts.
pub struct Bars {
    multi: MultiProgress,
    connector: String,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

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

impl Progress for Bars {
    fn stream_started(&self, stream: &StreamSpec) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("{}/{}", self.connector, stream.name));
        bar.set_message("starting");
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(stream.name.clone(), bar);
        }
    }

    fn committed(&self, stream: &StreamSpec, read: u64, o: &CommitOutcome) {
        if let Some(bar) = self.bar(&stream.name) {
            bar.set_message(format!(
                "{read} read, {} written, {} quarantined",
                o.written, o.quarantined
            ));
        }
    }

    fn stream_finished(&self, r: &StreamReport) {
        if let Some(bar) = self.bar(&r.stream) {
            let status = if r.error.is_some() {
                "FAILED"
            } else if r.paused.is_some() {
                "PAUSED (vendor quota spent)"
            } else {
                "done"
            };
            bar.finish_with_message(format!(
                "{status}: {} read, {} written, {} unchanged, {} quarantined, {} deleted",
                r.read,
                r.outcome.written,
                r.outcome.unchanged,
                r.outcome.quarantined,
                r.outcome.deleted
            ));
        }
    }
}

/// A plain-text summary of a sync, one line per stream.
pub fn summary(report: &SyncReport) -> String {
    let mut out = format!(
        "{:<24} {:>9} {:>9} {:>9} {:>11} {:>8} {:>8}  status\n",
        "stream", "read", "written", "unchanged", "quarantined", "deleted", "secs"
    );
    for s in &report.streams {
        out.push_str(&format!(
            "{:<24} {:>9} {:>9} {:>9} {:>11} {:>8} {:>8.2}  {}\n",
            format!("{}/{}", report.connector, s.stream),
            s.read,
            s.outcome.written,
            s.outcome.unchanged,
            s.outcome.quarantined,
            s.outcome.deleted,
            s.duration.as_secs_f64(),
            s.error
                .as_deref()
                .map(|e| format!("failed: {e}"))
                .unwrap_or_else(|| "ok".to_owned()),
        ));
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
    out
}
