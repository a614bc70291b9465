"""asyncio Streams behaviour, printed so that two runs can be compared line by line.

Run natively by CPython (`python3 behaviour.py TMPDIR`) and as a wasio component (`wasio run
--allow-listen 127.0.0.1:0 --allow-connect '127.0.0.1:*' --allow-unix TMPDIR/ behaviour.py --
TMPDIR`): the outputs must be identical. Lines tagged `[3.13+]` exercise API added in CPython
3.13 and print only where it exists (wasio's Python is 3.14). Every peer is an asyncio server or
client in this same program, on 127.0.0.1 or in TMPDIR.
"""

import array
import asyncio
import concurrent.futures
import copy
import contextvars
import errno
import json
import os
import socket
import sys
import threading

NEW = sys.version_info >= (3, 13)


def show(what, value):
    print(f"{what}: {value}", flush=True)


async def outcome(aw):
    """What awaiting `aw` gives: its value, or the exception's class and telling attributes."""
    try:
        return f"ok {await aw!r}"
    except asyncio.IncompleteReadError as e:
        return f"IncompleteReadError partial={e.partial!r} expected={e.expected!r}"
    except asyncio.LimitOverrunError as e:
        return f"LimitOverrunError consumed={e.consumed}"
    except asyncio.CancelledError:
        return "CancelledError"
    except OSError as e:
        # By name: the numbers differ between Linux and WASI (wasio's Python), the names do not.
        return f"{type(e).__name__} {errno.errorcode.get(e.errno, e.errno)}"
    except Exception as e:
        return type(e).__name__


async def scripted(steps, **kw):
    """A server whose one connection plays `steps`: bytes are sent, "wait" waits for a line
    from the client, "eof" half-closes, "sleep" pauses, "abort" resets, "close" closes."""
    done = asyncio.get_running_loop().create_future()

    async def play(reader, writer):
        try:
            for step in steps:
                if isinstance(step, bytes):
                    writer.write(step)
                    await writer.drain()
                elif step == "wait":
                    await reader.readline()
                elif step == "eof":
                    writer.write_eof()
                elif step == "sleep":
                    await asyncio.sleep(0.05)
                elif step == "abort":
                    writer.transport.abort()
                    return
            writer.close()
            await writer.wait_closed()
        except Exception as e:
            show("peer error", type(e).__name__)
        finally:
            if not done.done():
                done.set_result(None)

    server = await asyncio.start_server(play, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port, **kw)
    return server, reader, writer, done


async def finish(server, writer, done):
    writer.close()
    await writer.wait_closed()
    await done
    server.close()
    await server.wait_closed()


async def reads():
    server, r, w, done = await scripted([b"line1\nline2\nrest", "eof"])
    show("readline", await outcome(r.readline()))
    show("readuntil", await outcome(r.readuntil(b"2\n")))
    show("read 2", await outcome(r.read(2)))
    show("at_eof before", r.at_eof())
    show("readexactly past EOF", await outcome(r.readexactly(5)))
    show("at_eof after", r.at_eof())
    show("read at EOF", await outcome(r.read()))
    show("readline at EOF", await outcome(r.readline()))
    show("exception", r.exception())
    await finish(server, w, done)

    server, r, w, done = await scripted([b"a\r\nb\nc|d", "eof"])
    show("read(0)", await outcome(r.read(0)))
    show("readexactly 2", await outcome(r.readexactly(2)))
    if NEW:
        show("readuntil several [3.13+]", await outcome(r.readuntil((b"\n", b"\r\n"))))
        show("readuntil with a list [3.13+]", await outcome(r.readuntil([b"|", b"\n"])))
        show("readuntil several at EOF [3.13+]", await outcome(r.readuntil((b"|", b"\n"))))
    else:  # the same bytes consumed (the list is refused, consuming nothing)
        for separator in (b"\n", b"\n"):
            await r.readuntil(separator)
    lines = [line async for line in r]
    show("async for at EOF", lines)
    await finish(server, w, done)

    server, r, w, done = await scripted([b"one\ntwo\nthree", "eof"])
    show("async for", [line async for line in r])
    await finish(server, w, done)

    server, r, w, done = await scripted([b"x" * 10, "eof"])
    show("read(-1)", await outcome(r.read(-1)))
    await finish(server, w, done)


