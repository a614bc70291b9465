"""asyncio's TLS arguments (`ssl=`, `server_hostname=`, `ssl_handshake_timeout=`,
`ssl_shutdown_timeout=`, `StreamWriter.start_tls`) as the provider's TLS records, and the TLS
values of `get_extra_info`.

The checks and messages are asyncio's (`base_events.create_connection` / `create_server`,
`sslproto.SSLProtocol`); the TLS itself is the provider's. `streams.py` calls `client`,
`server`, `handshake`, `opened`, `serving`, `accepted`, `upgrade` and `extra_info`, and makes the
wasio calls itself.
"""

import contextlib
import weakref

from .bindings.imports import wasio_types as t
from . import _args
from . import ssl as _ssl

# The extra-info names answered here.
EXTRA_NAMES = frozenset({"ssl_object", "sslcontext", "cipher", "peercert", "compression"})


class _Conn:
    """What the Python side knows of a connection's TLS: its context and its side."""

    def __init__(self, context, server_side: bool, server_hostname=None):
        self.context = context
        self.server_side = server_side
        self.server_hostname = server_hostname


class _Client:
    """The TLS fields of a client's connect options (`config` None: plain TCP)."""

    def __init__(self, context, config, server_hostname, handshake_timeout, shutdown_timeout,
                 asked_hostname=None):
        self.context = context
        self.config = config
        # What the provider gets ("" when the name is not checked) and what the app asked for.
        self.server_hostname = server_hostname
        self.asked_hostname = asked_hostname
        self.handshake_timeout = handshake_timeout
        self.shutdown_timeout = shutdown_timeout


class _Server:
    """The TLS fields of a server's options (`config` None: plain TCP)."""

    def __init__(self, context, config, handshake_timeout, shutdown_timeout):
        self.context = context
        self.config = config
        self.handshake_timeout = handshake_timeout
        self.shutdown_timeout = shutdown_timeout


# Per writer / server, weakly: a StreamWriter's or Server's TLS facts.
_writers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_servers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _nanoseconds(name: str, seconds):
    """A timeout in seconds as the WIT `duration`; asyncio's check and message."""
    if seconds is None:
        return None
    if seconds <= 0:
        raise ValueError(f"{name} should be a positive number, got {seconds}")
    return _args.nanoseconds(seconds)


def _context(value, what: str) -> "_ssl.SSLContext":
    if not isinstance(value, _ssl.SSLContext):
        raise TypeError(f"{what} is expected to be an instance of ssl.SSLContext, got {value!r}")
    return value


def _client_config(ctx: "_ssl.SSLContext", server_hostname):
    """(client-tls-config, the server-hostname to send) for a client using `ctx`."""
    if ctx.protocol == _ssl.PROTOCOL_TLS_SERVER:
        raise ValueError("Cannot create a client socket with a PROTOCOL_TLS_SERVER context")
    if ctx.verify_mode == _ssl.CERT_NONE:
        raise NotImplementedError(
            "a client that does not verify the server (verify_mode CERT_NONE) cannot be "
            "honoured: wasio's TLS always verifies the server's certificate chain; trust its CA "
            "with load_verify_locations (check_hostname = False skips the name check)")
    if ctx._ca_pems and ctx._platform_roots:
        raise NotImplementedError(
            "wasio's TLS trusts either the host's platform store (load_default_certs) or the CAs "
            "given to load_verify_locations, not both")
    if ctx._ca_pems:
        roots = t.TrustRoots_Pem("".join(ctx._ca_pems))
    elif ctx._platform_roots:
        roots = t.TrustRoots_Platform()
    else:
        # CPython fails the handshake the same way: nothing can be verified.
        e = _ssl.SSLCertVerificationError(
            1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
               "issuer certificate (no CA certificates were loaded into the SSLContext: call "
               "load_verify_locations or load_default_certs)")
        e.library, e.reason = "SSL", "CERTIFICATE_VERIFY_FAILED"
        e.verify_code, e.verify_message = _ssl._X509_UNKNOWN_ISSUER
        raise e
    if ctx.check_hostname and server_hostname:
        name = server_hostname
    else:
        # The provider then checks the chain only (and sends no SNI): asyncio's
        # `server_hostname=''`, and its `start_tls` without a name, which wrap their SSL
        # object with no name to check.
        name = ""
    cert = None
    if ctx._identity is not None:
        cert = t.CertifiedKey(cert_chain_pem=ctx._identity[0], private_key_pem=ctx._identity[1])
    return t.ClientTlsConfig(roots=roots, client_cert=cert, alpn_protocols=list(ctx._alpn)), name


