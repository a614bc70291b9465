"""The event loop asyncio programs expect, completed on top of componentize-py's.

componentize-py 0.25.1's loop implements `call_soon`, `create_task` and `create_future` only:
`loop.time`, `call_later`, `call_at`, `run_in_executor` and the default executor's methods raise
`NotImplementedError` (so do `asyncio.sleep(d > 0)`, `wait_for`, `asyncio.timeout` and
`asyncio.to_thread`), `call_soon` without `context=` asserts, `create_task` drops the task's
name, and an exception handed to `call_exception_handler` is re-raised from its poll, trapping
the component. `install` fills these in:

- time is `time.monotonic()`; timers are a heap of `asyncio.TimerHandle`s run by one driver task
  that sleeps on a wasio `timer` (an interruptible wait: it is interrupted when an earlier timer
  is scheduled or the driver is cancelled, so no clock wait is ever left in flight); the driver
  exits when no timer is left;
- the tasks doing the loop's own work (that driver, a server's accept loop, the task running the
  script) are left out of `asyncio.all_tasks()`, where CPython's loop has callbacks instead;
- a `SystemExit` or `KeyboardInterrupt` a task raises does not leave the loop's poll (where
  componentize-py would trap): it is handed to `_escape`, which ends the run as CPython's
  `asyncio.run` does when its loop stops with one;
- exceptions are reported by asyncio's own default handler (logged to stderr), or the handler a
  program sets with `set_exception_handler`;
- `getaddrinfo` / `getnameinfo` call `socket`'s through the executor, as asyncio does;
- `run_in_executor` with the default executor or a `ThreadPoolExecutor` (so `asyncio.to_thread`)
  calls the function on the loop's own thread at its next turn, in a copy of the caller's
  context, and blocks the loop while it runs: the component's CPython cannot start a thread
  (`ThreadPoolExecutor.submit` raises "can't start new thread"). Another executor is handed the
  call with `submit`, as asyncio does; `set_default_executor` and `shutdown_default_executor`
  behave as asyncio's.
"""

import asyncio
import contextvars
import encodings.idna  # noqa: F401 (see `getaddrinfo` in `install`)
import heapq
import inspect
import socket
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

import componentize_py_async_support as _support
from asyncio.log import logger
from componentize_py_types import Err

from . import _args, _calls
from .bindings.imports import wasio_streams as s


# Tasks that do the loop's own work (the timer driver, a server's accept loop, the task running
# the script), which CPython's loop does with callbacks: `asyncio.all_tasks()` leaves them out,
# so a program that cancels "every other task" ends only its own, as in CPython.
_internal: "weakref.WeakSet[asyncio.Task]" = weakref.WeakSet()


def internal_task(coro) -> asyncio.Task:
    """A task for the loop's own work (see `_internal`)."""
    # Not through a task factory the program set: the loop's own work is the loop's.
    task = asyncio.Task(coro, loop=asyncio.get_running_loop())
    _internal.add(task)
    return task


def is_internal(task: asyncio.Task) -> bool:
    """Whether `task` does the loop's or the runner's own work (see `_internal`)."""
    return task in _internal


def mark_internal(task: asyncio.Task) -> None:
    """Leaves `task` (the one running the script) out of `asyncio.all_tasks()`."""
    _internal.add(task)


# The `SystemExit` / `KeyboardInterrupt` a task or callback raised, not yet raised to the
# script; the tasks the script's top level awaits (`until_escape`); a `run_forever`'s future.
_escaped: list[BaseException] = []
_awaited: list[asyncio.Task] = []
forever: "asyncio.Future | None" = None


def _escape(exc: BaseException) -> None:
    """A task or callback raised `SystemExit` or `KeyboardInterrupt`. CPython's loop stops, and
    `asyncio.run` (or `run_until_complete`, `run_forever`) raises it to the script: here the
    awaited task is cancelled and `until_escape` raises it (a `run_forever` raises it at once);
    outside them the script's top level raises it when it ends (`raise_escaped`)."""
    if forever is not None and not forever.done():
        forever.set_exception(exc)
        return
    if not _escaped:
        _escaped.append(exc)
    for task in _awaited:
        if not task.done():
            task.cancel()


