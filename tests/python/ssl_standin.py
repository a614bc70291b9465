"""Checks wasio-asyncio's `ssl` stand-in (wasio_asyncio/ssl.py) against CPython's `ssl`, run by
CPython: the same calls give the same values and raise the same exceptions, and what wasio's TLS
cannot honour is refused. Needs the package installed (pip install ./python).

  ssl_standin.py CERTS     (CERTS: ca.pem, server.pem, server.key as host/tests/host/cli_tls.rs
                            makes them); prints "ok N" or raises AssertionError.
"""

import os
import ssl as real
import subprocess
import sys

from wasio_asyncio import ssl as ours

certs = sys.argv[1]
ca, cert, key = (os.path.join(certs, n) for n in ("ca.pem", "server.pem", "server.key"))
checks = 0


def outcome(module, action):
    """What `action(module)` gives: ("value", v) or ("raises", class name, message)."""
    try:
        return ("value", action(module))
    except Exception as e:  # compared, never swallowed: both sides must match
        return ("raises", type(e).__name__, str(e))


def same(name, action, compare_message=True):
    global checks
    a, b = outcome(real, action), outcome(ours, action)
    if not compare_message and a[0] == "raises" == b[0]:
        a, b = a[:2], b[:2]
    assert a == b, f"{name}: CPython {a!r}, wasio {b!r}"
    checks += 1


def refused(name, action, words):
    global checks
    got = outcome(ours, action)
    assert got[0] == "raises" and got[1] == "NotImplementedError" and words in got[2], \
        f"{name}: {got!r}"
    checks += 1


def ctx(m, *steps):
    c = m.create_default_context()
    for step in steps:
        step(m, c)
    return c


# Constants and classes.
for name in ("CERT_NONE", "CERT_OPTIONAL", "CERT_REQUIRED", "PROTOCOL_TLS", "PROTOCOL_TLS_CLIENT",
             "PROTOCOL_TLS_SERVER", "OP_NO_COMPRESSION", "OP_NO_TLSv1", "OP_NO_TLSv1_1",
             "OP_NO_TLSv1_2", "OP_NO_TLSv1_3", "OP_NO_TICKET", "OP_ALL", "HAS_ALPN", "HAS_SNI",
             "VERIFY_X509_STRICT", "VERIFY_DEFAULT"):
    same(name, lambda m: int(getattr(m, name)))
same("TLSVersion", lambda m: [(v.name, int(v)) for v in m.TLSVersion])
same("Purpose", lambda m: [tuple(p.value) for p in m.Purpose])
same("hierarchy", lambda m: (issubclass(m.SSLCertVerificationError, m.SSLError),
                             issubclass(m.SSLCertVerificationError, ValueError),
                             issubclass(m.SSLError, OSError),
                             m.CertificateError is m.SSLCertVerificationError,
                             issubclass(m.SSLEOFError, m.SSLError),
                             issubclass(m.SSLZeroReturnError, m.SSLError)))

# Default contexts.
same("client defaults", lambda m: (ctx(m).verify_mode, ctx(m).check_hostname,
                                   ctx(m).protocol, ctx(m).minimum_version))
same("server defaults", lambda m: (m.create_default_context(m.Purpose.CLIENT_AUTH).verify_mode,
                                   m.create_default_context(m.Purpose.CLIENT_AUTH).check_hostname))
same("bare client", lambda m: (m.SSLContext(m.PROTOCOL_TLS_CLIENT).verify_mode,
                               m.SSLContext(m.PROTOCOL_TLS_CLIENT).check_hostname))
same("bare server", lambda m: (m.SSLContext(m.PROTOCOL_TLS_SERVER).verify_mode,
                               m.SSLContext(m.PROTOCOL_TLS_SERVER).check_hostname))
same("bad purpose", lambda m: m.create_default_context("serverAuth"), compare_message=False)

# check_hostname and verify_mode go together.
same("CERT_NONE with check_hostname",
     lambda m: ctx(m, lambda m, c: setattr(c, "verify_mode", m.CERT_NONE)))
