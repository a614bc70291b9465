"""`socket.socketpair()` inside a wasio component.

A component has no socket descriptors to hand to asyncio, so the pair is made by wasio's
`socketpair` (two connected Unix sockets the host owns) and each end is a `PairSocket`:
`asyncio.open_connection(sock=end)` adopts it as a stream, and the end kept as a plain socket
offers the non-blocking socket methods programs call on it (`send`, `sendall`, `recv`, `close`).
This is what the asyncio docs' "register an open socket to wait for data" example needs.
"""

import errno
import operator
import socket as _socket

from . import _args
from ._errors import sync, unwrap
from .bindings.imports import wasio_streams as s
from .bindings.imports import wasio_types as t


class PairSocket:
    """One end of `socketpair()`: a wasio connection, adopted by `open_connection(sock=...)` or
    used through the socket methods below (which never block: a `recv` with nothing to read
    raises `BlockingIOError`, as on a non-blocking socket)."""

    family = getattr(_socket, "AF_UNIX", 1)
    type = _socket.SOCK_STREAM
    proto = 0

    def __init__(self, conn: "s.Connection"):
        self._conn = conn
        self._reader = None
        self._writer = None
        self._closed = False

    def __repr__(self):
        state = "closed" if self._closed else "open"
        return f"<wasio socketpair end, {state}>"

    def _adopt(self) -> "s.Connection":
        """Hands the connection to asyncio (`open_connection(sock=...)`); once only."""
        if self._conn is None:
            raise OSError(errno.EBADF, "this socket is already in use by a stream or closed")
        conn, self._conn = self._conn, None
        self._closed = True
        return conn

    def _halves(self):
        if self._writer is None:
            if self._conn is None:
                raise OSError(errno.EBADF, "Bad file descriptor")
            self._reader, self._writer = s.Connection.split(self._conn)
            self._conn = None
        return self._reader, self._writer

    def send(self, data) -> int:
        _, writer = self._halves()
        data = _args.buffer(data, "a bytes-like object is required")
        sync(writer.write, data, what="send")
        return len(data)

    def sendall(self, data) -> None:
        self.send(data)

    def recv(self, bufsize: int) -> bytes:
        bufsize = operator.index(bufsize)
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        if bufsize > _args.S64_MAX:
            raise OverflowError("Python int too large to convert to C ssize_t")
        reader, _ = self._halves()
        r = reader.try_read(bufsize)
        if r is None:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return unwrap(r, "recv")

    def setblocking(self, flag) -> None:
        if flag:
            raise NotImplementedError("a wasio socketpair end cannot block; use it with asyncio")

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        elif self._conn is not None:
            self._halves()[1].close()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def socketpair(family=None, type=_socket.SOCK_STREAM, proto=0):
    """`socket.socketpair()`: two connected `PairSocket`s."""
    if type != _socket.SOCK_STREAM:
        raise OSError(errno.EPROTONOSUPPORT, "only SOCK_STREAM socket pairs are supported")
    options = t.AdoptOptions(limit=None, write_queue_cap=None)
    a, b = sync(s.socketpair, options, what="socketpair")
    return PairSocket(a), PairSocket(b)
