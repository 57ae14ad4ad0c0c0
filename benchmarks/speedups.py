"""Measure candidate speed-ups one by one; each is used only if it measures faster.

    python benchmarks/speedups.py --reference ../shared/data/reference/3ddfa_v2 [--only optlevel,int8,int8det,...]

Experiments (each prints its own table; ``--json OUT`` collects them):

* ``optlevel``  ONNX Runtime graph optimisation levels (regressors batch 1, detector at 720p), 1 thread;
* ``batching``  four faces as one batch-4 call versus four batch-1 calls;
* ``spinning``  the whole pipeline with intra-op spinning on/off at 1 and 2 threads (one process per setting,
                because spinning threads of one setting would steal the CPU from the next);
* ``detsize``   the detector's input size policy: speed at 720p and a recall proxy (300W train photos pasted
                into 720p frames); AFW recall is measured by ``tddfa eval detection``;
* ``int8``      static INT8 quantization of the regressors (calibrated on 300W **train** crops): speed, and the
                landmark NME change on the 300W **test** crops (AFLW2000-3D is left to ``tddfa eval aflw2000``);
* ``int8det``   static INT8 quantization of the detector (calibrated on training mosaics of 300W **train**
                faces), timed at 1080x607 next to FP32; AFW recall: ``tddfa eval detection --weights`` the file it
                writes (printed);
* ``detvote``   the detector's options ``box_voting`` and ``flip`` (mirrored pass), whole call at 720p;
* ``openvino``  the same ONNX files on OpenVINO's CPU plugin (if ``openvino`` is installed), 1 thread.

Variants inside an experiment run interleaved (round-robin, several rounds), so that the load of a shared
machine hits every variant alike; medians and p90 in ms. The load average is printed with each table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_k, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TDDFA_SHARED", ROOT.parent / "shared" / "data"))


def interleaved(fns: dict, rounds: int = 20, per: int = 5, warmup: int = 3) -> dict:
    """Median / p90 (ms) of each callable, run round-robin."""
    for f in fns.values():
        for _ in range(warmup):
            f()
    ts: dict = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            for _ in range(per):
                t0 = time.perf_counter()
                f()
                ts[k].append((time.perf_counter() - t0) * 1e3)
    return {k: {"median": round(float(np.median(v)), 3), "p90": round(float(np.percentile(v, 90)), 3)}
            for k, v in ts.items()}


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def show(title: str, res: dict, base: str | None = None) -> None:
    print(f"\n## {title}  (load average {load()})")
    for k, v in res.items():
        ratio = f"  {res[base]['median'] / v['median']:.2f}x" if base and base in res else ""
        print(f"  {k:<44} median {v['median']:8.3f}  p90 {v['p90']:8.3f}{ratio}")


def session(path, threads: int = 1, level: str = "ENABLE_ALL", spinning: bool = False):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, f"ORT_{level}")
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def runner(sess, x):
    name = sess.get_inputs()[0].name
    return lambda: sess.run(None, {name: x})


def models(reference: str) -> dict:
    """FP32 ONNX files: shipped models when present, else the reference mb05 and an untrained mb1 (speed only)."""
    from tddfa.bench.runner import resolve_models

    cfg = resolve_models(reference)
    out = {a: v["onnx"] for a, v in cfg["regressors"].items() if "onnx" in v}
    out["labels"] = {a: v.get("weights") for a, v in cfg["regressors"].items()}
    if cfg.get("detector"):
        from tddfa.runtime.registry import load_detector

        out["detector"] = str(load_detector(cfg["detector"]).onnx_path)
    out["detector_spec"], out["regressor_spec"] = cfg.get("detector"), cfg.get("regressor")
    return out


def frame_720p() -> np.ndarray:
    from tddfa.bench.scenes import load_face, scene

    return scene(load_face(), 1280, 720, 1)


def det_blob(img: np.ndarray) -> np.ndarray:
    """The detector's network input for ``img``, resized by its default input policy."""
    import cv2

    from tddfa.detect.faceboxes import BGR_MEAN, InputPolicy

    s = InputPolicy().scale(*img.shape[:2])
    small = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)))
    return cv2.dnn.blobFromImage(small, 1.0, mean=BGR_MEAN)


def crops_batch(n: int) -> np.ndarray:
    """Normalised real crops of the example face (jittered), ``(n, 3, 120, 120)``."""
    import cv2

    from tddfa.bench.scenes import load_face
    from tddfa.geometry import normalize

    face, rng = load_face(), np.random.default_rng(0)
    out = []
    for _ in range(n):
        s = int(rng.uniform(0.6, 0.9) * face.shape[0])
        x, y = rng.integers(0, face.shape[1] - s + 1), rng.integers(0, face.shape[0] - s + 1)
        out.append(cv2.resize(face[y:y + s, x:x + s], (120, 120)))
    return normalize(np.stack(out))


