"""Task and program lifecycles, printed so that a native run and a wasio run can be compared.

`python3 lifecycle.py MODE` natively; `wasio run --allow-listen 127.0.0.1:0 --allow-connect
'127.0.0.1:*' lifecycle.py -- MODE` under wasio. The outputs must be identical; the exit status
too.

MODE is one of:
- tasks: `asyncio.all_tasks()` holds the program's tasks only; the "cancel every other task"
  shutdown pattern leaves the program running; a handler that returns without closing its writer
  ends the client's read with EOF (CPython 3.13 on: `[3.13+]` lines); a read cancelled just
  after another server's close ends; a `start_tls` whose peer never answers ends at the caller's
  timeout; a plain-function callback that raises is logged and the
  server goes on; a task cancelled at the end of `asyncio.run` can sleep in its cleanup.
- exit_in_main: `sys.exit(3)` inside main; the `finally` around `asyncio.run` runs.
- exit_in_task: `sys.exit(4)` in another task while main waits.
- exit_in_cleanup: `sys.exit(3)` in a task's `finally` as `asyncio.run` cancels it at the end.
- interrupt: `KeyboardInterrupt` raised inside main (a traceback, no trap; status 130).
- exit_wraps, exit_negative, exit_message: `sys.exit(263)` (status 7), `sys.exit(-2)` (254),
  `sys.exit("goodbye")` (the text on stderr, status 1).
- exit_while_reading: `sys.exit(5)` from a callback while main waits in a read (status 5).
- exit_in_handler: `sys.exit(31)` from the loop's exception handler (status 31).
- os_exit: `os._exit(6)` in main (status 6, no `finally`).
"""

import asyncio
import os
import ssl
import sys
import time


def show(what, value):
    print(f"{what}: {value}", flush=True)


async def tasks():
    me = asyncio.current_task()
    bg = asyncio.ensure_future(asyncio.sleep(100))
    await asyncio.sleep(0.01)
    names = sorted(t.get_coro().__qualname__ for t in asyncio.all_tasks())
    show("all_tasks", names)
    others = [t for t in asyncio.all_tasks() if t is not me]
    for t in others:
        t.cancel()
    await asyncio.sleep(0.02)
    show("after cancelling the other tasks", f"{len(others)} cancelled, bg {bg.cancelled()}")

    async def unclosed(reader, writer):
        writer.write(b"hello\n")
        await writer.drain()

    if sys.version_info >= (3, 13):  # a dropped writer closes its connection from 3.13 on
        server = await asyncio.start_server(unclosed, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection("127.0.0.1", port)
        show("[3.13+] unclosed writer: client reads", await asyncio.wait_for(r.read(), 10))
        w.close()
        await w.wait_closed()
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)
        show("[3.13+] unclosed writer: server", "closed")

    calls = 0

    def plain(reader, writer):
        nonlocal calls
        calls += 1
        writer.close()
        if calls == 1:
            raise KeyError("raised by a plain callback")  # logged to stderr

    server = await asyncio.start_server(plain, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for i in range(2):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        show(f"plain callback: client {i} reads", await asyncio.wait_for(r.read(), 10))
        w.close()
        await w.wait_closed()
    server.close()
    await asyncio.wait_for(server.wait_closed(), 10)
    show("plain callback: calls", calls)

    # A read cancelled in the turn after another server's close (the provider busy closing it
    # when the read starts) ends: its cancel is not lost.
    async def idle(reader, writer):
        await reader.read()

    first = await asyncio.start_server(idle, "127.0.0.1", 0)
    second = await asyncio.start_server(idle, "127.0.0.1", 0)
    port = second.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection("127.0.0.1", port)
    first.close()
    read = asyncio.ensure_future(r.read())
    await asyncio.sleep(0)
    read.cancel()
    await asyncio.wait([read], timeout=10)
    show("read cancelled after a close", read.cancelled())
    w.close()
    await w.wait_closed()
    second.close()
    await asyncio.wait_for(second.wait_closed(), 10)

    # A TLS upgrade whose peer never answers ends at the caller's timeout, not the handshake's.
    async def silent(reader, writer):
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    r, w = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    started = time.monotonic()
    try:
        await asyncio.wait_for(
            w.start_tls(ssl.create_default_context(), server_hostname="localhost"), 0.5)
    except TimeoutError:
        show("start_tls to a silent peer", "TimeoutError")
    show("start_tls ended within 10 s", time.monotonic() - started < 10)
    w.close()
    server.close()
    await asyncio.wait_for(server.wait_closed(), 10)

    async def worker():
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            show("worker", "cancelled, cleaning up")
            await asyncio.sleep(0.01)
            show("worker", "cleanup done")
            raise

    asyncio.ensure_future(worker())
    await asyncio.sleep(0.01)
    show("main", "returns")


async def exit_in_main():
    await asyncio.sleep(0)
    sys.exit(3)


async def exit_in_task():
    async def quitter():
        await asyncio.sleep(0.01)
        sys.exit(4)

    asyncio.ensure_future(quitter())
    try:
        await asyncio.sleep(100)
    except asyncio.CancelledError:
        show("main", "cancelled by the exit")
        raise


async def exit_in_cleanup():
    async def worker():
        try:
            await asyncio.sleep(100)
        finally:
            show("worker", "exits in its cleanup")
            sys.exit(3)

    asyncio.ensure_future(worker())
    await asyncio.sleep(0.01)
    show("main", "returns")


async def interrupt():
    await asyncio.sleep(0)
    raise KeyboardInterrupt


async def exit_while_reading():
    # No timer is pending while main waits in a read (a trap once: the exit's cancellation
    # started the timer driver outside any handle's context).
    async def idle(reader, writer):
        await reader.read()

    server = await asyncio.start_server(idle, "127.0.0.1", 0)
    r, w = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    asyncio.get_running_loop().call_soon(sys.exit, 5)
    await r.read()


async def exit_in_handler():
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: sys.exit(31))
    loop.call_soon(lambda: 1 / 0)
    await asyncio.sleep(0.3)
    show("main", "still running")


async def os_exit():
    show("main", "calls os._exit(6)")
    os._exit(6)


async def exit_wraps():
    sys.exit(256 + 7)


async def exit_negative():
    sys.exit(-2)


async def exit_message():
    sys.exit("goodbye")


MODES = {
    f.__name__: f
    for f in (
        tasks,
        exit_in_main,
        exit_in_task,
        exit_in_cleanup,
        interrupt,
        exit_wraps,
        exit_negative,
        exit_message,
        exit_while_reading,
        exit_in_handler,
        os_exit,
    )
}

try:
    asyncio.run(MODES[sys.argv[1]]())
finally:
    print("finally after asyncio.run", flush=True)
print("after asyncio.run", flush=True)