async def limits():
    steps = [b"0123456789abcdefghij\nshort\n", "wait", b"0123456789|abcdefghij|\n", "wait",
             b"no separator here at all", "eof"]
    server, r, w, done = await scripted(steps, limit=16)
    show("readuntil over limit", await outcome(r.readuntil(b"\n")))
    show("after overrun", await outcome(r.readexactly(21)))
    show("readline", await outcome(r.readline()))
    w.write(b"go\n")
    show("separator within limit", await outcome(r.readuntil(b"|")))
    show("separator past limit", await outcome(r.readuntil(b"|")))
    show("rest", await outcome(r.readline()))
    w.write(b"go\n")
    show("readline over limit", await outcome(r.readline()))
    show("after readline overrun", await outcome(r.read()))
    await finish(server, w, done)

    try:
        await asyncio.open_connection("127.0.0.1", 1, limit=0)
    except ValueError:
        show("limit=0", "ValueError")


async def writes():
    server, r, w, done = await scripted(["wait", b"bye\n", "wait"])
    show("can_write_eof", w.can_write_eof())
    show("is_closing", w.is_closing())
    peer = w.get_extra_info("peername")
    own = w.get_extra_info("sockname")
    show("peername", (peer[0], type(peer[1]).__name__))
    show("sockname", (own[0], type(own[1]).__name__))
    show("unknown extra info", w.get_extra_info("nonsense", "default"))
    await socket_options(w, peer)
    t = w.transport
    show("write buffer size", t.get_write_buffer_size())
    t.set_write_buffer_limits(high=100)
    show("limits high=100", t.get_write_buffer_limits())
    t.set_write_buffer_limits(high=64 * 1024, low=16 * 1024)
    show("limits reset", t.get_write_buffer_limits())
    w.writelines([b"he", b"llo", b"\n"])
    await w.drain()
    show("readline", await outcome(r.readline()))
    w.write(b"x\n")
    w.write_eof()
    show("write after write_eof", await outcome(_write(w, b"y")))
    if NEW:  # 3.11's transport says write()
        show("writelines after write_eof [3.13+]", raises(lambda: w.writelines([b"y"])))
    show("read after peer closes", await outcome(r.read()))
    w.close()
    show("is_closing after close", w.is_closing())
    await w.wait_closed()
    show("wait_closed twice", await outcome(w.wait_closed()))
    await done
    server.close()
    await server.wait_closed()


