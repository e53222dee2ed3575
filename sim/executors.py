"""Where batch tasks run: all behind ``concurrent.futures.Executor`` (the interface Mesa 4 takes).

- ``serial``: in this process, one task after another (debugging, tiny batches).
- ``processes``: a local ``ProcessPoolExecutor`` (the default).
- ``dask``: Dask distributed; a ``LocalCluster`` on 127.0.0.1, or an existing cluster when a
  scheduler address is given (``--scheduler`` or ``DASK_SCHEDULER_ADDRESS``).

Tasks carry (scenario, seeds) in and small tables out, never models; each run's seed travels
with it, so results are the same on any executor and any number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from sim.limits import LimitError, check_workers

EXECUTORS = ("serial", "processes", "dask")
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT_S = 5
WATCH_S = 1.0
"""How often a worker checks that its driver is alive (s)."""


class ExecutorError(Exception):
    """An executor could not be started or reached (reported as one line)."""


class SerialExecutor(Executor):
    """Runs each task when it is submitted, in this process."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)`` now; return its finished future."""
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            future.set_exception(exc)
        return future


class Stopped(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM reached the driver, which stopped at a safe point.

    Attributes:
        signum: The signal received; the command exits with ``128 + signum``.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def deferred_stop() -> Iterator[Callable[[], None]]:
    """Record SIGINT and SIGTERM instead of raising them wherever the driver happens to be.

    A ``KeyboardInterrupt`` raised inside ``concurrent.futures`` while it holds a lock can leave
    the pool unable to shut down; with the signal recorded, the driver stops between tasks.
    Signals this process ignores (a background job ignores SIGINT) stay ignored; outside the main
    thread nothing is installed.

    Yields:
        ``check()``: raises ``Stopped`` if a signal has arrived.
    """
    received: list[int] = []

    def check() -> None:
        if received:
            raise Stopped(received[0])

    if threading.current_thread() is not threading.main_thread():
        yield check
        return
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, lambda n, _frame: received.append(n))
    try:
        yield check
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def worker_init(driver: int) -> None:
    """Start a worker: leave Ctrl-C to the driver, and die with it.

    The driver stops the pool and saves what is done on Ctrl-C. If it dies without doing so
    (``kill -9``), nothing tells the workers: they would wait for work forever and keep the
    forkserver and resource tracker alive. A daemon thread checks every second that the driver
    is still there and ends the worker when it is not.

    Args:
        driver: The driver's process id.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while True:
            time.sleep(WATCH_S)
            try:
                os.kill(driver, 0)
            except ProcessLookupError:
                os._exit(1)

    threading.Thread(target=watch, name="driver-watch", daemon=True).start()


def default_workers() -> int:
    """Worker count when none is given: the CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@contextmanager
def open_executor(
    kind: str = "processes", workers: int | None = None, scheduler: str | None = None
) -> Iterator[Executor]:
    """Start an executor and shut it down afterwards.

    Args:
        kind: ``serial``, ``processes`` or ``dask``.
        workers: Worker processes (local kinds and a ``LocalCluster``); default: all CPUs.
        scheduler: Address of an existing Dask scheduler (implies ``dask``); default: the
            ``DASK_SCHEDULER_ADDRESS`` environment variable when ``kind`` is ``dask``.

    Yields:
        A ``concurrent.futures.Executor``.

    Raises:
        ExecutorError: Unknown kind, a worker count below 1 or above ``check_workers``'s
            limit, or an unreachable scheduler.
    """
    if kind not in EXECUTORS:
        raise ExecutorError(f"unknown executor {kind!r} (expected one of {', '.join(EXECUTORS)})")
    if workers is not None and workers < 1:
        raise ExecutorError(f"--workers must be at least 1, got {workers}")
    if workers is not None and kind != "serial" and not scheduler:
        try:
            check_workers(workers)
        except LimitError as exc:
            raise ExecutorError(str(exc)) from None
    workers = workers or default_workers()
    if kind == "serial":
        yield SerialExecutor()
    elif kind == "processes":
        # forkserver: no fork of a threaded driver (progress bar), and workers start fast.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["sim.batch"])
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=worker_init, initargs=(os.getpid(),)
        ) as ex:
            yield ex
    else:
        address = scheduler or os.environ.get(SCHEDULER_ENV)
        named = f"--scheduler {address}" if scheduler else f"{SCHEDULER_ENV}={address}"
        with _dask_client(workers, address, named) as client:
            yield client.get_executor(pure=False)


def _malformed(named: str, exc: Exception) -> ExecutorError:
    """The error for a malformed address; ``named`` says where it came from and what it is."""
    problem = f"not a scheduler address ({exc}); expected e.g. tcp://HOST:8786"
    return ExecutorError(f"{named}: {problem}")


def check_scheduler(address: str) -> None:
    """Refuse a malformed Dask scheduler address, without connecting to it.

    Raises:
        ExecutorError: An unknown scheme, a host and port distributed cannot parse, or a
            transport this machine lacks (``ucx://`` without UCX).
    """
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        backend = get_backend(scheme)
        if scheme in ("tcp", "tls", "ws", "wss"):
            parse_host_port(location)
    except ValueError as exc:
        raise _malformed(f"--scheduler {address}", exc) from None
    try:
        backend.get_connector()
    except (TypeError, ImportError, RuntimeError) as exc:  # e.g. ucx:// without UCX installed
        problem = f"the {scheme}:// transport is not usable here ({type(exc).__name__}: {exc})"
        raise ExecutorError(f"--scheduler {address}: {problem}") from None


@contextmanager
def _dask_client(workers: int, address: str | None, named: str = "") -> Iterator[Any]:
    """A Dask client on an existing scheduler, or on a ``LocalCluster`` bound to 127.0.0.1.

    ``named`` names the address in errors (``--scheduler ADDRESS`` by default).
    """
    from distributed import Client, LocalCluster

    if address:
        named = named or f"--scheduler {address}"
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"{named}: unreachable ({exc})") from None
        except ValueError as exc:  # distributed's word on a malformed address
            raise _malformed(named, exc) from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
