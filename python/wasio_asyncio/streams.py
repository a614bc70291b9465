"""asyncio's Streams API (`open_connection`, `start_server`, `StreamReader`, `StreamWriter`,
`Server`) over the provider's `wasio:streams` contract.

The provider does the stream semantics (buffering, limits, separators, flow control); these
classes only translate calls, results and errors. A read first tries the sync `try-*` form and
makes the async call only when it would have to wait, as wasio-sdk does, unless the reader's
last read had to wait: then the next one most likely waits too (a request-response exchange),
and the try would be a wasted call across components (about 1.5 us each).

Bytes go to the provider as Latin-1 text (`write-latin1`, `writelines-latin1`,
`readuntil-latin1`, `unread-latin1`; `bytes.decode("latin-1")` maps each byte to one code point),
never as `bytes` for a `list<u8>`: componentize-py 0.25.1 copies every such argument and never
frees the copy (its runtime's `maybe_pop_list`), so each `write` would keep its size in linear
memory for good (WORKAROUNDS.md, W10). A string also crosses as one memory copy, where a
`list<u8>` is copied byte by byte.
"""

import asyncio
import errno
import ipaddress
import logging
import operator
import os
import warnings
import socket as _socket
import weakref

from . import _tls
from .bindings.imports import wasio_streams as s
from .bindings.imports import wasio_types as t
from componentize_py_types import Err, Ok

from . import _args, _calls, _loop, _oldloop
from ._errors import call, from_exception, sync, to_exception, unwrap
from ._socketpair import PairSocket
from ._trsock import ListeningSocket, TransportSocket

_DEFAULT_LIMIT = 2**16
_logger = logging.getLogger("asyncio")

# Open writers and servers, closed by the runner when the program returns so that no wasio call
# is left in flight (componentize-py traps when an export returns with one).
_open_writers: "weakref.WeakSet[StreamWriter]" = weakref.WeakSet()
_open_servers: "weakref.WeakSet[Server]" = weakref.WeakSet()


def _close_dropped(raw: "s.Writer") -> None:
    """Closes the connection of a `StreamWriter` the program dropped unclosed."""
    if not raw.is_closing():
        raw.close()
        warnings.warn("unclosed <StreamWriter wasio>", ResourceWarning)


async def close_servers():
    """Closes the servers the program left open and waits for their accept loops to end: the
    end of `asyncio.run` (CPython's closed loop accepts no more). A close, not a cancel, ends an
    accept loop however far its accept call has got (an interrupt only ends a call that has
    started waiting)."""
    loops = []
    for server in list(_open_servers):
        server.close()
        if server._accepting is not None and not server._accepting.done():
            loops.append(server._accepting)
    if loops:
        await asyncio.wait(loops)


def _address(addr):
    """A wasio socket address as the tuple (or Unix path) CPython's socket module gives."""
    if addr is None:
        return None
    if isinstance(addr, t.SocketAddress_Unix):
        return addr.value
    a = addr.value
    if ":" in a.host:
        return (a.host, a.port, a.flow_info, a.scope_id)
    return (a.host, a.port)


def _family(family) -> "t.AddressFamily":
    if family == _socket.AF_INET:
        return t.AddressFamily.IPV4
    if family == getattr(_socket, "AF_INET6", None):
        return t.AddressFamily.IPV6
    if family in (0, None, getattr(_socket, "AF_UNSPEC", 0)):
        return t.AddressFamily.UNSPECIFIED
    raise ValueError(f"unsupported address family {family!r}")


def _limit(limit):
    if limit is None:
        return None
    if limit <= 0:
        raise ValueError("Limit cannot be <= 0")
    return max(1, _args.size(limit, "limit"))  # a fraction above 0 is a limit of one byte


