"""The worker processes of a run: a pool whose workers, with the tools they start, are
killed at once on Ctrl-C or a failure and end by themselves when the main process dies;
and the same ``submit`` in-process for a run with one worker."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait


def _worker_start(parent: int) -> None:
    """In each worker: its own process group (so it and the tools it starts can be killed
    together), and a watchdog that kills that group when the main process is gone."""
    os.setpgrp()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="bcr-parent-watchdog", daemon=True).start()


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A process pool whose workers (with their pandoc or Quarto) are killed at once when
    the block ends by an exception, Ctrl-C included, instead of being waited for."""
    # spawn, not fork: polars' thread pool does not survive a fork.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_start, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        # The executor keeps its processes in a private dict; there is no public way to
        # kill them, and waiting for them could take minutes.
        for pid in list(getattr(pool, "_processes", None) or {}):
            for kill in (os.killpg, os.kill):  # a worker not yet in its own group: kill
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(pid, signal.SIGKILL)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


class InProcess:
    """The pool's ``submit`` for a run with one worker: each call runs at once, here."""

    @staticmethod
    def submit(fn: Callable, *args: object) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # raised where the caller asks for the result
            future.set_exception(exc)
        return future


def as_done(futures: Sequence[Future]) -> Iterator[Future]:
    """The futures as they finish; the first failure is raised at once. Waits in short
    slices so that Ctrl-C reaches the main thread within a fraction of a second."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=0.1, return_when=FIRST_EXCEPTION)
        for future in done:
            if future.exception() is not None:
                raise future.exception()
            yield future
