"""CPython asyncio / uvloop stream servers for wasio-bench.

usage: servers.py {asyncio|uvloop} {echo|lines|tls-echo} [CERT KEY]
Listens on 127.0.0.1 port 0, prints "PORT <n>", serves until stdin closes.
- echo: the asyncio docs' echo server, looping: read(65536), write, drain, until EOF.
- lines: readline() and write the line back, until EOF.
- tls-echo: echo over TLS (start_server(ssl=...)) with the PEM certificate CERT and key KEY.
"""

import asyncio
import ssl
import sys


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def lines(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(line)
        await writer.drain()
    writer.close()


async def main(mode: str, tls_files: list[str]) -> None:
    handler = lines if mode == "lines" else echo
    context = None
    if mode == "tls-echo":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_files[0], tls_files[1])
    server = await asyncio.start_server(
        handler, "127.0.0.1", 0, backlog=1024, ssl=context
    )
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    flavour, mode, tls_files = sys.argv[1], sys.argv[2], sys.argv[3:]
    if flavour == "uvloop":
        import uvloop

        uvloop.run(main(mode, tls_files))
    else:
        asyncio.run(main(mode, tls_files))
