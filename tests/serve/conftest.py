"""Fixtures for the server tests: one real FaceAligner per session, an in-process client, a live loopback server."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


@pytest.fixture(scope="session")
def aligner():
    from tddfa.api import FaceAligner
    from tddfa.errors import ModelNotAvailableError

    try:
        return FaceAligner()
    except ModelNotAvailableError as exc:
        pytest.skip(f"default models not available: {exc}")


@pytest.fixture(scope="session")
def app(aligner):
    pytest.importorskip("fastapi", reason="tddfa serve needs the web extra (pip install 'tddfa[web]')")
    from tddfa.serve import create_app

    return create_app(aligner)


@pytest.fixture(scope="session")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def example_bytes() -> bytes:
    return EXAMPLE.read_bytes()


class LiveServer:
    """uvicorn serving ``app`` on a free 127.0.0.1 port in a thread (stopped by :meth:`stop`)."""

    def __init__(self, app):
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


@pytest.fixture(scope="module")
def live_url(app):
    pytest.importorskip("uvicorn")
    server = LiveServer(app)
    yield server.url
    server.stop()
