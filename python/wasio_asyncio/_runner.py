"""Runs a Python script as the component's `wasi:cli/run`.

componentize-py imports modules only while it builds the component (pre-initialisation), and
its event loop is always running, so the script cannot be imported, nor can `asyncio.run` drive
a loop, at run time. The build compiles the script and imports the modules it names; `run`
executes it as `__main__`. `asyncio.run(coro)` inside it records `coro`, and `run` awaits the
recorded coroutines in order once the script's top level has returned.
"""

import ast
import asyncio
import builtins
import contextvars
import importlib
import sys
import traceback

from componentize_py_types import Err

from . import ssl as _ssl
from .bindings import exports
from . import streams

_pending_mains = []


def _asyncio_run(main, *, debug=None, loop_factory=None):
    """asyncio.run: queued, awaited by the runner after the script's top level (see module doc)."""
    if not asyncio.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")
    _pending_mains.append(main)


def _patch_loop():
    """Fills the gaps of componentize-py's loop that asyncio itself relies on."""
    loop_cls = type(asyncio.get_event_loop())
    call_soon = loop_cls.call_soon

    def call_soon_default_context(self, callback, *args, context=None):
        # componentize-py 0.25.1 asserts a context is given; asyncio (e.g. Timeout) omits it.
        if context is None:
            context = contextvars.copy_context()
        return call_soon(self, callback, *args, context=context)

    def call_exception_handler(self, context):
        # componentize-py re-raises it from its poll, trapping the component; asyncio logs it.
        message = context.get("message") or "Unhandled exception in event loop"
        exc = context.get("exception")
        lines = [message]
        for key in sorted(context):
            if key not in ("message", "exception"):
                lines.append(f"{key}: {context[key]!r}")
        if exc is not None:
            lines.append("".join(traceback.format_exception(exc)).rstrip())
        print("\n".join(lines), file=sys.stderr)

    loop_cls.call_soon = call_soon_default_context
    loop_cls.call_exception_handler = call_exception_handler


def install():
    """Makes asyncio's stream functions and `asyncio.run` the wasio ones."""
    _patch_loop()
    for name in ("open_connection", "start_server", "StreamReader", "StreamWriter"):
        setattr(asyncio, name, getattr(streams, name))
        setattr(asyncio.streams, name, getattr(streams, name))
    asyncio.Server = streams.Server
    asyncio.run = _asyncio_run
    asyncio.runners.run = _asyncio_run


def _preimport(tree):
    """Imports, at build time, every module the script names (run time cannot import)."""
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:
                pass  # a name imported from a module, or a module the script guards itself


async def _finish():
    """Leaves no wasio call in flight: closes servers and connections, then ends other tasks."""
    for server in list(streams._open_servers):
        server.close()
    for writer in list(streams._open_writers):
        writer._raw.abort()
    current = asyncio.current_task()
    for _ in range(3):
        await asyncio.sleep(0)
    for task in asyncio.all_tasks():
        if task is not current and not task.done():
            task.cancel()
    await asyncio.sleep(0)


def load(source: str, filename: str):
    """Compiles `source` and returns the `Run` export class that executes it as `__main__`."""
    install()
    # Before the script's imports are resolved: `import ssl` gets the package's stand-in
    # (componentize-py has no `ssl` module; the provider does TLS).
    sys.modules["ssl"] = _ssl
    tree = ast.parse(source, filename)
    _preimport(tree)
    code = compile(tree, filename, "exec")

    class Run(exports.Run):
        async def run(self) -> None:
            status = 0
            module = type(sys)("__main__")
            module.__file__ = filename
            module.__builtins__ = builtins
            sys.modules["__main__"] = module
            if not sys.argv or not sys.argv[0]:
                sys.argv = [filename]
            try:
                exec(code, module.__dict__)
                while _pending_mains:
                    await _pending_mains.pop(0)
            except SystemExit as e:
                code_ = e.code
                if isinstance(code_, int):
                    status = code_
                elif code_ is not None:
                    print(code_, file=sys.stderr)
                    status = 1
            except BaseException:
                traceback.print_exc()
                status = 1
            await _finish()
            sys.stdout.flush()
            sys.stderr.flush()
            if status != 0:
                raise Err(None)

    return Run