class StreamReader(asyncio.streams.StreamReader):
    """A connection's asyncio `StreamReader`: a view of a wasio `reader` (made by
    `open_connection` / `start_server`), where the provider buffers and reads. It subclasses
    CPython's class, which `asyncio.StreamReader` stays: a reader the program makes itself (to
    `feed_data` it) and subclasses of it are CPython's, and this one is still an instance."""

    def __init__(self, raw: "s.Reader"):
        self._raw = raw
        # False after a read that had to wait: the next read skips its `try-*` call.
        self._try_first = True
        # What `set_exception` stored: the exception object and the error code the provider
        # holds for it, so reads raise and `exception()` returns that very object, as asyncio's.
        self._set: "tuple[BaseException, t.ErrorCode] | None" = None

    def __repr__(self):
        return "<StreamReader wasio>"

    def feed_data(self, data):
        raise RuntimeError(_FED_BY_THE_PROVIDER)

    def feed_eof(self):
        raise RuntimeError(_FED_BY_THE_PROVIDER)

    def set_transport(self, transport):
        raise RuntimeError(_FED_BY_THE_PROVIDER)

    async def _read(self, what: str, attempt, wait, *args) -> bytes:
        """A read: `attempt(*args)` (its `try-*` call) when it is likely to find what it needs,
        else (or when it does not) the async `wait(*args, None)` (no timeout), whose task can be
        cancelled losing nothing. Bound methods and arguments, not lambdas, and `_calls.call`
        awaited directly: each Python frame counts on this path (see `_calls.call`)."""
        try:
            if self._try_first:
                r = attempt(*args)
                if r is not None:
                    return unwrap(r, what)
            waits = _calls.waits
            value = await _calls.call(wait, self._raw.interrupt, self._restore, what=what,
                                      to_exception=to_exception, args=(*args, None))
            self._try_first = _calls.waits == waits
            return value
        except Exception:
            stored = self._stored()
            if stored is not None:
                raise stored from None
            raise

    def _restore(self, result):
        """Puts back what a read returned although its task was cancelled (`_calls.call`)."""
        value = result.value if isinstance(result, (Ok, Err)) else result
        if isinstance(value, t.ErrorCode_IncompleteRead):
            value = value.value.partial
        if isinstance(value, (bytes, bytearray)) and value:
            self._raw.unread_latin1(value.decode("latin-1"))

    def _stored(self):
        """The exception `set_exception` stored, while it is still the reader's error."""
        if self._set is not None and self._raw.exception() == self._set[1]:
            return self._set[0]
        return None

    def exception(self):
        stored = self._stored()
        if stored is not None:
            return stored
        code = self._raw.exception()
        return None if code is None else to_exception(code)

    def set_exception(self, exc):
        code = from_exception(exc)
        self._raw.set_exception(code)
        self._set = (exc, code)

    def at_eof(self) -> bool:
        return self._raw.at_eof()

    async def read(self, n: int = -1) -> bytes:
        raw = self._raw
        if type(n) is not int or not _args.S64_MIN <= n <= _args.S64_MAX:
            n = _args.count(n)
        return await self._read("read", raw.try_read, raw.read, n)

    async def readline(self) -> bytes:
        try:
            return await self._read("readline", self._raw.try_readline, self._raw.readline)
        except asyncio.LimitOverrunError as e:
            # asyncio's readline discards (the provider did) and raises ValueError instead.
            raise ValueError(e.args[0]) from None

    async def readuntil(self, separator=b"\n") -> bytes:
        # asyncio takes one bytes-like separator or a tuple of them (a list is a TypeError).
        # The Latin-1 forms (module docstring).
        parts = separator if isinstance(separator, tuple) else (separator,)
        seps = [_args.buffer(x, _SEPARATOR_TYPE).decode("latin-1") for x in parts]
        return await self._read("readuntil", self._raw.try_readuntil_latin1,
                                self._raw.readuntil_latin1, seps)

    async def readexactly(self, n: int) -> bytes:
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        wanted = _args.count(n, 0, _args.U64_MAX)
        try:
            return await self._read("readexactly", self._raw.try_readexactly,
                                    self._raw.readexactly, wanted)
        except asyncio.IncompleteReadError as e:
            if wanted != n:  # beyond a u64: no stream has that many bytes
                e.expected = n
                e.args = (f"{len(e.partial)} bytes read on a total of {n!r} expected bytes",)
            raise

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if line == b"":
            raise StopAsyncIteration
        return line


