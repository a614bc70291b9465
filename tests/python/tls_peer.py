"""A CPython asyncio TLS peer for wasio's TLS interop tests (uses only the standard library).

  tls_peer.py server CERT KEY [starttls]   serves one client on 127.0.0.1, prints "PORT n" first;
                                           echoes lines until EOF, printing "got LINE" for each
  tls_peer.py client PORT CA [starttls]    connects to 127.0.0.1:PORT (server name localhost),
                                           sends "hello", prints "echo LINE" and the TLS version

With `starttls` the connection starts in plaintext: the client sends "STARTTLS", the server
answers "OK", then both call start_tls.
"""

import asyncio
import ssl
import sys


async def serve(cert, key, starttls):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    done = asyncio.Event()

    async def handle(reader, writer):
        try:
            if starttls:
                line = await reader.readline()
                assert line == b"STARTTLS\n", line
                writer.write(b"OK\n")
                await writer.drain()
                await writer.start_tls(ctx)
            while line := await reader.readline():
                print("got", line.decode().rstrip(), flush=True)
                writer.write(line)
                await writer.drain()
            writer.close()
            await writer.wait_closed()
        finally:
            done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=None if starttls else ctx)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await done.wait()
    server.close()


async def client(port, ca, starttls):
    ctx = ssl.create_default_context(cafile=ca)
    if starttls:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"STARTTLS\n")
        assert await reader.readline() == b"OK\n"
        await writer.start_tls(ctx, server_hostname="localhost")
    else:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname="localhost"
        )
    writer.write(b"hello\n")
    line = await reader.readline()
    print("echo", line.decode().rstrip(), flush=True)
    print("version", writer.get_extra_info("ssl_object").version(), flush=True)
    writer.close()
    await writer.wait_closed()


def main():
    mode = sys.argv[1]
    starttls = sys.argv[-1] == "starttls"
    if mode == "server":
        asyncio.run(serve(sys.argv[2], sys.argv[3], starttls))
    else:
        asyncio.run(client(int(sys.argv[2]), sys.argv[3], starttls))


main()
