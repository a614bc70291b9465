"""The `ssl` module of Python programs built as wasio components (`import ssl` gets this).

componentize-py has no `ssl` module (CPython's needs OpenSSL); on wasio the provider does TLS
(rustls in the host), so an `SSLContext` here only records settings, which `open_connection`,
`start_server` and `StreamWriter.start_tls` hand to the provider as its `client-tls-config` /
`server-tls-config`. This module offers the part of CPython's `ssl` API asyncio programs use:
`create_default_context`, `SSLContext` (`load_verify_locations`, `load_cert_chain`,
`load_default_certs`, `check_hostname`, `verify_mode`, `set_alpn_protocols`,
`minimum_version` / `maximum_version`, `options`), the exceptions, and the `SSLObject` that
`get_extra_info('ssl_object')` returns.

Certificate and key files are read when `load_*` is called, from the files the app may read
(`wasio run --dir`). PEM only, as CPython's `cafile` and `load_cert_chain`; `cadata` may be PEM
text or DER bytes.

What wasio's TLS cannot do is refused with `NotImplementedError` when it is asked for, never
silently ignored:
- a client that does not verify the server (`verify_mode = CERT_NONE`, also the default of
  `SSLContext(PROTOCOL_TLS)` used as a client): wasio always verifies the certificate chain;
  `check_hostname = False` (name not checked) is honoured;
- TLS versions other than 1.2 and 1.3 both offered: `minimum_version = TLSv1_3`,
  `maximum_version = TLSv1_2`, `OP_NO_TLSv1_2`, `OP_NO_TLSv1_3` (lower minimums and the other
  `OP_*` flags are accepted: the provider never offers older protocols, compression or
  renegotiation anyway);
- `capath`, encrypted private keys, `set_ciphers`, SNI callbacks, CRL checks, `wrap_socket` /
  `wrap_bio`, and trusting the platform store together with given CAs;
- a server asking client certificates (`verify_mode` not `CERT_NONE`) without CAs given by
  `load_verify_locations`.

Where wasio differs from CPython: with `check_hostname = False` no SNI name is sent; `cipher()`
has no secret-bit count for unknown suites; `getpeercert()` gives subject, issuer, version,
serialNumber, notBefore, notAfter and subjectAltName (not the OCSP, caIssuers and
crlDistributionPoints URLs); a context without any
trusted CA fails a client connection before connecting, with the same
`SSLCertVerificationError` CPython raises in the handshake.
"""

import base64
import enum
import os
import re
from collections import namedtuple

OPENSSL_VERSION = "wasio (rustls in the host)"
OPENSSL_VERSION_INFO = (0, 0, 0, 0, 0)
OPENSSL_VERSION_NUMBER = 0
HAS_ALPN = True
HAS_SNI = True
HAS_ECDH = True
HAS_NPN = False
HAS_NEVER_CHECK_COMMON_NAME = True
HAS_SSLv2 = False
HAS_SSLv3 = False
HAS_TLSv1 = False
HAS_TLSv1_1 = False
HAS_TLSv1_2 = True
HAS_TLSv1_3 = True
CHANNEL_BINDING_TYPES = []


class SSLError(OSError):
    """A TLS failure: certificate, alert or protocol (CPython's `ssl.SSLError`)."""

    library = None
    reason = None

    def __str__(self):
        # As CPython's: the message alone, without OSError's "[Errno n]".
        if len(self.args) >= 2 and isinstance(self.args[1], str):
            return self.args[1]
        return super().__str__()


class SSLZeroReturnError(SSLError):
    """The TLS connection was closed cleanly (never raised by wasio: reads return EOF)."""


class SSLWantReadError(SSLError):
    """Non-blocking TLS I/O would block (never raised by wasio)."""


class SSLWantWriteError(SSLError):
    """Non-blocking TLS I/O would block (never raised by wasio)."""


class SSLSyscallError(SSLError):
    """A system call failed under TLS (never raised by wasio: `OSError` subclasses are)."""


