"""Runs a Python script as the component's `wasi:cli/run`.

componentize-py imports modules only while it builds the component (pre-initialisation), and
its event loop is always running, so the script cannot be imported, nor can `asyncio.run` drive
a loop, at run time. The build compiles the script and imports the modules it names; `run`
executes it as `__main__`.

`asyncio.run(main())` written at the script's top level (also inside `if`, `try`, `with` or loops
there) is compiled as `await` of a function with `asyncio.run`'s semantics: `main` runs as a
task, then the tasks it leaves are cancelled and waited for and the default executor is shut
down, and the statements after it run afterwards, as in CPython. So is one in a module-level
function (`def main(): return asyncio.run(amain())`), which is compiled as a coroutine and each
call of it as an `await`, as are the functions that call such a function (`_runners` says which
qualify). An `asyncio.run` anywhere else (a method, a callback) cannot be awaited there: it
queues its coroutine, which runs once the script's top level has returned (or has raised
`SystemExit` or an error).
"""

import ast
import asyncio
import atexit
import builtins
import collections
import gc
import importlib
import inspect
import operator
import os
import socket
import sys
import traceback

from componentize_py_types import Err

from . import ssl as _ssl
from .bindings import exports
from .bindings.imports import wasio_streams
from . import _args, _calls, _loop, _oldloop, _socketpair, streams

_pending_mains = []


def _coroutine(main):
    """`main`, checked as `asyncio.run` checks it."""
    if not asyncio.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")
    return main


def _asyncio_run(main, *, debug=None, loop_factory=None):
    """`asyncio.run` called from inside a function: queued, run with `asyncio.run`'s semantics
    after the script's top level (see the module docstring). From a task of the program's, where
    CPython's loop is running too, it raises as CPython's does, before looking at `main`."""
    task = asyncio.current_task()
    if task is not None and not _loop.is_internal(task):
        raise RuntimeError("asyncio.run() cannot be called from a running event loop")
    _pending_mains.append(_coroutine(main))


# `StreamReader` and `StreamWriter` stay CPython's: a connection's are subclasses of them.
_STREAMS = ("open_connection", "start_server", "open_unix_connection", "start_unix_server")


_real_os_exit = os._exit


def _os_exit(status):
    """`os._exit`: ends the run at once, with `status`'s low byte as its exit status (the C
    library's exit on WASI reports only success or failure; the host takes the status from
    `set-exit-status`)."""
    n = operator.index(status)
    if _args.INT_MIN <= n <= _args.INT_MAX:
        n &= 0xFF
        if n:
            wasio_streams.set_exit_status(n)
    _real_os_exit(n)  # beyond a C int: CPython's OverflowError


def install():
    """Makes asyncio's stream functions, its loop's timers and `asyncio.run` the wasio ones."""
    _calls.install()
    _loop.install()
    _oldloop.install()
    for name in _STREAMS:
        setattr(asyncio, name, getattr(streams, name))
        setattr(asyncio.streams, name, getattr(streams, name))
    asyncio.Server = streams.Server
    socket.socketpair = _socketpair.socketpair
    asyncio.run = _asyncio_run
    asyncio.runners.run = _asyncio_run
    os._exit = _os_exit


async def _run_until_complete(loop, future):
    """`x.run_until_complete(future)` where the script calls it: a loop's waits for `future`
    (see `_oldloop`); another object's method is called as written."""
    if not isinstance(loop, asyncio.AbstractEventLoop):
        return loop.run_until_complete(future)
    return await _oldloop.run_until_complete(future)


async def _run_forever(loop):
    """`x.run_forever()` where the script calls it, as `_run_until_complete`."""
    if not isinstance(loop, asyncio.AbstractEventLoop):
        return loop.run_forever()
    return await _oldloop.run_forever()


async def _run_main(main, *, debug=None, loop_factory=None):
    """`asyncio.run(main)` where the script's top level calls it (see the module docstring)."""
    task = asyncio.get_running_loop().create_task(_coroutine(main))
    try:
        return await _loop.until_escape(task)
    finally:
        await _cancel_all_tasks()
        await streams.close_servers()
        await _loop.end_of_run()
        # The run's tasks are garbage now; CPython frees them here by reference counting and logs
        # the exceptions nobody retrieved, where wasio's loop leaves them in reference cycles.
        gc.collect()
        # One raised by a task while it was cancelled above: `asyncio.run` raises it, as CPython's.
        _loop.raise_escaped()


