//! CPython's asyncio stream and server tests, ported into a component (tests/apps/streams-app) and run
//! through the real provider: one test here per ported test, each named after it.

use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use wasio_host::Capabilities;
use wasio_tests::{STREAMS_TESTS, SdkMode, WAIT, reset, run, sdk_mode, tests_in_module};

/// Loopback, plus listening on every interface for the all-interfaces test (it sends nothing).
fn grants() -> anyhow::Result<Capabilities> {
    let mut caps = Capabilities::loopback();
    caps.allow_listen("0.0.0.0:*".parse()?);
    caps.allow_listen("[::]:*".parse()?);
    Ok(caps)
}

/// Runs one ported test in the component; it prints `ok NAME` on success.
async fn ported(name: &str) -> anyhow::Result<Vec<String>> {
    let (exit, lines) = run(STREAMS_TESTS, &[name], grants()?).await?;
    let ok = format!("ok {name}");
    anyhow::ensure!(
        exit.success() && lines.contains(&ok),
        "{name} failed ({exit}): {lines:#?}"
    );
    Ok(lines)
}

/// Each test of the streams app has a test here of the same name (which runs it): a test added to
/// the app's `tests!` list and not here would otherwise never run, silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_test_of_the_app_runs_here() -> anyhow::Result<()> {
    let (exit, listed) = run(STREAMS_TESTS, &["--list"], Capabilities::deny_all()).await?;
    anyhow::ensure!(exit.success(), "--list failed ({exit}): {listed:#?}");
    anyhow::ensure!(!listed.is_empty(), "the streams app lists no test");
    let here = tests_in_module("streams")?;
    let missing: Vec<&String> = listed.iter().filter(|name| !here.contains(name)).collect();
    anyhow::ensure!(
        missing.is_empty(),
        "tests of the streams app (tests/apps/streams-app) that no test in \
         tests/tests/integration/streams.rs runs (add them to `ported!`): {missing:?}"
    );
    Ok(())
}

macro_rules! ported {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> anyhow::Result<()> {
                ported(stringify!($name)).await.map(drop)
            }
        )*
    };
}

/// The bulk forms (`bulk-channel`, `try-read-into`, `write-from`, `into-stream`) exist only at the
/// component boundary: the composed build runs these tests, and the linked build has none of them.
macro_rules! composed_only {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> anyhow::Result<()> {
                let name = stringify!($name);
                if sdk_mode() == SdkMode::Composed {
                    return ported(name).await.map(drop);
                }
                let (exit, listed) =
                    run(STREAMS_TESTS, &["--list"], Capabilities::deny_all()).await?;
                anyhow::ensure!(exit.success(), "--list failed ({exit}): {listed:#?}");
                anyhow::ensure!(
                    !listed.iter().any(|l| l == name),
                    "the linked build lists {name}, a test of the composed provider's bulk forms"
                );
                Ok(())
            }
        )*
    };
}

composed_only![
    bulk_read_hands_bytes_over_in_order,
    bulk_read_misuse_consumes_nothing,
    bulk_write_queues_the_streams_bytes,
    bulk_write_respects_the_cap,
    stream_forms_carry_every_byte_in_order,
];