_FED_BY_THE_PROVIDER = ("a connection's reader is fed by wasio's provider from its socket; "
                        "make an asyncio.StreamReader() to feed one yourself")


# The words of the TypeError asyncio's buffer search raises for a separator that is no bytes.
_SEPARATOR_TYPE = "argument should be integer or bytes-like object"


_NO_PROTOCOL = ("a wasio connection's transport has no protocol object and no read flow "
                "control to set: its reader and writer are views of the provider's, which reads "
                "ahead within the reader's limit")


class _Transport(asyncio.Transport):
    """asyncio's transport of a connection, as stream programs reach it through
    `writer.transport`: its writing side, on the connection's wasio writer."""

    def __init__(self, writer: "StreamWriter"):
        self._writer = writer

    def write(self, data):
        self._writer.write(data)

    def writelines(self, list_of_data):
        self._writer.writelines(list_of_data)

    def is_reading(self) -> bool:
        return not self._writer.is_closing()

    def pause_reading(self):
        raise NotImplementedError(_NO_PROTOCOL)

    def resume_reading(self):
        raise NotImplementedError(_NO_PROTOCOL)

    def set_read_buffer_limits(self, high=None, low=None):
        raise NotImplementedError(_NO_PROTOCOL)

    def get_protocol(self):
        raise NotImplementedError(_NO_PROTOCOL)

    def set_protocol(self, protocol):
        raise NotImplementedError(_NO_PROTOCOL)

    def get_extra_info(self, name, default=None):
        return self._writer.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._writer.is_closing()

    def close(self):
        self._writer.close()

    def abort(self):
        self._writer._aborted = True
        self._writer._raw.abort()

    def can_write_eof(self) -> bool:
        return self._writer.can_write_eof()

    def write_eof(self):
        self._writer.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._writer._raw.get_write_buffer_size()

    def get_write_buffer_limits(self):
        return tuple(self._writer._raw.get_write_buffer_limits())

    def set_write_buffer_limits(self, high=None, low=None):
        # asyncio's defaults and check, here: the provider's would not see values beyond a u64.
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        sync(self._writer._raw.set_write_buffer_limits, _args.size(high, "high"),
             _args.size(low, "low"))


