"""Bytes handed to a connection leave nothing behind: `memory_bounds.py PORT` reads 3000 lines
with `readuntil` and two 30 KB separators, then writes 64 MiB with `write` and 64 MiB with
`writelines` (every byte value, byte p of the output being p % 256), draining as it goes. The
host test runs it under a `--max-memory` far below what it hands over (componentize-py leaks
every `bytes` lowered as a `list<u8>`: WORKAROUNDS.md, W10)."""

import asyncio
import sys


async def main(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    # Several separators at once are 3.13's (the component's Python is newer; the tests' native
    # python3 may be 3.11, where the run only shows that the program is right).
    separators = (b"A" * 30000 + b"\xff", b"\n", b"\x80" * 30000)
    if sys.version_info < (3, 13):
        separators = b"\n"
    for _ in range(3000):
        line = await reader.readuntil(separators)
        if line != b"x\n":
            raise SystemExit(f"readuntil returned {line!r}")
    print("readuntil: 3000 lines", flush=True)
    data = bytes(range(256)) * 256
    for _ in range(1024):
        writer.write(data)
        await writer.drain()
    print("write: 64 MiB", flush=True)
    for _ in range(1024):
        writer.writelines([data[:1000], bytearray(data[1000:30000]), memoryview(data)[30000:]])
        await writer.drain()
    print("writelines: 64 MiB", flush=True)
    writer.close()
    await writer.wait_closed()


asyncio.run(main(int(sys.argv[1])))
