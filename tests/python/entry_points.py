"""`asyncio.run` inside the script's functions, the shape of console scripts: printed so that a
native run and a wasio run can be compared (stdout, and the exit status: 3), with an `atexit`
handler at the end.

`python3 entry_points.py ARGS` natively; `wasio run --allow-listen 127.0.0.1:0 --allow-connect
'127.0.0.1:*' entry_points.py -- ARGS` under wasio.
"""

import asyncio
import atexit
import sys


async def amain(n):
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"%d\n" % n)
    line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    print("amain echoed", line, flush=True)
    return int(line)


async def echo(reader, writer):
    writer.write(await reader.readline())
    await writer.drain()
    writer.close()


def run_twice():
    """Two loops one after the other, in one function."""
    first = asyncio.run(amain(1))
    return first + asyncio.run(amain(2))


def old_style():
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(amain(4))
    finally:
        loop.close()


def main(argv):
    print("main starts with", argv[1:], flush=True)
    try:
        total = run_twice() + old_style()
    finally:
        print("main's finally", flush=True)
    print("the loops gave", total, flush=True)
    return total - 4


def goodbye():
    print("atexit handler", flush=True)


atexit.register(goodbye)

if __name__ == "__main__":
    sys.exit(main(sys.argv))
