"""TLS both ways with asyncio and `ssl`, for wasio's Python tests: run natively by CPython and
under `wasio run --dir CERTS` it prints the same lines (host/tests/host/python.rs compares them).
Its peer is tls_asyncio_peer.py, run by CPython.

  tls_app.py tls CERTS TLS_PORT PLAIN_PORT SILENT_PORT
      (a) a TLS client of the peer's TLS echo server at TLS_PORT, trusting CERTS/ca.pem;
      (c) STARTTLS with the peer's plain server at PLAIN_PORT, then start_tls;
      (d) the two verification failures: an unrelated CA, a name the certificate lacks;
      (e) ssl=True: the default context, trusting the platform store (the test sets
          SSL_CERT_FILE=CERTS/ca.pem);
      (f) a handshake with a server that never answers, at SILENT_PORT, running out of time;
      (g) a close whose flush a TLS peer never reads, ended by the shutdown timeout;
      (b) a TLS server (CERTS/server.pem, server.key) on 127.0.0.1, port 0, asking for a client
          certificate from CERTS/ca.pem: prints "server: PORT n", serves one client
          (tls_asyncio_peer.py connect), then ends.
  tls_app.py files DIR
      reads DIR/hello.txt, then tries to create DIR/written.txt (for `wasio run --dir`).
"""

import asyncio
import os
import ssl
import sys


async def echo(reader, writer, text):
    writer.write(text.encode() + b"\n")
    await writer.drain()
    return (await reader.readline()).decode().rstrip()


def describe(who, writer, ctx):
    tls = writer.get_extra_info("ssl_object")
    cert = tls.getpeercert()
    subject = dict(rdn[0] for rdn in cert["subject"])
    issuer = dict(rdn[0] for rdn in cert["issuer"])
    print(who, "version", tls.version(), "alpn", tls.selected_alpn_protocol(),
          "server_hostname", tls.server_hostname, "server_side", tls.server_side)
    print(who, "peer", subject["commonName"], "issuer", issuer["commonName"],
          "san", cert["subjectAltName"], "notAfter", cert["notAfter"])
    print(who, "fields", list(cert), "version", cert["version"],
          "serialNumber", cert["serialNumber"])
    print(who, "cipher", writer.get_extra_info("cipher"),
          "sslcontext", writer.get_extra_info("sslcontext") is ctx,
          "der", tls.getpeercert(binary_form=True)[:1] == b"\x30")


