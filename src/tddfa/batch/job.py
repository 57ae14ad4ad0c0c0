"""The batch driver: plan (which items the ledger already holds), run the rest on an engine, commit each result
to the ledger as it arrives, then merge every shard into ``faces.parquet`` / ``errors.jsonl`` in input order.

Three streaming passes over the inputs (count, run, merge) and nothing per item kept in memory, so a job of a
million items runs in the memory of a job of a thousand. The merged files are rebuilt from the ledger on every
complete run, so an interrupted run followed by a re-run gives the same files as one uninterrupted run.
"""
from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..io.atomic import atomic_path
from .inputs import iter_items
from .ledger import Ledger
from .progress import Progress, summary_line
from .table import FACE_SCHEMA, VERTEX_SCHEMA, from_ipc
from .worker import ItemResult

FACES_FILE, ERRORS_FILE, VERTICES_FILE = "faces.parquet", "errors.jsonl", "vertices.parquet"
# the merge writes a row group once this many rows or item tables are buffered: its memory stays flat (one small
# Arrow table per item has kilobytes of overhead: 10,000 of them buffered cost ~150 MB)
ROW_GROUP, MAX_TABLES = 4096, 512


@dataclass
class Summary:
    """The job's totals after a run: ``ok`` + ``failed`` items in all (``skipped`` of them done by an earlier
    run), ``faces`` rows, this run's ``processed`` items over ``seconds``; ``complete`` False when interrupted."""

    ok: int = 0
    failed: int = 0
    skipped: int = 0
    faces: int = 0
    processed: int = 0
    seconds: float = 0.0
    complete: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return summary_line(self.ok, self.failed, self.skipped, self.faces, self.rate)


def run_job(inputs: Sequence[str], out_dir: str | Path, engine, settings: dict, retry_failed: bool = False,
            vertices: bool = False, quiet: bool = False, on_result: Callable[[ItemResult], None] | None = None,
            progress_interval: float = 10.0) -> Summary:
    """Run ``engine`` (``LocalEngine`` / ``RayEngine``) over ``inputs`` into ``out_dir``. ``settings``: what makes
    the job's results (options and inputs); a resume with other settings is refused (:class:`UsageError`)."""
    out_dir = Path(out_dir)
    ledger = Ledger(out_dir)
    ledger.open(settings)
    summary = Summary()
    try:
        def to_run(item) -> bool:
            state = ledger.state(item)
            return state is None or (state == "failed" and retry_failed)

        todo = 0
        for item in iter_items(inputs, out_dir):  # plan: nothing kept, just counted
            if to_run(item):
                todo += 1
            else:
                summary.skipped += 1

        progress = Progress(todo, quiet=quiet, interval=progress_interval)
        last = progress.start
        try:
            for result in engine.run(it for it in iter_items(inputs, out_dir) if to_run(it)):
                if result.status == "ok":
                    ledger.commit_ok(result.item, result.payload)
                else:
                    ledger.commit_failed(result.item, result.reason, result.message)
                    progress.write(f"tddfa: {result.message} [{result.reason}]")
                summary.processed += 1
                last = time.perf_counter()
                progress.update(result.status != "ok")
                if on_result is not None:
                    on_result(result)
        except KeyboardInterrupt:
            summary.complete = False
        finally:
            progress.close()
            # the rate's clock: from the start (workers' start-up included) to the last result (not the shutdown)
            summary.seconds = last - progress.start
            summary.notes += getattr(engine, "notes", [])
        if summary.complete:
            summary.ok, summary.failed, summary.faces = merge(ledger, inputs, out_dir, vertices)
    finally:
        ledger.close()
    return summary


def merge(ledger: Ledger, inputs: Sequence[str], out_dir: Path, vertices: bool = False) -> tuple[int, int, int]:
    """Every item's shard, in input order, into ``faces.parquet`` (and ``vertices.parquet``) and
    ``errors.jsonl``, each written atomically. Returns ``(ok items, failed items, face rows)``."""
    ok = failed = rows = 0
    with contextlib.ExitStack() as stack:
        fpath = stack.enter_context(atomic_path(out_dir / FACES_FILE))
        epath = stack.enter_context(atomic_path(out_dir / ERRORS_FILE))
        fw = pq.ParquetWriter(fpath, FACE_SCHEMA)
        vw = None
        if vertices:
            vw = pq.ParquetWriter(stack.enter_context(atomic_path(out_dir / VERTICES_FILE)), VERTEX_SCHEMA)
        buf: list[pa.Table] = []
        vbuf: list[pa.Table] = []
        nbuf = 0
        with open(epath, "w", encoding="utf-8") as ef:
            for item in iter_items(inputs, out_dir):
                state = ledger.state(item)
                if state == "ok":
                    tables = from_ipc(ledger.read_ok(item))
                    ok += 1
                    buf.append(tables["faces"])
                    nbuf += tables["faces"].num_rows
                    if vw is not None and "vertices" in tables:
                        vbuf.append(tables["vertices"])
                elif state == "failed":
                    failed += 1
                    ef.write(json.dumps(ledger.read_failed(item)) + "\n")
                else:  # the run was complete: a missing shard is a bug, not a silent gap
                    raise RuntimeError(f"{item.item}: no ledger entry after a complete run")
                if nbuf >= ROW_GROUP or len(buf) >= MAX_TABLES:
                    rows += _flush(fw, buf, vw, vbuf)
                    nbuf = 0
            rows += _flush(fw, buf, vw, vbuf)
        fw.close()
        if vw is not None:
            vw.close()
    if not vertices:
        (out_dir / VERTICES_FILE).unlink(missing_ok=True)
    return ok, failed, rows


def _flush(fw, buf: list, vw, vbuf: list) -> int:
    n = 0
    if buf:
        t = pa.concat_tables(buf)
        n = t.num_rows
        if n:
            fw.write_table(t, row_group_size=max(n, 1))
    if vw is not None and vbuf:
        vt = pa.concat_tables(vbuf)
        if vt.num_rows:
            vw.write_table(vt)
    buf.clear()
    vbuf.clear()
    return n