def _server_config(ctx: "_ssl.SSLContext") -> "t.ServerTlsConfig":
    if ctx.protocol == _ssl.PROTOCOL_TLS_CLIENT:
        raise ValueError("Cannot create a server socket with a PROTOCOL_TLS_CLIENT context")
    if ctx._identity is None:
        raise ValueError("the SSLContext has no certificate to serve with: call load_cert_chain")
    ca = None
    if ctx.verify_mode != _ssl.CERT_NONE:
        if not ctx._ca_pems:
            raise NotImplementedError(
                "asking clients for certificates (verify_mode CERT_OPTIONAL or CERT_REQUIRED) "
                "needs the CAs they must chain to, given with load_verify_locations (wasio's TLS "
                "cannot use the platform store for client certificates)")
        ca = "".join(ctx._ca_pems)
    return t.ServerTlsConfig(
        identity=t.CertifiedKey(cert_chain_pem=ctx._identity[0], private_key_pem=ctx._identity[1]),
        client_auth_ca_pem=ca,
        client_auth_required=ctx.verify_mode == _ssl.CERT_REQUIRED,
        alpn_protocols=list(ctx._alpn),
    )


def client(ssl, server_hostname, host, ssl_handshake_timeout, ssl_shutdown_timeout,
           unix=False) -> _Client:
    """The TLS part of `open_connection`'s options (asyncio's checks: `ssl=True` is the default
    client context; `server_hostname` defaults to `host`). `unix`: for `open_unix_connection`
    (no host; `server_hostname` is required with `ssl`)."""
    if not ssl:
        if server_hostname is not None:
            raise ValueError("server_hostname is only meaningful with ssl")
        if ssl_handshake_timeout is not None:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if ssl_shutdown_timeout is not None:
            raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
        return _Client(None, None, None, None, None)
    if server_hostname is None:
        if unix:
            raise ValueError("you have to pass server_hostname when using ssl")
        if not host:
            raise ValueError("You must set server_hostname when using ssl without a host")
        server_hostname = host
    server_hostname = _args.text(server_hostname, "server_hostname")
    if ssl is True:
        ctx = _ssl.create_default_context()
        if not server_hostname:
            ctx.check_hostname = False
    else:
        ctx = _context(ssl, "ssl")
    handshake = _nanoseconds("ssl_handshake_timeout", ssl_handshake_timeout)
    shutdown = _nanoseconds("ssl_shutdown_timeout", ssl_shutdown_timeout)
    config, name = _client_config(ctx, server_hostname)
    return _Client(ctx, config, name, handshake, shutdown, server_hostname or None)


def server(ssl, ssl_handshake_timeout, ssl_shutdown_timeout) -> _Server:
    """The TLS part of `start_server`'s options (asyncio's checks)."""
    if isinstance(ssl, bool):
        raise TypeError("ssl argument must be an SSLContext or None")
    if ssl is None:
        if ssl_handshake_timeout is not None:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if ssl_shutdown_timeout is not None:
            raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
        return _Server(None, None, None, None)
    if not isinstance(ssl, _ssl.SSLContext):
        raise TypeError("ssl argument must be an SSLContext or None")
    handshake = _nanoseconds("ssl_handshake_timeout", ssl_handshake_timeout)
    shutdown = _nanoseconds("ssl_shutdown_timeout", ssl_shutdown_timeout)
    return _Server(ssl, _server_config(ssl), handshake, shutdown)


