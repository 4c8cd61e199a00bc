"""Work run in threads released at the same moment, for the PostgreSQL concurrency tests."""

import threading
from collections.abc import Callable, Sequence

from django.db import connection


def run_together(work: Callable, arguments: Sequence, *, timeout: float | None = None) -> None:
    """``work(argument)`` for each of ``arguments``, each in a thread of its own, all let go at the
    same moment (a barrier); each thread closes its own database connection. Returns once every
    thread has finished, or after ``timeout`` seconds per thread."""
    barrier = threading.Barrier(len(arguments))

    def run(argument):
        try:
            barrier.wait()
            work(argument)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
