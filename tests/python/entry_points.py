"""`asyncio.run` inside the script's functions, the shape of console scripts: printed so that a
native run and a wasio run can be compared (stdout, and the exit status: 3), with an `atexit`
handler at the end, argparse in `main`, an object whose `run_forever` is not a loop's, and a
function defined in an `except` block.

`python3 entry_points.py ARGS` natively; `wasio run --allow-listen 127.0.0.1:0 --allow-connect
'127.0.0.1:*' entry_points.py -- ARGS` under wasio.
"""

import argparse
import asyncio
import atexit
import sys
import time


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


class Worker:
    """Not a loop: its `run_forever` is called as written."""

    def run_forever(self):
        return 10


def main(argv):
    # argparse imports `shutil` only when it formats: the build imports it too.
    parser = argparse.ArgumentParser()
    parser.add_argument("words", nargs="*")
    print("main starts with", parser.parse_args(argv[1:]).words, flush=True)
    try:
        total = run_twice() + old_style()
    finally:
        print("main's finally", flush=True)
    print("the loops gave", total, "and a worker", Worker().run_forever(), flush=True)
    # Modules CPython's C code imports by name on first use.
    print("strptime", time.strptime("2024", "%Y").tm_year, "cp1252", "é".encode("cp1252"),
          flush=True)
    return total - 4


try:
    from asyncio import no_such_name  # noqa: F401
except ImportError:
    def defined_in_a_handler():
        return asyncio.runners.run(amain(8))


def goodbye():
    print("atexit handler", flush=True)


atexit.register(goodbye)

if __name__ == "__main__":
    print("a worker at the top level", Worker().run_forever(), flush=True)
    print("a function defined in an except block gave", defined_in_a_handler(), flush=True)
    sys.exit(main(sys.argv))
