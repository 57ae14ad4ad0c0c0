"""``tddfa serve`` under load (a benchmark, not a test): N ``POST /v1/align`` requests at concurrency C to a
server on 127.0.0.1, against N direct :class:`tddfa.FaceAligner` calls on the same image in the same run.

The server runs as ``tddfa serve --port 0`` in a subprocess (its own interpreter, as users run it); the direct
calls run in this process while the server is idle. Both sides use the default models, one ONNX Runtime thread
and one worker, so the ratio is the cost of HTTP, multipart parsing, the header check, decoding and JSON on top
of the model. The two sides alternate in halves (direct, server, direct, server) so that drift in the machine's
load falls on both. Latency is per request as the client sees it (with C in flight it includes the queue).

    OMP_NUM_THREADS=1 python benchmarks/bench_serve.py [--n 300] [--concurrency 8] [--workers 1]

Traffic goes to 127.0.0.1 only; the run is bounded by --n and by --timeout per request.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "astronaut.jpg"


def start_server(workers: int, queue: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "tddfa", "serve", "--host", "127.0.0.1", "--port", "0",
                             "--workers", str(workers), "--queue", str(queue), "--no-access-log"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    for line in proc.stdout:
        m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        if m:
            return proc, m.group(1)
    raise RuntimeError(f"tddfa serve exited with {proc.wait()}")


async def load(url: str, data: bytes, n: int, concurrency: int, timeout: float) -> tuple[list[float], int, float]:
    """``n`` requests, ``concurrency`` in flight: (latencies in ms of the good ones, failures, wall seconds)."""
    import httpx

    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    failures = 0
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
        for _ in range(300):  # until uvicorn accepts connections (bounded)
            try:
                await client.get("/healthz")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)

        async def one() -> None:
            nonlocal failures
            async with sem:
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/align", files={"file": ("astronaut.jpg", data, "image/jpeg")})
                    ok = r.status_code == 200 and len(r.json()["faces"]) >= 1
                except httpx.HTTPError:
                    ok = False
                if ok:
                    lat.append((time.perf_counter() - t0) * 1e3)
                else:
                    failures += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return lat, failures, time.perf_counter() - t0


def direct(aligner, img: np.ndarray, n: int) -> tuple[list[float], float]:
    lat = []
    t0 = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        aligner(img)
        lat.append((time.perf_counter() - t) * 1e3)
    return lat, time.perf_counter() - t0


def pct(v: list[float], q: float) -> float:
    return float(np.percentile(v, q)) if v else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="requests, and direct calls (default 300)")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    ap.add_argument("--workers", type=int, default=1, help="server workers (default 1, like the direct loop)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from tddfa.api import FaceAligner
    from tddfa.io.images import read_image

    data = EXAMPLE.read_bytes()
    img = read_image(EXAMPLE)
    aligner = FaceAligner(threads=1)
    direct(aligner, img, 5)  # warm-up: model load, first-call allocations
    proc, url = start_server(args.workers, queue=max(16, args.concurrency))
    try:
        asyncio.run(load(url, data, 2 * args.concurrency, args.concurrency, args.timeout))  # warm-up
        halves = [args.n // 2, args.n - args.n // 2]
        d_lat, d_s, s_lat, s_s, failures = [], 0.0, [], 0.0, 0
        for h in halves:
            lat, sec = direct(aligner, img, h)
            d_lat += lat
            d_s += sec
            lat, fail, sec = asyncio.run(load(url, data, h, args.concurrency, args.timeout))
            s_lat += lat
            s_s += sec
            failures += fail
    finally:
        proc.terminate()
        proc.wait(30)
    out = {"n": args.n, "concurrency": args.concurrency, "workers": args.workers, "failures": failures,
           "direct": {"per_s": args.n / d_s, "p50_ms": pct(d_lat, 50), "p99_ms": pct(d_lat, 99)},
           "server": {"per_s": args.n / s_s, "p50_ms": pct(s_lat, 50), "p99_ms": pct(s_lat, 99)}}
    out["throughput_ratio"] = out["server"]["per_s"] / out["direct"]["per_s"]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