class StreamWriter(asyncio.streams.StreamWriter):
    """A connection's asyncio `StreamWriter`: a view of a wasio `writer`. It subclasses
    CPython's class, which `asyncio.StreamWriter` stays (a writer the program makes over its
    own transport is CPython's), and overrides every method."""

    def __init__(self, raw: "s.Writer", reader: StreamReader):
        self._raw = raw
        self._reader = reader
        self._drain_failed = False  # a drain raised for a lost connection (`_drain_error`)
        # `transport`, held weakly: a strong one would make a cycle, and a writer the program
        # drops would wait for the cycle collector before `__del__` closes it.
        self._transport = None
        # `get_extra_info('socket')`, made on first use; SO_KEEPALIVE as the server set it.
        self._socket = None
        self._keep_alive = False
        # Aborted by the program (`transport.abort()`, its server's `abort_clients()`), and the
        # server that accepted the connection, if one did.
        self._aborted = False
        self._server = None
        _open_writers.add(self)
        # As CPython 3.13's `__del__`: a writer dropped unclosed closes its connection (a handler
        # that returns without `close()` ends the client's read with EOF). A finalizer holding
        # `raw`, not `__del__`: the cycle collector drops a resource before running the
        # `__del__` of an object in the same cycle, and a call on a dropped handle traps.
        weakref.finalize(self, _close_dropped, raw)

    def __repr__(self):
        return "<StreamWriter wasio>"

    def __del__(self):
        # Not CPython's, which asks the transport: the finalizer above closes the connection.
        pass

    @property
    def transport(self):
        transport = self._transport() if self._transport is not None else None
        if transport is None:
            transport = _Transport(self)
            self._transport = weakref.ref(transport)
        return transport

    def write(self, data):
        if type(data) is not bytes:
            # What asyncio's transport takes: these three types only (an `array` is refused).
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError("data argument must be a bytes-like object, "
                                f"not {type(data).__name__!r}")
            data = bytes(data)
        # `sync` written out: one frame less on every write. The Latin-1 form: module docstring.
        try:
            self._raw.write_latin1(data.decode("latin-1"))
        except Err as e:
            raise to_exception(e.value, "write") from None

    def writelines(self, data):
        # As asyncio's transport: each item through `memoryview` (so `TypeError` for a non-bytes).
        try:
            sync(self._raw.writelines_latin1,
                 [bytes(memoryview(d)).decode("latin-1") for d in data], what="writelines")
        except RuntimeError as e:
            if e.args != ("Cannot call write() after write_eof()",):
                raise
            raise RuntimeError("Cannot call writelines() after write_eof()") from None

    def can_write_eof(self) -> bool:
        return self._raw.can_write_eof()

    def write_eof(self):
        sync(self._raw.write_eof, what="write_eof")

    def close(self):
        self._raw.close()

    def is_closing(self) -> bool:
        return self._raw.is_closing()

    async def wait_closed(self):
        try:
            await call(lambda: self._raw.wait_closed(None), "wait_closed", self._raw.interrupt)
        except TimeoutError:
            # The provider ended a TLS close that outlasted the shutdown timeout.
            if self.get_extra_info("ssl_object") is None:
                raise
            raise TimeoutError("SSL shutdown timed out") from None

    async def drain(self):
        r = self._raw.try_drain()
        if r is not None:
            # `ok` only while the writer is not closing: asyncio's yield on a closing writer is
            # the provider's (a closing writer's drain waits for the flush, then fails).
            if isinstance(r, Err):
                raise self._drain_error(to_exception(r.value, "drain"))
            return
        aborted = self._aborted
        try:
            await call(lambda: self._raw.drain(None), "drain", self._raw.interrupt)
        except ConnectionError as e:
            if self._aborted and not aborted:
                # As asyncio's: an abort's `connection_lost(None)` wakes a waiting drain.
                return
            if isinstance(e, ConnectionResetError):
                raise self._drain_error(e) from None
            raise

    def _drain_error(self, e: BaseException) -> BaseException:
        """What asyncio's `drain` raises for a lost connection: the reader's exception when it
        was stored before the drain began, else `ConnectionResetError('Connection lost')` (as
        after the writer's own `close`). A send that failed is found by the drain itself here
        (`write` does no I/O), where asyncio's `write` failed and stored it during the drain's
        yield: so the first drain to fail after a failed send says "Connection lost", the later
        ones raise the stored `BrokenPipeError`."""
        if not isinstance(e, ConnectionResetError):
            return e
        stored = self._reader.exception()
        first, self._drain_failed = not self._drain_failed, True
        if stored is None or (first and isinstance(stored, BrokenPipeError)):
            return ConnectionResetError("Connection lost")
        return stored

    def get_extra_info(self, name, default=None):
        info = self._raw.extra_info()
        if name == "peername":
            v = _address(info.peername)
        elif name == "sockname":
            v = _address(info.sockname)
        elif name in _tls.EXTRA_NAMES:
            v = _tls.extra_info(self, info, name)
        elif name == "server_hostname":
            v = info.server_hostname
        elif name == "socket":
            if self._socket is None:
                self._socket = TransportSocket(self, self._keep_alive)
            v = self._socket
        else:
            v = None
        return default if v is None else v

    async def start_tls(self, sslcontext, *, server_hostname=None, ssl_handshake_timeout=None,
                        ssl_shutdown_timeout=None):
        """Upgrades the connection to TLS in place; this reader and writer go on over it."""
        up = _tls.upgrade(self, sslcontext, server_hostname, ssl_handshake_timeout,
                          ssl_shutdown_timeout)
        with _tls.handshake(up):
            # Cancelled, the upgrade is interrupted; past its drain that aborts the connection,
            # as asyncio's `start_tls` closes the transport when it is cancelled.
            await call(lambda: self._raw.start_tls(*up.arguments), "start_tls",
                       self._raw.interrupt)
        up.done()


