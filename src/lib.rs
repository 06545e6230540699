//! The `tributary` application: wiring of configuration, connectors, the sync engine, the
//! simulator and the gateway into the commands `src/main.rs` exposes. Kept as a library so
//! end-to-end tests drive exactly what the binary runs.
//!
//! Only this package reads environment variables, owns the process (signals, terminal
//! progress bars) and knows every connector crate (the [`registry`]).

pub mod config;
pub mod demo;
pub mod ledger;
pub mod progress;
pub mod registry;
pub mod scaffold;
pub mod serve;

pub use config::Config;

/// Starts tracing: `RUST_LOG` wins; otherwise `default` (e.g. `warn` for interactive commands,
/// whose progress bars tell the story, `info` for `serve`).
pub fn init_tracing(default: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
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
