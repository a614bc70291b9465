"""The CPython asyncio TLS peer of tls_app.py (standard library only).

  tls_asyncio_peer.py serve CERTS
      a TLS echo server (CERTS/server.pem, server.key; ALPN "wasio-test") and a plain server
      that answers "STARTTLS" with "OK", upgrades with start_tls and echoes, and a server that
      accepts and never reads nor writes; on 127.0.0.1, free ports. Prints
      "PORTS TLS_PORT PLAIN_PORT SILENT_PORT", then serves until it is killed.
  tls_asyncio_peer.py connect CERTS PORT
      a TLS client of 127.0.0.1:PORT verifying the name localhost against CERTS/ca.pem, with
      CERTS/server.pem as its client certificate: sends a line, prints the echo and what it saw
      of the session.
"""

import asyncio
import os
import ssl
import sys


def server_context(certs):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
    ctx.set_alpn_protocols(["wasio-test"])
    return ctx


async def serve(certs):
    ctx = server_context(certs)

    async def echo(reader, writer):
        try:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
            writer.close()
            await writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass

    async def starttls(reader, writer):
        line = await reader.readline()
        if line != b"STARTTLS\n":
            writer.close()
            return
        writer.write(b"OK\n")
        await writer.drain()
        await writer.start_tls(ctx)
        await echo(reader, writer)

    never = asyncio.Event()

    async def silent(reader, writer):
        await never.wait()

    servers = [await asyncio.start_server(echo, "127.0.0.1", 0, ssl=ctx),
               await asyncio.start_server(starttls, "127.0.0.1", 0),
               await asyncio.start_server(silent, "127.0.0.1", 0)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print("PORTS", *ports, flush=True)
    await never.wait()


async def connect(certs, port):
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    ctx.set_alpn_protocols(["wasio-test"])
    ctx.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                   server_hostname="localhost")
    writer.write(b"hello from CPython\n")
    await writer.drain()
    print("peer: echo", (await reader.readline()).decode().rstrip())
    tls = writer.get_extra_info("ssl_object")
    subject = dict(rdn[0] for rdn in tls.getpeercert()["subject"])
    print("peer: version", tls.version(), "alpn", tls.selected_alpn_protocol(),
          "server", subject["commonName"])
    print("peer: eof", await reader.read() == b"")
    writer.close()
    await writer.wait_closed()


if sys.argv[1] == "serve":
    asyncio.run(serve(sys.argv[2]))
else:
    asyncio.run(connect(sys.argv[2], int(sys.argv[3])))
