"""The done-ledger of a batch job: one shard per finished item in ``DIR/.tddfa-batch/``, each written atomically.

Layout::

    DIR/.tddfa-batch/job.json             the options and inputs the job was made with (a resume must match)
    DIR/.tddfa-batch/lock                 held (flock) while a run writes into DIR
    DIR/.tddfa-batch/items/ab/<key>.ok    an item that succeeded: its face rows (Arrow IPC, see table.to_ipc)
    DIR/.tddfa-batch/items/ab/<key>.err   an item that failed: one JSON object {item, reason, message}

``<key>`` hashes the item's position and name, so an item is done exactly when its shard exists: a run killed at
any moment leaves every shard whole or absent, and the next run redoes only the items without one. An item
that failed and then succeeded (``--retry-failed``) has its ``.ok`` written before its ``.err`` is removed; the
``.ok`` wins when both exist.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path

from ..errors import UsageError
from ..io.atomic import TMP_PREFIX, write_bytes, write_text
from .inputs import Item

LEDGER_DIR = ".tddfa-batch"
JOB_VERSION = 1


def item_key(item: Item) -> str:
    return hashlib.sha1(f"{item.index}\0{item.item}".encode()).hexdigest()[:24]


class Ledger:
    """The ledger of the job in ``out_dir``: :meth:`open` it (checks options, takes the lock) before use."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.root = self.out_dir / LEDGER_DIR
        self.items = self.root / "items"
        self._lock_fd: int | None = None

    # --- job ------------------------------------------------------------------------------------------------
    def open(self, settings: dict) -> bool:
        """Create or resume the job; returns True on a resume. :class:`UsageError` when ``out_dir`` holds a job
        with other ``settings`` or another run is writing into it."""
        self.items.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise UsageError(f"{self.out_dir}: another tddfa batch is writing into this folder") from None
        self._lock_fd = fd
        job = self.root / "job.json"
        want = {"version": JOB_VERSION, **settings}
        if job.exists():
            have = json.loads(job.read_text())
            if have != want:
                diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
                self.close()
                raise UsageError(f"{self.out_dir}: made by a batch job with other options or inputs "
                                 f"({', '.join(diff)} differ); give a new --out folder, or delete this one")
            sweep_temp(self.out_dir)  # a killed run's half-written temporary files
            return True
        write_text(job, json.dumps(want, indent=1, sort_keys=True))
        return False

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    # --- items ----------------------------------------------------------------------------------------------
    def _base(self, item: Item) -> Path:
        key = item_key(item)
        return self.items / key[:2] / key

    def state(self, item: Item) -> str | None:
        """``"ok"``, ``"failed"`` or None (not done)."""
        base = self._base(item)
        if os.path.exists(f"{base}.ok"):
            return "ok"
        if os.path.exists(f"{base}.err"):
            return "failed"
        return None

    def commit_ok(self, item: Item, payload: bytes) -> None:
        base = self._base(item)
        base.parent.mkdir(exist_ok=True)
        write_bytes(f"{base}.ok", payload)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{base}.err")

    def commit_failed(self, item: Item, reason: str, message: str) -> None:
        base = self._base(item)
        base.parent.mkdir(exist_ok=True)
        write_text(f"{base}.err", json.dumps({"item": item.item, "reason": reason, "message": message}))

    def read_ok(self, item: Item) -> bytes:
        return Path(f"{self._base(item)}.ok").read_bytes()

    def read_failed(self, item: Item) -> dict:
        return json.loads(Path(f"{self._base(item)}.err").read_text())


def sweep_temp(folder: Path) -> int:
    """Remove the atomic writers' leftover temporary files below ``folder`` (a run killed mid-write leaves them)."""
    n = 0
    for root, _, files in os.walk(folder):
        for f in files:
            if f.startswith(TMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(root, f))
                    n += 1
    return n
