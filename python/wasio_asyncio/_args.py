"""Program values made fit for the WIT types they are passed as.

componentize-py converts a Python value to a WIT integer or string in Rust, and a value that
does not fit (an int out of the type's range, a float, a string with lone surrogates) makes it
panic: the whole component traps. So every value a program hands the package is checked or
clamped here first, and a value asyncio would reject raises the exception asyncio raises for it.
"""

import operator

U16_MAX = 2**16 - 1
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
S64_MAX = 2**63 - 1
S64_MIN = -(2**63)
# A C `int`, as CPython's socket calls take one (`listen`'s backlog, `setsockopt`'s value).
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)


def count(n, lo: int = S64_MIN, hi: int = S64_MAX) -> int:
    """A byte count (`read(n)`, `readexactly(n)`): an integer as slicing takes it (`TypeError`
    for a float, as asyncio's), clamped to the WIT type's range, which no buffer can reach."""
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(
            "slice indices must be integers or None or have an __index__ method") from None
    return min(max(n, lo), hi)


def size(v, name: str) -> int:
    """A size asyncio only compares (`limit`, write buffer limits, `backlog`): a number, as an
    int in 0..=u64 (bigger than any buffer reaches, so clamping changes nothing)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        try:
            v = operator.index(v)
        except TypeError:
            raise TypeError(f"{name} must be a number, not {type(v).__name__}") from None
    if v != v:  # NaN: every comparison asyncio makes with it is false
        raise ValueError(f"{name} must be a number, got nan")
    if v >= U64_MAX:
        return U64_MAX
    return max(0, int(v))


def port(v, what: str) -> int:
    """A TCP port: an int (or a numeric string, as `getaddrinfo` takes) in 0..=65535;
    `OverflowError` with CPython's message otherwise."""
    if isinstance(v, (str, bytes)):
        try:
            v = int(v)
        except ValueError:
            raise OSError(f"{what}(): the port must be a number, got {v!r} "
                          "(service names are not looked up in a component)") from None
    try:
        v = operator.index(v)
    except TypeError:
        raise TypeError(f"'{type(v).__name__}' object cannot be interpreted as an integer") from None
    if not 0 <= v <= U16_MAX:
        raise OverflowError(f"{what}(): port must be 0-65535.")
    return v


def buffer(data, required: str) -> bytes:
    """The bytes of a bytes-like `data`; for anything else `TypeError("{required}, not 'T'")`,
    CPython's message for the call (`bytes(5)` would be five zero bytes)."""
    try:
        return bytes(memoryview(data))
    except TypeError:
        raise TypeError(f"{required}, not '{type(data).__name__}'") from None


def text(v, name: str) -> str:
    """A host name, path or protocol name: a `str` that UTF-8 can encode (a lone surrogate
    raises `UnicodeEncodeError`, as CPython's encoding of the name does)."""
    if isinstance(v, bytes):
        v = v.decode("utf-8")
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a str, not {type(v).__name__}")
    v.encode("utf-8")
    return v


def nanoseconds(seconds: float) -> int:
    """A non-negative duration in seconds as WIT nanoseconds (a `duration` is a u64): negative
    (or NaN) is 0, beyond about 584 years (or infinite) is the longest."""
    nanos = seconds * 1e9
    if nanos != nanos:
        return 0
    if nanos >= U64_MAX:
        return U64_MAX
    return max(0, int(nanos))
