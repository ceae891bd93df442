"""Where runs execute: in-process, a local ``spawn`` process pool, or any
:class:`~concurrent.futures.Executor` such as a Dask cluster's."""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager

from lbsim.runner.tasks import Outcome, Task, describe, run_task

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


def execute(
    tasks: list[Task],
    executor: Executor | None,
    jobs: int | None,
    done: Callable[[Task, Outcome], None],
) -> None:
    """Run ``tasks``, calling ``done`` for each as it finishes (any order)."""
    if executor is None and (jobs == 1 or len(tasks) <= 1):
        for task in tasks:
            done(task, run_task(task))
        return
    own = executor is None
    pool: Executor = executor or ProcessPoolExecutor(
        max_workers=min(jobs or os.cpu_count() or 1, len(tasks)),
        mp_context=multiprocessing.get_context("spawn"),
    )
    futures: dict[Future[Outcome], Task] = {}
    try:
        futures = {pool.submit(run_task, task): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                outcome = future.result()
            except Exception as error:  # a worker died, a cluster went away...
                outcome = Outcome(
                    task.key,
                    error=describe(error),
                    traceback="".join(traceback.format_exception(error)),
                )
            done(task, outcome)
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
        else:
            for future in futures:
                future.cancel()
