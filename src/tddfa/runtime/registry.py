"""One model registry: a name resolves to an ONNX file, its input spec and its parameter statistics.

* ``"default"``: the regressor we ship (``tddfa/models/default.json`` names it);
* a shipped name such as ``"tddfa_mb1"``: ``tddfa/models/<name>.onnx`` + ``<name>.json``;
* a path to a ``.onnx`` with a sibling ``.json``, or to a ``.pth`` of ours (needs torch);
* ``"reference:DIR"`` (or a directory): 3DDFA_V2's ``mb05_120x120.pth`` in DIR, exported once to ONNX
  in the cache (needs torch), with its 62-d whitening and its 68-keypoint basis.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelNotAvailableError, require
from ..facemodel import FaceModel, load_bfm, load_reference_keypoint_model
from ..facemodel.provision import cache_dir, safe_unpickle
from ..geometry.consistency import VERIFY_THRESHOLD
from ..geometry.roi import BOX_SCALE

NEEDS_TORCH = "loading a .pth checkpoint needs PyTorch: pip install 'tddfa[train]'"
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
# training checkpoints of the shipped models: in a source checkout only, never in the wheel (inference needs none)
CHECKPOINTS_DIR = Path(__file__).resolve().parents[3] / "checkpoints"


@dataclass
class RegressorSpec:
    name: str
    onnx: Path
    arch: str
    input_size: int
    param_mean: np.ndarray
    param_std: np.ndarray
    face_model: str  # "bfm" or "reference:DIR"
    card: str = ""
    roi_box_scale: float = BOX_SCALE  # detector box side -> crop side (see tddfa.geometry.roi_from_box)
    verify_threshold: float = VERIFY_THRESHOLD  # face/no-face re-crop test (see tddfa.train.verify_threshold)
    # trained on landmark ROIs (ours): a detector calibrated against them (``box_to_roi``) supplies the crop rule
    landmark_rois: bool = False

    def load_face_model(self) -> FaceModel:
        if self.face_model.startswith("reference:"):
            return load_reference_keypoint_model(self.face_model.split(":", 1)[1])
        return load_bfm()


def _from_json(js: Path, onnx: Path | None = None) -> RegressorSpec:
    cfg = json.loads(js.read_text())
    onnx = onnx or js.with_suffix(".onnx")
    if not onnx.exists():
        raise ModelNotAvailableError(f"{onnx} is missing (the model config {js.name} names it)")
    return RegressorSpec(name=cfg.get("name", js.stem), onnx=onnx, arch=cfg["arch"],
                         input_size=int(cfg.get("input_size", 120)),
                         param_mean=np.asarray(cfg["param_mean"], np.float32),
                         param_std=np.asarray(cfg["param_std"], np.float32),
                         face_model=cfg.get("face_model", "bfm"), card=cfg.get("card", ""),
                         roi_box_scale=float(cfg.get("roi_box_scale", BOX_SCALE)),
                         verify_threshold=float(cfg.get("verify_threshold", VERIFY_THRESHOLD)),
                         landmark_rois="roi_box_scale" in cfg)


def _reference_spec(ref_dir: Path) -> RegressorSpec:
    pth = ref_dir / "mb05_120x120.pth"
    if not pth.exists():
        raise ModelNotAvailableError(f"no mb05_120x120.pth in {ref_dir}")
    digest = hashlib.sha256(pth.read_bytes()).hexdigest()[:12]
    onnx = cache_dir() / "reference" / f"mb05_120x120_{digest}.onnx"
    if not onnx.exists():
        require("torch", NEEDS_TORCH)
        from ..nets import create_model
        from ..nets.checkpoint import load_checkpoint
        from .onnx import export_onnx

        export_onnx(load_checkpoint(create_model("mb05"), pth), onnx, (1, 3, 120, 120))
    stats = safe_unpickle((ref_dir / "param_mean_std_62d_120x120.pkl").read_bytes())
    return RegressorSpec(name="reference-mb05", onnx=onnx, arch="mb05", input_size=120,
                         param_mean=np.asarray(stats["mean"], np.float32),
                         param_std=np.asarray(stats["std"], np.float32), face_model=f"reference:{ref_dir}")


def resolve_regressor(spec: str | Path = "default") -> RegressorSpec:
    s = str(spec)
    if s.startswith("reference:"):
        return _reference_spec(Path(s.split(":", 1)[1]))
    p = Path(s)
    if p.is_dir():
        return _reference_spec(p)
    if s == "default":
        default = MODELS_DIR / "default.json"
        if not default.exists():
            raise ModelNotAvailableError(f"{default} is missing: the installation is incomplete (reinstall tddfa)")
        s = json.loads(default.read_text())["regressor"]
        p = Path(s)
    if p.suffix == ".onnx" and p.exists():
        return _from_json(p.with_suffix(".json"), p)
    if p.suffix == ".pth" and p.exists():
        return _spec_from_pth(p)
    shipped = MODELS_DIR / f"{s}.json"
    if shipped.exists():
        return _from_json(shipped)
    raise ModelNotAvailableError(f"unknown model {s!r}: not a shipped name, .onnx/.pth file or reference directory")


def _spec_from_pth(pth: Path) -> RegressorSpec:
    """Our own training checkpoints carry their config; export them to ONNX in the cache."""
    require("torch", NEEDS_TORCH)
    import torch

    from ..nets import create_model
    from .onnx import export_onnx

    ck = torch.load(pth, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or "config" not in ck:
        raise ModelNotAvailableError(f"{pth} is not a tddfa checkpoint (no 'config'); for 3DDFA_V2 weights use --reference")
    cfg = ck["config"]
    digest = hashlib.sha256(pth.read_bytes()).hexdigest()[:12]
    onnx = cache_dir() / "exported" / f"{pth.stem}_{digest}.onnx"
    if not onnx.exists():
        model = create_model(cfg["arch"])
        model.load_state_dict(ck["model"])
        export_onnx(model, onnx, (1, 3, cfg.get("input_size", 120), cfg.get("input_size", 120)))
    return RegressorSpec(name=pth.stem, onnx=onnx, arch=cfg["arch"], input_size=cfg.get("input_size", 120),
                         param_mean=np.asarray(cfg["param_mean"], np.float32),
                         param_std=np.asarray(cfg["param_std"], np.float32), face_model=cfg.get("face_model", "bfm"),
                         roi_box_scale=float(cfg.get("roi_box_scale", BOX_SCALE)), landmark_rois="roi_box_scale" in cfg)

