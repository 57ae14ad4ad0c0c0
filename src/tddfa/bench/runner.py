"""Resolve the models once, run one worker process per thread setting plus the baseline, build table + JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import TddfaError

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
# stages whose speed depends on ONNX Runtime, so the baseline (default session options) measures them too
ORT_STAGES = ("detect_", "regress_", "pipeline_", "align_given_box")
# the FP32 stage whose baseline an INT8 stage is compared with
INT8_BASELINE = {"pipeline_720p_1face_int8": "pipeline_720p_1face",
                 "pipeline_720p_1face_int8det": "pipeline_720p_1face", "detect_720p_int8": "detect_720p"}


def _err(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"


def resolve_models(reference: str | None, regressor: str | None = None, detector: str | None = None) -> dict:
    """Which files the benchmark times: shipped defaults when present, else the 3DDFA_V2 reference."""
    from ..runtime.registry import MODELS_DIR, resolve_regressor

    cfg: dict = {"regressors": {}}
    tried = [regressor] if regressor else ["default"] + ([f"reference:{reference}"] if reference else [])
    errors = []
    for spec in tried:
        try:
            cfg["regressor_spec"] = resolve_regressor(spec)
            cfg["regressor"] = spec
            break
        except TddfaError as exc:
            errors.append(_err(exc))
    else:
        cfg["regressor_error"] = "; ".join(errors)

    # per-architecture regression timing: a shipped model of that arch, the reference mb05, else random weights
    int8: dict = {}
    for arch in ("mb1", "mb05"):
        found = None
        for js in sorted(MODELS_DIR.glob("*.json")):
            try:
                c = json.loads(js.read_text())
            except ValueError:
                continue
            if c.get("arch") != arch or not js.with_suffix(".onnx").exists():
                continue
            entry = {"onnx": str(js.with_suffix(".onnx")), "weights": js.stem}
            if "quantized_from" in c:  # a shipped INT8 copy is timed as is (--int8 PACK makes the missing ones)
                int8.setdefault(f"{arch}_int8", entry)
            elif found is None:
                found = entry
        if found is None and arch == "mb05" and reference:
            try:
                found = {"onnx": str(resolve_regressor(f"reference:{reference}").onnx), "weights": "reference mb05"}
            except TddfaError as exc:
                errors.append(_err(exc))
        if found is None:
            try:
                found = {"onnx": str(_random_onnx(arch)), "weights": "random init (timing only)"}
            except Exception as exc:
                found = {"error": f"no {arch} model and cannot export one: {_err(exc)}"}
        cfg["regressors"][arch] = found
    cfg["regressors"].update(int8)
    spec = cfg.get("regressor_spec")
    shipped_int8 = MODELS_DIR / f"{spec.name}_int8.onnx" if spec is not None else None
    if shipped_int8 is not None and shipped_int8.exists() and shipped_int8.with_suffix(".json").exists():
        cfg["regressor_int8"] = str(shipped_int8)

    dets = [detector] if detector else ["default"] + ([f"reference:{reference}"] if reference else [])
    derr = []
    from ..runtime.registry import load_detector

    for spec in dets:
        try:
            det = load_detector(spec, threads=1)  # also exports a reference .pth once, outside the timed processes
            cfg["detector"] = spec
            sc = det.policy.scale(720, 1280)  # the network's input for a 720p frame (compute floors)
            cfg["detector_net"] = {"onnx": str(det.onnx_path), "input_720p": (1280, 720) if sc == 1.0 else
                                   (max(int(1280 * sc), 1), max(int(720 * sc), 1))}
            # a shipped INT8 copy of this detector is timed too, alone and in the all-INT8 pipeline
            int8_det = Path(det.onnx_path).with_name(Path(det.onnx_path).stem + "_int8.onnx")
            if Path(det.onnx_path).resolve().parent == Path(MODELS_DIR).resolve() and int8_det.exists():
                cfg["detector_int8"] = int8_det.stem
            # our FaceBoxes is timed beside any other detector, in the same processes (ratio in the summary)
            if det.name != "tddfa-faceboxes" and (Path(MODELS_DIR) / "faceboxes.onnx").exists():
                cfg["detector_compare"] = "faceboxes"
            break
        except TddfaError as exc:
            derr.append(_err(exc))
    else:
        cfg["detector"] = None
        cfg["detector_error"] = "; ".join(derr)
    return cfg


def fp32_originals(cfg: dict) -> dict:
    """The FP32 files the pipeline's INT8 regressor and detector were quantized from (their ``.json`` says); a
    detector that is FP32 already is its own baseline."""
    from ..runtime.registry import load_detector
    from ..runtime.registry import resolve_regressor

    def origin(onnx: Path, to_onnx, required: bool = True) -> str:
        js = json.loads(onnx.with_suffix(".json").read_text()) if onnx.with_suffix(".json").exists() else {}
        src = js.get("quantized_from", {}).get("model")
        if not src:
            if not required:
                return str(onnx)
            raise TddfaError(f"{onnx.name} is not an INT8 copy (no quantized_from in its .json)")
        return to_onnx(onnx, src)

    reg = origin(Path(resolve_regressor(cfg["regressor"]).onnx), lambda p, m: m)
    det = origin(Path(load_detector(cfg["detector"]).onnx_path),
                 lambda p, m: str(p.with_name(Path(m).with_suffix(".onnx").name)), required=False)
    return {"regressor": reg, "detector": det}


def add_int8(cfg: dict, pack: str) -> None:
    """INT8 copies (static, per-channel, reduce_range; calibrated on 300W train crops) of the timed regressors
    and of the pipeline's regressor, cached by the FP32 file's digest."""
    from ..facemodel.provision import cache_dir
    from ..export.quantize import cache_name, quantize_for_cpu

    def quantized(fp32: str) -> Path:
        out = cache_dir() / "bench" / cache_name(fp32)
        if not out.exists():
            quantize_for_cpu(fp32, out, pack)
        return out

    for arch in ("mb1", "mb05"):
        fp = cfg["regressors"].get(arch, {})
        if "onnx" in cfg["regressors"].get(f"{arch}_int8", {}):
            continue  # shipped
        try:
            cfg["regressors"][f"{arch}_int8"] = (
                {"onnx": str(quantized(fp["onnx"])), "weights": fp["weights"] + ", int8"} if "onnx" in fp
                else {"error": fp.get("error", "no FP32 model")})
        except Exception as exc:
            cfg["regressors"][f"{arch}_int8"] = {"error": _err(exc)}
    spec = cfg.get("regressor_spec")
    if spec is not None and not cfg.get("regressor_int8"):
        try:
            q = quantized(str(spec.onnx))
            q.with_suffix(".json").write_text(json.dumps({
                "name": f"{spec.name}-int8", "arch": spec.arch, "input_size": spec.input_size,
                "param_mean": spec.param_mean.tolist(), "param_std": spec.param_std.tolist(),
                "face_model": spec.face_model}))
            cfg["regressor_int8"] = str(q)
        except Exception as exc:
            cfg["regressor_int8_error"] = _err(exc)


def _random_onnx(arch: str) -> Path:
    """An untrained network of ``arch`` exported once to the cache, for timing only.

    Its batch-norm statistics are estimated on crops of the example face first: with the untouched
    initialisation, activations shrink layer after layer into denormal floats, which run many times slower
    on x86 and would make the timing meaningless.
    """
    from ..facemodel.provision import cache_dir

    out = cache_dir() / "bench" / f"{arch}_random_bncal.onnx"
    if not out.exists():
        import cv2
        import numpy as np
        import torch

        from ..geometry import normalize
        from ..nets import create_model
        from ..export.onnx import export_onnx
        from .scenes import load_face

        torch.manual_seed(0)
        model = create_model(arch)
        face = load_face()
        rng = np.random.default_rng(0)
        crops = []
        for _ in range(16):  # jittered square crops around the face
            s = int(rng.uniform(0.5, 0.9) * face.shape[0])
            x, y = rng.integers(0, face.shape[1] - s + 1), rng.integers(0, face.shape[0] - s + 1)
            crops.append(cv2.resize(face[y:y + s, x:x + s], (120, 120)))
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
        with torch.no_grad():
            model.train()(torch.from_numpy(normalize(np.stack(crops))))
        export_onnx(model.eval(), out, (1, 3, 120, 120))
    return out


def run_worker(cfg: dict, threads: int | None, timeout: float = 900) -> dict:
    """One worker process; ``threads=None`` is the baseline (default options, no thread limits)."""
    env = dict(os.environ)
    for k in THREAD_ENV:
        env.pop(k, None)
        if threads is not None:
            env[k] = str(threads)
    wcfg = {**{k: v for k, v in cfg.items() if k != "regressor_spec"}, "threads": threads,
            "baseline": threads is None}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(wcfg, f)
    try:
        p = subprocess.run([sys.executable, "-m", "tddfa.bench.worker", f.name], env=env, capture_output=True,
                           text=True, timeout=timeout)
    finally:
        os.unlink(f.name)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"stages": {}, "info": {"error": f"worker failed: {tail}"}}
    return json.loads(p.stdout.strip().splitlines()[-1])


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def run_bench(reference: str | None = None, threads: tuple[int, ...] = (1, 2), budget_s: float = 1.0,
              regressor: str | None = None, detector: str | None = None, face: str | None = None,
              int8: str | None = None, rounds: int = 1, refine: int | None = None, fast: bool = False,
              log=print) -> dict:
    """``refine``: the pipelines' ``FaceAligner(refine=...)`` (``None``: its default). ``fast``: time
    ``FaceAligner.fast()`` (INT8 models) as the pipeline, against a baseline built from the FP32 files they were
    quantized from (the fast setting's baseline), and report the INT8 copies in ``regress_ms``."""
    if fast:
        from ..api import FAST

        if regressor or detector or refine is not None:
            raise TddfaError("fast sets the regressor, the detector and refine itself")
        regressor, detector, refine = FAST["model"], FAST["detector"], FAST["refine"]
    cfg = resolve_models(reference, regressor, detector)
    if fast:
        cfg["fast"], cfg["flip"] = True, FAST["flip"]
        cfg["baseline_models"] = fp32_originals(cfg)
    if int8:
        log("quantizing the regressors to INT8 (cached after the first run)...")
        add_int8(cfg, int8)
    cfg.update(budget_s=budget_s, face=face)
    if refine is not None:
        cfg["refine"] = int(refine)
    load_before = _load()
    settings = [(f"threads_{t}", t) for t in threads] + [("baseline", None)]
    rounds_runs: dict = {k: [] for k, _ in settings}
    for r in range(max(rounds, 1)):
        for key, t in settings:  # round-robin, so slow phases of a shared machine hit every setting
            log(f"round {r + 1}/{rounds}: " + (f"{t} thread(s)" if t else "baseline (default ONNX Runtime options)"))
            rounds_runs[key].append(run_worker(cfg, t))
    runs = {k: merge_rounds(v) for k, v in rounds_runs.items()}
    for k, v in rounds_runs.items():  # the machine's ceiling: the best round, like the stages
        peaks = [r.get("info", {}).get("gemm_peak_gmacs") for r in v]
        if any(peaks):
            runs[k]["info"]["gemm_peak_gmacs"] = max(p for p in peaks if p)
    out = assemble(cfg, runs, threads, load_before, _load())
    out["roofline"] = roofline(cfg, runs, threads)
    out["settings"]["rounds"] = rounds
    out["settings"]["refine"] = pipeline_refine(cfg)
    out["settings"]["flip"] = cfg.get("flip", "default")
    return out


def network_costs(cfg: dict) -> dict:
    """MACs per call of the timed networks (``None`` where the ``onnx`` package or a model is missing)."""
    from .roofline import network_macs

    def macs(path, shape):
        try:
            return network_macs(path, shape) if path else None
        except Exception:  # noqa: BLE001 -- a cost we cannot count is reported as unknown, never a failed bench
            return None

    out: dict = {}
    net = cfg.get("detector_net")
    if cfg.get("detector") and net:
        w, h = net["input_720p"]
        out["detect_720p"] = {"macs": macs(net["onnx"], (1, 3, h, w)), "input": f"{w}x{h}"}
    for arch, r in cfg.get("regressors", {}).items():
        if "int8" not in arch:
            out[f"regress_{arch}_b1"] = {"macs": macs(r.get("onnx"), (1, 3, 120, 120)), "input": "120x120"}
    spec = cfg.get("regressor_spec")
    if spec is not None:
        out["pipeline_regressor"] = {"macs": macs(spec.onnx, (1, 3, 120, 120)), "input": "120x120",
                                     "model": spec.name}
    return out


def pipeline_refine(cfg: dict) -> int:
    """The refine count the pipelines run with: ``cfg["refine"]`` or ``FaceAligner``'s default."""
    if "refine" in cfg:
        return int(cfg["refine"])
    import inspect

    from ..api import FaceAligner

    return int(inspect.signature(FaceAligner).parameters["refine"].default)


def roofline(cfg: dict, runs: dict, threads: tuple[int, ...]) -> dict:
    """Each network's compute floor (MACs at the measured FP32 GEMM ceiling) next to its measured median.

    The 1-face pipeline's floor is the detector plus 2 + refine regressions (the ROI, the face/no-face re-crop and
    each re-crop from the landmarks)."""
    from .roofline import floor_ms

    costs = network_costs(cfg)
    det = costs.get("detect_720p", {}).get("macs")
    reg = costs.get("pipeline_regressor", {}).get("macs")
    n_reg = 2 + pipeline_refine(cfg)
    costs["pipeline_720p_1face"] = {"macs": det + n_reg * reg if det and reg else None,
                                    "input": f"detector + {n_reg} regressions"}
    out: dict = {"gemm_peak_gmacs": {}, "stages": {}}
    for t in threads:
        key = f"threads_{t}"
        peak = runs.get(key, {}).get("info", {}).get("gemm_peak_gmacs")
        out["gemm_peak_gmacs"][key] = peak
        for stage, c in costs.items():
            if stage == "pipeline_regressor":
                continue
            row = out["stages"].setdefault(stage, {"gmacs_per_call": round(c["macs"] / 1e9, 4) if c["macs"] else None,
                                                   "input": c["input"]})
            fl = floor_ms(c["macs"], peak)
            med = _median(runs[key], stage)
            row[key] = {"floor_ms": round(fl, 3) if fl else None, "median_ms": med,
                        "fraction_of_peak": round(fl / med, 3) if fl and med else None}
    return out


def merge_rounds(runs: list[dict]) -> dict:
    """Per stage, the round with the lowest median (the least disturbed by other load on the machine)."""
    merged: dict = {"stages": {}, "info": runs[-1].get("info", {})}
    for r in runs:
        for name, st in r.get("stages", {}).items():
            cur = merged["stages"].get(name)
            if cur is None or (st.get("median") is not None and
                               (cur.get("median") is None or st["median"] < cur["median"])):
                merged["stages"][name] = st
    return merged


def _median(run: dict, stage: str):
    s = run.get("stages", {}).get(stage, {})
    return s.get("median")


def assemble(cfg: dict, runs: dict, threads: tuple[int, ...], load_before: str, load_after: str) -> dict:
    import onnxruntime
    import platform

    names = []
    for r in runs.values():
        names += [n for n in r.get("stages", {}) if n not in names]
    stages: dict = {}
    for n in names:
        row: dict = {}
        for key, r in runs.items():
            s = r.get("stages", {}).get(n)
            if s is not None:
                row[key] = s
        # INT8 rows have no baseline of their own: the baseline is the FP32 pipeline with default options
        base = _median(runs.get("baseline", {}), INT8_BASELINE.get(n, n))
        if base is not None:
            row["ratio"] = {f"threads_{t}": round(base / m, 3) for t in threads
                            if (m := _median(runs[f"threads_{t}"], n))}
        stages[n] = row

    def per_threads(stage: str) -> dict:
        return {f"threads_{t}": _median(runs[f"threads_{t}"], stage) for t in threads}

    def first(stage: str):
        return _median(runs[f"threads_{threads[0]}"], stage)

    def reason(stage: str) -> str | None:
        s = runs[f"threads_{threads[0]}"].get("stages", {}).get(stage, {})
        return s.get("error") if s.get("median") is None else None

    base_pipe = _median(runs.get("baseline", {}), "pipeline_720p_1face")
    ours_pipe = first("pipeline_720p_1face")
    fast = per_threads("pipeline_720p_1face_int8det")
    out = {
        "pipeline_720p_1face_ms": per_threads("pipeline_720p_1face"),
        "pipeline_720p_4faces_ms": per_threads("pipeline_720p_4faces"),
        # with ``fast``, the INT8 copies: what the fast pipeline runs (the FP32 ones are in ``regress_fp32_ms``)
        "regress_ms": {a: first(f"regress_{a}_int8_b1" if cfg.get("fast") else f"regress_{a}_b1")
                       for a in ("mb1", "mb05")},
        "regress_fp32_ms": {a: first(f"regress_{a}_b1") for a in ("mb1", "mb05")},
        # INT8 copies (shipped, or made by --int8 PACK); None when neither
        "regress_int8_ms": {a: first(f"regress_{a}_int8_b1") for a in ("mb1", "mb05")},
        "pipeline_720p_1face_int8_ms": per_threads("pipeline_720p_1face_int8"),
        # INT8 regressor and INT8 detector (shipped copies), and its ratio to the FP32 baseline pipeline
        "pipeline_720p_1face_int8det_ms": fast,
        "int8det_baseline_ratio": {k: round(base_pipe / v, 3) if base_pipe and v else None for k, v in fast.items()},
        "detect_720p_ms": first("detect_720p"),
        "detect_720p_faceboxes_ms": first("detect_720p_faceboxes"),
        "detect_720p_ratio_to_faceboxes": (round(first("detect_720p") / first("detect_720p_faceboxes"), 3)
                                           if first("detect_720p") and first("detect_720p_faceboxes") else None),
        "detect_720p_int8_ms": first("detect_720p_int8"),
        "render_dense_720p_ms": first("render_dense_720p"),
        # baseline median / ours (pipeline, 720p, 1 face, first thread setting): > 1 means faster than the baseline
        "baseline_ratio": round(base_pipe / ours_pipe, 3) if base_pipe and ours_pipe else None,
        "baseline_pipeline_720p_1face_ms": base_pipe,
        # process CPU time at 1 thread: what the wall time would be on an idle machine (see timing.measure)
        "cpu_1thread_ms": {k: runs["threads_1"].get("stages", {}).get(k, {}).get("cpu_median")
                           for k in ("pipeline_720p_1face", "pipeline_720p_4faces", "detect_720p", "regress_mb1_b1",
                                     "regress_mb05_b1", "regress_mb1_int8_b1", "regress_mb05_int8_b1",
                                     "pipeline_720p_1face_int8", "render_dense_720p")} if "threads_1" in runs else {},
        "missing": {k: r for k in ("pipeline_720p_1face", "regress_mb1_b1", "regress_mb05_b1", "detect_720p",
                                   "render_dense_720p") if (r := reason(k))},
        "stages": stages,
        "models": {"regressor": cfg.get("regressor"), "regressor_int8": cfg.get("regressor_int8"),
                   "detector_int8": cfg.get("detector_int8"), "fast": bool(cfg.get("fast")),
                   "baseline_models": cfg.get("baseline_models"),
                   "regressor_error": cfg.get("regressor_error"),
                   "detector": cfg.get("detector"), "detector_error": cfg.get("detector_error"),
                   "regress": cfg.get("regressors")},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "onnxruntime": onnxruntime.__version__, "load_before": load_before, "load_after": load_after},
        "settings": {"threads": list(threads), "budget_s": cfg.get("budget_s"),
                     "baseline": "onnxruntime.InferenceSession(path) with default SessionOptions; "
                                 "no thread limits on OpenCV/BLAS"},
        "worker_info": {k: r.get("info") for k, r in runs.items()},
    }
    return out


