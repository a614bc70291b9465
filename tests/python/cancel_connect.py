"""Cancelling a task that waits in `open_connection`: `wait_for` times out when it should, even
though the connect itself would hang (the listener at PORT never accepts and its queue is full).

Run natively by CPython (`python3 cancel_connect.py PORT`) and under wasio (`wasio run
--allow-connect 127.0.0.1:PORT cancel_connect.py -- PORT`): both print the same lines.
"""

import asyncio
import sys
import time

PORT = int(sys.argv[1])


async def main():
    start = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", PORT), 0.5)
        print("connected")
    except TimeoutError:
        print("wait_for: TimeoutError")
    print("within 5 s:", time.monotonic() - start < 5)

    task = asyncio.ensure_future(asyncio.open_connection("127.0.0.1", PORT))
    await asyncio.sleep(0.1)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print("cancelled task: CancelledError")
    print("task cancelled:", task.cancelled())


asyncio.run(main())
print("after asyncio.run")