def _ok(result):
    """The value of a call's lifted result, or None for an error."""
    if isinstance(result, Err):
        return None
    return result.value if isinstance(result, Ok) else result


def _abandon_connection(result):
    """Aborts a connection made or accepted for a task that was cancelled meanwhile."""
    conn = _ok(result)
    if conn is not None:
        s.Connection.split(conn)[1].abort()


def _abandon_server(result):
    """Closes a server started for a task that was cancelled meanwhile."""
    server = _ok(result)
    if server is not None:
        server.close()


async def _adopted(sock, limit, tls, handshake_timeout, shutdown_timeout):
    """The streams of a socket made inside the component (`socket.socketpair()`), upgraded to
    TLS with the client context `tls` holds (from `_tls.client`), as asyncio does for `sock=`."""
    if not isinstance(sock, PairSocket):
        raise NotImplementedError(
            "sock= takes only an end of socket.socketpair() made inside the component; "
            "a wasio component has no other socket descriptors")
    reader, writer = _pair(sock._adopt())
    if limit is not None:
        sync(reader._raw.set_limit, _limit(limit), what="open_connection")
    if tls.context is not None:
        await writer.start_tls(tls.context, server_hostname=tls.asked_hostname,
                               ssl_handshake_timeout=handshake_timeout,
                               ssl_shutdown_timeout=shutdown_timeout)
    return reader, writer


def _opened(conn: "s.Connection", tls):
    """The streams of a connection `open_connection` / `open_unix_connection` made."""
    reader, writer = _pair(conn)
    _tls.opened(writer, tls)
    return reader, writer


def _serve(raw: "s.Server", client_connected_cb, tls, start_serving, keep_alive=False):
    """The `Server` of a server `start_server` / `start_unix_server` started."""
    server = Server(raw, client_connected_cb)
    server._keep_alive = keep_alive
    _tls.serving(server, tls)
    if start_serving:
        server._start_accepting()
    return server


def _pair(conn: "s.Connection"):
    raw_reader, raw_writer = s.Connection.split(conn)
    reader = StreamReader(raw_reader)
    return reader, StreamWriter(raw_writer, reader)


async def open_connection(host=None, port=None, *, limit=_DEFAULT_LIMIT, ssl=None, family=0,
                          proto=0, flags=0, sock=None, local_addr=None, server_hostname=None,
                          ssl_handshake_timeout=None, ssl_shutdown_timeout=None,
                          happy_eyeballs_delay=None, interleave=None, **kwds):
    """asyncio `open_connection` over wasio's `open-connection`."""
    tls = _tls.client(ssl, server_hostname, host, ssl_handshake_timeout, ssl_shutdown_timeout)
    if sock is not None:
        if host is not None or port is not None:
            raise ValueError("host/port and sock can not be specified at the same time")
        return await _adopted(sock, limit, tls, ssl_handshake_timeout, ssl_shutdown_timeout)
    if host is None and port is None:
        raise ValueError("host and port was not specified and no sock specified")
    if host is None:
        host = "localhost"  # as `getaddrinfo(None, port)`: the loopback addresses
    elif host == "":
        raise to_exception(t.ErrorCode_NameUnresolvable())  # as `getaddrinfo("", port)`
    opts = t.ConnectOptions(
        limit=_limit(limit), ssl=tls.config, server_hostname=tls.server_hostname,
        ssl_handshake_timeout=tls.handshake_timeout, ssl_shutdown_timeout=tls.shutdown_timeout,
        family=_family(family),
        local_addr=None if local_addr is None
        else (_args.text(local_addr[0], "local_addr host"), _args.port(local_addr[1], "bind")),
        happy_eyeballs_delay=None if happy_eyeballs_delay is None
        else _args.nanoseconds(happy_eyeballs_delay),
        interleave=None if interleave is None else _args.count(interleave, 0, _args.U32_MAX),
        timeout=None, write_queue_cap=None, tcp_nodelay=None,
    )
    host, port = _args.text(host, "host"), _args.port(port, "connect")
    # A connector of its own, so that cancelling this task ends this connect and no other.
    try:
        with _tls.handshake(tls), s.Connector() as connector:
            conn = await call(lambda: connector.open_connection(host, port, opts),
                              "open_connection", connector.interrupt, _abandon_connection)
    except ConnectionRefusedError as e:
        # asyncio's words for a refused TCP connect, with the address when the host is one.
        addr = _literal_sockaddr(host, port)
        where = "" if addr is None else f" {addr!r}"
        raise ConnectionRefusedError(e.errno, f"Connect call failed{where}") from None
    return _opened(conn, tls)