def format_table(result: dict) -> str:
    threads = result["settings"]["threads"]
    cols = [f"threads_{t}" for t in threads]
    head = ["stage"] + [f"{t}T median" for t in threads] + [f"{t}T p90" for t in threads] + ["1T cpu"] + \
           ["baseline"] + [f"ratio {t}T" for t in threads]
    rows = [head]
    for name, row in result["stages"].items():
        cells = [name]
        for c in cols:
            cells.append(_fmt(row.get(c, {}).get("median")))
        for c in cols:
            cells.append(_fmt(row.get(c, {}).get("p90")))
        cells.append(_fmt(row.get("threads_1", {}).get("cpu_median")))
        cells.append(_fmt(row.get("baseline", {}).get("median")))
        cells += [f"{row['ratio'][c]:.2f}x" if c in row.get("ratio", {}) else "" for c in cols]
        if all(row.get(c, {}).get("median") is None for c in cols):
            cells[1] = "n/a: " + str(row.get(cols[0], {}).get("error", ""))[:70]
            cells[2:] = [""] * (len(cells) - 2)
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows if i < len(r) and not r[i].startswith("n/a")) for i in range(len(head))]
    lines = []
    for r in rows:
        if len(r) > 1 and r[1].startswith("n/a"):
            lines.append(f"{r[0]:<{widths[0]}}  {r[1]}")
        else:
            lines.append("  ".join(f"{c:<{widths[0]}}" if i == 0 else f"{c:>{widths[i]}}" for i, c in enumerate(r)))
    lines.insert(1, "-" * len(lines[0]))
    m = result["models"]
    lines.append("")
    lines.append("times in ms; 1T cpu = process CPU time per call at 1 thread (the idle-machine estimate when "
                 "other jobs load the CPU)")
    lines.append(f"ratio = baseline median / ours (> 1: faster). regressor: {m['regressor']}; "
                 f"detector: {m['detector'] or 'none (' + str(m['detector_error']) + ')'}")
    if m.get("baseline_models"):
        lines.append("fast setting: the baseline runs the FP32 originals "
                     f"({m['baseline_models']['regressor']}, {Path(m['baseline_models']['detector']).name})")
    lines.append("regression timing models: " + ", ".join(
        f"{a}: {v.get('weights', v.get('error'))}" for a, v in (m.get("regress") or {}).items()))
    lines.append(f"load average before/after: {result['machine']['load_before']} / {result['machine']['load_after']} "
                 f"on {result['machine']['cpus']} CPUs")
    lines += format_roofline(result.get("roofline"), threads)
    return "\n".join(lines)