def take_escaped() -> "BaseException | None":
    """The `SystemExit` / `KeyboardInterrupt` a task raised and nobody raised yet, if any."""
    return _escaped.pop() if _escaped else None


def raise_escaped() -> None:
    """Raises the `SystemExit` / `KeyboardInterrupt` a task raised, if one is waiting."""
    escaped = take_escaped()
    if escaped is not None:
        raise escaped


async def until_escape(task: asyncio.Task):
    """Awaits `task` for the script's top level; raises what a task's `SystemExit` or
    `KeyboardInterrupt` was (`_escape`) instead of the result."""
    _awaited.append(task)
    try:
        return await task
    except BaseException:
        escaped = take_escaped()
        if escaped is None:
            raise
    finally:
        _awaited.remove(task)
    # Out of the `except`: the task's cancellation is not the exit's context (CPython's
    # traceback shows the exit alone).
    raise escaped


# How long a poll may go on running handles that keep becoming ready (a task looping on
# `await asyncio.sleep(0)`) before it lets timers and I/O in, and how long it then pauses (the
# host's timers have a 1 ms grain). asyncio polls for I/O between every two rounds; a round trip
# to the host costs more, so this one does it only when a poll would otherwise never end.
_SPIN_SLICE = 0.005
_SPIN_PAUSE = 0.001

# The state of the export task whose handles the last poll ran: the fallback for a callback
# scheduled in a context that has none (`contextvars.Context()`), see `call_soon_default_context`.
_polled_state = None


def _poll(self, future_state) -> None:
    """componentize-py 0.25.1's `_Loop.poll` (runs the ready handles until none is left), with
    `SystemExit` and `KeyboardInterrupt` handed to `_escape` instead of leaving it: asyncio's
    `Task` re-raises them after storing them, and leaving the poll traps the component. Handles
    that keep becoming ready for longer than `_SPIN_SLICE` are left for the next poll, after a
    pause that lets the host deliver timers and I/O (`_let_events_in`); componentize-py's poll
    ran them for ever, and a `sleep(0)` loop stopped every timer and every connection."""
    global _polled_state
    _polled_state = future_state
    rounds = 0
    started = None
    while True:
        handles = future_state.handles
        future_state.handles = []
        for handle in handles:
            if not handle._cancelled:
                try:
                    handle._run()
                except (SystemExit, KeyboardInterrupt) as exc:
                    # In the handle's context: cancelling a task schedules (and may start the
                    # timer driver) through `call_soon`, which needs componentize-py's
                    # `_future_state` there, and the poll's own context has none (it trapped).
                    handle._context.run(_escape, exc)
        if self.exception is not None:
            raise self.exception
        if not handles and not future_state.handles:
            return
        rounds += 1
        if rounds % 64 == 0 and future_state.pending_count > 0:
            now = time.monotonic()
            if started is None:
                started = now
            elif now - started > _SPIN_SLICE:
                _let_events_in(self, future_state)
                return


_pausing = False


def _let_events_in(loop, future_state) -> None:
    """Ends a poll that still has ready handles: a timer `_SPIN_PAUSE` away makes the export
    task wait for the host's next event (that timer's, or an earlier one) instead of returning
    to its handles at once, and the next poll runs them."""
    global _pausing
    if _pausing:
        return
    _pausing = True

    def paused():
        global _pausing
        _pausing = False

    # In a context with the task's state: scheduling may start the timer driver (a task).
    context = contextvars.copy_context()
    context.run(_support._future_state.set, future_state)
    context.run(loop.call_later, _SPIN_PAUSE, paused)


