"""A small bounded load test on loopback: 40 requests at concurrency 8, no failures (no timing asserted)."""
import asyncio

import pytest

httpx = pytest.importorskip("httpx")


def test_40_requests_at_concurrency_8(live_url, example_bytes):
    async def run():
        sem = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=live_url, timeout=120) as c:
            async def one():
                async with sem:
                    return await c.post("/v1/align", files={"file": ("astronaut.jpg", example_bytes)})
            responses = await asyncio.gather(*(one() for _ in range(40)))
            return responses, await c.get("/healthz")

    responses, health = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * 40
    assert len({len(r.json()["faces"]) for r in responses}) == 1  # one shared aligner, same answer every time
    assert health.status_code == 200 and health.json()["pending"] == 0
