"""kill -9 in the middle of a job, then the same command again: the outputs of one uninterrupted run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from batch_media import BAD, errors, make_faces, rows

N_FACES = 60


def _cmd(out: str) -> list[str]:
    return [sys.executable, "-m", "tddfa", "batch", "photos", "--out", out, "-o", "json", "--quiet"]


def _env() -> dict:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def _files(out: Path) -> dict[str, bytes]:
    """Every output file but the ledger (whose lock and shards are bookkeeping)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and ".tddfa-batch" not in p.parts and p.suffix != ".parquet"}


def test_sigkill_mid_run_then_rerun_equals_an_uninterrupted_run(media, tmp_path):
    make_faces(media / "many", N_FACES)
    total = N_FACES + 4 + len(BAD)  # + a/face, b/face, b/brick, clip.avi
    full = subprocess.run(_cmd("full"), cwd=tmp_path, env=_env(), capture_output=True, text=True)
    assert full.returncode == 1, full.stderr  # the bad items

    proc = subprocess.Popen(_cmd("cut"), cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    shards = tmp_path / "cut" / ".tddfa-batch" / "items"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if shards.is_dir() and sum(len(os.listdir(d)) for d in shards.iterdir()) >= 0.4 * total:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    assert proc.wait() == -signal.SIGKILL, "the job ended before it could be killed"
    assert not (tmp_path / "cut" / "faces.parquet").exists()

    again = subprocess.run(_cmd("cut"), cwd=tmp_path, env=_env(), capture_output=True, text=True)
    assert again.returncode == 1, again.stderr
    summary = again.stderr.strip().splitlines()[-1]
    ok, failed, skipped = (int(summary.split(", ")[i].split()[0]) for i in range(3))
    assert ok + failed == total and 0 < skipped < total, summary
    assert rows(tmp_path / "cut") == rows(tmp_path / "full")
    assert errors(tmp_path / "cut") == errors(tmp_path / "full") and len(errors(tmp_path / "full")) == len(BAD)
    assert _files(tmp_path / "cut") == _files(tmp_path / "full")  # the per-item outputs, no temporary files left
