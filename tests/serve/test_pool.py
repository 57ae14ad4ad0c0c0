"""The bounded worker pool on its own: results, the capacity, and serving again after a shutdown."""
import asyncio
import threading

import pytest

from tddfa.serve.limits import RequestError
from tddfa.serve.pool import WorkerPool


def test_runs_reports_queue_wait_and_restarts_after_shutdown():
    pool = WorkerPool(workers=1, queue=0)
    out = asyncio.run(pool.run(lambda queued_ms: ("done", queued_ms >= 0), timeout=10))
    assert out == ("done", True) and pool.pending == 0
    pool.shutdown()  # as when an app's server stops; the same app may be served again
    assert asyncio.run(pool.run(lambda q: 7, timeout=10)) == 7
    pool.shutdown()


def test_capacity_is_workers_plus_queue():
    pool = WorkerPool(workers=1, queue=1)
    gate = threading.Event()

    async def scenario():
        tasks = [asyncio.create_task(pool.run(lambda q: gate.wait(10), timeout=10)) for _ in range(2)]
        await asyncio.sleep(0)  # both are admitted before the third asks
        with pytest.raises(RequestError) as info:
            await pool.run(lambda q: None, timeout=10)
        gate.set()
        return info.value, await asyncio.gather(*tasks)

    try:
        err, results = asyncio.run(scenario())
    finally:
        gate.set()
        pool.shutdown()
    assert (err.status, err.code) == (503, "busy") and results == [True, True]


def test_bad_sizes():
    with pytest.raises(ValueError):
        WorkerPool(workers=0, queue=1)