class _Timers:
    """The loop's timers: a heap of handles and the task that runs them when due."""

    def __init__(self):
        self.heap: list[asyncio.TimerHandle] = []
        self.cancelled = 0
        self.driver: asyncio.Task | None = None
        self.timer: "s.Timer | None" = None
        # The deadline the driver sleeps until, or None while it is not sleeping.
        self.sleeping_until: float | None = None

    def add(self, handle: asyncio.TimerHandle) -> None:
        heapq.heappush(self.heap, handle)
        handle._scheduled = True
        if self.driver is None:
            self.driver = internal_task(self._drive())
        elif self.sleeping_until is not None and handle._when < self.sleeping_until:
            self._wake()

    def cancelled_one(self, handle: asyncio.TimerHandle) -> None:
        if not handle._scheduled:
            return
        self.cancelled += 1
        if self.cancelled * 2 > len(self.heap) and self.cancelled > 50:
            # As asyncio: drop cancelled handles once they are most of the heap.
            self.heap = [h for h in self.heap if not h._cancelled]
            heapq.heapify(self.heap)
            self.cancelled = 0
        if self.cancelled == len(self.heap):
            self._wake()  # nothing live is left: let the driver exit now

    async def close(self) -> None:
        """Drops every pending timer and stops the driver, as closing CPython's loop does at the
        end of `asyncio.run` (its timers never run); no clock wait is left in flight."""
        for handle in self.heap:
            handle._scheduled = False
        self.heap.clear()
        self.cancelled = 0
        driver = self.driver
        if driver is not None:
            driver.cancel()
            await asyncio.wait([driver])

    def _wake(self) -> None:
        if self.timer is not None:
            self.timer.interrupt()

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        self.timer = timer = s.Timer()
        try:
            while True:
                now = loop.time()
                while self.heap and (self.heap[0]._cancelled or self.heap[0]._when <= now):
                    handle = heapq.heappop(self.heap)
                    handle._scheduled = False
                    if handle._cancelled:
                        self.cancelled -= 1
                    else:
                        # Run like a `call_soon` callback, in the handle's own context.
                        _support._future_state.get().handles.append(handle)
                if not self.heap or self.cancelled == len(self.heap):
                    return
                when = self.heap[0]._when
                self.sleeping_until = when
                nanos = _args.nanoseconds(when - loop.time())
                try:
                    # `interrupted` is a wake-up: an earlier timer came, or none is left.
                    await _calls.call(lambda: timer.wait(nanos), timer.interrupt,
                                      again_if_interrupted=False)
                except Err:
                    pass
                finally:
                    self.sleeping_until = None
        finally:
            # Also when cancelled (the program is ending): a later timer starts a new driver.
            self.driver = None
            self.timer = None


_timers = _Timers()


def _call(future, func, args):
    """Runs a `run_in_executor` call on the loop's thread and settles its future, as an executor's
    worker does; a future cancelled before then means `func` does not run."""
    if future.cancelled():
        return
    try:
        result = func(*args)
    except BaseException as exc:
        if not future.cancelled():
            future.set_exception(exc)
    else:
        if not future.cancelled():
            future.set_result(result)


async def end_of_run() -> None:
    """What `asyncio.run` does with the default executor on its way out: shuts it down once the
    calls queued to it have run. The next `asyncio.run` then starts with a new loop's executor
    state, as CPython's new loop does."""
    loop = asyncio.get_running_loop()
    await loop.shutdown_default_executor()
    loop._default_executor = None
    loop._executor_shutdown_called = False
    await _timers.close()


