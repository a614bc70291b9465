"""Scripts that drive the loop themselves, in the style older asyncio programs are written in:

    loop = asyncio.new_event_loop()            # or asyncio.get_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(asyncio.start_server(handle, host, port))
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()

componentize-py's loop is already running when the script runs, and cannot be run again. So
`new_event_loop` and `get_event_loop` give that running loop, `set_event_loop` and `close` of it
change nothing, and the runner compiles `run_until_complete(x)` and `run_forever()` written at
the script's top level as awaits (see `_runner`): `run_until_complete` waits for `x`, and
`run_forever` until `loop.stop()` is called, or until the run is shut down (Ctrl-C, which
closes the program's servers), where it raises `KeyboardInterrupt` as CPython's does. Called
from inside a function, where they cannot be awaited, both raise `RuntimeError` saying so.
"""

import asyncio

from . import _loop

# `_stop_early`: `stop` was called while `run_forever` was not running (CPython's next
# `run_forever` then returns after one iteration). The future of a `run_forever` in progress,
# which `stop` resolves, is `_loop.forever` (a task's `SystemExit` ends it too).
_stop_early = False


async def run_until_complete(future):
    """Top-level `loop.run_until_complete(future)`: waits for it and returns its result."""
    return await _loop.until_escape(asyncio.ensure_future(future))


async def run_forever():
    """Top-level `loop.run_forever()`: waits until `loop.stop()` or the run's shutdown."""
    global _stop_early
    if _loop.forever is not None:
        raise RuntimeError("This event loop is already running")
    if _stop_early:
        _stop_early = False
        await asyncio.sleep(0)
        return
    _loop.raise_escaped()
    _loop.forever = asyncio.get_running_loop().create_future()
    try:
        await _loop.forever
    finally:
        _loop.forever = None


def _stop(loop):
    global _stop_early
    forever = _loop.forever
    if forever is not None and not forever.done():
        forever.set_result(None)
    elif forever is None:
        _stop_early = True


def shutting_down():
    """The run is being shut down (Ctrl-C): a `run_forever` in progress raises
    `KeyboardInterrupt`, as CPython's does on Ctrl-C."""
    forever = _loop.forever
    if forever is not None and not forever.done():
        forever.set_exception(KeyboardInterrupt())


def _only_at_top_level(name):
    def refuse(self, *args, **kwargs):
        raise RuntimeError(
            f"loop.{name}() can be called only at the script's top level under wasio (the "
            f"loop is already running there); inside a coroutine, await instead"
        )
    return refuse


def install():
    """Makes the running loop the one older-style scripts get and drive."""
    loop_cls = type(asyncio.get_event_loop())
    loop_cls.stop = _stop
    loop_cls.run_until_complete = _only_at_top_level("run_until_complete")
    loop_cls.run_forever = _only_at_top_level("run_forever")
    loop_cls.close = lambda self: None
    loop_cls.is_running = lambda self: True
    asyncio.new_event_loop = asyncio.get_event_loop
    asyncio.events.new_event_loop = asyncio.get_event_loop
    set_event_loop = asyncio.set_event_loop

    def set_running_loop_only(loop):
        # Setting the running loop (or None, as some programs do on the way out) is harmless.
        if loop is not None and loop is not asyncio.get_event_loop():
            set_event_loop(loop)

    asyncio.set_event_loop = set_running_loop_only
    asyncio.events.set_event_loop = set_running_loop_only
