"""One benchmark process: every stage at one thread setting (or the default-options baseline).

Run as ``python -m tddfa.bench.worker CONFIG.json``; prints one JSON object on stdout. The parent sets
``OMP_NUM_THREADS`` & co. in the environment before this process imports numpy, so a thread setting
covers ONNX Runtime, OpenCV and BLAS alike. A stage that cannot run is reported as
``{"error": reason}``; it never stops the others.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .roofline import gemm_peak_gmacs
from .scenes import SIZES, load_face, scene
from .timing import measure


def _safe(results: dict, name: str, fn: Callable[[], dict]) -> None:
    try:
        results[name] = fn()
    except Exception as exc:  # a missing model or module must not stop the other stages
        results[name] = {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"}
        if os.environ.get("TDDFA_BENCH_DEBUG"):
            traceback.print_exc()


def _default_session(path: str | Path):
    """A session with ONNX Runtime's default options: the baseline every ratio is measured against."""
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _tile_boxes(img_w: int, img_h: int, n: int) -> np.ndarray:
    """Face boxes of the frames of :func:`scene` when no detector is available (the inner face region)."""
    side = int(min(0.8 * img_h, 0.95 * img_w / n))
    gap = (img_w - n * side) // (n + 1)
    y = (img_h - side) // 2
    boxes = [[gap + i * (side + gap) + 0.3 * side, y + 0.25 * side, gap + i * (side + gap) + 0.7 * side,
              y + 0.7 * side] for i in range(n)]
    return np.asarray(boxes, np.float32)


