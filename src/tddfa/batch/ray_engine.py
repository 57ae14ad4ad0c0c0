"""The Ray engine: the same items, results and ledger as the local engine, run by Ray actors.

Each actor holds its own models (one :class:`ItemProcessor`) and asks for ``threads`` CPUs; actors are spread
over the cluster's nodes. The driver streams items to them in tasks of ``CHUNK`` items, at most
``IN_FLIGHT_PER_ACTOR`` tasks outstanding per actor, so the driver's memory stays flat however many items there
are; results come back as they finish and only the driver writes the ledger. An actor that dies is restarted
by Ray (``max_restarts=-1``, its models load again) and the items it held are submitted again; an item in
flight at ``feed.MAX_ATTEMPTS`` deaths fails with reason ``worker_died``. Every actor must see the output
folder at the same path (one machine, or a shared volume on a cluster).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator

from ..errors import UsageError
from .feed import Feed
from .inputs import Item
from .worker import ItemResult, WorkerSpec

IN_FLIGHT_PER_ACTOR = 2  # tasks
CHUNK = 4  # items per task: Ray's per-task cost (driver, raylet) shared by a few items


class _Worker:
    """The actor body: builds its processor once; a failure to build is reported by :meth:`ready`."""

    def __init__(self, spec: WorkerSpec):
        self.error: BaseException | None = None
        try:
            self.processor = spec.build()
        except Exception as exc:  # noqa: BLE001 - handed to the driver, which raises it as the job's error
            self.error = exc

    def ready(self) -> BaseException | None:
        return self.error

    def pid(self) -> int:
        return os.getpid()

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def process(self, items: list[Item]) -> list[ItemResult]:
        return [self.processor(item) for item in items]


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A ``HOST:PORT`` or ``ray://HOST:PORT`` address that accepts no TCP connection within ``timeout`` s is a
    :class:`UsageError` at once (Ray itself retries a dead address for minutes). ``auto`` is Ray's to resolve."""
    import socket

    if address == "auto":
        return
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--ray {address}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UsageError(f"--ray {address}: no Ray cluster answers there ({exc.strerror or exc})") from None


def import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'tddfa[ray]'") from None
    return ray


class RayEngine:
    """``run(items)`` -> results as they complete. ``address``: None or ``"local"`` starts a local cluster of
    ``workers`` CPUs (``workers * threads``); ``"auto"`` or ``HOST:PORT`` / ``ray://...`` joins one. ``workers``
    actors (None: the cluster's CPUs over ``threads``)."""

    def __init__(self, spec: WorkerSpec, address: str | None = None, workers: int | None = None, threads: int = 1):
        self.spec, self.address, self.workers, self.threads = spec, address, workers, threads
        self.notes: list[str] = []
        self.resubmitted = 0
        self.deaths = 0
        self.actors: list = []
        self._started = False

    def _connect(self):
        ray = import_ray()
        if not ray.is_initialized():
            # ERROR: keep Ray's start-up notes off stderr (the error contract: our lines only)
            kw = dict(logging_level=logging.ERROR, log_to_driver=False, include_dashboard=False)
            if self.address in (None, "local"):
                ray.init(num_cpus=(self.workers or 1) * self.threads, **kw)
            else:
                check_reachable(self.address)
                try:
                    ray.init(address=self.address, **kw)
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    raise UsageError(f"--ray {self.address}: cannot join the Ray cluster "
                                     f"({' '.join(str(exc).split())[:200]})") from None
            self._started = True
        return ray

    def actor_pids(self) -> list[int]:
        ray = import_ray()
        return ray.get([a.pid.remote() for a in self.actors])

    def actor_nodes(self) -> list[str]:
        ray = import_ray()
        return ray.get([a.node.remote() for a in self.actors])

    def run(self, items: Iterable[Item]) -> Iterator[ItemResult]:
        ray = self._connect()
        try:
            n = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // self.threads)
            cls = ray.remote(num_cpus=self.threads, max_restarts=-1, max_task_retries=0,
                             scheduling_strategy="SPREAD")(_Worker)
            self.actors = [cls.remote(self.spec) for _ in range(n)]
            for err in ray.get([a.ready.remote() for a in self.actors]):
                if err is not None:
                    raise err
            yield from self._loop(ray, iter(items))
        finally:
            for a in self.actors:
                ray.kill(a)
            self.actors = []
            if self._started:
                ray.shutdown()
                self._started = False

    def _loop(self, ray, items: Iterator[Item]) -> Iterator[ItemResult]:
        from ray.exceptions import ActorUnavailableError, RayActorError

        load = [0] * len(self.actors)
        pending: dict = {}  # ObjectRef -> (items, actor index)
        feed = Feed(items, "Ray")
        try:
            while True:
                while feed.more:
                    a = min(range(len(load)), key=load.__getitem__)
                    if load[a] >= IN_FLIGHT_PER_ACTOR:
                        break
                    chunk = [it for it in (feed.next() for _ in range(CHUNK)) if it is not None]
                    if not chunk:
                        break
                    pending[self.actors[a].process.remote(chunk)] = (chunk, a)
                    load[a] += 1
                if not pending:
                    break
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    chunk, a = pending.pop(ref)
                    load[a] -= 1
                    try:
                        yield from ray.get(ref)
                    except (RayActorError, ActorUnavailableError) as exc:
                        # the actor died (or is restarting) holding these items: Ray restarts it, they go again
                        self.deaths += 1
                        for item in chunk:
                            result = feed.lost(item, f" ({type(exc).__name__})")
                            if result is not None:
                                yield result
        finally:
            self.resubmitted = feed.resubmitted
            if self.deaths:
                self.notes.append(f"{self.deaths} Ray task(s) lost to a dead worker; {feed.resubmitted} item(s) "
                                  "submitted again")
