"""Overlap decoding and encoding with inference: OpenCV releases the GIL while it decodes/encodes, so on a 2-core
machine a reader thread and a writer thread run next to the network instead of in turn."""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator

_END = object()


def prefetch(items: Iterable, depth: int = 4) -> Iterator:
    """Iterate ``items`` in a background thread, ``depth`` ahead. Exceptions are re-raised in the consumer."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for x in items:
                while not stop.is_set():
                    try:
                        q.put(x, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    t = threading.Thread(target=work, daemon=True, name="tddfa-reader")
    t.start()
    try:
        while True:
            x = q.get()
            if x is _END:
                return
            if isinstance(x, BaseException):
                raise x
            yield x
    finally:
        stop.set()
        t.join(timeout=5)


class BackgroundWriter:
    """Calls ``write(item)`` in a worker thread (bounded queue); ``close()`` drains it, then calls ``on_close``.
    An error in the worker is re-raised by the next ``put`` or by ``close``."""

    def __init__(self, write: Callable, on_close: Callable | None = None, depth: int = 8):
        self._write, self._on_close = write, on_close
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._err: BaseException | None = None
        self._t = threading.Thread(target=self._work, daemon=True, name="tddfa-writer")
        self._t.start()
        self._closed = False

    def _work(self) -> None:
        while True:
            x = self._q.get()
            if x is _END:
                return
            if self._err is None:
                try:
                    self._write(x)
                except BaseException as exc:  # noqa: BLE001 - handed to the producer
                    self._err = exc

    def put(self, item) -> None:
        if self._err is not None:
            raise self._err
        self._q.put(item)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._q.put(_END)
        self._t.join()
        try:
            if self._on_close is not None:
                self._on_close()
        finally:
            if self._err is not None:
                raise self._err