def run_stages(cfg: dict) -> dict:
    from ..api import FaceAligner
    from ..geometry import crop_faces, normalize, roi_from_box
    from ..reconstruct import reconstruct
    from ..runtime.regressor import regress

    threads = int(cfg.get("threads") or 1)
    baseline = bool(cfg.get("baseline"))
    # the fast setting's baseline runs the FP32 files its INT8 models were made from
    fp32 = (cfg.get("baseline_models") or {}) if baseline else {}
    budget = float(cfg.get("budget_s", 1.0))
    if not baseline:
        cv2.setNumThreads(threads)
    res: dict = {}
    info: dict = {"threads": None if baseline else threads, "baseline": baseline}

    face = load_face(cfg.get("face"))
    frames = {k: scene(face, w, h, 1) for k, (w, h) in SIZES.items()}
    frame4 = scene(face, *SIZES["720p"], n_faces=4)

    if not baseline:
        def decode() -> dict:
            with tempfile.TemporaryDirectory() as d:
                p = Path(d) / "frame.jpg"
                cv2.imwrite(str(p), frames["720p"], [cv2.IMWRITE_JPEG_QUALITY, 90])
                from ..io.images import read_image

                return measure(lambda: read_image(p), budget)
        _safe(res, "decode_720p", decode)

    # --- detector ---
    det = None
    if cfg.get("detector"):
        try:
            from ..runtime.registry import load_detector

            det = load_detector(fp32.get("detector") or cfg["detector"], threads=threads)
            if baseline:
                det.session = _default_session(det.onnx_path)
                det.input_name = det.session.get_inputs()[0].name
        except Exception as exc:
            info["detector_error"] = f"{type(exc).__name__}: {exc}"
    det_reason = {"error": info.get("detector_error") or cfg.get("detector_error") or "no detector"}
    for key in SIZES:
        if det is None:
            res[f"detect_{key}"] = det_reason
        else:
            _safe(res, f"detect_{key}", lambda f=frames[key]: {**measure(lambda: det(f), budget),
                                                                 "faces": int(len(det(f)))})

    if cfg.get("detector_compare") and det is not None and not baseline:
        def compare() -> dict:
            from ..runtime.registry import load_detector

            other = load_detector(cfg["detector_compare"], threads=threads)
            return {**measure(lambda: other(frames["720p"]), budget), "faces": int(len(other(frames["720p"])))}
        _safe(res, f"detect_720p_{cfg['detector_compare']}", compare)

    # boxes of the faces in the 720p frames: detected when possible, else where the scene put them
    def boxes_of(img: np.ndarray, n: int) -> np.ndarray:
        if det is not None:
            d = det(img)
            if len(d) >= n:
                return d[:n, :4]
        return _tile_boxes(img.shape[1], img.shape[0], n)

    rois1 = roi_from_box(boxes_of(frames["720p"], 1))
    rois4 = roi_from_box(boxes_of(frame4, 4))
    if not baseline:
        _safe(res, "crop_1face", lambda: measure(lambda: normalize(crop_faces(frames["720p"], rois1)), budget))
        _safe(res, "crop_4faces", lambda: measure(lambda: normalize(crop_faces(frame4, rois4)), budget))

    # --- regression: the network alone, batches of real crops ---
    crops = normalize(crop_faces(frame4, rois4))
    for arch, spec in cfg.get("regressors", {}).items():
        for b in (1, 8, 32):
            name = f"regress_{arch}_b{b}"
            if "onnx" not in spec:
                res[name] = {"error": spec.get("error", "not available")}
                continue

            def one(b=b, spec=spec) -> dict:
                from ..runtime.onnx import make_session

                sess = _default_session(spec["onnx"]) if baseline else make_session(spec["onnx"], threads)
                x = np.ascontiguousarray(np.resize(crops, (b,) + crops.shape[1:]))
                inp = sess.get_inputs()[0].name
                return measure(lambda: sess.run(None, {inp: x}), budget)
            _safe(res, name, one)

    # --- pipeline (and, from its regressor, reconstruction and rendering) ---
    aligner = None
    try:
        no_det = (lambda img: np.zeros((0, 5), np.float32))
        refine = {k: cfg[k] for k in ("refine", "flip") if k in cfg}  # FaceAligner's own defaults otherwise
        aligner = FaceAligner(model=fp32.get("regressor") or cfg["regressor"],
                              detector=det if det is not None else no_det, threads=threads, **refine)
        info["regressor"] = aligner.spec.name
        if baseline:
            aligner.regressor.net.session = _default_session(aligner.spec.onnx)
            aligner.regressor.net.input_name = aligner.regressor.net.session.get_inputs()[0].name
    except Exception as exc:
        info["regressor_error"] = f"{type(exc).__name__}: {exc}"
    for key, img, n in (("pipeline_720p_1face", frames["720p"], 1), ("pipeline_720p_4faces", frame4, 4)):
        if aligner is None:
            res[key] = {"error": info["regressor_error"]}
        elif det is None:
            res[key] = {"error": f"needs a detector ({det_reason['error']})"}
        else:
            _safe(res, key, lambda img=img: {**measure(lambda: aligner(img), budget), "faces": len(aligner(img))})
    # INT8 rows: not run by the baseline, whose FP32 pipeline is what they are compared with (runner.INT8_BASELINE)
    if cfg.get("regressor_int8") and det is not None and not baseline:
        def pipe_int8(detector) -> dict:
            al8 = FaceAligner(model=cfg["regressor_int8"], detector=detector, threads=threads, **refine)
            return {**measure(lambda: al8(frames["720p"]), budget), "faces": len(al8(frames["720p"]))}
        _safe(res, "pipeline_720p_1face_int8", lambda: pipe_int8(det))
        if cfg.get("detector_int8"):
            from ..runtime.registry import load_detector

            det8 = load_detector(cfg["detector_int8"], threads=threads)
            _safe(res, "detect_720p_int8", lambda: {**measure(lambda: det8(frames["720p"]), budget),
                                                    "faces": int(len(det8(frames["720p"])))})
            _safe(res, "pipeline_720p_1face_int8det", lambda: pipe_int8(det8))
    if aligner is not None:
        # the pipeline minus detection: given boxes -> faces (crop, regression, sparse landmarks, pose)
        _safe(res, "align_given_box_720p_1face",
              lambda: measure(lambda: aligner.align(frames["720p"], rois=rois1), budget))
    if baseline or aligner is None:
        return {"stages": res, "info": info}

    params1 = regress(aligner.regressor, frames["720p"], rois1)
    fm, size = aligner.face_model, aligner.regressor.input_size
    _safe(res, "reconstruct_sparse_1face",
          lambda: measure(lambda: reconstruct(fm, params1, rois1, sparse=True, size=size), budget))

    dense: dict = {}

    def dense_stage() -> dict:
        from ..facemodel import load_bfm

        bfm = fm if fm.triangles.shape[0] else load_bfm()
        dense["bfm"] = bfm
        dense["v"] = reconstruct(bfm, params1, rois1, sparse=False, size=size)[0]
        return {**measure(lambda: reconstruct(bfm, params1, rois1, sparse=False, size=size), budget),
                "vertices": int(bfm.n_vertices)}
    _safe(res, "reconstruct_dense_1face", dense_stage)

    def render_stage() -> dict:
        """The ``3d`` output: shaded dense mesh alpha-blended over the 720p frame (as 3DDFA_V2's renderer)."""
        if "v" not in dense:
            raise RuntimeError("no dense vertices (see reconstruct_dense_1face)")
        import importlib

        render = importlib.import_module("tddfa.render")
        v, bfm, img = dense["v"], dense["bfm"], frames["720p"]
        render.warmup()  # JIT compilation is not part of the timing
        return {**measure(lambda: render.render_shaded(img, [v], bfm), budget),
                "triangles": int(bfm.triangles.shape[0]), "vertices": int(v.shape[0])}
    _safe(res, "render_dense_720p", render_stage)
    return {"stages": res, "info": info}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cfg = json.loads(Path(argv[0]).read_text())
    t0 = time.perf_counter()
    peak = [] if cfg.get("baseline") else [gemm_peak_gmacs()]
    out = run_stages(cfg)
    if peak:  # before and after the stages, in this process and thread setting: the less disturbed of the two
        out["info"]["gemm_peak_gmacs"] = round(max(peak + [gemm_peak_gmacs()]), 2)
    out["info"]["wall_s"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