def _literal_sockaddr(host: str, port: int):
    """The socket address asyncio names in a connect or bind error, when `host` is an IP
    address (a name's addresses are the provider's to try, one by one: it reports no address)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return (str(ip), port) if ip.version == 4 else (str(ip), port, 0, 0)


async def _close_at_eof(reader: StreamReader, writer: "StreamWriter"):
    """Closes a connection nobody serves once its peer has ended it."""
    try:
        while await reader.read(65536):
            pass
    except Exception:
        pass
    writer.close()


class StreamReaderProtocol:
    """Runs the client callback for an accepted connection at the loop's next turn, as asyncio's
    protocol of this name does in `connection_made`: an exception a plain-function callback
    raises is reported as asyncio reports it ("Exception in callback
    StreamReaderProtocol.connection_made()") and the server goes on serving."""

    __slots__ = ("_server", "_reader", "_writer")

    def __init__(self, server, reader, writer):
        self._server, self._reader, self._writer = server, reader, writer

    def connection_made(self):
        self._server._run_handler(self._reader, self._writer)


class Server(asyncio.AbstractServer):
    """asyncio `Server`: accepts connections and runs the callback as a task for each."""

    def __init__(self, raw: "s.Server", client_connected_cb):
        self._raw = raw
        self._cb = client_connected_cb
        self._accepting = None
        self._serve_forever_fut = None
        self._closed = False
        self._handlers = set()
        self._closed_fut = None
        # Whether the connections it accepts have SO_KEEPALIVE (`start_server(keep_alive=True)`).
        self._keep_alive = False
        self._loop = asyncio.get_running_loop()
        _open_servers.add(self)

    def __repr__(self):
        return f"<Server sockets={self.sockets!r}>"

    @property
    def sockets(self):
        return tuple(ListeningSocket(_address(a)) for a in self._raw.sockets())

    def is_serving(self) -> bool:
        return self._raw.is_serving()

    def get_loop(self):
        return self._loop

    def _start_accepting(self):
        if self._accepting is None and not self._closed:
            self._accepting = _loop.internal_task(self._accept_loop())

    async def start_serving(self):
        sync(self._raw.start_serving, what="start_serving")
        self._start_accepting()
        await asyncio.sleep(0)

    async def _accept_loop(self):
        while True:
            r = self._raw.try_accept()
            try:
                if r is not None:
                    conn = unwrap(r, "accept")
                else:
                    conn = await call(lambda: self._raw.accept(None), "accept",
                                      self._raw.interrupt, _abandon_connection)
            except RuntimeError:
                # `closed`: every connection accepted before the close is handed out. The close
                # may be the run's shutdown (Ctrl-C) rather than `close()`: finish it as `close()`
                # does, so `serve_forever` and `wait_closed` end as in asyncio, and a
                # `run_forever` raises `KeyboardInterrupt` as on Ctrl-C.
                if not self._closed:
                    _oldloop.shutting_down()
                self.close()
                return
            except OSError as e:
                _logger.error("Error on accepting a connection: %s", e)
                continue
            self._accepted(conn)
            # No reference to the connection stays in this frame while it waits for the next
            # one: a writer the handler drops must be freed then (`StreamWriter.__del__`).
            conn = None

    def _accepted(self, conn):
        reader, writer = _pair(conn)
        writer._keep_alive = self._keep_alive
        writer._server = self
        _tls.accepted(self, writer)
        asyncio.get_running_loop().call_soon(
            StreamReaderProtocol(self, reader, writer).connection_made)

    def _run_handler(self, reader, writer):
        res = self._cb(reader, writer)
        if not asyncio.iscoroutine(res):
            return
        try:
            task = asyncio.get_running_loop().create_task(res)
        except BaseException:
            # A task factory that fails (reported as the callback's exception): nothing serves
            # the connection, which closes when the peer ends it, as CPython's transport does
            # (else `wait_closed` would wait on it for ever).
            res.close()
            _loop.internal_task(_close_at_eof(reader, writer))
            raise
        self._handlers.add(task)

        def done(task):
            self._handlers.discard(task)
            if task.cancelled():
                writer.close()
                return
            exc = task.exception()
            if exc is not None:
                # asyncio reports the exception and closes the connection.
                asyncio.get_running_loop().call_exception_handler({
                    "message": "Unhandled exception in client_connected_cb",
                    "exception": exc,
                    "transport": writer.transport,
                })
                writer.close()

        task.add_done_callback(done)

    def close(self):
        if self._closed:
            return
        self._closed = True
        self._raw.close()
        fut = self._serve_forever_fut
        if fut is not None and not fut.done():
            fut.cancel()
        if self._closed_fut is not None and not self._closed_fut.done():
            self._closed_fut.set_result(None)

    def close_clients(self):
        self._raw.close_clients()

    def abort_clients(self):
        for writer in list(_open_writers):
            if writer._server is self:
                writer._aborted = True
        self._raw.abort_clients()

    async def wait_closed(self):
        # As asyncio: waits for `close`, then for every accepted connection to finish.
        if not self._closed:
            if self._closed_fut is None:
                self._closed_fut = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._closed_fut)
        if self._accepting is not None:
            await asyncio.shield(self._accepting)
        await call(lambda: self._raw.wait_closed(None), "wait_closed", self._raw.interrupt)

    async def serve_forever(self):
        if self._serve_forever_fut is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._closed:
            raise RuntimeError(f"server {self!r} is closed")
        sync(self._raw.start_serving, what="serve_forever")
        self._start_accepting()
        self._serve_forever_fut = asyncio.get_running_loop().create_future()
        try:
            await self._serve_forever_fut
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serve_forever_fut = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()
        await self.wait_closed()