def install() -> None:
    """Completes componentize-py's loop class (see the module docstring)."""
    loop = asyncio.get_event_loop()
    loop_cls = type(loop)

    def call_soon_default_context(self, callback, *args, context=None):
        # componentize-py's `call_soon` with a default context, in one frame: every future's
        # callbacks go through here, several times per request.
        if context is None:
            context = contextvars.copy_context()
        handle = asyncio.Handle(callback, args, self, context)
        state = context.get(_support._future_state)
        if state is None:
            # A context the program made (`contextvars.Context()`): it gets the state of the
            # task scheduling into it, so that what runs in it can schedule too.
            state = _support._future_state.get(_polled_state)
            try:
                context.run(_support._future_state.set, state)
            except RuntimeError:  # the context is the one running: it has the state
                pass
        state.handles.append(handle)
        return handle

    def call_at(self, when, callback, *args, context=None):
        if when != when:
            # A NaN deadline is never due and never after another: it would stall the heap.
            raise ValueError("a timer cannot be set to NaN")
        if context is None:
            context = contextvars.copy_context()
        handle = asyncio.TimerHandle(when, callback, args, self, context)
        _timers.add(handle)
        return handle

    def call_later(self, delay, callback, *args, context=None):
        return call_at(self, self.time() + delay, callback, *args, context=context)

    def create_task(self, coro, *, name=None, context=None, **kwargs):
        factory = self._wasio_task_factory
        if factory is None:
            return asyncio.Task(coro, loop=self, name=name, context=context, **kwargs)
        # As asyncio's: the factory gets `context` only when one is given, and the name after.
        if context is not None:
            kwargs["context"] = context
        task = factory(self, coro, **kwargs)
        if name is not None:
            task.set_name(name)
        return task

    def set_task_factory(self, factory):
        if factory is not None and not callable(factory):
            raise TypeError("task factory must be a callable or None")
        self._wasio_task_factory = factory

    def get_task_factory(self):
        return self._wasio_task_factory

    def set_debug(self, enabled):
        # `get_debug` is a C function set on the loop itself (below): one saying True or False.
        self.get_debug = True.__bool__ if enabled else bool

    def call_exception_handler(self, context):
        # As asyncio's: a broken handler must not stop the loop, but `SystemExit` and
        # `KeyboardInterrupt` from it end the run.
        handler = getattr(self, "_wasio_exception_handler", None)
        if handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error("Exception in default exception handler", exc_info=True)
            return
        try:
            handler(self, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            try:
                self.default_exception_handler({
                    "message": "Unhandled error in exception handler",
                    "exception": exc,
                    "context": context,
                })
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error("Exception in default exception handler while handling an "
                             "unexpected error in custom exception handler", exc_info=True)

    def set_exception_handler(self, handler):
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        self._wasio_exception_handler = handler

    def get_exception_handler(self):
        return getattr(self, "_wasio_exception_handler", None)

    def run_in_executor(self, executor, func, *args):
        if executor is None:
            if self._executor_shutdown_called:
                raise RuntimeError("Executor shutdown has been called")
            executor = self._default_executor
            if executor is None:
                executor = ThreadPoolExecutor(thread_name_prefix="asyncio")
                self._default_executor = executor
        if not isinstance(executor, ThreadPoolExecutor):
            return asyncio.wrap_future(executor.submit(func, *args), loop=self)
        if executor._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future = self.create_future()
        self.call_soon(_call, future, func, args)
        return future

    def set_default_executor(self, executor):
        if not isinstance(executor, ThreadPoolExecutor):
            raise TypeError("executor must be ThreadPoolExecutor instance")
        self._default_executor = executor

    async def shutdown_default_executor(self, timeout=None):
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is None:
            return
        # No thread to join: the calls queued to it before now run first (call_soon is FIFO).
        await asyncio.sleep(0)
        executor.shutdown(wait=True)

    loop_cls.poll = _poll
    loop_cls.call_soon = call_soon_default_context
    loop_cls.call_soon_threadsafe = call_soon_default_context
    loop_cls.call_at = call_at
    loop_cls.call_later = call_later
    # C functions set on the loop itself, not Python methods on its class: each call of a Python
    # function costs a frame, and asyncio asks `get_debug` for every future and handle it makes
    # (`bool()` is False).
    loop.time = time.monotonic
    loop.get_debug = bool
    loop_cls._timer_handle_cancelled = lambda self, handle: _timers.cancelled_one(handle)
    loop_cls.create_task = create_task
    loop_cls._wasio_task_factory = None
    loop_cls.set_task_factory = set_task_factory
    loop_cls.get_task_factory = get_task_factory
    loop_cls.set_debug = set_debug
    loop_cls.slow_callback_duration = 0.1  # asyncio's default; only debug mode reads it
    loop_cls.call_exception_handler = call_exception_handler
    loop_cls.set_exception_handler = set_exception_handler
    loop_cls.get_exception_handler = get_exception_handler
    loop_cls.run_in_executor = run_in_executor
    loop_cls.set_default_executor = set_default_executor
    loop_cls.shutdown_default_executor = shutdown_default_executor

    # As asyncio's: `socket.getaddrinfo` / `getnameinfo` through the executor (so on the loop's
    # thread). CPython's socket module resolves names over wasi:sockets, under the run's grants
    # (lookups are allowed when a TCP address is granted); it encodes a name with the `idna`
    # codec, which is imported above because a module cannot be imported at run time.
    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        return await self.run_in_executor(None, socket.getaddrinfo, host, port, family, type,
                                          proto, flags)

    async def getnameinfo(self, sockaddr, flags=0):
        return await self.run_in_executor(None, socket.getnameinfo, sockaddr, flags)

    all_tasks = asyncio.tasks.all_tasks

    def program_tasks(loop=None):
        return {t for t in all_tasks(loop) if t not in _internal}

    asyncio.all_tasks = asyncio.tasks.all_tasks = program_tasks

    loop_cls.getaddrinfo = getaddrinfo
    loop_cls.getnameinfo = getnameinfo
    loop_cls._default_executor = None
    loop_cls._executor_shutdown_called = False
    # asyncio's own default handler (it logs to the "asyncio" logger, as CPython does); it reads
    # `_current_handle`, which componentize-py's loop does not keep.
    loop_cls.default_exception_handler = asyncio.BaseEventLoop.default_exception_handler
    loop_cls._current_handle = None
    for name, why in _NOT_AVAILABLE.items():
        setattr(loop_cls, name, _explained(name, getattr(loop_cls, name), why))


# The loop's low-level methods a component has no use for, and what to say when one is called
# (componentize-py's loop raises a `NotImplementedError` with no message).
_STREAMS_INSTEAD = "; asyncio's streams (open_connection, start_server) are wasio's"
_NOT_AVAILABLE = {
    "create_connection": "; use asyncio.open_connection",
    "create_server": "; use asyncio.start_server",
    "create_unix_connection": "; use asyncio.open_unix_connection",
    "create_unix_server": "; use asyncio.start_unix_server",
    "connect_accepted_socket": _STREAMS_INSTEAD,
    "start_tls": "; use StreamWriter.start_tls",
    "sock_connect": _STREAMS_INSTEAD,
    "sock_accept": _STREAMS_INSTEAD,
    "sock_recv": _STREAMS_INSTEAD,
    "sock_recv_into": _STREAMS_INSTEAD,
    "sock_recvfrom": " (UDP is not among wasio's streams)",
    "sock_sendto": " (UDP is not among wasio's streams)",
    "sock_sendall": _STREAMS_INSTEAD,
    "sock_sendfile": _STREAMS_INSTEAD,
    "sendfile": "; write the file's bytes with StreamWriter.write",
    "create_datagram_endpoint": " (UDP is not among wasio's streams)",
    "connect_read_pipe": " (the loop watches no pipes there; sys.stdin reads block the loop)",
    "connect_write_pipe": " (the loop watches no pipes there)",
    "subprocess_exec": " (a component cannot start processes)",
    "subprocess_shell": " (a component cannot start processes)",
    "add_reader": " (a component has no file descriptors for the loop to watch)",
    "add_writer": " (a component has no file descriptors for the loop to watch)",
    "remove_reader": " (a component has no file descriptors for the loop to watch)",
    "remove_writer": " (a component has no file descriptors for the loop to watch)",
    "sock_recvfrom_into": " (UDP is not among wasio's streams)",
    "remove_signal_handler": " (wasio itself ends the run on SIGINT and SIGTERM: see the README)",
    "add_signal_handler": " (wasio itself ends the run on SIGINT and SIGTERM: see the README)",
}


def _explained(name: str, original, why: str):
    """`original` (a loop method), whose message-less `NotImplementedError` says instead that
    `loop.name()` is not available in a wasio component, and `why`."""
    def explain(e: NotImplementedError):
        if e.args:
            return e
        return NotImplementedError(f"loop.{name}() is not available in a wasio component{why}")

    if inspect.iscoroutinefunction(original):
        async def method(self, *args, **kwargs):
            try:
                return await original(self, *args, **kwargs)
            except NotImplementedError as e:
                raise explain(e) from None
    else:
        def method(self, *args, **kwargs):
            try:
                return original(self, *args, **kwargs)
            except NotImplementedError as e:
                raise explain(e) from None
    method.__name__ = method.__qualname__ = name
    method.__doc__ = original.__doc__
    return method