async def _cancel_all_tasks():
    """As `asyncio.run` on its way out: cancels every other task and waits for them, reporting
    exceptions they raise while cancelled. Their wasio calls are interrupted (`_calls`), so no
    call is left in flight."""
    current = asyncio.current_task()
    loop = asyncio.get_running_loop()
    while True:
        tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not tasks:
            return
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        for task in tasks:
            # A SystemExit or KeyboardInterrupt is not reported: it ends the run (`_loop._escape`).
            if (not task.cancelled() and task.exception() is not None
                    and not isinstance(task.exception(), (SystemExit, KeyboardInterrupt))):
                loop.call_exception_handler({
                    "message": "unhandled exception during asyncio.run() shutdown",
                    "exception": task.exception(),
                    "task": task,
                })


class _TopLevelRun(ast.NodeTransformer):
    """Turns top-level `asyncio.run(x)` calls into `await __wasio_run__(x)`, and the functions
    that call it into coroutines awaited where they are called (`_runners`; module docstring)."""

    def __init__(self, tree):
        self.runners: "set[str]" = set()
        self.modules = {"asyncio"}
        self.functions = set()
        for node in tree.body:
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "asyncio":
                        self.modules.add(a.asname or a.name)
            elif isinstance(node, ast.ImportFrom) and node.module in ("asyncio", "asyncio.runners"):
                for a in node.names:
                    if a.name == "run":
                        self.functions.add(a.asname or a.name)

    def visit(self, node):
        # The other scopes nested in the script are left as written; a function is transformed
        # only when `_runners` chose it (`visit_FunctionDef`).
        if isinstance(node, _NESTED_SCOPES) and not isinstance(node, ast.FunctionDef):
            return node
        return super().visit(node)

    def visit_AnnAssign(self, node):
        # An annotation cannot hold an `await`: only the value is transformed.
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_FunctionDef(self, node):
        if node.name not in self.runners:
            return node
        # A function that runs a loop: a coroutine, with its own calls made awaits.
        for i, statement in enumerate(node.body):
            node.body[i] = self.visit(statement)
        fields = {name: getattr(node, name) for name in node._fields}
        return ast.copy_location(ast.AsyncFunctionDef(**fields), node)

    def is_run(self, call: ast.Call) -> bool:
        """Whether `call` runs a loop: `asyncio.run(...)` (`asyncio.runners.run`, or `run`
        imported from asyncio), `x.run_until_complete(...)`, `x.run_forever()`."""
        f = call.func
        if isinstance(f, ast.Name):
            return f.id in self.functions
        if not isinstance(f, ast.Attribute):
            return False
        if f.attr in ("run_until_complete", "run_forever"):
            return True
        owner = f.value
        if isinstance(owner, ast.Attribute) and owner.attr == "runners":
            owner = owner.value
        return f.attr == "run" and isinstance(owner, ast.Name) and owner.id in self.modules

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        # `x.run_until_complete(y)` / `x.run_forever()`: a loop's waits (`_oldloop`), another
        # object's method is called (`_run_until_complete`); `x` is evaluated once either way.
        if isinstance(f, ast.Attribute) and f.attr in ("run_until_complete", "run_forever"):
            call = ast.Call(func=ast.Name(f"__wasio_{f.attr}__", ast.Load()),
                            args=[f.value, *node.args], keywords=node.keywords)
            return ast.copy_location(ast.Await(ast.copy_location(call, node)), node)
        if isinstance(f, ast.Name) and f.id in self.runners:
            return ast.copy_location(ast.Await(node), node)
        if not self.is_run(node):
            return node
        call = ast.Call(func=ast.Name("__wasio_run__", ast.Load()), args=node.args,
                        keywords=node.keywords)
        return ast.copy_location(ast.Await(ast.copy_location(call, node)), node)


_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp,
                  ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _scope(body, is_run) -> "tuple[bool, bool, list[str]]":
    """What one scope's statements (the script's top level, or one function's body, without
    the functions, classes, lambdas and comprehensions inside it) do: whether they run a loop
    (`is_run` of a call), whether they `yield`, and the names they call directly, once a call."""
    runs = yields = False
    calls = []
    todo = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, _NESTED_SCOPES):
            continue
        if isinstance(node, ast.AnnAssign):  # the annotation is not transformed (no await)
            todo.extend(n for n in (node.target, node.value) if n is not None)
            continue
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            yields = True
        elif isinstance(node, ast.Call):
            runs = runs or is_run(node)
            if isinstance(node.func, ast.Name):
                calls.append(node.func.id)
        todo.extend(ast.iter_child_nodes(node))
    return runs, yields, calls


