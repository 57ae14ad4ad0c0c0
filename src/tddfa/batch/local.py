"""The local engine: ``workers`` spawned processes, each holding its own models (one worker: in-process).

Items are submitted lazily with at most ``IN_FLIGHT_PER_WORKER`` per worker outstanding, so memory does not
grow with the number of items. A worker process that dies (a crash in native code, the OOM killer) breaks the
pool: it is rebuilt and the items that were in flight are submitted again; an item in flight at
``feed.MAX_ATTEMPTS`` deaths fails with reason ``worker_died``.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .feed import Feed
from .inputs import Item
from .worker import ItemProcessor, ItemResult, WorkerSpec

IN_FLIGHT_PER_WORKER = 2

_PROCESSOR: ItemProcessor | None = None
_INIT_ERROR: BaseException | None = None


def _init(spec: WorkerSpec) -> None:
    global _PROCESSOR, _INIT_ERROR
    try:
        _PROCESSOR = spec.build()
    except Exception as exc:  # noqa: BLE001 - raised in the driver by the first task (a raising initializer
        # would only break the pool, over and over)
        _INIT_ERROR = exc


def _process(item: Item) -> ItemResult:
    if _PROCESSOR is None:
        raise _INIT_ERROR or RuntimeError("worker not initialised")
    return _PROCESSOR(item)


class LocalEngine:
    """``run(items)`` -> results as they complete (any order)."""

    def __init__(self, spec: WorkerSpec, workers: int = 1):
        self.spec, self.workers = spec, workers
        self.notes: list[str] = []
        self.resubmitted = 0
        self.deaths = 0
        self._executor: ProcessPoolExecutor | None = None

    def run(self, items: Iterable[Item]) -> Iterator[ItemResult]:
        if self.workers == 1:
            processor = self.spec.build()
            for item in items:
                yield processor(item)
            return
        yield from self._pool(iter(items))

    def _new_pool(self) -> ProcessPoolExecutor:
        self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init, initargs=(self.spec,))
        return self._executor

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (none for one in-process worker)."""
        procs = getattr(self._executor, "_processes", None) or {}  # the executor keeps no public list
        return sorted(procs)

    def _pool(self, items: Iterator[Item]) -> Iterator[ItemResult]:
        limit = self.workers * IN_FLIGHT_PER_WORKER
        feed = Feed(items, "local")
        pool = self._new_pool()
        pending: dict[Future, Item] = {}
        carry: list[Item] = []  # taken from the feed when the pool had broken already: resubmitted with the rest
        try:
            while True:
                while not carry and len(pending) < limit and feed.more:
                    item = feed.next()
                    if item is None:
                        break
                    try:
                        pending[pool.submit(_process, item)] = item
                    except BrokenProcessPool:  # a worker died since the last result
                        carry.append(item)
                if not pending and not carry:
                    break
                lost = []
                if pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        item = pending.pop(fut)
                        try:
                            yield fut.result()
                        except BrokenProcessPool:
                            lost.append(item)
                if carry and (lost or not pending):
                    lost += carry
                    carry.clear()
                if lost:
                    # every future still pending is lost with the pool: a new pool takes them all again
                    lost += pending.values()
                    pending.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._new_pool()
                    self.deaths += 1
                    for item in lost:
                        result = feed.lost(item)
                        if result is not None:
                            yield result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.resubmitted = feed.resubmitted
            if self.deaths:
                self.notes.append(f"a worker process died {self.deaths} time(s); {feed.resubmitted} item(s) "
                                  "submitted again")
