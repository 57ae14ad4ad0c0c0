"""``tddfa serve --port 0`` as a subprocess: it prints its URL and answers /healthz there."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="tddfa serve needs the web extra")
httpx = pytest.importorskip("httpx")
ROOT = Path(__file__).resolve().parents[2]


def test_serve_prints_its_url_and_answers_healthz(bfm):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "tddfa", "serve", "--port", "0", "--no-warm-up"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url = None
        lines = []
        for line in proc.stdout:  # the URL line comes before uvicorn starts
            lines.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            if m:
                url = m.group(1)
                break
        assert url, "".join(lines)
        for _ in range(300):  # until uvicorn accepts connections (bounded: 30 s)
            try:
                r = httpx.get(f"{url}/healthz", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert httpx.get(f"{url}/v1/models", timeout=5).json()["dense"] is True
    finally:
        proc.terminate()
        proc.wait(30)
