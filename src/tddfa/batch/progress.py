"""Progress on stderr: a tqdm bar (rate, ETA) on a terminal, else one line every ``interval`` seconds; and the
closing summary line shared with ``tddfa IMAGE...``."""
from __future__ import annotations

import sys
import time


def summary_line(ok: int, failed: int, skipped: int, faces: int, rate: float) -> str:
    """``N ok, M failed, K skipped, F faces, X items/s``."""
    return f"{ok} ok, {failed} failed, {skipped} skipped, {faces} faces, {rate:.1f} items/s"


def _eta(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """Counts the items of this run as they finish; ``total`` (items to do, None: unknown) gives the ETA."""

    def __init__(self, total: int | None, quiet: bool = False, interval: float = 10.0, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.done, self.failed, self.interval = total, 0, 0, interval
        self.start = self.last = time.perf_counter()
        self.bar = None
        if not quiet and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="item", file=self.stream, dynamic_ncols=True, smoothing=0.1)

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += bool(failed)
        if self.bar is not None:
            self.bar.update(1)
            if failed:
                self.bar.set_postfix(failed=self.failed, refresh=False)
            return
        now = time.perf_counter()
        if now - self.last >= self.interval:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            left = f", ETA {_eta((self.total - self.done) / rate)}" if self.total and rate > 0 else ""
            of = f"/{self.total}" if self.total else ""
            print(f"tddfa batch: {self.done}{of} items, {self.failed} failed, {rate:.1f} items/s{left}",
                  file=self.stream, flush=True)

    def write(self, line: str) -> None:
        """A message line that never breaks the bar."""
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    @property
    def rate(self) -> float:
        return self.done / max(time.perf_counter() - self.start, 1e-9)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