class SSLEOFError(SSLError):
    """The peer closed the connection in violation of the TLS protocol (no close_notify)."""


class SSLCertVerificationError(SSLError, ValueError):
    """The peer's certificate could not be verified (untrusted issuer, wrong name, expired)."""

    verify_code = None
    verify_message = None


CertificateError = SSLCertVerificationError


class _ASN1Object(namedtuple("_ASN1Object", "nid shortname longname oid")):
    """An X.509 object identifier, as CPython's `ssl._ASN1Object`."""


class Purpose(_ASN1Object, enum.Enum):
    """What a default context is for: verifying servers (a client) or clients (a server)."""

    SERVER_AUTH = (129, "serverAuth", "TLS Web Server Authentication", "1.3.6.1.5.5.7.3.1")
    CLIENT_AUTH = (130, "clientAuth", "TLS Web Client Authentication", "1.3.6.1.5.5.7.3.2")


class _SSLMethod(enum.IntEnum):
    PROTOCOL_SSLv23 = 2
    PROTOCOL_TLS_CLIENT = 16
    PROTOCOL_TLS_SERVER = 17


PROTOCOL_SSLv23 = PROTOCOL_TLS = _SSLMethod.PROTOCOL_SSLv23
PROTOCOL_TLS_CLIENT = _SSLMethod.PROTOCOL_TLS_CLIENT
PROTOCOL_TLS_SERVER = _SSLMethod.PROTOCOL_TLS_SERVER


class VerifyMode(enum.IntEnum):
    """Whether the peer's certificate is asked for and verified."""

    CERT_NONE = 0
    CERT_OPTIONAL = 1
    CERT_REQUIRED = 2


CERT_NONE = VerifyMode.CERT_NONE
CERT_OPTIONAL = VerifyMode.CERT_OPTIONAL
CERT_REQUIRED = VerifyMode.CERT_REQUIRED


class VerifyFlags(enum.IntFlag):
    """Certificate verification flags; the CRL checks cannot be honoured (see module doc)."""

    VERIFY_DEFAULT = 0
    VERIFY_CRL_CHECK_LEAF = 0x4
    VERIFY_CRL_CHECK_CHAIN = 0xC
    VERIFY_X509_STRICT = 0x20
    VERIFY_ALLOW_PROXY_CERTS = 0x40
    VERIFY_X509_TRUSTED_FIRST = 0x8000
    VERIFY_X509_PARTIAL_CHAIN = 0x80000


globals().update(VerifyFlags.__members__)


class TLSVersion(enum.IntEnum):
    """TLS protocol versions; wasio offers TLS 1.2 and 1.3."""

    MINIMUM_SUPPORTED = -2
    SSLv3 = 768
    TLSv1 = 769
    TLSv1_1 = 770
    TLSv1_2 = 771
    TLSv1_3 = 772
    MAXIMUM_SUPPORTED = -1


class Options(enum.IntFlag):
    """`SSLContext.options` flags (OpenSSL's values)."""

    OP_ALL = 0x80000050
    OP_NO_SSLv2 = 0
    OP_NO_SSLv3 = 0x2000000
    OP_NO_TLSv1 = 0x4000000
    OP_NO_TLSv1_1 = 0x10000000
    OP_NO_TLSv1_2 = 0x8000000
    OP_NO_TLSv1_3 = 0x20000000
    OP_NO_COMPRESSION = 0x20000
    OP_CIPHER_SERVER_PREFERENCE = 0x400000
    OP_SINGLE_DH_USE = 0
    OP_SINGLE_ECDH_USE = 0
    OP_NO_TICKET = 0x4000
    OP_NO_RENEGOTIATION = 0x40000000
    OP_ENABLE_MIDDLEBOX_COMPAT = 0x100000
    OP_IGNORE_UNEXPECTED_EOF = 0x80


globals().update(Options.__members__)