async def tls(certs, tls_port, plain_port, silent_port):
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    ctx.set_alpn_protocols(["wasio-test", "http/1.1"])
    ctx.options |= ssl.OP_NO_COMPRESSION
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2

    # (a) client
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", tls_port, ssl=ctx, server_hostname="localhost",
        ssl_handshake_timeout=30, ssl_shutdown_timeout=10)
    print("client: echo", await echo(reader, writer, "hello over TLS"))
    describe("client:", writer, ctx)
    writer.close()
    await writer.wait_closed()

    # (c) STARTTLS: the same reader and writer go on over TLS
    reader, writer = await asyncio.open_connection("127.0.0.1", plain_port)
    print("starttls: plain", writer.get_extra_info("ssl_object"))
    print("starttls: answer", await echo(reader, writer, "STARTTLS"))
    await writer.start_tls(ctx, server_hostname="localhost", ssl_handshake_timeout=30)
    print("starttls: echo", await echo(reader, writer, "hello after STARTTLS"))
    describe("starttls:", writer, ctx)
    writer.close()
    await writer.wait_closed()

    # (c2) STARTTLS without server_hostname: asyncio checks the chain only
    reader, writer = await asyncio.open_connection("127.0.0.1", plain_port)
    print("starttls without a name: answer", await echo(reader, writer, "STARTTLS"))
    await writer.start_tls(ctx)
    print("starttls without a name: echo", await echo(reader, writer, "no name to check"))
    writer.close()
    await writer.wait_closed()

    # (d) verification failures
    for label, cafile, name in (("wrong CA", "other-ca.pem", "localhost"),
                                ("wrong name", "ca.pem", "example.com")):
        bad = ssl.create_default_context(cafile=os.path.join(certs, cafile))
        try:
            _, w = await asyncio.open_connection("127.0.0.1", tls_port, ssl=bad,
                                                 server_hostname=name)
        except ssl.SSLCertVerificationError as e:
            print(f"{label}: {type(e).__name__} SSLError {isinstance(e, ssl.SSLError)} "
                  f"reason {e.reason} code {e.verify_code}: {e.verify_message}")
        else:
            print(f"{label}: connected")
            w.close()

    # (e) ssl=True
    reader, writer = await asyncio.open_connection("127.0.0.1", tls_port, ssl=True,
                                                   server_hostname="localhost")
    print("default: echo", await echo(reader, writer, "hello with ssl=True"))
    print("default: verifies", writer.get_extra_info("sslcontext").verify_mode == ssl.CERT_REQUIRED)
    writer.close()
    await writer.wait_closed()

    # (f) handshake timeout
    try:
        await asyncio.open_connection("127.0.0.1", silent_port, ssl=ctx,
                                      server_hostname="localhost", ssl_handshake_timeout=0.5)
    except ConnectionAbortedError as e:
        print("silent:", type(e).__name__, e)
    else:
        print("silent: connected")

    # (g) the shutdown timeout bounds the whole close, flush included: a peer that never reads
    # cannot hold the connection open
    stall_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    stall_ctx.load_cert_chain(os.path.join(certs, "server.pem"),
                              os.path.join(certs, "server.key"))
    release = asyncio.Event()

    async def never_reads(reader, writer):
        await release.wait()
        writer.transport.abort()

    stall = await asyncio.start_server(never_reads, "127.0.0.1", 0, ssl=stall_ctx)
    _, writer = await asyncio.open_connection(
        "127.0.0.1", stall.sockets[0].getsockname()[1], ssl=ctx, server_hostname="localhost",
        ssl_shutdown_timeout=1)
    writer.write(b"x" * 20_000_000)
    started = asyncio.get_running_loop().time()
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 20)
        print("stalled close: closed")
    except TimeoutError as e:
        print("stalled close: TimeoutError", e)
    print("stalled close: within 5 s", asyncio.get_running_loop().time() - started < 5)
    release.set()
    stall.close()
    await stall.wait_closed()

    # (b) server, with client certificates
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(os.path.join(certs, "server.pem"),
                               os.path.join(certs, "server.key"))
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(cafile=os.path.join(certs, "ca.pem"))
    server_ctx.set_alpn_protocols(["wasio-test"])
    served = asyncio.Event()

    async def handle(reader, writer):
        line = await reader.readline()
        print("server: got", line.decode().rstrip())
        tls = writer.get_extra_info("ssl_object")
        client = dict(rdn[0] for rdn in tls.getpeercert()["subject"])
        print("server: version", tls.version(), "alpn", tls.selected_alpn_protocol(),
              "server_side", tls.server_side, "client", client["commonName"],
              "sslcontext", writer.get_extra_info("sslcontext") is server_ctx)
        writer.write(line)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        served.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx,
                                        ssl_handshake_timeout=30)
    print("server: PORT", server.sockets[0].getsockname()[1], flush=True)
    await served.wait()
    server.close()
    await server.wait_closed()
    print("server: closed")


def files(directory):
    try:
        with open(os.path.join(directory, "hello.txt")) as f:
            print("read:", f.read().strip())
    except OSError as e:
        print("read failed:", type(e).__name__)
    try:
        with open(os.path.join(directory, "written.txt"), "w") as f:
            f.write("written")
        print("write: done")
    except OSError as e:
        print("write failed:", type(e).__name__)


if sys.argv[1] == "files":
    files(sys.argv[2])
else:
    asyncio.run(tls(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])))
