//! What `wasio` writes to stderr about a run besides its own errors: the host's `tracing` events.
//!
//! - Refused connects, binds, listens and Unix paths ([`wasio_host::denials`]): always, one line
//!   each, `wasio: refused ... (grant it with --allow-...)`.
//! - Anything else when `WASIO_LOG` asks for it, as a list of `target=level` directives or one
//!   level: `WASIO_LOG=wasio::net=debug` for connection-level events (connects, listens,
//!   accepts, closes), `WASIO_LOG=debug` for wasmtime's too.

use std::io::IsTerminal as _;

use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::FormatFields as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use wasio_host::denials;

/// Installs the process's subscriber (once, before any run).
pub(crate) fn init() {
    let reports = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .event_format(Prefixed)
        .with_filter(Targets::new().with_target(denials::TARGET, LevelFilter::WARN));
    let log = std::env::var("WASIO_LOG")
        .ok()
        .and_then(|spec| match spec.parse::<Targets>() {
            // The refusals have their own line above.
            Ok(targets) => Some(targets.with_target(denials::TARGET, LevelFilter::OFF)),
            Err(e) => {
                say!("wasio: warning: WASIO_LOG={spec:?} is not a filter ({e}); ignored");
                None
            }
        })
        .map(|targets| {
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .with_filter(targets)
        });
    // Fails only when a subscriber is already set, which nothing else here does.
    let _ = tracing_subscriber::registry()
        .with(reports)
        .with(log)
        .try_init();
}

/// A refusal as one line: `wasio: MESSAGE`.
struct Prefixed;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Prefixed
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "wasio: ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
