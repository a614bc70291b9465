"""An asyncio program in the older style that drives the loop itself (`new_event_loop`,
`run_until_complete`, `run_forever`, `stop`, `close`), as many programs and older docs do.

Run natively by CPython (`python3 old_style_loop.py`) and under wasio (`wasio run
--allow-listen 127.0.0.1:0 --allow-connect '127.0.0.1:*' old_style_loop.py`): both print the
same lines.
"""

import asyncio


async def handle_echo(reader, writer):
    writer.write(await reader.readline())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def client(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello\n")
    line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return line


async def inside():
    coro = asyncio.sleep(0)
    try:
        asyncio.get_running_loop().run_until_complete(coro)
    except RuntimeError:
        return "RuntimeError"
    finally:
        coro.close()
    return "no error"


loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
server = loop.run_until_complete(asyncio.start_server(handle_echo, "127.0.0.1", 0))
port = server.sockets[0].getsockname()[1]
print("echo:", loop.run_until_complete(client(port)))
print("run_until_complete inside a coroutine:", loop.run_until_complete(inside()))
stopped = []
loop.call_later(0.05, lambda: (stopped.append(True), loop.stop()))
loop.run_forever()
print("run_forever ended by stop:", stopped)
print("run_until_complete after run_forever:", loop.run_until_complete(asyncio.sleep(0, "yes")))
server.close()
loop.run_until_complete(server.wait_closed())
loop.close()
print("done")
