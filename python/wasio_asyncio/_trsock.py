"""`get_extra_info('socket')` of a wasio connection: the part of asyncio's `TransportSocket` that
stream programs use, over the connection instead of a descriptor (a component has none).

`setsockopt` and `getsockopt` take TCP_NODELAY (on for every TCP connection, as asyncio sets it)
and SO_KEEPALIVE, which wasio's writer sets on the connection's TCP socket; any other option
raises `OSError(ENOPROTOOPT)` saying so, rather than being ignored. `getsockopt` reports what was
set: the provider turns TCP_NODELAY on for every connection the package opens or accepts, and
SO_KEEPALIVE on where `start_server(keep_alive=True)` asked.
"""

import errno
import socket as _socket
import struct

from componentize_py_types import Err

from . import _args
from .bindings.imports import wasio_types as t

_IPPROTO_TCP = getattr(_socket, "IPPROTO_TCP", 6)
_TCP_NODELAY = getattr(_socket, "TCP_NODELAY", 1)
_SOL_SOCKET = getattr(_socket, "SOL_SOCKET", 1)
_SO_KEEPALIVE = getattr(_socket, "SO_KEEPALIVE", 9)
_AF_UNIX = getattr(_socket, "AF_UNIX", 1)


class _Socket:
    """What every socket asyncio lends out says of itself: a stream socket, non-blocking, with
    no descriptor in a component."""

    @property
    def type(self):
        return _socket.SOCK_STREAM

    @property
    def proto(self):
        # By the address, not the family: WASI has no AF_UNIX, and its AF_INET is 1.
        return 0 if self._unix() else _IPPROTO_TCP

    def fileno(self) -> int:
        """-1: a component has no descriptors (a closed socket's number in CPython)."""
        return -1

    def gettimeout(self):
        return 0

    def settimeout(self, value):
        if value == 0:
            return
        raise ValueError("settimeout(): only 0 timeout is allowed on transport sockets")

    def setblocking(self, flag):
        if not flag:
            return
        raise ValueError("setblocking(): transport sockets cannot be blocking")


class ListeningSocket(_Socket):
    """An item of a server's `sockets`: its listening address. Its options are the provider's
    (SO_REUSEADDR as `reuse_address` asked, the backlog): none can be read or changed here."""

    def __init__(self, addr):
        self._addr = addr

    def _unix(self) -> bool:
        return isinstance(self._addr, str)

    @property
    def family(self):
        if isinstance(self._addr, str):
            return _AF_UNIX
        return _socket.AF_INET6 if len(self._addr) == 4 else _socket.AF_INET

    def getsockname(self):
        return self._addr

    def getpeername(self):
        raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")

    def setsockopt(self, level, optname, value, optlen=None):
        raise OSError(errno.ENOPROTOOPT, "wasio sets no option on a server's listening socket")

    def getsockopt(self, level, optname, buflen=None):
        raise OSError(errno.ENOPROTOOPT, "wasio reads no option of a server's listening socket")

    def __repr__(self):
        return f"<asyncio.TransportSocket family={self.family!r}, laddr={self._addr!r}>"


class TransportSocket(_Socket):
    """A connection's socket as asyncio's `TransportSocket` offers it to stream programs."""

    def __init__(self, writer, keep_alive: bool):
        self._writer = writer
        # What the options are now: set by the provider when the connection was made, and by
        # `setsockopt` since (the only way to change them).
        self._options = {"TCP_NODELAY": 1, "SO_KEEPALIVE": int(keep_alive)}

    def _info(self):
        return self._writer._raw.extra_info()

    def _unix(self) -> bool:
        return isinstance(self._info().sockname, t.SocketAddress_Unix)

    @property
    def family(self):
        if self._unix():
            return _AF_UNIX
        return _socket.AF_INET6 if len(self.getsockname()) == 4 else _socket.AF_INET

    def getsockname(self):
        from .streams import _address
        return _address(self._info().sockname)

    def getpeername(self):
        from .streams import _address
        return _address(self._info().peername)

    def _option(self, level, optname) -> str:
        if level == _IPPROTO_TCP and optname == _TCP_NODELAY:
            name = "TCP_NODELAY"
        elif level == _SOL_SOCKET and optname == _SO_KEEPALIVE:
            name = "SO_KEEPALIVE"
        else:
            raise OSError(
                errno.ENOPROTOOPT,
                f"wasio sets only TCP_NODELAY and SO_KEEPALIVE on a connection's socket, not "
                f"option {optname} at level {level}",
            )
        if self._unix():
            # Linux refuses TCP options on a Unix socket the same way.
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return name

    def setsockopt(self, level, optname, value, optlen=None):
        name = self._option(level, optname)
        # CPython's argument handling, and the kernel's answers for an int option.
        if value is None:
            if optlen is None:
                raise TypeError("a bytes-like object is required, not 'NoneType'")
            raise OSError(errno.EFAULT, "Bad address")
        if not (isinstance(value, int) and _args.INT_MIN <= value <= _args.INT_MAX):
            data = _args.buffer(value, "a bytes-like object is required")
            if len(data) < 4:
                raise OSError(errno.EINVAL, "Invalid argument")
            value = struct.unpack("i", data[:4])[0]
        enabled = bool(value)
        raw = self._writer._raw
        set_option = raw.set_tcp_nodelay if name == "TCP_NODELAY" else raw.set_keep_alive
        try:
            set_option(enabled)
        except Err as e:
            raise _refusal(e.value) from None
        self._options[name] = int(enabled)

    def getsockopt(self, level, optname, buflen=None):
        value = self._options[self._option(level, optname)]
        if not buflen:
            return value
        if not 0 < buflen <= 1024:
            raise OSError("getsockopt buflen out of range")
        return struct.pack("i", value)[:buflen]

    def __repr__(self):
        try:
            return f"<asyncio.TransportSocket family={self.family!r}, laddr={self.getsockname()!r}>"
        except Exception:
            return "<asyncio.TransportSocket>"


def _refusal(code: "t.ErrorCode") -> BaseException:
    """The exception CPython's socket raises where the provider refused an option."""
    if isinstance(code, t.ErrorCode_Closed):
        return OSError(errno.EBADF, "Bad file descriptor")
    from ._errors import to_exception
    return to_exception(code, "setsockopt")
