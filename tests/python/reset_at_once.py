"""A server whose clients reset right after connecting: `reset_at_once.py PORT N` serves N of
them and prints what each handler sees: asyncio's `peername` and `sockname` (read when the
connection was made, so a reset does not take them away), then the read's outcome."""

import asyncio
import sys


async def main(port, count):
    served = 0
    done = asyncio.Event()

    async def handle(reader, writer):
        nonlocal served
        peer, own = writer.get_extra_info("peername"), writer.get_extra_info("sockname")
        print("peername:", peer and (peer[0], type(peer[1]).__name__),
              "sockname:", own and (own[0], own[1] == port), flush=True)
        try:
            print("  read:", await reader.read(), flush=True)
        except OSError as e:
            print("  read:", type(e).__name__, flush=True)
        writer.close()
        served += 1
        if served == count:
            done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("READY", flush=True)
    async with server:
        await asyncio.wait_for(done.wait(), 60)


asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
