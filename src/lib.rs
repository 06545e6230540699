//! The `tributary` application: wiring of configuration, connectors, the sync engine, the
//! simulator and the gateway into the commands `src/main.rs` exposes. Kept as a library so
//! end-to-end tests drive exactly what the binary runs.
//!
//! Only this package reads environment variables, owns the process (signals, terminal
//! progress bars) and knows every connector crate (the [`registry`]).

pub mod apikey;
pub mod check;
pub mod config;
pub mod demo;
pub mod gateway_settings;
pub mod ledger;
pub mod progress;
pub mod registry;
pub mod scaffold;
pub mod serve;

pub use config::Config;

/// An error and its causes on one line, `outer: cause: root`, each message once: a cause whose
/// text its parent already contains (errors that print their source in their own message) is
/// left out.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(text.as_str()) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Starts tracing on stderr: `RUST_LOG` wins; otherwise `default` (e.g. `warn` for
/// interactive commands, whose progress bars tell the story, `info` for `serve`). Colours only
/// when stderr is a terminal (and `NO_COLOR` is unset), so a redirected log is plain text.
pub fn init_tracing(default: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(log_colours(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        ))
        .with_writer(std::io::stderr);
    if json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// Whether log lines carry ANSI colours: on a terminal, unless `NO_COLOR` asks otherwise.
fn log_colours(stderr_is_terminal: bool, no_color: bool) -> bool {
    stderr_is_terminal && !no_color
}

/// Resolves when the process is asked to stop (Ctrl-C, or SIGTERM on Unix).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_line_names_each_cause_once() {
        #[derive(Debug)]
        struct Repeats(std::io::Error);
        impl std::fmt::Display for Repeats {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "pool failed: {}", self.0)
            }
        }
        impl std::error::Error for Repeats {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = anyhow::Error::new(Repeats(io)).context("cannot sync");
        assert_eq!(
            format!("{e:#}"),
            "cannot sync: pool failed: refused: refused"
        );
        assert_eq!(super::error_line(&e), "cannot sync: pool failed: refused");
    }

    #[test]
    fn logs_are_coloured_only_on_a_terminal() {
        assert!(super::log_colours(true, false));
        assert!(!super::log_colours(false, false));
        assert!(!super::log_colours(true, true));
    }
}
