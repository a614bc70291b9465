"""An older-style server: `run_forever` until Ctrl-C, then `KeyboardInterrupt` and a clean close,
as CPython runs it (`wasio run --allow-listen 127.0.0.1:0 old_style_server.py`, then SIGINT)."""

import asyncio


async def handle(reader, writer):
    writer.close()


loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
print("serving", flush=True)
try:
    loop.run_forever()
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
server.close()
loop.run_until_complete(server.wait_closed())
loop.close()
print("closed", flush=True)
