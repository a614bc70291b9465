//! CPython's `test_asyncio/test_streams.py` and `test_server.py`, ported to wasio and run through
//! the real provider component. Each test is an async function named after the CPython test it
//! ports (or after the SPEC item it proves, for wasio's own additions); `run` takes the test names
//! as arguments and prints `ok NAME` or `FAIL NAME: why` for each.
//!
//! Where CPython feeds a bare `StreamReader`, a port uses a real loopback connection made inside
//! this component: a server's accepted side writes what CPython fed, and `write_eof` stands for
//! `feed_eof`.

/// Generated bindings of the monotonic clock, for sleeps and elapsed times; the contract comes
/// through wasio-sdk's `raw` module, linked or composed (feature `composed`).
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        inline: "
            package wasio:streams-tests;
            world tests {
                import wasi:clocks/monotonic-clock@0.3.0;
            }
        ",
        world: "wasio:streams-tests/tests",
        generate_all,
    });
}

mod asyncio_parity_tests;
#[cfg(feature = "composed")]
mod bulk_tests;
mod harness;
mod interrupt_tests;
mod lines_ahead_tests;
mod reader_tests;
mod server_tests;
mod writer_tests;

use harness::TestResult;
use std::future::Future;
use std::pin::Pin;

type TestFn = fn() -> Pin<Box<dyn Future<Output = TestResult>>>;

macro_rules! tests {
    ($list:ident: $($module:ident :: $name:ident),* $(,)?) => {
        const $list: &[(&str, TestFn)] = &[
            $((stringify!($name), || Box::pin($module::$name())),)*
        ];
    };
}

// The bulk forms exist only at the component boundary: these run in the composed build.
#[cfg(feature = "composed")]
tests![
    BULK_TESTS:
    bulk_tests::bulk_read_hands_bytes_over_in_order,
    bulk_tests::bulk_read_misuse_consumes_nothing,
    bulk_tests::bulk_write_queues_the_streams_bytes,
    bulk_tests::bulk_write_respects_the_cap,
    bulk_tests::stream_forms_carry_every_byte_in_order,
];
#[cfg(not(feature = "composed"))]
const BULK_TESTS: &[(&str, TestFn)] = &[];