_DYNAMIC_LOOKUPS = {"globals", "locals", "vars", "eval", "exec", "__import__"}


def _runners(tree, is_run) -> "set[str]":
    """The script's module-level functions to run as coroutines: those that run a loop
    (`asyncio.run` and the like) themselves or by calling another of them, so that
    `sys.exit(main())` with `def main(): return asyncio.run(amain())` runs as in CPython. Only
    plain functions (defined once, not decorated, no generator) whose name is used nowhere but
    in calls the transform awaits: at the top level, or in another of them. The `asyncio.run`
    of any other function stays queued (see the module docstring)."""
    defs: "dict[str, list[ast.FunctionDef]]" = {}
    todo = list(tree.body)
    while todo:  # the top level, with its `if`, `try`, `with` and loop bodies
        node = todo.pop()
        if isinstance(node, ast.FunctionDef):
            defs.setdefault(node.name, []).append(node)
        elif not isinstance(node, _NESTED_SCOPES):  # `if`, `try` and its handlers, `match`...
            todo.extend(ast.iter_child_nodes(node))
    # A name bound anywhere else (assigned, a parameter, imported, another def or class) may
    # not be the function where it is called.
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node not in defs.get(node.name, []):
                bound.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    scopes = {}
    for name, nodes in defs.items():
        if len(nodes) == 1 and not nodes[0].decorator_list and name not in bound:
            runs, yields, calls = _scope(nodes[0].body, is_run)
            if not yields:
                scopes[name] = (runs, calls)
    if any(isinstance(node, ast.Name) and node.id in _DYNAMIC_LOOKUPS
           or isinstance(node, ast.Attribute) and node.attr == "modules"
           for node in ast.walk(tree)):
        # A function may be reached by a name built at run time (`globals()["cmd_" + name]`,
        # `getattr(sys.modules[__name__], name)`), and such a call would not be awaited.
        return set()
    top_calls = _scope(tree.body, is_run)[2]
    uses: "dict[str, int]" = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            uses[node.id] = uses.get(node.id, 0) + 1
    banned: "set[str]" = set()
    while True:
        chosen = {name for name, (runs, _) in scopes.items() if runs and name not in banned}
        grew = True
        while grew:
            grew = False
            for name, (_, calls) in scopes.items():
                if name not in chosen and name not in banned and chosen.intersection(calls):
                    chosen.add(name)
                    grew = True
        awaited = top_calls + [call for name in chosen for call in scopes[name][1]]
        unsafe = {name for name in chosen if uses.get(name, 0) != awaited.count(name)}
        if not unsafe:
            return chosen
        banned |= unsafe


def _imported_names(tree) -> "list[str]":
    """The modules the import statements anywhere in `tree` name (each `from m import x` as `m`
    and, in case `x` is a submodule, `m.x`)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{a.name}" for a in node.names)
    return names


def _try_import(name: str):
    """The module `name`, imported, or None (a name imported from a module, or a module the
    importer guards itself)."""
    try:
        return importlib.import_module(name)
    except (Exception, SystemExit):  # a module may even exit where it cannot work
        return None


# Modules the interpreter's C code imports on first use, where no `import` statement names
# them: `time.strptime` / `datetime.strptime`, and the codecs `str.encode` looks up by name.
_IMPORTED_BY_C = ("_strptime", "encodings.idna", "encodings.punycode", "encodings.latin_1",
                  "encodings.cp1252", "encodings.cp437", "encodings.utf_16", "encodings.utf_32",
                  "encodings.hex_codec", "encodings.base64_codec", "encodings.rot_13",
                  "encodings.unicode_escape", "encodings.raw_unicode_escape")

# At most this many modules' sources are read for the imports they make inside functions.
_SCAN_LIMIT = 400


def _preimport(tree):
    """Imports, at build time, every module the script names (run time cannot import), the
    modules those name anywhere in their own sources, and theirs, in turn (a module that
    imports inside a function, as argparse's help formatter imports `shutil` on first use,
    would fail at run time otherwise), and the modules CPython's C code imports by name."""
    named = _imported_names(tree)
    for name in [*named, *_IMPORTED_BY_C]:
        _try_import(name)
    todo = collections.deque(named)  # breadth first: the script's own modules' imports first
    seen = set()
    while todo and len(seen) < _SCAN_LIMIT:
        name = todo.popleft()
        if name in seen:
            continue
        seen.add(name)
        module = _try_import(name)
        path = getattr(module, "__file__", None)
        if module is None or not path or not path.endswith(".py"):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                todo.extend(_imported_names(ast.parse(f.read(), path)))
        except (OSError, SyntaxError, ValueError):
            continue


