"""3DDFA_V2's own FaceBoxes call next to ours on one 720p frame, calls interleaved, one process.

The reference detector's latency is stated as that of the original code (its ``FaceBoxes_ONNX`` class: Python
prior boxes on every call, ``np.float32`` preprocessing, an ONNX Runtime session with default options). This script
imports that class from a 3DDFA_V2 checkout **outside this repository** (nothing of it is copied here) and times it
against our detector's settings::

    taskset -c 0 python benchmarks/original_faceboxes.py --checkout DIR [--rounds 40]

``taskset -c 0`` gives every variant one core (the original session spins on all cores otherwise). The checkout's
``FaceBoxes/weights/`` needs ``FaceBoxesProd.pth`` (``--weights DIR`` copies it from e.g.
``../shared/data/reference/3ddfa_v2``); its ONNX file is exported there once with the checkout's own
``convert_to_onnx`` (TorchScript exporter). If the checkout's Cython NMS is not built, its pure-Python NMS (in the
same folder) stands in; NMS of the few boxes above 0.05 is a small part of the call either way.
"""
from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import time
import types
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def load_original(checkout: Path, weights: Path | None):
    """The checkout's ``FaceBoxes_ONNX`` instance (exports its ONNX file first if needed)."""
    fb = checkout / "FaceBoxes"
    if not (fb / "FaceBoxes_ONNX.py").exists():
        sys.exit(f"{checkout}: not a 3DDFA_V2 checkout (FaceBoxes/FaceBoxes_ONNX.py missing)")
    if weights is not None and not (fb / "weights" / "FaceBoxesProd.pth").exists():
        shutil.copy(weights / "FaceBoxesProd.pth", fb / "weights" / "FaceBoxesProd.pth")
    sys.path.insert(0, str(checkout))
    try:
        importlib.import_module("FaceBoxes.utils.nms.cpu_nms")
    except ImportError:  # Cython extension not built: the checkout's own Python NMS
        py = importlib.import_module("FaceBoxes.utils.nms.py_cpu_nms")
        stub = types.ModuleType("FaceBoxes.utils.nms.cpu_nms")
        stub.cpu_nms, stub.cpu_soft_nms = py.py_cpu_nms, None
        sys.modules["FaceBoxes.utils.nms.cpu_nms"] = stub
    import torch

    export = torch.onnx.export
    torch.onnx.export = lambda *a, **k: export(*a, **{**k, "dynamo": False})  # its code predates dynamo
    try:
        return importlib.import_module("FaceBoxes.FaceBoxes_ONNX").FaceBoxes_ONNX()
    finally:
        torch.onnx.export = export


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkout", required=True, type=Path, help="a 3DDFA_V2 checkout (outside this repository)")
    ap.add_argument("--weights", type=Path, help="folder with FaceBoxesProd.pth to copy into the checkout")
    ap.add_argument("--reference", type=Path, default=Path("../shared/data/reference/3ddfa_v2"),
                    help="3DDFA_V2 weights for the 'reference weights, our engine' row")
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()

    import cv2

    from tddfa.bench.scenes import load_face, scene
    from tddfa.runtime.registry import load_detector

    cv2.setNumThreads(1)
    img = scene(load_face(None), 1280, 720, 1)
    orig = load_original(args.checkout.resolve(), args.weights)
    variants = {"3DDFA_V2 FaceBoxes_ONNX, original code": lambda: orig(img)}
    specs = [("ours, reference weights", f"reference:{args.reference}", {}), ("ours, faceboxes", "default", {}),
             ("ours, faceboxes_int8", "faceboxes_int8", {}),
             ("ours, faceboxes, mirrored pass + voting", "default", {"flip": True, "box_voting": True}),
             ("ours, faceboxes_int8, mirrored pass + voting", "faceboxes_int8", {"flip": True, "box_voting": True})]
    for name, spec, kw in specs:
        if spec.startswith("reference:") and not args.reference.exists():
            continue
        d = load_detector(spec, **kw)
        variants[name] = (lambda d: lambda: d(img))(d)
    for f in variants.values():
        for _ in range(3):
            f()
    times: dict = {k: [] for k in variants}
    for _ in range(args.rounds):
        for k, f in variants.items():
            t0 = time.perf_counter()
            f()
            times[k].append((time.perf_counter() - t0) * 1e3)
    base = float(np.median(times["3DDFA_V2 FaceBoxes_ONNX, original code"]))
    print(f"1280x720 frame, {args.rounds} interleaved rounds, load average {os.getloadavg()[0]:.2f}")
    for k, v in times.items():
        med = float(np.median(v))
        print(f"  {k:<48} median {med:7.2f} ms  p90 {np.percentile(v, 90):7.2f}  ({med / base:.2f}x the original)")


if __name__ == "__main__":
    main()