# ---------------------------------------------------------------- experiments
def exp_optlevel(m: dict, rounds: int) -> dict:
    res = {}
    x = crops_batch(1)
    for arch in ("mb05", "mb1"):
        if arch in m:
            fns = {f"{arch} b1 {lv}": runner(session(m[arch], level=lv), x)
                   for lv in ("DISABLE_ALL", "ENABLE_BASIC", "ENABLE_EXTENDED", "ENABLE_LAYOUT", "ENABLE_ALL")}
            r = interleaved(fns, rounds)
            show(f"graph optimisation level, {arch}, 1 thread", r, f"{arch} b1 DISABLE_ALL")
            res.update(r)
    if "detector" in m:
        blob = det_blob(frame_720p())
        fns = {f"faceboxes 720p {lv}": runner(session(m["detector"], level=lv), blob)
               for lv in ("DISABLE_ALL", "ENABLE_BASIC", "ENABLE_EXTENDED", "ENABLE_LAYOUT", "ENABLE_ALL")}
        r = interleaved(fns, max(rounds // 4, 3), per=2)
        show("graph optimisation level, FaceBoxes at 720p (1080x607 network input), 1 thread", r,
             "faceboxes 720p DISABLE_ALL")
        res.update(r)
    return res


def exp_batching(m: dict, rounds: int) -> dict:
    res = {}
    x4 = crops_batch(4)
    for arch in ("mb05", "mb1"):
        if arch not in m:
            continue
        s = session(m[arch])
        one = runner(s, x4)
        singles = [runner(s, x4[i:i + 1]) for i in range(4)]
        r = interleaved({f"{arch} 4 faces: 4 x batch-1": lambda: [f() for f in singles],
                         f"{arch} 4 faces: 1 x batch-4": one}, rounds)
        show(f"batching the faces of a frame, {arch}, 1 thread", r, f"{arch} 4 faces: 4 x batch-1")
        res.update(r)
    return res


def _pipeline_child(spec: dict) -> dict:
    """In a fresh process: the whole pipeline (720p, 1 face) with the given session options."""
    import onnxruntime as ort

    from tddfa.api import FaceAligner
    from tddfa.bench.timing import measure
    from tddfa.runtime.registry import load_detector

    t = spec["threads"]
    import cv2

    cv2.setNumThreads(t)
    det = load_detector(spec["detector"], threads=t)
    al = FaceAligner(model=spec["regressor"], detector=det, threads=t)
    if spec["mode"] != "tddfa":
        so = ort.SessionOptions()
        if spec["mode"] == "spinning_on":
            so.intra_op_num_threads = t
        so.add_session_config_entry("session.intra_op.allow_spinning", "1")
        for holder, path in ((det, det.onnx_path), (al.regressor.net, al.spec.onnx)):
            holder.session = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    img = frame_720p()
    return measure(lambda: al(img), budget_s=spec["budget"], min_repeat=15)


def exp_spinning(m: dict, rounds: int) -> dict:
    if not m.get("detector_spec") or not m.get("regressor_spec"):
        print("\n## spinning: skipped (needs a detector and a regressor)")
        return {}
    res = {}
    modes = [("tddfa", "spinning off (tddfa default)"), ("spinning_on", "spinning on"),
             ("ort_default", "ORT defaults (all cores, spinning on)")]
    for t in (1, 2):
        for mode, label in modes:
            if mode == "ort_default" and t == 2:
                continue  # thread count does not apply
            spec = {"threads": t, "mode": mode, "detector": m["detector_spec"], "regressor": m["regressor_spec"],
                    "budget": max(rounds / 10, 1.0)}
            env = {**os.environ, **{k: str(t) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
            p = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                               text=True, env=env)
            key = f"pipeline 720p 1 face, {label}" + ("" if mode == "ort_default" else f", {t} thread(s)")
            res[key] = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else \
                {"median": float("nan"), "p90": float("nan"), "error": p.stderr[-300:]}
    show("intra-op spinning, whole pipeline (one process per setting, run one after the other)", res)
    return res


def exp_int8(m: dict, rounds: int, pack: Path, work: Path, reference: str | None) -> dict:
    from dataclasses import replace

    from tddfa.reconstruct import reconstruct
    from tddfa.export.quantize import cache_name, float_ends, pack_crops, quantize_regressor
    from tddfa.geometry import normalize
    from tddfa.runtime.registry import resolve_regressor
    from tddfa.runtime.regressor import Regressor

    res: dict = {}
    calib = normalize(pack_crops(pack, "train", step=10)[0])
    # the last one is the shipped recipe (tddfa.export.quantize.quantize_for_cpu)
    variants = {"int8 per-channel": dict(reduce_range=False), "int8 per-channel reduce_range": dict(reduce_range=True),
                "int8 reduce_range, ends float": dict(reduce_range=True, ends=True)}
    files: dict = {}
    for arch in ("mb05", "mb1"):
        if arch not in m:
            continue
        files[arch] = {"fp32": m[arch]}
        for name, kw in variants.items():
            out = work / cache_name(m[arch], name.replace(' ', '_').replace(',', ''))
            if not out.exists():
                kw = dict(kw)
                ex = float_ends(m[arch]) if kw.pop("ends", False) else ()
                quantize_regressor(m[arch], out, calib, per_channel=True, fmt="QDQ", exclude=ex, **kw)
            files[arch][name] = str(out)
        for b in (1, 8):
            x = crops_batch(b)
            r = interleaved({f"{arch} b{b} {k}": runner(session(p), x) for k, p in files[arch].items()}, rounds)
            show(f"INT8 static quantization, {arch}, batch {b}, 1 thread", r, f"{arch} b{b} fp32")
            res.update(r)
    # accuracy: only for trained weights (the reference mb05 / shipped models), on the 300W test split
    spec = None
    try:
        spec = resolve_regressor(m["regressor_spec"]) if m.get("regressor_spec") else None
    except Exception:
        pass
    arch = spec.arch if spec else None
    if spec is not None and arch in files:
        fm = spec.load_face_model()
        crops, rois, gt = pack_crops(pack, "test")
        box = np.sqrt(np.prod(gt.max(1) - gt.min(1), 1))

        def nme(onnx):
            reg = Regressor(replace(spec, onnx=Path(onnx)), threads=1)
            params = np.concatenate([reg(crops[i:i + 32]) for i in range(0, len(crops), 32)])
            lm = reconstruct(fm, params, rois, sparse=True)[..., :2]
            return 100 * float((np.linalg.norm(lm - gt, axis=2).mean(1) / box).mean()), lm

        base, lm0 = nme(files[arch]["fp32"])
        print(f"\n## INT8 accuracy, {arch} ({spec.name}), 300W test split ({len(crops)} faces), "
              "NME % of sqrt(box w*h)")
        print(f"  fp32{'':<40} NME {base:.4f}")
        res[f"nme_300w_test {arch} fp32"] = base
        for k in variants:
            v, lm = nme(files[arch][k])
            shift = float(np.linalg.norm(lm - lm0, axis=2).mean())
            print(f"  {k:<44} NME {v:.4f}  change {v - base:+.4f}  mean shift vs fp32 {shift:.2f} px "
                  f"(faces ~{np.median(box):.0f} px)")
            res[f"nme_300w_test {arch} {k}"] = v
    return res


def exp_int8det(m: dict, rounds: int, pack: Path, work: Path) -> dict:
    if not m.get("detector_spec"):
        print("\n## int8det: skipped (no detector)")
        return {}
    import shutil

    from tddfa.export.quantize import cache_name, detector_calibration, quantize_regressor
    from tddfa.runtime.registry import load_detector

    fp32 = load_detector(m["detector_spec"]).onnx_path
    out = work / cache_name(fp32)
    if not out.exists():
        quantize_regressor(fp32, out, detector_calibration(pack), per_channel=True, reduce_range=True)
        if fp32.with_suffix(".json").exists():  # the detector's settings (score threshold, input policy)
            shutil.copy(fp32.with_suffix(".json"), out.with_suffix(".json"))
    x = detector_calibration(pack, n=1, seed=7)
    res = interleaved({f"detector 1080x607 {k}": runner(session(p), x) for k, p in
                       (("fp32", fp32), ("int8 per-channel reduce_range", out))}, rounds)
    show("INT8 static quantization, detector network, 1 thread", res, "detector 1080x607 fp32")
    print(f"  AFW recall of the INT8 file: tddfa eval detection --weights {out}")
    return res


def exp_detvote(m: dict, rounds: int) -> dict:
    if not m.get("detector_spec"):
        print("\n## detvote: skipped (no detector)")
        return {}
    from tddfa.runtime.registry import load_detector

    img = frame_720p()
    dets = {"plain": {}, "box voting": {"box_voting": True}, "flip + box voting": {"box_voting": True, "flip": True}}
    fns = {k: (lambda d: lambda: d(img))(load_detector(m["detector_spec"], **kw)) for k, kw in dets.items()}
    res = interleaved(fns, rounds)
    show("FaceBoxes whole call at 720p: box voting, mirrored pass, 1 thread", res, "plain")
    return res


def exp_detsize(m: dict, rounds: int, pack: Path) -> dict:
    """Detector input policy: speed at 720p, and a recall proxy on 300W *train* photos pasted into 720p frames
    (faces of 64 and 128 px; AFW recall is for ``tddfa eval detection``)."""
    if not m.get("detector_spec"):
        print("\n## detsize: skipped (no detector)")
        return {}
    import cv2

    from tddfa.bench.scenes import scene
    from tddfa.runtime.registry import load_detector
    from tddfa.detect.faceboxes import InputPolicy

    policies = {"720x1080 (reference)": InputPolicy(720, 1080), "540x960": InputPolicy(540, 960),
                "480x854": InputPolicy(480, 854), "360x640": InputPolicy(360, 640)}
    dets = {k: load_detector(m["detector_spec"], threads=1, policy=p) for k, p in policies.items()}
    img = frame_720p()
    res = interleaved({f"detect 720p, input <= {k}": (lambda d=d: d(img)) for k, d in dets.items()},
                      max(rounds // 4, 3), per=2)
    show("detector input size policy, 1 thread (network input = frame downscaled to fit)", res,
         "detect 720p, input <= 720x1080 (reference)")
    ann = np.load(pack / "annotations.npz")
    idx = np.flatnonzero(ann["split"] == "train")[::25]
    for side in (128, 64):  # face ~ half the pasted crop's side
        found = {k: 0 for k in dets}
        total = 0
        for i in range(0, len(idx) - 3, 4):
            frame = scene(np.zeros((8, 8, 3), np.uint8), 1280, 720, n_faces=0) // 4  # dim textured background
            gt = []
            for j, n in enumerate(idx[i:i + 4]):
                f = cv2.resize(cv2.imread(str(pack / "images" / f"{ann['names'][n]}.jpg")), (2 * side, 2 * side))
                x, y = 40 + j * 310, 200
                frame[y:y + f.shape[0], x:x + f.shape[1]] = f
                pts = ann["pts68"][n] * (2 * side / 256) + (x, y)
                gt.append((*pts.min(0), *pts.max(0)))
            total += 4
            for k, d in dets.items():  # a face is found when a detection's centre lies in its landmark box
                c = d(frame)[:, :4].reshape(-1, 2, 2).mean(1)
                found[k] += sum(bool(((c[:, 0] > g[0]) & (c[:, 0] < g[2]) & (c[:, 1] > g[1]) & (c[:, 1] < g[3])).any())
                                for g in gt)
        for k in dets:
            res[f"recall proxy, {side}px faces, input <= {k}"] = {"median": found[k] / total, "p90": float("nan")}
        print(f"  recall proxy, faces ~{side} px in 720p: " +
              ", ".join(f"{k}: {found[k]}/{total}" for k in dets))
    return res


def exp_openvino(m: dict, rounds: int) -> dict:
    try:
        import openvino as ov
    except ImportError:
        print("\n## openvino: not installed (pip install openvino)")
        return {}
    core = ov.Core()
    cfg = {"INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
    res = {}
    jobs = [(a, crops_batch(b), b) for a in ("mb05", "mb1") if a in m for b in (1, 8)]
    if "detector" in m:
        jobs.append(("detector", det_blob(frame_720p()), 1))
    for arch, x, b in jobs:
        path = m[arch]
        compiled = core.compile_model(core.read_model(path), "CPU", cfg)
        req = compiled.create_infer_request()
        name = "faceboxes 720p" if arch == "detector" else f"{arch} b{b}"
        fns = {f"{name} onnxruntime": runner(session(path), x), f"{name} openvino": lambda r=req, x=x: r.infer([x])}
        r = interleaved(fns, rounds if arch != "detector" else max(rounds // 4, 3), per=5 if arch != "detector" else 2)
        show(f"OpenVINO {ov.__version__} vs ONNX Runtime, {name}, 1 thread", r, f"{name} onnxruntime")
        res.update(r)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", default=str(SHARED / "reference" / "3ddfa_v2"))
    ap.add_argument("--pack300w", default=str(SHARED / "300w"))
    ap.add_argument("--only", default="optlevel,batching,spinning,detsize,int8,int8det,openvino")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--work", default=str(Path.home() / ".cache" / "tddfa" / "speedups"))
    ap.add_argument("--json", metavar="OUT")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(_pipeline_child(json.loads(a.child))))
        return 0
    m = models(a.reference)
    print(f"models: {m['labels']}; detector: {m.get('detector_spec')}; pipeline regressor: {m.get('regressor_spec')}")
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    out = {"load_before": load()}
    for e in a.only.split(","):
        if e == "int8":
            out[e] = exp_int8(m, a.rounds, Path(a.pack300w), work, a.reference)
        elif e == "int8det":
            out[e] = exp_int8det(m, a.rounds, Path(a.pack300w), work)
        elif e == "detsize":
            out[e] = exp_detsize(m, a.rounds, Path(a.pack300w))
        else:
            out[e] = globals()[f"exp_{e}"](m, a.rounds)
    out["load_after"] = load()
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