async def _finish():
    """Leaves no wasio call in flight when `run` returns (componentize-py traps otherwise): ends
    every task, then closes the servers and aborts the connections the program left open, as
    CPython's process exit does."""
    await _cancel_all_tasks()
    await _calls.wait_left_behind()
    await streams.close_servers()
    for writer in list(streams._open_writers):
        if not writer.is_closing():
            writer._raw.abort()
    await _loop.end_of_run()


def _exit_status(exc: BaseException) -> int:
    """The status (0-255) the script's uncaught `exc` ends the run with, as CPython's process
    exit gives it, after printing what CPython prints for it."""
    if isinstance(exc, SystemExit):
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            # CPython passes the code to the C `exit`, whose status is its low byte; a code
            # beyond a C long fails there, and the process exits with -1.
            code = exc.code if -(2**63) <= exc.code < 2**63 else -1
            return code & 0xFF
        print(exc.code, file=sys.stderr)
        return 1
    if isinstance(exc, asyncio.CancelledError):
        # What Ctrl-C leads to: the run's shutdown closed the servers, so a `serve_forever`
        # ended as after `server.close()`. One line, not a traceback.
        print("CancelledError: the program's main task was cancelled", file=sys.stderr)
        return 1
    traceback.print_exception(exc)
    # After an uncaught KeyboardInterrupt CPython ends by SIGINT, which a shell reports as 130.
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


class BuildError(Exception):
    """A script that cannot be built: its message, after `BUILD_ERROR`, is the sentence the
    build (`wasio_asyncio.build`) shows, instead of componentize-py's whole report."""

    def __init__(self, sentence: str):
        super().__init__(BUILD_ERROR + sentence)


BUILD_ERROR = "wasio-build-error: "


def load(source: str, filename: str):
    """Compiles `source` and returns the `Run` export class that executes it as `__main__`."""
    install()
    # Before the script's imports are resolved: `import ssl` gets the package's stand-in
    # (componentize-py has no `ssl` module; the provider does TLS).
    sys.modules["ssl"] = _ssl
    try:
        tree = ast.parse(source, filename)
        _preimport(tree)
        top_level = _TopLevelRun(tree)
        top_level.runners = _runners(tree, top_level.is_run)
        tree = ast.fix_missing_locations(top_level.visit(tree))
        code = compile(tree, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError as e:
        raise BuildError(f"line {e.lineno}: {e.msg}" if e.lineno else e.msg) from None

    class Run(exports.Run):
        async def run(self) -> None:
            _loop.mark_internal(asyncio.current_task())
            status = 0
            module = type(sys)("__main__")
            module.__file__ = filename
            module.__builtins__ = builtins
            module.__wasio_run__ = _run_main
            module.__wasio_run_until_complete__ = _run_until_complete
            module.__wasio_run_forever__ = _run_forever
            sys.modules["__main__"] = module
            if not sys.argv or not sys.argv[0]:
                sys.argv = [filename]
            ended = None  # how the script ended, if not by returning
            try:
                try:
                    done = eval(code, module.__dict__)
                    if code.co_flags & inspect.CO_COROUTINE:
                        await done
                except (SystemExit, Exception) as exc:
                    # `sys.exit(app.main())` where `main` queued an `asyncio.run` (or an
                    # error after it): in CPython the run was made inside that call, so it
                    # runs before the script's exit or error counts. (Not after Ctrl-C.)
                    ended = exc
                while _pending_mains:
                    await _run_main(_pending_mains.pop(0))
                _loop.raise_escaped()
            except BaseException as exc:
                ended = exc
            if ended is not None:
                status = _exit_status(ended)
            await _finish()
            escaped = _loop.take_escaped()  # raised by a task cancelled on the way out
            if escaped is not None:
                status = _exit_status(escaped)
            # What CPython's interpreter shutdown runs (this one is never shut down): the exit
            # functions, then a collection, whose finalizers log what CPython's would (a task's
            # "exception was never retrieved" when the task is in a reference cycle).
            atexit._run_exitfuncs()
            gc.collect()
            sys.stdout.flush()
            sys.stderr.flush()
            if status != 0:
                wasio_streams.set_exit_status(status)
                raise Err(None)

    return Run