def _handshake_timed_out(handshake_timeout) -> ConnectionAbortedError:
    """asyncio's error for a TLS handshake that ran out of time (sslproto)."""
    seconds = (handshake_timeout or 60_000_000_000) / 1_000_000_000
    return ConnectionAbortedError(
        f"SSL handshake is taking longer than {seconds:g} seconds: aborting the connection")


@contextlib.contextmanager
def handshake(tls):
    """Around the wasio call that runs a TLS handshake (`open-connection` with `tls.config`,
    `start-tls`): its `timeout`, the handshake's (no other timeout is set), becomes asyncio's
    ConnectionAbortedError."""
    try:
        yield
    except TimeoutError:
        if tls.config is None:
            raise
        raise _handshake_timed_out(tls.handshake_timeout) from None


def opened(writer, tls: _Client) -> None:
    """Records a connection `open_connection` made (a client end)."""
    _writers[writer] = _Conn(tls.context, False, tls.asked_hostname)


def serving(server_obj, tls: _Server) -> None:
    """Records the context of a server `start_server` made."""
    _servers[server_obj] = tls.context


def accepted(server_obj, writer) -> None:
    """Records a connection `server_obj` accepted (a server end, with the server's context)."""
    _writers[writer] = _Conn(_servers.get(server_obj), True)


class _Upgrade:
    """A `StreamWriter.start_tls` in preparation: `arguments` are `writer.start-tls`'s."""

    def __init__(self, writer, ctx, server_side, arguments, server_hostname):
        self.config = arguments[0]
        self.handshake_timeout = arguments[2]
        self.arguments = arguments
        self._writer = writer
        self._conn = _Conn(ctx, server_side, server_hostname)

    def done(self) -> None:
        """Records that the connection now runs TLS with this context."""
        _writers[self._writer] = self._conn


def upgrade(writer, sslcontext, server_hostname, ssl_handshake_timeout,
            ssl_shutdown_timeout) -> _Upgrade:
    """asyncio `StreamWriter.start_tls`'s checks, and `writer.start-tls`'s arguments: the side
    is the connection's (an accepted one serves)."""
    ctx = _context(sslcontext, "sslcontext")
    conn = _writers.get(writer) or _Conn(None, False)
    handshake_ns = _nanoseconds("ssl_handshake_timeout", ssl_handshake_timeout)
    shutdown_ns = _nanoseconds("ssl_shutdown_timeout", ssl_shutdown_timeout)
    if conn.server_side:
        config, name = t.TlsConfig_Server(_server_config(ctx)), None
    else:
        if server_hostname is not None:
            server_hostname = _args.text(server_hostname, "server_hostname")
        client_config, name = _client_config(ctx, server_hostname)
        config = t.TlsConfig_Client(client_config)
    # `ahead` is empty: this package's reader keeps no bytes of its own (the provider buffers).
    arguments = (config, name, handshake_ns, shutdown_ns, b"")
    return _Upgrade(writer, ctx, conn.server_side, arguments, server_hostname)


def extra_info(writer, info: "t.ExtraInfo", name: str):
    """`get_extra_info(name)` for the TLS names (EXTRA_NAMES); None when not TLS."""
    if info.tls_version is None:
        return None
    conn = _writers.get(writer) or _Conn(None, False)
    if name == "sslcontext":
        return conn.context
    if name == "compression":
        return None
    obj = _ssl.SSLObject(conn.context, conn.server_side,
                         None if conn.server_side else conn.server_hostname,
                         info.tls_version, info.cipher, info.alpn_protocol, info.peercert)
    if name == "ssl_object":
        return obj
    if name == "cipher":
        return obj.cipher()
    return obj.getpeercert()  # "peercert"