async def socket_options(w, peer):
    """`get_extra_info('socket')`: TCP_NODELAY on (asyncio sets it), both options settable."""
    sock = w.get_extra_info("socket")
    show("socket is kept", sock is w.get_extra_info("socket"))
    show("socket peername", sock.getpeername() == peer)
    tcp, nodelay = socket.IPPROTO_TCP, socket.TCP_NODELAY
    show("TCP_NODELAY", bool(sock.getsockopt(tcp, nodelay)))
    sock.setsockopt(tcp, nodelay, 0)
    show("TCP_NODELAY after 0", bool(sock.getsockopt(tcp, nodelay)))
    sock.setsockopt(tcp, nodelay, True)
    show("TCP_NODELAY after True", bool(sock.getsockopt(tcp, nodelay)))
    keep = (socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    show("SO_KEEPALIVE", bool(sock.getsockopt(*keep)))
    sock.setsockopt(*keep, 1)
    show("SO_KEEPALIVE after 1", bool(sock.getsockopt(*keep)))

    def attempt(call):
        # Errno by name: the numbers differ between Linux and WASI.
        try:
            return f"ok {call()!r}"
        except OSError as e:
            return f"{type(e).__name__} {errno.errorcode.get(e.errno, e.errno)}"
        except TypeError as e:
            return f"TypeError {e}"

    for value in (2**31, 1.5, b"", b"\x01\x00", None):
        show(f"setsockopt TCP_NODELAY {value!r}", attempt(lambda: sock.setsockopt(tcp, nodelay, value)))
    show("setsockopt TCP_NODELAY None, 4", attempt(lambda: sock.setsockopt(tcp, nodelay, None, 4)))
    show("TCP_NODELAY after those", bool(sock.getsockopt(tcp, nodelay)))
    for size in (-1, 0, 3, 1025):
        show(f"getsockopt buflen {size}", attempt(lambda: sock.getsockopt(tcp, nodelay, size)))


def tcp_option_on_unix(w):
    """Linux refuses TCP_NODELAY on a Unix socket (by number: ENOTSUP's name differs)."""
    try:
        w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return "ok"
    except OSError as e:
        return f"{type(e).__name__} EOPNOTSUPP={e.errno == errno.EOPNOTSUPP}"


async def _write(w, data):
    w.write(data)


async def resets():
    # The peer resets while bytes it never read wait in its socket (more than its reader takes
    # ahead): the client sees a reset.
    server, r, w, done = await scripted(["sleep", "sleep", "abort"])
    w.write(b"x" * 1_000_000)
    await done
    show("read after reset", await outcome(r.read(100)))
    show("exception after reset", type(r.exception()).__name__)
    show("drain after reset", await outcome(w.drain()))
    w.close()
    show("wait_closed after reset", await outcome(w.wait_closed()))
    server.close()
    await server.wait_closed()

    # Bytes written just before an abort: asyncio's write handed them to the socket at once,
    # so the peer receives them, then the end (no reset: the aborting side had nothing unread).
    for drained in (False, True):
        got = asyncio.get_running_loop().create_future()

        async def collect(reader, writer):
            got.set_result(await outcome(reader.read()))
            writer.close()

        server = await asyncio.start_server(collect, "127.0.0.1", 0)
        r, w = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        w.write(b"before abort")
        if drained:
            await w.drain()
        w.transport.abort()
        show(f"peer of an abort right after a write (drained {drained})", await got)
        server.close()
        await server.wait_closed()

    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    show("connect refused", await outcome(asyncio.open_connection("127.0.0.1", port)))
    show("connect refused, words", await message(asyncio.open_connection("127.0.0.1", port), port))
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    if NEW:  # 3.13 added the errno to the words
        show("bind in use, words [3.13+]",
             await message(asyncio.start_server(lambda r, w: None, "127.0.0.1", port), port))
    server.close()
    await server.wait_closed()


async def message(aw, port):
    """The words of the OSError awaiting `aw` raises: the port and errno numbers (Linux's and
    WASI's differ) left out."""
    try:
        await aw
        return "no error"
    except OSError as e:
        return f"{type(e).__name__}: {e.strerror}".replace(f"errno {e.errno}]", "errno N]").replace(
            str(port), "PORT")


async def timeouts_and_cancellation():
    steps = [b"partial", "wait", b" line\n", "wait", b"0123456789", "wait", b"end\n"]
    server, r, w, done = await scripted(steps)
    show("wait_for readline", await outcome(asyncio.wait_for(r.readline(), 0.05)))
    w.write(b"go\n")
    show("readline after timeout", await outcome(r.readline()))
    task = asyncio.ensure_future(r.readexactly(12))
    await asyncio.sleep(0.05)
    task.cancel()
    show("cancelled readexactly", await outcome(task))
    w.write(b"go\n")
    await asyncio.sleep(0.05)
    try:
        async with asyncio.timeout(0.05):
            await r.readuntil(b"\n")
    except TimeoutError:
        show("asyncio.timeout readuntil", "TimeoutError")
    w.write(b"go\n")
    show("nothing lost", await outcome(r.readuntil(b"\n")))
    await finish(server, w, done)

    loop = asyncio.get_running_loop()
    order = []
    loop.call_later(0.03, order.append, "later")
    loop.call_at(loop.time() + 0.01, order.append, "at")
    loop.call_soon(order.append, "soon")
    loop.call_later(0.02, order.append, "cancelled").cancel()
    start = loop.time()
    await asyncio.sleep(0.05)
    show("callbacks", order)
    show("slept at least 50 ms", loop.time() - start >= 0.05)
    show("sleep result", await asyncio.sleep(0, "result"))
    results = await asyncio.gather(asyncio.sleep(0.02, "a"), asyncio.sleep(0.01, "b"))
    show("gather", results)
    async with asyncio.TaskGroup() as group:
        t1 = group.create_task(asyncio.sleep(0.01, 1))
        t2 = group.create_task(asyncio.sleep(0.02, 2))
    show("TaskGroup", (t1.result(), t2.result()))
    show("wait_for in time", await outcome(asyncio.wait_for(asyncio.sleep(0.01, "in time"), 1)))


async def servers():
    async def echo(reader, writer):
        data = await reader.readline()
        writer.write(data)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def talk(port, line=b"hi\n"):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(line)
        got = await r.readline()
        w.close()
        await w.wait_closed()
        return got

    server = await asyncio.start_server(echo, "127.0.0.1", 0, start_serving=False)
    show("is_serving before start", server.is_serving())
    show("sockets", len(server.sockets))
    await server.start_serving()
    show("is_serving after start", server.is_serving())
    port = server.sockets[0].getsockname()[1]
    sock = server.sockets[0]
    show("listening socket", (sock.family.name, sock.type.name, sock.proto,
                              sock.gettimeout(), raises(sock.getpeername).split(":")[0]))
    show("server classes", (isinstance(server, asyncio.AbstractServer),
                            type(server).__name__))
    show("echo", await talk(port))
    server.close()
    show("is_serving after close", server.is_serving())
    await server.wait_closed()
    show("sockets after close", len(server.sockets))

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        forever = asyncio.ensure_future(server.serve_forever())
        show("echo while serving forever", await talk(port))
        forever.cancel()
        show("serve_forever cancelled", await outcome(forever))
    show("is_serving after async with", server.is_serving())

    # 1000 clients at once.
    server = await asyncio.start_server(echo, "127.0.0.1", 0, backlog=1000)
    port = server.sockets[0].getsockname()[1]
    got = await asyncio.gather(*(talk(port, b"%d\n" % i) for i in range(1000)))
    show("1000 concurrent clients", got == [b"%d\n" % i for i in range(1000)])
    server.close()
    await server.wait_closed()

    if NEW:
        held = []

        async def hold(reader, writer):
            held.append(writer)
            await reader.read()

        server = await asyncio.start_server(hold, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        while len(held) < 2:
            await asyncio.sleep(0.01)
        server.close()
        server.close_clients()
        for r, w in clients:
            show("client after close_clients [3.13+]", await outcome(r.read()))
            w.close()
            await w.wait_closed()
        await server.wait_closed()

    failing = asyncio.get_running_loop().create_future()

    async def broken(reader, writer):
        try:
            raise RuntimeError("the handler failed")
        finally:
            failing.set_result(None)

    server = await asyncio.start_server(broken, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection("127.0.0.1", port)
    await failing
    show("client of a failed handler", await outcome(r.read()))
    w.close()
    await w.wait_closed()
    server.close()
    await server.wait_closed()


async def unix(tmp):
    path = os.path.join(tmp, "behaviour.sock")

    async def echo(reader, writer):
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_unix_server(echo, path)
    show("unix sockname is the path", server.sockets[0].getsockname() == path)
    r, w = await asyncio.open_unix_connection(path)
    w.write(b"over unix\n")
    show("unix echo", await outcome(r.readline()))
    show("unix TCP_NODELAY", tcp_option_on_unix(w))
    w.close()
    await w.wait_closed()
    server.close()
    await server.wait_closed()
    if NEW:  # the socket file is removed on close (cleanup_socket, new in 3.13)
        show("unix connect after close [3.13+]",
             await outcome(asyncio.open_unix_connection(path)))
    show("unix path of 108 bytes",
         await outcome(asyncio.start_unix_server(echo, "/" + "a" * 107)))
    show("unix connect to nothing",
         await outcome(asyncio.open_unix_connection(os.path.join(tmp, "missing.sock"))))
    if NEW:  # cleanup_socket is new in 3.13
        stale = os.path.join(tmp, "stale.sock")
        server = await asyncio.start_unix_server(echo, stale, cleanup_socket=False)
        server.close()
        await server.wait_closed()
        show("unix connect to a stale socket file [3.13+]",
             await message(asyncio.open_unix_connection(stale), "-"))


request = contextvars.ContextVar("request", default="none")


def raises(call):
    """The exception `call()` raises, with its message."""
    try:
        call()
        return "no exception"
    except Exception as e:
        return f"{type(e).__name__}: {e}"


async def executors():
    """run_in_executor / to_thread (under wasio on the loop's thread: same results and order)."""
    loop = asyncio.get_running_loop()
    show("run_in_executor", await loop.run_in_executor(None, pow, 2, 10))

    def fails():
        raise LookupError("raised in the executor")

    try:
        await loop.run_in_executor(None, fails)
    except LookupError as e:
        show("exception from the function", f"LookupError: {e}")

    def describe(a, b, *, sep):
        seen = request.get()
        request.set("changed inside")
        return f"{a}{sep}{b} for {seen}"

    token = request.set("request 7")
    show("to_thread", await asyncio.to_thread(describe, "x", "y", sep="+"))
    show("context after to_thread", request.get())
    request.reset(token)
    got = await asyncio.gather(*(asyncio.to_thread(pow, i, 2) for i in range(8)),
                               loop.run_in_executor(None, sum, [1, 2, 3]))
    show("gathered", got)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        show("ThreadPoolExecutor", await loop.run_in_executor(pool, pow, 3, 4))
    show("after its shutdown", raises(lambda: loop.run_in_executor(pool, pow, 3, 4)))

    class Inline(concurrent.futures.Executor):
        def submit(self, fn, /, *args, **kwargs):
            future = concurrent.futures.Future()
            future.set_result(fn(*args, **kwargs))
            return future

    show("an executor of its own", await loop.run_in_executor(Inline(), pow, 5, 2))
    show("set_default_executor(Inline())", raises(lambda: loop.set_default_executor(Inline())))

    # One worker, held until the cancellation has reached the executor (natively, where the
    # worker is a thread; under wasio the call runs on the loop's thread and is not held).
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
    gate = threading.Event()

    def hold():
        if threading.current_thread() is not threading.main_thread():
            gate.wait()

    held = loop.run_in_executor(None, hold)
    ran = []
    cancelled = loop.run_in_executor(None, ran.append, "ran")
    cancelled.cancel()
    await asyncio.sleep(0)
    gate.set()
    await held
    show("cancelled before it ran", (await outcome(cancelled), ran))

    order = []
    queued = loop.run_in_executor(None, order.append, "call")
    await loop.shutdown_default_executor()
    order.append("shut down")
    show("shutdown_default_executor", (order, queued.done()))
    show("after shutdown_default_executor", raises(lambda: loop.run_in_executor(None, pow, 2, 2)))


async def name_lookup():
    """loop.getaddrinfo (asyncio runs socket.getaddrinfo in its executor); families by name."""
    loop = asyncio.get_running_loop()
    for host in ("127.0.0.1", "localhost"):
        found = await loop.getaddrinfo(host, 8080, family=socket.AF_INET, type=socket.SOCK_STREAM)
        show(f"getaddrinfo({host!r})", sorted({(f.name, t.name, a) for f, t, _, _, a in found}))
    try:
        await loop.getaddrinfo("name.invalid", 80, type=socket.SOCK_STREAM)
        show("getaddrinfo('name.invalid')", "resolved")
    except socket.gaierror:
        show("getaddrinfo('name.invalid')", "gaierror")


def error_codes():
    """[wasio] lines: the exception each wasio error-code raises (printed under wasio only)."""
    try:
        from wasio_asyncio._errors import to_exception
        from wasio_asyncio.bindings.imports import wasio_types as t
    except ImportError:
        return
    payloads = {
        "ErrorCode_IncompleteRead": t.IncompleteRead(partial=b"ab", expected=5),
        "ErrorCode_LimitOverrun": t.LimitOverrun(found=True, consumed=3),
        "ErrorCode_Other": None,
    }
    for name in sorted(n for n in dir(t) if n.startswith("ErrorCode_")):
        case = getattr(t, name)
        if name in payloads:
            code = case(payloads[name])
        elif getattr(case, "__dataclass_fields__", {}):
            code = case("why")
        else:
            code = case()
        exc = to_exception(code)
        number = getattr(exc, "errno", None)
        if number is None:
            number = "-"
        elif not type(exc).__name__.startswith("SSL"):  # an SSLError's errno is SSL's own code
            number = errno.errorcode.get(number, number)
        show(f"[wasio] {name[len('ErrorCode_'):]}", f"{type(exc).__name__} {number} {exc}")
    # The loop's low-level methods say what to use instead.
    loop = asyncio.get_event_loop()
    show("[wasio] loop.add_reader", raises(lambda: loop.add_reader(0, print)))


async def arguments():
    """Values asyncio rejects raise what asyncio raises (none stops the program); values it
    takes work; a host list naming one address twice listens once; `set_exception` keeps the
    very exception object."""
    server, r, w, done = await scripted([b"ab", "eof", "wait"])
    show("open_connection port 70000", await outcome(asyncio.open_connection("127.0.0.1", 70000)))
    show("open_connection host with a surrogate",
         await outcome(asyncio.open_connection("\udcff", 80)))
    show("open_connection to ''", await outcome(asyncio.open_connection("", 80)))
    show("read(2.5)", await outcome(r.read(2.5)))
    show("readexactly(2**64)", await outcome(r.readexactly(2**64)))
    for data in (5, "text", [1], array.array("i", [1])):
        show(f"write({data!r})", raises(lambda: w.write(data)))
    show("writelines([3])", raises(lambda: w.writelines([3])).split(":")[0])
    try:
        w.transport.set_write_buffer_limits(high=-1)
    except ValueError as e:
        show("set_write_buffer_limits(high=-1)", f"ValueError {e}")
    w.transport.set_write_buffer_limits(high=2**70)
    show("set_write_buffer_limits(high=2**70)", w.transport.get_write_buffer_limits()[0] > 0)
    w.write(b"\n")
    await finish(server, w, done)

    async def idle(reader, writer):
        writer.close()

    for kwargs in ({"backlog": -1}, {"limit": 2.5}, {"limit": 2**70}):
        srv = await asyncio.start_server(idle, "127.0.0.1", 0, **kwargs)
        show(f"start_server {kwargs}", f"{len(srv.sockets)} socket")
        srv.close()
        await srv.wait_closed()
    show("start_server backlog=2**40",
         await outcome(asyncio.start_server(idle, "127.0.0.1", 0, backlog=2**40)))
    show("start_server host list with an int",
         await outcome(asyncio.start_server(idle, ["127.0.0.1", 5], 0)))
    if NEW:  # 3.11 listens on no address and returns a server with no sockets
        show("start_server with an empty host list [3.13+]",
             await outcome(asyncio.start_server(idle, [], 0)))
    srv = await asyncio.start_server(idle, ["127.0.0.1", "127.0.0.1"], 0)
    show("start_server one address twice", f"{len(srv.sockets)} socket")
    port = srv.sockets[0].getsockname()[1]
    for delay in (-1, 1e30):
        r, w = await asyncio.open_connection("127.0.0.1", port, happy_eyeballs_delay=delay)
        show(f"open_connection happy_eyeballs_delay={delay}", await r.read())
        w.close()
        await w.wait_closed()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    stored = ValueError("stored by the program")
    r.set_exception(stored)
    show("set_exception: exception() is the object", r.exception() is stored)
    try:
        await r.read()
    except ValueError as e:
        show("set_exception: read raises the object", e is stored)
    w.close()
    await w.wait_closed()
    srv.close()
    await srv.wait_closed()
    show("sleep(1e30) then cancel", await outcome(asyncio.wait_for(asyncio.sleep(1e30), 0.01)))
    srv = await asyncio.start_server(idle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    for interleave in (-1, 2**32):
        r, w = await asyncio.open_connection("127.0.0.1", port, interleave=interleave)
        show(f"open_connection interleave={interleave}", await r.read())
        w.close()
        await w.wait_closed()
    show("open_connection interleave=1.5",
         await outcome(asyncio.open_connection("127.0.0.1", port, interleave=1.5)))
    a, b = socket.socketpair()
    a.sendall(b"pair")
    for size in (-1, 1.5, 2**64):
        show(f"socketpair recv({size!r})", raises(lambda: b.recv(size)).split(":")[0])
    show("socketpair send(5)", raises(lambda: a.send(5)).split(":")[0])
    a.close()
    b.close()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    surrogate = ValueError("bad byte \udc80")
    r.set_exception(surrogate)
    show("set_exception with a surrogate in its message", r.exception() is surrogate)
    w.close()
    await w.wait_closed()
    srv.close()
    await srv.wait_closed()


async def factory_fails(loop):
    """A task factory that fails for a server's handler: CPython leaves the connection to its
    peer, and `wait_closed` returns once the peer closed it."""
    def broken(loop, coro, **kwargs):
        coro.close()
        raise LookupError("the factory fails (logged)")

    async def never(reader, writer):
        pass

    server = await asyncio.start_server(never, "127.0.0.1", 0)  # CPython's gathers in tasks
    loop.set_task_factory(broken)
    r, w = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    show("the handler's connection when the factory fails [3.13+]",
         await outcome(asyncio.wait_for(r.read(), 0.2)))
    loop.set_task_factory(None)
    w.close()
    await w.wait_closed()
    server.close()
    show("wait_closed then [3.13+]", await outcome(asyncio.wait_for(server.wait_closed(), 5)))


async def fed_reader():
    """A StreamReader the program makes and feeds itself, as asyncio's tests and parsers do."""
    r = asyncio.StreamReader(limit=8)
    show("is a StreamReader", isinstance(r, asyncio.StreamReader))
    show("at_eof before", r.at_eof())
    pending = asyncio.ensure_future(r.readline())
    await asyncio.sleep(0)
    r.feed_data(b"ab")
    await asyncio.sleep(0)
    show("readline waits for the rest", pending.done())
    r.feed_data(b"c\nde")
    show("readline", await pending)
    show("readexactly(1)", await outcome(r.readexactly(1)))
    r.feed_data(b"fghijklmn\n")
    show("readuntil over the limit", await outcome(r.readuntil(b"\n")))
    show("read(3)", await r.read(3))
    r.feed_eof()
    show("at_eof with bytes left", r.at_eof())
    show("read()", await r.read())
    show("at_eof", r.at_eof())
    show("readexactly at EOF", await outcome(r.readexactly(2)))
    lines = asyncio.StreamReader()
    lines.feed_data(b"one\ntwo\nthree")
    lines.feed_eof()
    show("async for", [line async for line in lines])
    failing = asyncio.StreamReader()
    waiting = asyncio.ensure_future(failing.read(5))
    await asyncio.sleep(0)
    failing.set_exception(ConnectionResetError("fed"))
    show("set_exception wakes a read", await outcome(waiting))
    show("exception", repr(failing.exception()))
    show("limit 0", raises(lambda: asyncio.StreamReader(limit=0)))

    class LineReader(asyncio.StreamReader):
        def __init__(self):
            super().__init__(limit=100)

    sub = LineReader()
    sub.feed_data(b"sub\n")
    sub.feed_eof()
    show("a subclass reads", await sub.readline())

    class MemoryTransport(asyncio.Transport):
        def __init__(self):
            super().__init__()
            self.data = bytearray()

        def write(self, data):
            self.data += data

        def is_closing(self):
            return False

    protocol = asyncio.StreamReaderProtocol(lines)
    transport = MemoryTransport()
    protocol.connection_made(transport)
    writer = asyncio.StreamWriter(transport, protocol, lines, asyncio.get_running_loop())
    writer.write(b"into memory")
    await writer.drain()
    show("a writer over the program's transport", bytes(transport.data))

    async def idle(reader, writer):
        await reader.read()

    server = await asyncio.start_server(idle, "127.0.0.1", 0)
    r, w = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    show("a connection's are StreamReader / StreamWriter",
         (isinstance(r, asyncio.StreamReader), isinstance(w, asyncio.StreamWriter)))
    show("its transport is a Transport", isinstance(w.transport, asyncio.Transport))

    loop = asyncio.get_running_loop()
    show("get_debug", loop.get_debug())
    loop.set_debug(True)
    show("get_debug after set_debug(True)", loop.get_debug())
    loop.set_debug(False)
    made = []

    def factory(loop, coro, **kwargs):
        made.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    show("task factory", loop.get_task_factory())
    loop.set_task_factory(factory)
    task = asyncio.ensure_future(asyncio.sleep(0, "slept"))
    show("a task from the factory", (await task, len(made), loop.get_task_factory() is factory))

    if NEW:  # 3.11's open_connection makes a task, which the failing factory below refuses
        await factory_fails(loop)
    w.write(b"x" * 20_000_000)
    pending = asyncio.ensure_future(w.drain())
    await asyncio.sleep(0.05)
    w.transport.abort()
    show("a drain waiting when the transport is aborted", await outcome(pending))
    show("a drain after the abort", await outcome(w.drain()))
    server.close()
    await server.wait_closed()


async def deep_requests():
    """A peer's deeply nested request: the server's parser raises RecursionError, which the
    handler catches and answers (under wasio it trapped the whole app once)."""
    async def parse(reader, writer):
        line = await reader.readline()
        try:
            json.loads(line)
            answer = "parsed"
        except RecursionError:
            answer = "RecursionError"
        writer.write(answer.encode() + b"\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(parse, "127.0.0.1", 0, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    for depth in (100, 100_000):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"[" * depth + b"]" * depth + b"\n")
        show(f"json nested {depth} deep", (await r.readline()).decode().strip())
        w.close()
    server.close()
    await server.wait_closed()
    nested = []
    for _ in range(100_000):
        nested = [nested]
    show("repr of 100000 nested lists", raises(lambda: repr(nested)).split(":")[0])
    show("deepcopy of them", raises(lambda: copy.deepcopy(nested)).split(":")[0])


async def scheduling():
    # asyncio.run from a coroutine, where the loop is running: RuntimeError, main not run.
    async def never():
        print("never runs")

    coroutine = never()
    show("asyncio.run inside a coroutine", raises(lambda: asyncio.run(coroutine)))
    coroutine.close()

    # A task looping on sleep(0) leaves timers and connections their turn.
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.call_later(0.05, done.set)
    give_up = loop.time() + 10
    while not done.is_set() and loop.time() < give_up:
        await asyncio.sleep(0)
    show("a timer fires while a task spins on sleep(0)", done.is_set())
    server = await asyncio.start_server(lambda r, w: w.write(b"hi\n"), "127.0.0.1", 0)
    connect = asyncio.ensure_future(
        asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1]))
    while not connect.done() and loop.time() < give_up:
        await asyncio.sleep(0)
    show("a connect completes while a task spins on sleep(0)", connect.done())
    r, w = await connect
    show("its line", await r.readline())
    w.close()
    server.close()
    await server.wait_closed()

    # Callbacks and tasks in a context the program made.
    var = contextvars.ContextVar("var", default="unset")

    async def child():
        var.set("child")
        await asyncio.sleep(0)
        return var.get()

    show("task in a fresh Context", await asyncio.create_task(child(), context=contextvars.Context()))
    ran = loop.create_future()
    loop.call_soon(lambda: ran.set_result(var.get()), context=contextvars.Context())
    show("call_soon in a fresh Context", await ran)
    fut = loop.create_future()
    seen = loop.create_future()
    fut.add_done_callback(lambda f: seen.set_result(f.result()), context=contextvars.Context())
    fut.set_result("done")
    show("done callback in a fresh Context", await seen)


async def unretrieved():
    # A task that fails after its first await, its exception never retrieved: asyncio reports
    # it when the task is freed, by the end of asyncio.run.
    asyncio.get_running_loop().set_exception_handler(
        lambda loop, context: print("reported:", context["message"], repr(context["exception"])))

    async def child():
        await asyncio.sleep(0.01)
        raise ValueError("child failed")

    task = asyncio.create_task(child())
    await asyncio.sleep(0.1)
    del task


async def main(tmp):
    # name_lookup before executors, which shuts the default executor down.
    for section in (reads, limits, writes, resets, timeouts_and_cancellation, servers,
                    arguments, fed_reader, deep_requests, scheduling, name_lookup, executors):
        print(f"== {section.__name__}", flush=True)
        await section()
    print("== unix", flush=True)
    await unix(tmp)
    error_codes()

    print("== exit with work pending", flush=True)

    async def fails():
        raise LookupError("nobody retrieves this")

    task = asyncio.ensure_future(fails())
    await asyncio.sleep(0.01)
    del task  # asyncio logs "Task exception was never retrieved" (stderr)

    async def idle(reader, writer):
        await reader.read()

    server = await asyncio.start_server(idle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection("127.0.0.1", port)
    asyncio.ensure_future(r.read())
    asyncio.ensure_future(asyncio.sleep(3600))
    await asyncio.sleep(0.05)
    show("main returns", "with a read, a sleep, a server and its handler pending")


asyncio.run(main(sys.argv[1]))
print("after asyncio.run")
asyncio.run(unretrieved())
print("after the run with a failed task")
