"""Jobs spread over single-threaded worker processes, results in job order (the benches' one pool).

One single-threaded process per core beats one process of several threads for the predictor's small
batches. Workers are spawned, not forked: a fork of a process that runs other threads (OpenMP pools, a
test runner's) can inherit a held lock and hang. The data every job reads is passed to each worker once.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, Sequence

__all__ = ['job_data', 'run_jobs']

_JOB_DATA: Optional[Any] = None


def job_data() -> Any:
    """The data of the running :func:`run_jobs` (inside a worker or in the calling process)."""
    return _JOB_DATA


def _init_worker(data: Any, threads: int) -> None:
    global _JOB_DATA
    _JOB_DATA = data
    if threads:
        import torch
        torch.set_num_threads(threads)


def run_jobs(func: Callable[[Any], Any], jobs: Sequence[Any], data: Any, workers: int = 1) -> Iterator[Any]:
    """Yield ``func(job)`` for every job, in order; ``func`` must be a module-level function (workers
    import it) and reads the shared data with :func:`job_data`. ``workers`` <= 1 runs here on one thread
    (torch's thread count is restored afterwards), so ``--workers N`` means N busy cores in every case."""
    import torch
    threads_before = torch.get_num_threads()
    if workers > 1:
        import multiprocessing as mp
        pool = mp.get_context('spawn').Pool(workers, initializer=_init_worker, initargs=(data, 1))
        results = pool.imap(func, jobs)
    else:
        _init_worker(data, threads=1)
        pool, results = None, map(func, jobs)
    try:
        yield from results
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        _init_worker(None, threads=threads_before)