def format_roofline(roof: dict | None, threads: list[int]) -> list[str]:
    """Compute floors: the time each network needs at the FP32 GEMM ceiling measured in the same run."""
    if not roof or not roof.get("stages"):
        return []
    peaks = roof["gemm_peak_gmacs"]
    lines = ["", "compute floor = MACs / FP32 GEMM ceiling (numpy float32 matmul, best of 20, same process): " +
             ", ".join(f"{t}T {peaks.get(f'threads_{t}') or 'n/a'} GMAC/s" for t in threads)]
    head = f"{'network':<22}{'input':>26}{'GMAC':>8}" + "".join(f"{f'{t}T floor':>10}{f'{t}T ms':>9}{'% peak':>8}"
                                                                 for t in threads)
    lines += [head, "-" * len(head)]
    for stage, row in roof["stages"].items():
        g = row["gmacs_per_call"]
        cells = f"{stage:<22}{row['input']:>26}{'' if g is None else f'{g:.3f}':>8}"
        for t in threads:
            r = row.get(f"threads_{t}", {})
            pct = r.get("fraction_of_peak")
            cells += f"{_fmt(r.get('floor_ms')):>10}{_fmt(r.get('median_ms')):>9}{(f'{100 * pct:.0f}%' if pct else ''):>8}"
        lines.append(cells)
    lines.append("floors count network MACs only; medians are whole calls (the detector's resize and decoding included).")
    lines.append("The ceiling is the cores' FMA peak (a large GEMM is the most efficient FP32 work they do), so no FP32 "
                 "engine gets under a floor here. MACs need the onnx package.")
    return lines


def _fmt(v) -> str:
    return "" if v is None else f"{v:.2f}"