same("check_hostname turns verification on", lambda m: ctx(
    m, lambda m, c: setattr(c, "check_hostname", False),
    lambda m, c: setattr(c, "verify_mode", m.CERT_NONE),
    lambda m, c: setattr(c, "check_hostname", True)).verify_mode)
same("bad verify_mode", lambda m: ctx(m, lambda m, c: setattr(c, "verify_mode", 7)))

# Loading certificates.
with open(ca) as f:
    ca_pem = f.read()
der = real.PEM_cert_to_DER_cert(ca_pem)
same("no location", lambda m: m.create_default_context().load_verify_locations())
same("cafile", lambda m: m.create_default_context().load_verify_locations(cafile=ca))
same("cadata PEM", lambda m: m.create_default_context().load_verify_locations(cadata=ca_pem))
same("cadata DER", lambda m: m.create_default_context().load_verify_locations(cadata=der + der))
same("cadata int", lambda m: m.create_default_context().load_verify_locations(cadata=5))
same("cadata without a certificate",
     lambda m: m.create_default_context().load_verify_locations(cadata="nothing"),
     compare_message=False)
same("PEM and DER", lambda m: (m.PEM_cert_to_DER_cert(ca_pem), m.DER_cert_to_PEM_cert(der)))
same("missing cafile", lambda m: m.create_default_context().load_verify_locations(
    cafile=os.path.join(certs, "missing.pem")), compare_message=False)
same("cert chain", lambda m: m.create_default_context(m.Purpose.CLIENT_AUTH).load_cert_chain(
    cert, key))
same("cert chain without key", lambda m: m.create_default_context(
    m.Purpose.CLIENT_AUTH).load_cert_chain(ca), compare_message=False)
same("missing certfile", lambda m: m.create_default_context().load_cert_chain(
    os.path.join(certs, "missing.pem")), compare_message=False)
same("load_default_certs", lambda m: m.create_default_context().load_default_certs(
    m.Purpose.SERVER_AUTH))

# Protocol settings.
same("alpn", lambda m: m.create_default_context().set_alpn_protocols(["h2", "http/1.1"]))
same("alpn too long", lambda m: m.create_default_context().set_alpn_protocols(["x" * 256]),
     compare_message=False)
same("options |=", lambda m: int(ctx(m, lambda m, c: setattr(
    c, "options", c.options | m.OP_NO_TLSv1 | m.OP_NO_TLSv1_1)).options) & int(m.OP_NO_TLSv1))
same("minimum TLSv1_2", lambda m: ctx(m, lambda m, c: setattr(
    c, "minimum_version", m.TLSVersion.TLSv1_2)).minimum_version)

# What wasio's TLS cannot honour.
refused("capath", lambda m: m.create_default_context(capath=certs), "capath")
refused("minimum TLSv1_3", lambda m: ctx(m, lambda m, c: setattr(
    c, "minimum_version", m.TLSVersion.TLSv1_3)), "TLS 1.2 and 1.3")
refused("maximum TLSv1_2", lambda m: ctx(m, lambda m, c: setattr(
    c, "maximum_version", m.TLSVersion.TLSv1_2)), "TLS 1.2 and 1.3")
refused("OP_NO_TLSv1_3", lambda m: ctx(m, lambda m, c: setattr(
    c, "options", c.options | m.OP_NO_TLSv1_3)), "TLS 1.3")
refused("set_ciphers", lambda m: m.create_default_context().set_ciphers("ECDHE+AESGCM"),
        "cipher suites")
refused("wrap_socket", lambda m: m.create_default_context().wrap_socket(None), "ssl=")
refused("CRL checks", lambda m: ctx(m, lambda m, c: setattr(
    c, "verify_flags", m.VERIFY_CRL_CHECK_LEAF)), "revocation")
encrypted = os.path.join(os.path.dirname(key), "encrypted.key")
subprocess.run(["openssl", "pkey", "-in", key, "-out", encrypted, "-aes256", "-passout",
                "pass:secret"], check=True)
refused("encrypted key", lambda m: m.create_default_context(m.Purpose.CLIENT_AUTH)
        .load_cert_chain(cert, encrypted, password="secret"), "encrypted")

print("ok", checks)
