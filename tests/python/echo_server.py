"""CPython asyncio's own streams as the server for wasio's echo client (interop test peer).

usage: echo_server.py HOST
       echo_server.py --unix PATH   (asyncio.start_unix_server)
Starts the asyncio docs' echo server on HOST with port 0, prints "PORT <n>" once listening (or
"UNIX <path>"), serves clients until stdin closes, printing what each sent as "got <repr>".
"""

import asyncio
import sys


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    data = await reader.read(100)
    print(f"got {data.decode()!r}", flush=True)
    writer.write(data)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main() -> None:
    if sys.argv[1] == "--unix":
        server = await asyncio.start_unix_server(handle_echo, sys.argv[2])
        print(f"UNIX {server.sockets[0].getsockname()}", flush=True)
    else:
        server = await asyncio.start_server(handle_echo, sys.argv[1], 0)
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
    loop = asyncio.get_running_loop()
    # Serve until the test closes our stdin.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
