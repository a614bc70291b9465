"""Awaiting imported async calls so that cancelling the awaiting task loses nothing and never traps.

componentize-py 0.25.1 cannot cancel an imported call in flight: if the task awaiting one is
cancelled, the call keeps running, and when it completes the runtime sets the result of a
cancelled future and the component traps (and returning from `run` with a call in flight traps
too). So a call is never abandoned here. When its task is cancelled, the call is ended with the
`interrupt` of the wasio object it waits on (the provider then fails it with `interrupted`,
changing no state; repeated until the call ends, for a call the provider had not started yet),
the task waits for that, and a result that won the race is put back
(`restore`: bytes unread, a connection closed) before `CancelledError` is raised.

A call with no `interrupt` but a `restore` (`start_server` and `start_unix_server`: the
contract cannot interrupt them, and they wait on no peer) is left behind instead: the cancelled
task stops waiting at once, as asyncio's would, the call runs on to its end, and what it returns
is put back with `restore` (the server closed). `wait_left_behind` waits for such calls before
the program exits. (`open_connection` and `open_unix_connection`, which can wait minutes on a
peer that never answers, go through a `connector`, whose `interrupt` ends them.)

`install` replaces componentize-py's `await_result` (the one function its generated bindings
await every imported async call through) with `_await_result` below.
"""

import asyncio

import componentize_py_async_support as _support
import componentize_py_runtime as _runtime
from componentize_py_types import Err, Ok

from .bindings.imports import wasio_types as t

# `(interrupt, restore)` of the imported call `call` is starting: how to end it (its object's
# `interrupt`, or None: the call then runs to its end, which its own timeout bounds, before the
# task is cancelled) and how to put back what it returns if the task was cancelled. `call` sets
# it just before it starts the call, and `_await_result` takes it first thing: the generated
# binding makes the call and awaits `await_result` with nothing run in between, so no other
# call can see it. (A global, not a context variable: it is read once per call, at once.)
_starting = None

# The calls cancelled tasks left behind, still in flight (module docstring).
_left_behind = set()


class _Cancelled(asyncio.CancelledError):
    """The `CancelledError` of a task whose imported call completed anyway: `result` is the
    call's lifted result, for the caller to put back."""

    def __init__(self, original: asyncio.CancelledError, result):
        super().__init__(*original.args)
        self.result = result


class _CallFuture(asyncio.Future):
    """The future an imported call's completion resolves. Cancelling it (what `Task.cancel`
    does to the future its task awaits) does not cancel it: it interrupts the call instead, and
    the task, which asyncio cancels only once the future it waits on is done, then sees
    `CancelledError` at the `await`, after the call ended. So the runtime never resolves a
    cancelled future, and no extra future or callback is needed per call.

    No `__init__` of its own (asyncio's C one runs without a Python frame): the caller sets
    `_interrupt`, the call's `interrupt` or None."""

    _interrupt = None

    def cancel(self, msg=None):
        interrupt, self._interrupt = self._interrupt, None
        if interrupt is not None:
            _interrupt_until_done(self, interrupt, _AGAIN_AFTER)
        return False


# An interrupt ends the calls on its object that are waiting now. A call the provider has not
# started yet (the component model queues a call while the callee instance is busy, e.g. in a
# blocking call of its own) misses it and would wait on: so, until the call ends, the interrupt
# is made again, after 10 ms, then twice as long each time (at most a second apart). It changes
# no state, and a call it ends on another waiter of the object is made again (`call`).
_AGAIN_AFTER = 0.01


def _interrupt_until_done(future: _CallFuture, interrupt, after: float) -> None:
    """Interrupts the call `future` waits for, unless it is done, and again `after` seconds on."""
    if future.done():
        return
    interrupt()
    asyncio.get_running_loop().call_later(after, _interrupt_until_done, future, interrupt,
                                          min(after * 2, 1.0))


# How many imported calls had to wait (did not complete at once): a reader compares it before
# and after a call to learn whether the call waited.
waits = 0


async def _await_result(result):
    """componentize-py's `await_result` (same contract), made safe to cancel (module docstring)."""
    global waits, _starting
    starting, _starting = _starting, None
    if isinstance(result, Ok):
        return result.value
    interrupt, restore = starting if starting is not None else (None, None)
    waits += 1
    state = _support._future_state.get()
    waitable, promise = result.value
    future = _CallFuture()
    future._interrupt = interrupt
    state.futures[waitable] = future
    if state.waitable_set is None:
        state.waitable_set = _runtime.waitable_set_new()
    _runtime.waitable_join(waitable, state.waitable_set)
    if future._interrupt is None and restore is not None:
        return await _leavable(future, promise, restore)
    try:
        event = await future
    except asyncio.CancelledError as cancel:
        # The call has ended (see `_CallFuture`): hand what it returned to the caller.
        raise _Cancelled(cancel, _runtime.promise_get_result(future.result(), promise)) from None
    return _runtime.promise_get_result(event, promise)


async def _leavable(future, promise, restore):
    """Awaits a call that cannot be interrupted through a stand-in future that a cancelled task
    may stop waiting for at once; the call's own future stays with the runtime, and what it
    resolves to after the task stopped waiting is put back with `restore`."""
    waiting = asyncio.get_running_loop().create_future()

    def settle(done):
        if waiting.cancelled():
            _left_behind.discard(done)
            restore(_runtime.promise_get_result(done.result(), promise))
        elif not waiting.done():
            waiting.set_result(done.result())

    future.add_done_callback(settle)
    try:
        event = await waiting
    except asyncio.CancelledError:
        _left_behind.add(future)
        raise
    return _runtime.promise_get_result(event, promise)


async def wait_left_behind():
    """Waits until every call a cancelled task left behind has ended and its result was put
    back (a program must not return with a call in flight)."""
    while _left_behind:
        await asyncio.wait(list(_left_behind))
        # Let the `settle` callbacks of the calls that ended run.
        await asyncio.sleep(0)


async def call(start, interrupt=None, restore=None, *, again_if_interrupted=True,
               what=None, to_exception=None, args=()):
    """Awaits the imported async call `start(*args)` makes and returns its value. Its error is raised
    as `componentize_py_types.Err`, or as `to_exception(error, what)` when that is given.
    `interrupt` ends the call if the task is cancelled; without one, a call with a `restore` is
    left behind by a cancelled task (module docstring). `restore` takes back what a call that
    completed although the task was cancelled returned (its lifted result: `Ok(value)` or
    `Err(error-code)`). A call ended by an `interrupt` meant for another waiter on the same object
    is made again (an interrupt changes no state), unless `again_if_interrupted` is false: the
    caller then sees `interrupted`.

    One coroutine between the caller and the binding's: every level an await passes through is
    resumed on every wake-up, which is a measurable part of a request under wasio.
    """
    global _starting
    while True:
        _starting = (interrupt, restore)
        try:
            return await start(*args)
        except _Cancelled as cancelled:
            if restore is not None:
                restore(cancelled.result)
            raise asyncio.CancelledError(*cancelled.args) from None
        except Err as e:
            if again_if_interrupted and isinstance(e.value, t.ErrorCode_Interrupted):
                continue
            if to_exception is None:
                raise
            raise to_exception(e.value, what) from None
        finally:
            # Only when the call failed before `_await_result` took it.
            _starting = None


def install() -> None:
    """Routes every imported async call through `_await_result`."""
    _support.await_result = _await_result