_DEFAULT_OPTIONS = (Options.OP_ALL | Options.OP_NO_SSLv3 | Options.OP_NO_COMPRESSION
                    | Options.OP_CIPHER_SERVER_PREFERENCE | Options.OP_ENABLE_MIDDLEBOX_COMPAT)

# Verification failures as OpenSSL numbers and words them (`verify_code`, `verify_message`).
_X509_UNSPECIFIED = (1, "unspecified certificate verification error")
_X509_UNKNOWN_ISSUER = (20, "unable to get local issuer certificate")
_X509_NOT_YET_VALID = (9, "certificate is not yet valid")
_X509_EXPIRED = (10, "certificate has expired")
_X509_REVOKED = (23, "certificate revoked")
_X509_BAD_SIGNATURE = (7, "certificate signature failure")
_X509_HOSTNAME_MISMATCH = 62
_X509_IP_MISMATCH = 64


def _read_pem_file(path) -> str:
    with open(os.fspath(path), "rb") as f:
        return f.read().decode("latin-1")


def _pem_blocks(text: str, labels) -> list:
    """The PEM blocks of `text` whose label is one of `labels`, each ending with a newline."""
    found = []
    for m in re.finditer(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", text, re.S):
        if m.group(1) in labels:
            found.append(m.group(0) + "\n")
    return found


def _der_to_pem(data: bytes) -> str:
    """Concatenated DER certificates (CPython's `cadata` bytes) as PEM text."""
    pems = []
    i = 0
    while i < len(data):
        if data[i] != 0x30 or i + 2 > len(data):
            raise SSLError(1, "cadata holds bytes that are not a DER certificate")
        first = data[i + 1]
        if first < 0x80:
            start, length = i + 2, first
        else:
            n = first & 0x7F
            start = i + 2 + n
            if n == 0 or n > 4 or start > len(data):
                raise SSLError(1, "cadata holds bytes that are not a DER certificate")
            length = int.from_bytes(data[i + 2:start], "big")
        end = start + length
        if end > len(data):
            raise SSLError(1, "cadata ends inside a DER certificate")
        b64 = base64.b64encode(data[i:end]).decode("ascii")
        lines = "\n".join(b64[j:j + 64] for j in range(0, len(b64), 64))
        pems.append(f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n")
        i = end
    if not pems:
        raise SSLError(1, "cadata holds no certificate")
    return "".join(pems)


def _version_allowed(value, bound: str) -> TLSVersion:
    """Checks that a `minimum_version`/`maximum_version` keeps both TLS 1.2 and 1.3 allowed."""
    try:
        value = TLSVersion(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a TLSVersion") from None
    if bound == "minimum":
        ok = value in (TLSVersion.MINIMUM_SUPPORTED, TLSVersion.SSLv3, TLSVersion.TLSv1,
                       TLSVersion.TLSv1_1, TLSVersion.TLSv1_2)
    else:
        ok = value in (TLSVersion.MAXIMUM_SUPPORTED, TLSVersion.TLSv1_3)
    if not ok:
        raise NotImplementedError(
            f"{bound}_version = {value.name} cannot be honoured: wasio's TLS always offers "
            "TLS 1.2 and 1.3")
    return value


class SSLContext:
    """TLS settings for asyncio's `ssl=` and `start_tls` (recorded here, used by the provider)."""

    def __init__(self, protocol=None, *args, **kwargs):
        if protocol is None:
            protocol = PROTOCOL_TLS
        if protocol not in (PROTOCOL_TLS, PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER):
            raise ValueError(f"invalid or unsupported protocol version {protocol!r}")
        self.protocol = _SSLMethod(protocol)
        client = protocol == PROTOCOL_TLS_CLIENT
        self._check_hostname = client
        self._verify_mode = CERT_REQUIRED if client else CERT_NONE
        self._verify_flags = VerifyFlags.VERIFY_X509_TRUSTED_FIRST
        self._options = _DEFAULT_OPTIONS
        self._minimum_version = TLSVersion.TLSv1_2
        self._maximum_version = TLSVersion.MAXIMUM_SUPPORTED
        # PEM CA certificates given to load_verify_locations, in order.
        self._ca_pems = []
        # load_default_certs / set_default_verify_paths: the host's platform trust store.
        self._platform_roots = False
        # (certificate chain PEM, private key PEM) from load_cert_chain.
        self._identity = None
        self._alpn = []

    def __repr__(self):
        return f"<wasio ssl.SSLContext {self.protocol.name}>"

    # -- verification ------------------------------------------------------------------------

    @property
    def check_hostname(self) -> bool:
        return self._check_hostname

    @check_hostname.setter
    def check_hostname(self, value):
        value = bool(value)
        if value and self._verify_mode == CERT_NONE:
            # As CPython: checking names needs verification.
            self._verify_mode = CERT_REQUIRED
        self._check_hostname = value

    @property
    def verify_mode(self) -> VerifyMode:
        return self._verify_mode

    @verify_mode.setter
    def verify_mode(self, value):
        try:
            mode = VerifyMode(value)
        except ValueError:
            raise ValueError("invalid value for verify_mode") from None
        if mode == CERT_NONE and self._check_hostname:
            raise ValueError("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.")
        self._verify_mode = mode

    @property
    def verify_flags(self) -> VerifyFlags:
        return self._verify_flags

    @verify_flags.setter
    def verify_flags(self, value):
        flags = VerifyFlags(value)
        if flags & VerifyFlags.VERIFY_CRL_CHECK_LEAF:
            raise NotImplementedError(
                "certificate revocation list checks (VERIFY_CRL_CHECK_*) cannot be honoured by "
                "wasio's TLS")
        self._verify_flags = flags

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        """Trusts the CA certificates in `cafile` (PEM) and `cadata` (PEM text or DER bytes)."""
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")
        if capath is not None:
            raise NotImplementedError(
                "capath= is not supported by wasio's ssl: give the CA certificates as one PEM "
                "file (cafile=) or as cadata=")
        pems = []
        if cafile is not None:
            found = _pem_blocks(_read_pem_file(cafile), ("CERTIFICATE",))
            if not found:
                raise SSLError(1, f"no certificate or crl found in {os.fspath(cafile)}")
            pems += found
        if cadata is not None:
            if isinstance(cadata, str):
                if not cadata.isascii():
                    raise TypeError("cadata should be an ASCII string or a bytes-like object")
                found = _pem_blocks(cadata, ("CERTIFICATE",))
                if not found:
                    raise SSLError(1, "no certificate or crl found in cadata")
                pems += found
            elif isinstance(cadata, (bytes, bytearray, memoryview)):
                pems.append(_der_to_pem(bytes(cadata)))
            else:
                raise TypeError("cadata should be an ASCII string or a bytes-like object")
        self._ca_pems += pems

    def load_default_certs(self, purpose=Purpose.SERVER_AUTH):
        """Trusts the host's platform certificate store (the provider reads it in the host)."""
        if not isinstance(purpose, _ASN1Object):
            raise TypeError(purpose)
        self._platform_roots = True

    def set_default_verify_paths(self):
        """As `load_default_certs`: the host's platform store (it honours SSL_CERT_FILE/DIR)."""
        self._platform_roots = True

    # -- own certificate -----------------------------------------------------------------------

    def load_cert_chain(self, certfile, keyfile=None, password=None):
        """This end's certificate chain (PEM `certfile`, leaf first) and its private key (PEM
        `keyfile`, or in `certfile` when not given). Encrypted keys are not supported."""
        chain = _pem_blocks(_read_pem_file(certfile), ("CERTIFICATE",))
        if not chain:
            raise SSLError(1, f"no PEM certificate found in {os.fspath(certfile)}")
        key_path = certfile if keyfile is None else keyfile
        key_text = _read_pem_file(key_path)
        if "ENCRYPTED" in key_text:
            raise NotImplementedError(
                f"the private key in {os.fspath(key_path)} is encrypted, which wasio's TLS does "
                "not support: decrypt it first (openssl pkey -in KEY -out PLAIN_KEY)")
        keys = _pem_blocks(key_text, ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"))
        if not keys:
            raise SSLError(1, f"no PEM private key found in {os.fspath(key_path)}")
        self._identity = ("".join(chain), keys[0])

    # -- protocol settings ---------------------------------------------------------------------

    def set_alpn_protocols(self, alpn_protocols):
        """The ALPN protocols to offer (client) or accept (server), most preferred first."""
        protocols = []
        for p in alpn_protocols:
            if len(p.encode("ascii")) < 1 or len(p.encode("ascii")) > 255:
                raise SSLError("ALPN protocols must be 1 to 255 in length")
            protocols.append(p)
        self._alpn = protocols

    @property
    def minimum_version(self) -> TLSVersion:
        return self._minimum_version

    @minimum_version.setter
    def minimum_version(self, value):
        self._minimum_version = _version_allowed(value, "minimum")

    @property
    def maximum_version(self) -> TLSVersion:
        return self._maximum_version

    @maximum_version.setter
    def maximum_version(self, value):
        self._maximum_version = _version_allowed(value, "maximum")

    @property
    def options(self) -> Options:
        return self._options

    @options.setter
    def options(self, value):
        value = Options(value)
        for flag, version in ((Options.OP_NO_TLSv1_2, "TLS 1.2"), (Options.OP_NO_TLSv1_3, "TLS 1.3")):
            if value & flag:
                raise NotImplementedError(
                    f"{flag.name} cannot be honoured: wasio's TLS always offers {version}")
        self._options = value

    # -- what wasio's TLS cannot do --------------------------------------------------------------

    def set_ciphers(self, ciphers):
        raise NotImplementedError(
            "set_ciphers cannot be honoured: wasio's TLS uses rustls' safe default cipher suites")

    def set_servername_callback(self, callback):
        raise NotImplementedError("SNI callbacks are not supported by wasio's TLS")

    @property
    def sni_callback(self):
        return None

    @sni_callback.setter
    def sni_callback(self, callback):
        if callback is not None:
            raise NotImplementedError("SNI callbacks are not supported by wasio's TLS")

    def wrap_socket(self, *args, **kwargs):
        raise NotImplementedError(
            "wasio's TLS runs in the provider: pass the context as ssl= to asyncio's "
            "open_connection/start_server, or to StreamWriter.start_tls")

    wrap_bio = wrap_socket


def create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile=None, capath=None,
                           cadata=None) -> SSLContext:
    """As CPython's: a client context verifying servers (SERVER_AUTH) or a server context
    (CLIENT_AUTH), trusting the given CAs, else (for verifying contexts) the platform store."""
    if not isinstance(purpose, _ASN1Object):
        raise TypeError(purpose)
    if purpose == Purpose.SERVER_AUTH:
        context = SSLContext(PROTOCOL_TLS_CLIENT)
    elif purpose == Purpose.CLIENT_AUTH:
        context = SSLContext(PROTOCOL_TLS_SERVER)
    else:
        raise ValueError(purpose)
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != CERT_NONE:
        context.load_default_certs(purpose)
    # CPython 3.13's defaults. The host trusts a certificate of the given CAs that the peer
    # presents as it is (partial chains), and webpki's checks are strict ones.
    context.verify_flags |= VerifyFlags.VERIFY_X509_PARTIAL_CHAIN | VerifyFlags.VERIFY_X509_STRICT
    return context


def DER_cert_to_PEM_cert(der_cert_bytes) -> str:
    """A DER certificate as PEM text."""
    return _der_to_pem(bytes(der_cert_bytes))


def PEM_cert_to_DER_cert(pem_cert_string: str) -> bytes:
    """The first PEM certificate of `pem_cert_string` as DER bytes."""
    found = _pem_blocks(pem_cert_string, ("CERTIFICATE",))
    if not found:
        raise ValueError("Invalid PEM encoding; must start with -----BEGIN CERTIFICATE-----")
    body = found[0].split("-----")[2]
    return base64.b64decode(body)


# -- a finished handshake, as `get_extra_info('ssl_object')` ------------------------------------

# X.509 attribute short names (as the host prints them) -> the long names CPython uses.
_ATTRIBUTE_NAMES = {
    "CN": "commonName", "C": "countryName", "L": "localityName", "ST": "stateOrProvinceName",
    "O": "organizationName", "OU": "organizationalUnitName", "emailAddress": "emailAddress",
    "Email": "emailAddress", "DC": "domainComponent", "street": "streetAddress",
    "SN": "surname", "GN": "givenName", "UID": "userId", "serialNumber": "serialNumber",
    "title": "title",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# rustls's TLS 1.2 suite names -> OpenSSL's, which CPython's `cipher()` gives.
_OPENSSL_CIPHERS = {
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}


def _name(text: str) -> tuple:
    """A readable distinguished name ("CN=a, O=b") as CPython's tuple of RDN tuples."""
    if not text:
        return ()
    rdns = []
    for rdn in re.split(r", (?=[A-Za-z][\w.]*=)", text):
        pairs = []
        for attr in re.split(r" \+ (?=[A-Za-z][\w.]*=)", rdn):
            key, _, value = attr.partition("=")
            pairs.append((_ATTRIBUTE_NAMES.get(key, key), value))
        rdns.append(tuple(pairs))
    return tuple(rdns)


def _asn1_time(rfc3339: str) -> str:
    """An RFC 3339 UTC time as OpenSSL prints it ("Dec  4 21:51:16 2026 GMT")."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z", rfc3339)
    if m is None:
        return rfc3339
    year, month, day, hh, mm, ss = m.groups()
    return f"{_MONTHS[int(month) - 1]} {int(day):2d} {hh}:{mm}:{ss} {year} GMT"


def _der_item(der: bytes, at: int) -> tuple[int, int, int]:
    """The DER element at `at`: (tag, start of its contents, end of its contents)."""
    tag, first = der[at], der[at + 1]
    start = at + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(der[start:start + count], "big")
        start += count
    end = start + length
    if end > len(der):
        raise ValueError("truncated DER")
    return tag, start, end


def _version_and_serial(der: bytes):
    """A certificate's (version, serialNumber) as CPython's `getpeercert` gives them (3 for an
    X.509 v3 certificate; the serial's magnitude in upper-case hex, "-" first when negative),
    read from its DER; None when the DER is not a certificate's."""
    try:
        tag, start, _ = _der_item(der, 0)  # Certificate
        if tag != 0x30:
            return None
        tag, at, _ = _der_item(der, start)  # TBSCertificate
        if tag != 0x30:
            return None
        version = 0
        tag, start, end = _der_item(der, at)
        if tag == 0xA0:  # [0] EXPLICIT version, absent for v1
            tag, vstart, vend = _der_item(der, start)
            if tag != 0x02:
                return None
            version = int.from_bytes(der[vstart:vend], "big", signed=True)
            tag, start, end = _der_item(der, end)
        if tag != 0x02:
            return None
        serial = int.from_bytes(der[start:end], "big", signed=True)
    except (IndexError, ValueError):
        return None
    magnitude = abs(serial)
    digits = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "big").hex().upper()
    return version + 1, ("-" if serial < 0 else "") + digits


def _san(entry: str) -> tuple:
    kind, _, value = entry.partition(":")
    return ({"IP": "IP Address"}.get(kind, kind), value)


def _secret_bits(suite: str):
    if "AES_128" in suite or "AES128" in suite:
        return 128
    if "AES_256" in suite or "AES256" in suite or "CHACHA20" in suite:
        return 256
    return None


class SSLObject:
    """What `get_extra_info('ssl_object')` returns: the settled TLS session of a connection."""

    def __init__(self, context, server_side: bool, server_hostname, version, cipher, alpn,
                 peercert):
        self.context = context
        self.server_side = server_side
        self.server_hostname = server_hostname
        self._version = version
        self._cipher = cipher
        self._alpn = alpn
        self._peercert = peercert

    def __repr__(self):
        return f"<wasio ssl.SSLObject {self._version}>"

    def version(self):
        return self._version

    def cipher(self):
        if self._cipher is None:
            return None
        name = self._cipher
        if name.startswith("TLS13_"):
            name = "TLS_" + name[len("TLS13_"):]
        name = _OPENSSL_CIPHERS.get(name, name)
        return (name, self._version, _secret_bits(name))

    def compression(self):
        return None

    def selected_alpn_protocol(self):
        return self._alpn

    def selected_npn_protocol(self):
        return None

    def getpeercert(self, binary_form=False):
        """The peer's certificate: DER bytes with `binary_form`, else CPython's dict (empty when
        it was not verified); None when the peer sent none."""
        cert = self._peercert
        if cert is None:
            return None
        if binary_form:
            return bytes(cert.der)
        if self.context is not None and self.context.verify_mode == CERT_NONE:
            return {}
        d = {"subject": _name(cert.subject), "issuer": _name(cert.issuer)}
        fields = _version_and_serial(bytes(cert.der))
        if fields is not None:
            d["version"], d["serialNumber"] = fields
        d["notBefore"] = _asn1_time(cert.not_before)
        d["notAfter"] = _asn1_time(cert.not_after)
        if cert.subject_alt_names:
            d["subjectAltName"] = tuple(_san(s) for s in cert.subject_alt_names)
        return d


# -- the provider's `tls` errors as CPython's exceptions ------------------------------------------

def _verification_failure(detail: str):
    """(verify_code, verify_message) for a rustls certificate error text."""
    m = re.search(r'certificate not valid for name "([^"]*)"', detail)
    if m is not None:
        name = m.group(1)
        if re.fullmatch(r"[0-9.]+|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*", name):
            return _X509_IP_MISMATCH, f"IP address mismatch, certificate is not valid for '{name}'."
        return _X509_HOSTNAME_MISMATCH, f"Hostname mismatch, certificate is not valid for '{name}'."
    # The host's words for rustls's certificate errors (host/src/tls/errors.rs).
    for needle, known in (("issuer is unknown", _X509_UNKNOWN_ISSUER),
                          ("has expired", _X509_EXPIRED), ("not valid yet", _X509_NOT_YET_VALID),
                          ("was revoked", _X509_REVOKED), ("bad signature", _X509_BAD_SIGNATURE)):
        if needle in detail:
            return known
    return _X509_UNSPECIFIED


def _alert_reason(name: str) -> str:
    """rustls's alert name ("UnknownCA") as OpenSSL's reason ("TLSV1_ALERT_UNKNOWN_CA")."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*", name)
    return "TLSV1_ALERT_" + "_".join(w.upper() for w in words)


def _from_provider(message: str) -> SSLError:
    """The exception CPython raises for the failure wasio's `tls(message)` error reports."""
    if "invalid peer certificate" in message:
        code, text = _verification_failure(message)
        e = SSLCertVerificationError(
            1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {text} ({message})")
        e.library, e.reason = "SSL", "CERTIFICATE_VERIFY_FAILED"
        e.verify_code, e.verify_message = code, text
        return e
    if "peer closed the connection" in message:
        e = SSLEOFError(8, f"[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of "
                           f"protocol ({message})")
        e.library, e.reason = "SSL", "UNEXPECTED_EOF_WHILE_READING"
        return e
    m = re.search(r"received fatal alert: (\w+)", message)
    if m is not None:
        reason = _alert_reason(m.group(1))
        e = SSLError(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')} ({message})")
        e.library, e.reason = "SSL", reason
        return e
    return SSLError(1, message)
