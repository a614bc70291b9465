"""Pure Python work with no I/O for wasio-bench's Python rows, run unchanged by CPython and under
`wasio run`: `compute.py SECONDS` repeats a unit of the kind of work an asyncio server's Python
does per request (calls, attribute and dict access, small objects, a coroutine driven to its
end) for SECONDS, then prints "RATE <units per second>". Its ratio is the interpreter's own
speed in the component, the ceiling of any CPU-bound Python row."""

import sys
import time


class Request:
    def __init__(self, data):
        self.data = data
        self.headers = {}

    def header(self, name, value):
        self.headers[name] = value
        return self


async def handle(request):
    return len(request.data) + len(request.headers)


def unit(i):
    request = Request(b"x" * (i & 63)).header("n", i).header("k", str(i))
    coroutine = handle(request)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("the coroutine did not finish")


def main(seconds):
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i in range(1000):
            unit(i)
        count += 1000
    print(f"RATE {count / (time.perf_counter() - start):.1f}", flush=True)


main(float(sys.argv[1]))
