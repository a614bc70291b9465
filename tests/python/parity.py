"""The scenarios of tests/apps/streams-app/src/asyncio_parity_tests.rs, run in CPython's asyncio.

Each scenario checks what the wasio test expects, against the same kind of scripted peer, and
prints `ok NAME`, or `FAIL NAME: why` (exit status 1). Run by the integration test
`cpython_agrees_with_the_parity_tests` (tests/tests/integration/interop.rs).
"""

import asyncio
import socket
import struct
import sys
import threading
import time


def peer(script):
    """A plain-socket peer on 127.0.0.1 that runs `script` on the one connection it accepts."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run():
        conn, _ = listener.accept()
        script(conn)
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def reset(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


async def wait_until(what, cond):
    for _ in range(1000):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


def expect(what, got, want):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


async def raises(what, awaitable, kinds):
    try:
        await awaitable
    except kinds as e:
        return e
    raise AssertionError(f"{what} did not raise {kinds}")


async def at_eof_stays_false_after_a_reset():
    def script(conn):
        conn.sendall(b"hello")
        time.sleep(0.2)
        reset(conn)

    reader, writer = await asyncio.open_connection("127.0.0.1", peer(script))
    await wait_until("the reset arrived", lambda: reader.exception() is not None)
    expect("at_eof with the error stored", reader.at_eof(), False)
    # CPython raises at once, losing the buffered bytes (wasio delivers them first).
    await raises("read", reader.read(100), ConnectionResetError)
    await raises("wait_closed", writer.wait_closed(), ConnectionResetError)
    expect("at_eof once closed", reader.at_eof(), False)


async def at_eof_stays_false_when_the_peer_closes_with_unread_data():
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", peer(lambda conn: (time.sleep(0.2), conn.close()))
    )
    writer.write(b"data nobody reads")
    await wait_until("the reset arrived", lambda: reader.exception() is not None)
    expect("at_eof", reader.at_eof(), False)
    await raises("wait_closed", writer.wait_closed(), OSError)
    expect("at_eof once closed", reader.at_eof(), False)


async def a_send_error_fails_the_next_drain():
    reader, writer = await asyncio.open_connection("127.0.0.1", peer(lambda c: c.close()))
    expect("EOF", await reader.read(), b"")
    expect("at_eof", reader.at_eof(), True)
    writer.write(b"x")
    await writer.drain()
    await asyncio.sleep(0.1)
    expect("closing before the second write", writer.is_closing(), False)
    writer.write(b"y")
    expect("closing right after the failed send", writer.is_closing(), True)
    e = await raises("the drain after the failed send", writer.drain(), ConnectionResetError)
    expect("drain's error", e.args, ("Connection lost",))
    expect("closing", writer.is_closing(), True)
    error = reader.exception()
    if not isinstance(error, (BrokenPipeError, ConnectionResetError)):
        raise AssertionError(f"the stored error after the failed send: {error!r}")
    expect("at_eof", reader.at_eof(), True)
    closed = await raises("wait_closed", writer.wait_closed(), OSError)
    expect("wait_closed's error", closed, error)


async def a_reset_shows_before_any_write():
    # The peer waits a little, so that the reset does not fail the connect itself.
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", peer(lambda conn: (time.sleep(0.1), reset(conn)))
    )
    await asyncio.sleep(0.4)
    expect("closing", writer.is_closing(), True)
    if not isinstance(reader.exception(), ConnectionResetError):
        raise AssertionError(f"exception: {reader.exception()!r}")
    writer.write(b"x")
    await raises("drain", writer.drain(), ConnectionResetError)
    expect("at_eof", reader.at_eof(), False)


async def drain_after_close_is_connection_lost():
    for size in [0, 1, 32 * 1024]:
        got = []
        done = threading.Event()

        def script(conn):
            while chunk := conn.recv(65536):
                got.append(len(chunk))
            conn.close()
            done.set()

        reader, writer = await asyncio.open_connection("127.0.0.1", peer(script))
        writer.write(b"w" * size)
        writer.close()
        e = await raises(f"drain after {size} bytes and close", writer.drain(), ConnectionResetError)
        expect("drain's error", e.args, ("Connection lost",))
        await writer.wait_closed()
        await asyncio.get_running_loop().run_in_executor(None, done.wait, 10)
        expect("delivered", sum(got), size)


async def close_hands_out_accepted_connections():
    served = []

    async def handler(reader, writer):
        served.append(await reader.readline())
        writer.write(b"served\n")
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=1)
    port = server.sockets[0].getsockname()[1]
    first = socket.create_connection(("127.0.0.1", port))
    # The loop accepts it and starts the handler.
    await asyncio.sleep(0.2)
    # This one stays in the kernel's backlog: close() comes before the loop runs again.
    second = socket.create_connection(("127.0.0.1", port))
    server.close()
    first.sendall(b"ping\n")
    first.settimeout(10)
    reply = b""
    while chunk := await asyncio.get_running_loop().run_in_executor(None, first.recv, 100):
        reply += chunk
    expect("the client is served", reply, b"served\n")
    expect("the server read", served, [b"ping\n"])
    second.settimeout(10)
    try:
        expect("the backlogged client reads", second.recv(100), b"")
    except ConnectionResetError:
        pass
    await server.wait_closed()
    first.close()
    second.close()


async def main():
    failed = False
    for name in [
        "at_eof_stays_false_after_a_reset",
        "at_eof_stays_false_when_the_peer_closes_with_unread_data",
        "a_send_error_fails_the_next_drain",
        "a_reset_shows_before_any_write",
        "drain_after_close_is_connection_lost",
        "close_hands_out_accepted_connections",
    ]:
        try:
            await asyncio.wait_for(globals()[name](), 30)
            print(f"ok {name}", flush=True)
        except Exception as e:
            print(f"FAIL {name}: {e!r}", flush=True)
            failed = True
    sys.exit(1 if failed else 0)


asyncio.run(main())
