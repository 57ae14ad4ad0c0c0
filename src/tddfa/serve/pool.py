"""A bounded work queue: ``workers`` threads run the model, at most ``queue`` more requests wait.

The model calls (ONNX Runtime, numba renderers) release the GIL, so worker threads sharing one
:class:`tddfa.FaceAligner` run in parallel while the event loop keeps answering ``/healthz``.
A request that times out while still waiting leaves the queue; one already running finishes in its thread
and keeps its worker until then, so the running count never exceeds ``workers``.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .limits import RequestError

T = TypeVar("T")


class WorkerPool:
    def __init__(self, workers: int, queue: int):
        if workers < 1 or queue < 0:
            raise ValueError(f"workers must be >= 1 and queue >= 0, got {workers}, {queue}")
        self.workers, self.capacity = workers, workers + queue
        self._executor: ThreadPoolExecutor | None = None  # made on first use, again after shutdown()
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Requests queued or running."""
        return self._pending

    def _release(self, _future=None) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, fn: Callable[[float], T], timeout: float) -> T:
        """``fn(queued_ms)`` in a worker thread; 503 when the queue is full, 504 after ``timeout`` seconds."""
        with self._lock:
            if self._pending >= self.capacity:
                raise RequestError(503, "busy", f"all {self.workers} workers are busy and the queue is full; "
                                                "retry later")
            self._pending += 1
        submitted = time.perf_counter()
        try:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="tddfa-serve")
                executor = self._executor
            future = executor.submit(lambda: fn((time.perf_counter() - submitted) * 1e3))
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except asyncio.TimeoutError:
            future.cancel()  # leaves the queue if it has not started
            raise RequestError(504, "timeout", f"the request took more than {timeout:g} s") from None

    def shutdown(self) -> None:
        """Stop the threads (queued work is cancelled); a later :meth:`run` starts new ones, as when the same
        app is served again."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
