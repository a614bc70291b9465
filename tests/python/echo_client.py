"""CPython asyncio's own streams as a client of a wasio echo server (interop test peer).

usage: echo_client.py HOST PORT MESSAGE [COUNT]
       echo_client.py --unix PATH MESSAGE [COUNT]   (asyncio.open_unix_connection)
Opens COUNT (default 1) concurrent connections, sends MESSAGE on each, half-closes, reads the echo
until EOF and checks it. Prints "ok N" when every echo matched, exits 1 otherwise.
"""

import asyncio
import sys


async def one(host: str, port, message: bytes) -> bool:
    if port is None:
        reader, writer = await asyncio.open_unix_connection(host)
    else:
        reader, writer = await asyncio.open_connection(host, port)
    writer.write(message)
    await writer.drain()
    writer.write_eof()
    echoed = await reader.read()
    writer.close()
    await writer.wait_closed()
    return echoed == message


async def main() -> int:
    if sys.argv[1] == "--unix":
        host, port, message = sys.argv[2], None, sys.argv[3].encode()
    else:
        host, port, message = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    results = await asyncio.wait_for(
        asyncio.gather(*(one(host, port, message) for _ in range(count))), timeout=60
    )
    good = sum(results)
    print(f"ok {good}" if good == count else f"mismatch {count - good} of {count}")
    return 0 if good == count else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
