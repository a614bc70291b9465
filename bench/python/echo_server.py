"""An asyncio streams echo server for wasio-bench's Python rows, run unchanged by CPython and
under `wasio run`: listens on 127.0.0.1 port 0, prints "PORT <n>", echoes (read 64 KiB, write,
drain) until killed."""

import asyncio


async def echo(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(echo, "127.0.0.1", 0, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
