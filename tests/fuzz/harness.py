"""The fuzz harness (the ``fuzz`` fixture of conftest.py): every case must end in a result or a documented one-line error (a :class:`TddfaError` with
a documented exit code), under a time limit (a hang dumps the stacks and fails the run), with bounded memory,
and without partial files. ``--fuzz-cases N`` (tests/conftest.py) is shared out between the tests by weight;
the default N is the quick profile, derandomized so that CI sees the same cases each run.
"""
from __future__ import annotations

import contextlib
import faulthandler
import json
import resource
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
from hypothesis import HealthCheck, settings

from tddfa.errors import TddfaError
from tddfa.io.atomic import TMP_PREFIX

DOCUMENTED_CODES = {1, 2, 3, 4, 5, 6}  # docs/errors.md; 7 is an internal error: a crash
CASE_SECONDS = 120  # a hang, not a speed bar: the slowest quick case takes a few seconds on 2 busy cores
QUICK_MAX = 300  # up to this many cases: the quick profile (derandomized)
MEMORY_MB = 1500  # growth of the peak RSS over the first case's (models loaded once)

stats = {"cases": 0, "crashes": 0, "baseline_mb": None}


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


class Fuzz:
    """Case budget and checks, shared by the fuzz tests (the ``fuzz`` fixture)."""

    def __init__(self, total: int, quick: bool):
        self.total, self.quick = total, quick

    def n(self, weight: float, least: int = 1) -> int:
        """This test's share of ``--fuzz-cases``."""
        return max(least, round(self.total * weight))

    def settings(self, weight: float, least: int = 1) -> settings:
        return settings(max_examples=self.n(weight, least), deadline=None, database=None, derandomize=self.quick,
                        print_blob=True, suppress_health_check=list(HealthCheck))

    @contextlib.contextmanager
    def case(self) -> Iterator[None]:
        """One case: a hard time limit and the memory bound; counts it (and a crash when it raises)."""
        stats["cases"] += 1
        if stats["baseline_mb"] is None:
            stats["baseline_mb"] = peak_rss_mb()
        faulthandler.dump_traceback_later(CASE_SECONDS, exit=True)
        try:
            yield
        except BaseException:
            stats["crashes"] += 1
            raise
        finally:
            faulthandler.cancel_dump_traceback_later()
        grown = peak_rss_mb() - stats["baseline_mb"]
        assert grown < MEMORY_MB, f"peak memory grew by {grown:.0f} MB"

    def expect(self, fn: Callable, *args, **kwargs):
        """``fn(*args, **kwargs)`` inside :meth:`case`: its result, or the documented error it raised."""
        with self.case():
            try:
                return fn(*args, **kwargs)
            except TddfaError as exc:
                assert_documented(exc)
                return exc


def assert_documented(exc: TddfaError) -> None:
    msg = str(exc)
    assert msg and "\n" not in msg, f"not a one-line message: {msg!r}"
    assert exc.exit_code in DOCUMENTED_CODES, f"{type(exc).__name__} has exit code {exc.exit_code}"


def assert_no_partial_files(folder: Path, skip: tuple[str, ...] = ()) -> None:
    """No temporary file left, and every output file complete (it parses or decodes)."""
    for f in folder.rglob("*"):
        if not f.is_file() or f.is_symlink() or f.name in skip:  # inputs
            continue
        assert not f.name.startswith(TMP_PREFIX), f"temporary file left: {f}"
        suffix = f.suffix.lower()
        if suffix == ".json":
            json.loads(f.read_text())
        elif suffix == ".jsonl":
            for line in f.read_text().splitlines():
                json.loads(line)
        elif suffix in (".jpg", ".png"):
            assert cv2.imread(str(f), cv2.IMREAD_UNCHANGED) is not None, f"truncated image {f}"
        elif suffix == ".npy":
            np.load(f)
        elif suffix == ".ply":
            assert_complete_ply(f)
        elif suffix == ".obj":
            text = f.read_text()
            assert text.endswith("\n") and "\nf " in text, f"truncated OBJ {f}"
        elif suffix in (".mp4", ".avi"):
            cap = cv2.VideoCapture(str(f))
            ok = cap.read()[0]
            cap.release()
            assert ok, f"unreadable video {f}"


def assert_complete_ply(path: Path) -> None:
    data = path.read_bytes()
    head, _, body = data.partition(b"end_header\n")
    lines = head.decode("ascii").splitlines()
    nv = next(int(ln.split()[-1]) for ln in lines if ln.startswith("element vertex"))
    nf = next(int(ln.split()[-1]) for ln in lines if ln.startswith("element face"))
    per_vertex = 12 + (3 if "property uchar red" in lines else 0)
    assert len(body) == nv * per_vertex + nf * 13, f"truncated PLY {path}"