// Every test by name, in both builds.
tests![
    TESTS:
    interrupt_tests::interrupted_read_consumes_nothing,
    interrupt_tests::interrupted_wait_closed_leaves_the_writer_open,
    interrupt_tests::interrupted_accept_loses_no_connection,
    interrupt_tests::timer_waits_and_is_interrupted,
    reader_tests::wait_readable_consumes_nothing,
    lines_ahead_tests::try_readlines_hands_over_whole_lines_as_readline_would,
    lines_ahead_tests::unread_bytes_are_read_first_and_wake_a_waiting_read,
    reader_tests::test_feed_empty_data,
    reader_tests::test_feed_nonempty_data,
    reader_tests::test_read_zero,
    reader_tests::test_read,
    reader_tests::test_read_line_breaks,
    reader_tests::test_read_eof,
    reader_tests::test_read_until_eof,
    reader_tests::test_read_exception,
    reader_tests::test_invalid_limit,
    reader_tests::test_read_limit,
    reader_tests::test_readline,
    reader_tests::test_readline_limit_with_existing_data,
    reader_tests::test_at_eof,
    reader_tests::test_readline_limit,
    reader_tests::test_readline_nolimit_nowait,
    reader_tests::test_readline_eof,
    reader_tests::test_readline_empty_eof,
    reader_tests::test_readline_read_byte_count,
    reader_tests::test_readline_exception,
    reader_tests::test_readuntil_separator,
    reader_tests::test_readuntil_multi_chunks,
    reader_tests::test_readuntil_multi_chunks_1,
    reader_tests::test_readuntil_eof,
    reader_tests::test_readuntil_limit_found_sep,
    reader_tests::test_readuntil_multi_separator,
    reader_tests::test_readuntil_multi_separator_limit,
    reader_tests::test_readuntil_multi_separator_negative_offset,
    reader_tests::test_readexactly_zero_or_less,
    reader_tests::test_readexactly,
    reader_tests::test_readexactly_limit,
    reader_tests::test_readexactly_eof,
    reader_tests::test_readexactly_exception,
    reader_tests::test_exception,
    reader_tests::test_exception_waiter,
    reader_tests::test_exception_cancel,
    reader_tests::concurrent_read_is_busy,
    reader_tests::readexactly_beyond_twice_the_limit,
    reader_tests::reading_pauses_above_twice_the_limit,
    reader_tests::try_read_alone_gets_everything,
    reader_tests::stored_error_comes_after_the_buffered_bytes,
    reader_tests::cancelled_read_loses_no_bytes,
    reader_tests::read_timeout_changes_nothing,
    reader_tests::line_iteration,
    writer_tests::test_multiple_drain,
    writer_tests::test_drain_raises,
    writer_tests::test_wait_closed_on_close,
    writer_tests::test_wait_closed_on_close_with_unread_data,
    writer_tests::test_async_writer_api,
    writer_tests::test_async_writer_api_exception_after_close,
    writer_tests::test_eof_feed_when_closing_writer,
    writer_tests::test_unclosed_resource_warnings,
    writer_tests::write_never_waits_and_empty_is_ignored,
    writer_tests::write_queue_cap_is_buffer_full,
    writer_tests::write_buffer_limits,
    writer_tests::drain_waits_above_high_until_low,
    writer_tests::lost_connection_fails_every_drain,
    writer_tests::close_is_idempotent_and_flushes,
    writer_tests::abort_drops_the_queue,
    writer_tests::wait_closed_reports_the_connection_error,
    writer_tests::writes_after_close_are_dropped,
    writer_tests::write_eof_rules,
    writer_tests::socket_options_by_transport,
    writer_tests::abort_with_unread_bytes_resets_the_peer,
    writer_tests::connect_by_host_name,
    server_tests::test_start_server,
    server_tests::test_start_server_1,
    server_tests::test_wait_closed_basic,
    server_tests::test_wait_closed_race,
    server_tests::test_close_clients,
    server_tests::test_abort_clients,
    server_tests::test_open_connection_error,
    server_tests::close_keeps_clients_open,
    server_tests::serve_forever_rules,
    server_tests::start_serving_is_idempotent,
    server_tests::several_hosts_and_all_interfaces,
    server_tests::server_option_rules,
    server_tests::connect_option_rules,
    server_tests::local_addr_and_family,
    server_tests::happy_eyeballs_single_address,
    server_tests::failing_handler_closes_only_its_connection,
    server_tests::keep_alive_and_backlog,
    server_tests::accept_while_closing,
    asyncio_parity_tests::at_eof_stays_false_after_a_reset,
    asyncio_parity_tests::at_eof_stays_false_when_the_peer_closes_with_unread_data,
    asyncio_parity_tests::a_send_error_fails_the_next_drain,
    asyncio_parity_tests::a_reset_shows_before_any_write,
    asyncio_parity_tests::drain_after_close_is_connection_lost,
    asyncio_parity_tests::close_hands_out_accepted_connections,
];

wasio_sdk::main!(run);

/// Runs the tests named in the arguments (all of them listed with `--list` or none).
async fn run() -> Result<(), String> {
    let all = || TESTS.iter().chain(BULK_TESTS);
    let names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() || names.iter().any(|n| n == "--list") {
        for (name, _) in all() {
            println!("{name}");
        }
        return Ok(());
    }
    let mut failed = 0;
    for arg in &names {
        // `NAME:PORT` hands the test the port of a native peer the integration test runs.
        let name = match arg.split_once(':') {
            Some((name, port)) => {
                harness::set_peer_port(port.parse().ok());
                name
            }
            None => arg.as_str(),
        };
        let Some((_, test)) = all().find(|(n, _)| *n == name) else {
            println!("FAIL {name}: no such test");
            failed += 1;
            continue;
        };
        match test().await {
            Ok(()) => println!("ok {name}"),
            Err(why) => {
                println!("FAIL {name}: {why}");
                failed += 1;
            }
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} of {} tests failed", names.len()))
    }
}