async def start_server(client_connected_cb, host=None, port=None, *, limit=_DEFAULT_LIMIT,
                       family=0, flags=0, sock=None, backlog=100, ssl=None, reuse_address=None,
                       reuse_port=None, keep_alive=None, ssl_handshake_timeout=None,
                       ssl_shutdown_timeout=None, start_serving=True, **kwds):
    """asyncio `start_server` over wasio's `start-server`."""
    tls = _tls.server(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
    if sock is not None:
        raise NotImplementedError(
            "start_server(sock=...) cannot serve on a socket made in the component: wasio's "
            "provider opens its servers itself and cannot take one over; pass host and port")
    if host is None or host == "":
        hosts = []
    elif isinstance(host, str):
        hosts = [_args.text(host, "host")]
    else:
        hosts = [_args.text(h, "each host") for h in host]
        if not hosts:
            # asyncio binds each host of the list: none of an empty one (not every interface,
            # which the contract's empty list means, as `None` does).
            raise OSError("could not bind on any address out of []")
    opts = t.ServerOptions(
        limit=_limit(limit), family=_family(family), backlog=_backlog(backlog),
        reuse_address=reuse_address, reuse_port=bool(reuse_port), keep_alive=bool(keep_alive),
        ssl=tls.config, ssl_handshake_timeout=tls.handshake_timeout,
        ssl_shutdown_timeout=tls.shutdown_timeout,
        start_serving=bool(start_serving), write_queue_cap=None, tcp_nodelay=None,
    )
    port = _args.port(port or 0, "bind")
    try:
        raw = await call(lambda: s.start_server(hosts, port, opts), "start_server",
                         restore=_abandon_server)
    except OSError as e:
        addr = _literal_sockaddr(hosts[0], port) if len(hosts) == 1 else None
        if addr is None or e.errno != errno.EADDRINUSE:
            raise
        raise OSError(e.errno, f"error while attempting to bind on address {addr!r}: "
                               f"[errno {e.errno}] {e.strerror.lower()}") from None
    return _serve(raw, client_connected_cb, tls, start_serving, keep_alive=bool(keep_alive))


def _path(path) -> str:
    if path is None:
        raise ValueError("path was not specified, and no sock specified")
    path = _args.text(os.fspath(path), "path")
    if len(path.encode()) >= 108:  # sizeof(sun_path) with its NUL: CPython's limit and words
        raise OSError("AF_UNIX path too long")
    return path


def _backlog(backlog) -> int:
    """`listen`'s backlog: a C int, as CPython's `listen` takes it (the kernel clamps it to
    0..somaxconn, so a negative one is 0)."""
    backlog = operator.index(backlog)
    if backlog > _args.INT_MAX:
        raise OverflowError("signed integer is greater than maximum")
    if backlog < _args.INT_MIN:
        raise OverflowError("signed integer is less than minimum")
    return max(backlog, 0)


async def open_unix_connection(path=None, *, limit=_DEFAULT_LIMIT, ssl=None, sock=None,
                               server_hostname=None, ssl_handshake_timeout=None,
                               ssl_shutdown_timeout=None, **kwds):
    """asyncio `open_unix_connection` over wasio's `open-unix-connection` (the path must be
    granted with `wasio run --allow-unix`)."""
    tls = _tls.client(ssl, server_hostname, None, ssl_handshake_timeout, ssl_shutdown_timeout,
                      unix=True)
    if sock is not None:
        if path is not None:
            raise ValueError("path and sock can not be specified at the same time")
        return await _adopted(sock, limit, tls, ssl_handshake_timeout, ssl_shutdown_timeout)
    opts = t.UnixConnectOptions(
        limit=_limit(limit), ssl=tls.config, server_hostname=tls.server_hostname,
        ssl_handshake_timeout=tls.handshake_timeout, ssl_shutdown_timeout=tls.shutdown_timeout,
        timeout=None, write_queue_cap=None,
    )
    path = _path(path)
    with _tls.handshake(tls), s.Connector() as connector:
        conn = await call(lambda: connector.open_unix_connection(path, opts),
                          "open_unix_connection", connector.interrupt, _abandon_connection)
    return _opened(conn, tls)


async def start_unix_server(client_connected_cb, path=None, *, limit=_DEFAULT_LIMIT, sock=None,
                            backlog=100, ssl=None, ssl_handshake_timeout=None,
                            ssl_shutdown_timeout=None, start_serving=True, cleanup_socket=True,
                            **kwds):
    """asyncio `start_unix_server` over wasio's `start-unix-server`."""
    if sock is not None:
        raise NotImplementedError(
            "start_unix_server(sock=...) cannot serve on a socket made in the component: "
            "wasio's provider opens its servers itself and cannot take one over; pass path")
    tls = _tls.server(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
    opts = t.UnixServerOptions(
        limit=_limit(limit), backlog=_backlog(backlog), ssl=tls.config,
        ssl_handshake_timeout=tls.handshake_timeout, ssl_shutdown_timeout=tls.shutdown_timeout,
        start_serving=bool(start_serving), cleanup_socket=bool(cleanup_socket),
        write_queue_cap=None,
    )
    path = _path(path)
    raw = await call(lambda: s.start_unix_server(path, opts), "start_unix_server",
                     restore=_abandon_server)
    return _serve(raw, client_connected_cb, tls, start_serving)
