"""Where runs execute: in-process, a local ``spawn`` process pool, or any
:class:`~concurrent.futures.Executor` such as a Dask cluster's."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager

from lbsim.interrupt import held
from lbsim.runner.tasks import Outcome, Task, describe, expected_requests, run_task

DASK_MISSING = "Dask support needs: pip install 'lbsim[dask]'"


@contextmanager
def dask_executor(address: str = "local", workers: int | None = None) -> Iterator[Executor]:
    """A :class:`concurrent.futures.Executor` on a Dask cluster.

    ``address="local"`` starts a ``LocalCluster`` on 127.0.0.1 (``workers``
    processes, one thread each; all cores by default) and closes it at the
    end; otherwise ``address`` is a running scheduler (``tcp://host:8786``).
    Raises ImportError with :data:`DASK_MISSING` when Dask is not installed.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as error:
        raise ImportError(DASK_MISSING) from error
    cluster = None
    if address == "local":
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        )
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


_POOLS: dict[int, ProcessPoolExecutor] = {}


def _warm(parent: int) -> None:
    """Set up each worker as it starts: import what a run needs; leave Ctrl-C
    to the parent (which stops the workers); exit when the parent is gone,
    however it died (a pool's worker would otherwise wait for work forever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    import lbsim.runner.tasks  # noqa: F401


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _ready() -> None:
    """Nothing: submitted to start a worker early."""


def local_pool(workers: int) -> ProcessPoolExecutor:
    """A ``spawn`` pool of ``workers`` processes, started once and kept for
    the next sweep of this process (shut down at exit)."""
    pool = _POOLS.get(workers)
    if pool is None:
        if not _POOLS:
            atexit.register(shutdown_pools)
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_warm, initargs=(os.getpid(),)
        )
        _POOLS[workers] = pool
    return pool


def start_workers(jobs: int | None) -> None:
    """Start the local pool's workers now (they import while the caller plans)."""
    if jobs != 1:
        with held():  # a signal mid-spawn would leave a child reading a cut pipe
            local_pool(jobs or os.cpu_count() or 1).submit(_ready)


def shutdown_pools() -> None:
    """Stop the kept local pools."""
    while _POOLS:
        _POOLS.popitem()[1].shutdown(wait=True, cancel_futures=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: queued runs cancelled, running workers terminated
    (``shutdown`` alone would let every running simulation finish first)."""
    # The worker processes: private in Python 3.11 (terminate_workers() is 3.14+).
    workers = list((getattr(pool, "_processes", None) or {}).values())
    for process in workers:
        process.terminate()
    for process in workers:
        process.join(timeout=10)
    # Only now shut down: the pool's manager thread sees its workers gone and
    # fails the queued runs itself. Cancelling them first raced with it: Python
    # 3.11's terminate_broken sets an exception on each pending future, and on
    # one already cancelled that raised InvalidStateError, printed as a
    # traceback in the manager thread.
    pool.shutdown(wait=bool(workers))


def execute(
    tasks: list[Task],
    executor: Executor | None,
    jobs: int | None,
    done: Callable[[Task, Outcome], None],
) -> None:
    """Run ``tasks``, calling ``done`` for each as it finishes (any order).

    The longest runs (most expected requests) are submitted first, so that no
    long run starts last while the other workers sit idle."""
    if executor is None and (jobs == 1 or len(tasks) <= 1):
        for task in tasks:
            done(task, run_task(task))
        return
    own = executor is None
    workers = jobs or os.cpu_count() or 1
    pool: Executor = executor or local_pool(workers)
    futures: dict[Future[Outcome], Task] = {}
    try:
        ordered = sorted(tasks, key=expected_requests, reverse=True)
        # Submitting spawns the pool's workers: a signal raised in the middle
        # of a spawn left the child reading a cut pipe (EOFError traceback).
        with held():
            futures = {pool.submit(run_task, task): task for task in ordered}
        for future in as_completed(futures):
            task = futures[future]
            try:
                outcome = future.result()
            except Exception as error:  # a worker died, a cluster went away...
                if own and isinstance(error, BrokenExecutor):
                    _POOLS.pop(workers, None)  # the next sweep starts a fresh pool
                outcome = Outcome(
                    task.key,
                    error=describe(error),
                    traceback="".join(traceback.format_exception(error)),
                )
            done(task, outcome)
    except BaseException:
        if own:  # interrupted: a kept pool would still hold the queued runs
            _POOLS.pop(workers, None)
            assert isinstance(pool, ProcessPoolExecutor)
            _stop(pool)
        raise
    finally:
        for future in futures:
            future.cancel()
