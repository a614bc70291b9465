"""wasio `error-code` values as the exceptions CPython's asyncio raises for the same failure."""

import asyncio
import errno

from componentize_py_types import Err

from . import _calls
from .bindings.imports import wasio_types as t

try:
    from socket import gaierror as _gaierror, EAI_NONAME as _EAI_NONAME
except ImportError:  # no socket module: a plain OSError says the same
    _gaierror, _EAI_NONAME = OSError, -2

# The `ssl` stand-in's exceptions; `SSLError` stays importable from here.
from .ssl import SSLError, _from_provider as _ssl_error  # noqa: F401


def _overrun_message(found: bool) -> str:
    if found:
        return "Separator is found, but chunk is longer than limit"
    return "Separator is not found, and chunk exceed the limit"


def to_exception(code: "t.ErrorCode", what: str = "read") -> BaseException:
    """The exception asyncio raises where wasio reports `code`; `what` names the call for `busy`."""
    if isinstance(code, t.ErrorCode_IncompleteRead):
        return asyncio.IncompleteReadError(bytes(code.value.partial), code.value.expected)
    if isinstance(code, t.ErrorCode_LimitOverrun):
        return asyncio.LimitOverrunError(_overrun_message(code.value.found), code.value.consumed)
    if isinstance(code, t.ErrorCode_InvalidArgument):
        return ValueError(code.value)
    if isinstance(code, t.ErrorCode_Busy):
        return RuntimeError(
            f"{what}() called while another coroutine is already waiting for incoming data"
        )
    if isinstance(code, t.ErrorCode_Closed):
        return RuntimeError(code.value)
    if isinstance(code, t.ErrorCode_ConnectionReset):
        return ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
    if isinstance(code, t.ErrorCode_ConnectionRefused):
        # The OS's words, as a Unix connect gives them; `open_connection` words a TCP one.
        return ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    if isinstance(code, t.ErrorCode_ConnectionAborted):
        return ConnectionAbortedError(errno.ECONNABORTED, "Connection aborted")
    if isinstance(code, t.ErrorCode_BrokenPipe):
        return BrokenPipeError(errno.EPIPE, "Broken pipe")
    if isinstance(code, t.ErrorCode_Timeout):
        return TimeoutError()
    if isinstance(code, t.ErrorCode_Interrupted):
        # Never reaches a program (`_calls.call` makes an interrupted call again or raises
        # `CancelledError`); the nearest OSError if it ever did.
        return InterruptedError(errno.EINTR, "Interrupted system call")
    if isinstance(code, t.ErrorCode_AddressInUse):
        return OSError(errno.EADDRINUSE, "address already in use")
    if isinstance(code, t.ErrorCode_AddressNotAvailable):
        return OSError(errno.EADDRNOTAVAIL, "cannot assign requested address")
    if isinstance(code, t.ErrorCode_NotFound):
        return FileNotFoundError(errno.ENOENT, "No such file or directory")
    if isinstance(code, t.ErrorCode_NameUnresolvable):
        return _gaierror(_EAI_NONAME, "Name or service not known")
    if isinstance(code, t.ErrorCode_AccessDenied):
        return PermissionError(errno.EACCES, code.value or "not granted to this component")
    if isinstance(code, t.ErrorCode_NotSupported):
        return NotImplementedError(code.value)
    if isinstance(code, t.ErrorCode_BufferFull):
        return OSError(errno.ENOBUFS, "the write queue is full")
    if isinstance(code, t.ErrorCode_Tls):
        return _ssl_error(code.value)
    if isinstance(code, t.ErrorCode_Other):
        return OSError(code.value or "unknown error")
    return OSError(f"unknown wasio error {type(code).__name__}")


def from_exception(exc: BaseException) -> "t.ErrorCode":
    """The `error-code` a `set_exception(exc)` stores: the case whose exception `exc` is."""
    if isinstance(exc, ConnectionResetError):
        return t.ErrorCode_ConnectionReset()
    if isinstance(exc, ConnectionAbortedError):
        return t.ErrorCode_ConnectionAborted()
    if isinstance(exc, BrokenPipeError):
        return t.ErrorCode_BrokenPipe()
    if isinstance(exc, TimeoutError):
        return t.ErrorCode_Timeout()
    # A message UTF-8 can carry (a lone surrogate would trap the call that takes it).
    message = str(exc).encode("utf-8", "backslashreplace").decode("utf-8")
    return t.ErrorCode_Other(message or type(exc).__name__)


def unwrap(result, what: str = "read"):
    """The value of a `try-*` call's `result`, or its error raised as asyncio would."""
    if isinstance(result, Err):
        raise to_exception(result.value, what)
    return result.value


def call(start, what: str = "read", interrupt=None, restore=None):
    """Awaits the raw async wasio call `start()` makes, raising its error as asyncio would;
    cancelling the awaiting task ends the call with `interrupt` and hands a result that came
    anyway to `restore` (see `_calls.call`). A plain function returning `_calls.call`'s
    coroutine, so that awaiting it adds no level."""
    return _calls.call(start, interrupt, restore, what=what, to_exception=to_exception)


def sync(fn, *args, what: str = "read"):
    """Calls a raw sync wasio function whose WIT result may be an error."""
    try:
        return fn(*args)
    except Err as e:
        raise to_exception(e.value, what) from None
