"""Writing to a peer that is gone: `peer_gone.py PORT` serves one connection whose peer closed
at once; the handler reads the EOF, then writes and drains three times 0.2 s apart (the first
send meets the closed socket, which answers with a reset), and prints each outcome: as
asyncio's, the first drain to fail says "Connection lost", the later ones and `wait_closed`
raise the send's `BrokenPipeError`."""

import asyncio
import errno
import sys


def outcome_of(e):
    # By name: WASI numbers EPIPE as ESHUTDOWN too, so the name is looked up for EPIPE itself.
    name = "EPIPE" if e.errno == errno.EPIPE else errno.errorcode.get(e.errno, e.errno)
    return f"{type(e).__name__} {name} {e.strerror or e}"


async def main(port):
    done = asyncio.Event()

    async def handle(reader, writer):
        print("read:", await reader.read(), flush=True)
        for i in range(3):
            writer.write(b"hello")
            try:
                await writer.drain()
                print(f"drain {i}: ok", flush=True)
            except OSError as e:
                print(f"drain {i}:", outcome_of(e), flush=True)
            await asyncio.sleep(0.2)
        writer.close()
        try:
            await writer.wait_closed()
            print("wait_closed: ok", flush=True)
        except OSError as e:
            print("wait_closed:", outcome_of(e), flush=True)
        done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("READY", flush=True)
    async with server:
        await asyncio.wait_for(done.wait(), 60)


asyncio.run(main(int(sys.argv[1])))
