"""Run one function over many dataset jobs, in worker processes or in this one, with progress."""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import cv2

Job = TypeVar("Job")
Result = TypeVar("Result")


@contextlib.contextmanager
def opencv_threads_paused() -> Iterator[None]:
    """Hold OpenCV to one thread while worker processes are forked, then restore it.

    Forked while OpenCV's thread pool runs here, a worker inherits it mid-wait and hangs in
    cv2.setNumThreads."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def _init_worker(initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    # Each process is one of the workers we were given; OpenCV's own threads would oversubscribe.
    cv2.setNumThreads(1)
    if initializer is not None:
        initializer(*initargs)


def map_with_progress(
    fn: Callable[[Job], Result],
    jobs: Sequence[Job],
    workers: int,
    progress: Callable[[int, int], None] | None = None,
    chunksize: int = 1,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
    pool_for_one: bool = False,
) -> Iterator[Result]:
    """Yield ``fn(job)`` for each of ``jobs``, in job order.

    With ``workers`` > 1 and at least two jobs the calls run in a ``multiprocessing`` pool of
    ``workers`` processes (OpenCV held to one thread in each), fed ``chunksize`` jobs at a time;
    otherwise in this process. ``initializer(*initargs)`` runs once in each worker, or here
    before the first job. ``progress(done, total)`` is called with 0 first, then after each
    result. ``pool_for_one`` gives a single worker its own process too, so that it works ahead
    while the caller uses the results.
    """
    total = len(jobs)

    def results() -> Iterator[Result]:
        if workers < 1 or total < 2 or (workers == 1 and not pool_for_one):
            if initializer is not None:
                initializer(*initargs)
            yield from map(fn, jobs)
            return
        with opencv_threads_paused():
            pool = multiprocessing.get_context().Pool(
                workers, _init_worker, (initializer, initargs)
            )
        with pool:
            yield from pool.imap(fn, jobs, chunksize=chunksize)

    if progress is not None:
        progress(0, total)
    for done, result in enumerate(results(), start=1):
        yield result
        if progress is not None:
            progress(done, total)