ported![
    interrupted_read_consumes_nothing,
    interrupted_wait_closed_leaves_the_writer_open,
    interrupted_accept_loses_no_connection,
    timer_waits_and_is_interrupted,
    wait_readable_consumes_nothing,
    try_readlines_hands_over_whole_lines_as_readline_would,
    unread_bytes_are_read_first_and_wake_a_waiting_read,
    test_feed_empty_data,
    test_feed_nonempty_data,
    test_read_zero,
    test_read,
    test_read_line_breaks,
    test_read_eof,
    test_read_until_eof,
    test_read_exception,
    test_invalid_limit,
    test_read_limit,
    test_readline,
    test_readline_limit_with_existing_data,
    test_at_eof,
    test_readline_limit,
    test_readline_nolimit_nowait,
    test_readline_eof,
    test_readline_empty_eof,
    test_readline_read_byte_count,
    test_readline_exception,
    test_readuntil_separator,
    test_readuntil_multi_chunks,
    test_readuntil_multi_chunks_1,
    test_readuntil_eof,
    test_readuntil_limit_found_sep,
    test_readuntil_multi_separator,
    test_readuntil_multi_separator_limit,
    test_readuntil_multi_separator_negative_offset,
    test_readexactly_zero_or_less,
    test_readexactly,
    test_readexactly_limit,
    test_readexactly_eof,
    test_readexactly_exception,
    test_exception,
    test_exception_waiter,
    test_exception_cancel,
    concurrent_read_is_busy,
    readexactly_beyond_twice_the_limit,
    reading_pauses_above_twice_the_limit,
    try_read_alone_gets_everything,
    cancelled_read_loses_no_bytes,
    read_timeout_changes_nothing,
    line_iteration,
    test_multiple_drain,
    test_drain_raises,
    test_wait_closed_on_close,
    test_wait_closed_on_close_with_unread_data,
    test_async_writer_api,
    test_async_writer_api_exception_after_close,
    test_eof_feed_when_closing_writer,
    write_never_waits_and_empty_is_ignored,
    write_queue_cap_is_buffer_full,
    write_buffer_limits,
    drain_waits_above_high_until_low,
    close_is_idempotent_and_flushes,
    abort_drops_the_queue,
    test_start_server,
    test_start_server_1,
    test_wait_closed_basic,
    test_wait_closed_race,
    test_close_clients,
    test_abort_clients,
    test_open_connection_error,
    close_keeps_clients_open,
    serve_forever_rules,
    start_serving_is_idempotent,
    several_hosts_and_all_interfaces,
    server_option_rules,
    connect_option_rules,
    local_addr_and_family,
    happy_eyeballs_single_address,
    keep_alive_and_backlog,
    accept_while_closing,
    write_eof_rules,
    socket_options_by_transport,
    abort_with_unread_bytes_resets_the_peer,
    connect_by_host_name,
    drain_after_close_is_connection_lost,
    close_hands_out_accepted_connections,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_unclosed_resource_warnings() -> anyhow::Result<()> {
    let lines = ported("test_unclosed_resource_warnings").await?;
    let warnings = lines
        .iter()
        .filter(|l| l.contains("unclosed writer"))
        .count();
    anyhow::ensure!(
        warnings == 1,
        "want one unclosed-writer warning: {lines:#?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_after_close_are_dropped() -> anyhow::Result<()> {
    let lines = ported("writes_after_close_are_dropped").await?;
    let warnings = lines
        .iter()
        .filter(|l| l.contains("socket.send() raised exception"))
        .count();
    anyhow::ensure!(
        warnings == 1,
        "want one warning after the 5th dropped write: {lines:#?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_handler_closes_only_its_connection() -> anyhow::Result<()> {
    let lines = ported("failing_handler_closes_only_its_connection").await?;
    anyhow::ensure!(
        lines
            .iter()
            .any(|l| l.starts_with("Unhandled exception in client connection handler")),
        "the failure was not reported: {lines:#?}"
    );
    Ok(())
}

/// A native peer that does what no wasio socket can: after `send`, waits `after`, then resets
/// the connection (SO_LINGER 0). Returns its port.
async fn resetting_peer(send: &'static [u8], after: Duration) -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        if let Ok(Ok((mut stream, _))) = tokio::time::timeout(WAIT, listener.accept()).await {
            let _ = stream.write_all(send).await;
            tokio::time::sleep(after).await;
            reset(stream);
        }
    });
    Ok(port)
}

/// Runs a ported test against a resetting native peer.
async fn against_reset(name: &str, send: &'static [u8], after: Duration) -> anyhow::Result<()> {
    let port = resetting_peer(send, after).await?;
    against_peer(name, port).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_error_comes_after_the_buffered_bytes() -> anyhow::Result<()> {
    against_reset(
        "stored_error_comes_after_the_buffered_bytes",
        b"hello",
        Duration::from_millis(200),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connection_fails_every_drain() -> anyhow::Result<()> {
    against_reset(
        "lost_connection_fails_every_drain",
        b"",
        Duration::from_millis(300),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_closed_reports_the_connection_error() -> anyhow::Result<()> {
    against_reset(
        "wait_closed_reports_the_connection_error",
        b"",
        Duration::from_millis(100),
    )
    .await
}

/// A native peer that accepts one connection, waits `after`, and closes it plainly (FIN, or a
/// reset when the app's bytes are still unread there), without reading. Returns its port.
async fn closing_peer(after: Duration) -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        if let Ok(Ok((stream, _))) = tokio::time::timeout(WAIT, listener.accept()).await {
            tokio::time::sleep(after).await;
            drop(stream);
        }
    });
    Ok(port)
}

/// Runs a test of the streams app against a native peer on `port`.
async fn against_peer(name: &str, port: u16) -> anyhow::Result<()> {
    let arg = format!("{name}:{port}");
    let (exit, lines) = run(STREAMS_TESTS, &[&arg], grants()?).await?;
    anyhow::ensure!(
        exit.success() && lines.iter().any(|l| *l == format!("ok {name}")),
        "{name} failed ({exit}): {lines:#?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_eof_stays_false_after_a_reset() -> anyhow::Result<()> {
    against_reset(
        "at_eof_stays_false_after_a_reset",
        b"hello",
        Duration::from_millis(200),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_eof_stays_false_when_the_peer_closes_with_unread_data() -> anyhow::Result<()> {
    let port = closing_peer(Duration::from_millis(200)).await?;
    against_peer(
        "at_eof_stays_false_when_the_peer_closes_with_unread_data",
        port,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_error_fails_the_next_drain() -> anyhow::Result<()> {
    let port = closing_peer(Duration::ZERO).await?;
    against_peer("a_send_error_fails_the_next_drain", port).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_shows_before_any_write() -> anyhow::Result<()> {
    // Not at once: a reset before the app's connect completes would fail the connect itself.
    against_reset(
        "a_reset_shows_before_any_write",
        b"",
        Duration::from_millis(100),
    )
    .await
}
