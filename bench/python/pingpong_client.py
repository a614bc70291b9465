"""An asyncio streams ping-pong client for wasio-bench's Python rows, run unchanged by CPython
and under `wasio run`: `pingpong_client.py PORT SIZE SECONDS` sends SIZE bytes to the echo
server on 127.0.0.1:PORT and reads them back, over and over for SECONDS, then prints
"RATE <round trips per second>"."""

import asyncio
import sys


async def main(port, size, seconds):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    message = b"7" * size
    loop = asyncio.get_running_loop()
    start = loop.time()
    count = 0
    while loop.time() - start < seconds:
        writer.write(message)
        await writer.drain()
        await reader.readexactly(size)
        count += 1
    print(f"RATE {count / (loop.time() - start):.1f}", flush=True)
    writer.close()
    await writer.wait_closed()


asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
