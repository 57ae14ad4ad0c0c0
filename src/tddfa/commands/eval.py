"""``tddfa eval aflw2000|detection|stability``: the benchmarks' command lines; the measuring is in :mod:`tddfa.eval`.

``--reference DIR`` means what it means everywhere (3DDFA_V2's own checkpoints in DIR); here it names the model
evaluated (beside the shipped default with ``--compare``). Data folders default to ``$TDDFA_DATA/<pack>``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..api import FaceAligner, choose_models
from ..errors import InputError
from ..eval import aflw2000, detection, stability
from ..eval.common import write_results
from ..geometry.consistency import VIDEO_CROPS
from ..runtime.registry import load_detector
from .options import DATA_ENV, REFERENCE_DIR_HELP, add_data_option, add_no_flip, data_default, size


def add_eval_model_args(p: argparse.ArgumentParser, pack: str, data_help: str) -> None:
    """The options every ``tddfa eval`` command shares: data, which models, and whether to compare."""
    add_data_option(p, "--data", pack, data_help)
    p.add_argument("--reference", metavar="DIR", help=f"{REFERENCE_DIR_HELP}; here: evaluate its mb05 (with its "
                                                      "68-point basis; its FaceBoxes where a detector runs)")
    p.add_argument("--weights", metavar="FILE", help="evaluate this model (.onnx with .json, or our .pth)")
    p.add_argument("--compare", action="store_true", help="also evaluate the shipped default next to the others")
    p.add_argument("--crops", type=int, choices=(1, 3), default=None,
                   help="crops per face (FaceAligner's crops); default: the setting this benchmark measures for our "
                        "models (images: 1, video: 3), and 1 for --reference (3DDFA_V2's own protocol)")
    add_no_flip(p)


def crops_for(spec: str, args: argparse.Namespace, ours: int = 1) -> int:
    """``--crops`` if given, else 1 for the reference (its own one-crop protocol) and ``ours`` for our models."""
    if getattr(args, "crops", None):
        return int(args.crops)
    return 1 if str(spec).startswith("reference:") else ours


def regressor_specs(args: argparse.Namespace) -> dict[str, str]:
    """``{display name: model spec}`` from ``--reference``, ``--weights`` and ``--compare``.

    No flag means the shipped default; ``--compare`` adds the default in front of the others."""
    models: dict[str, str] = {}
    if args.reference:
        models["reference-mb05"] = f"reference:{args.reference}"
    if args.weights:
        models[Path(args.weights).stem] = args.weights
    if not models or args.compare:
        models = {"tddfa (default)": "default", **models}
    return models


def _aflw2000(args: argparse.Namespace) -> int:
    models = regressor_specs(args)
    det_spec = None
    if args.detector:
        det_spec = f"reference:{args.reference}" if args.detector == "reference" else args.detector
    results = {}
    for name, spec in models.items():
        chosen = choose_models(spec, refine=args.refine, flip=args.flip)
        aligner = FaceAligner(model=spec, detector=det_spec, threads=args.threads, crops=crops_for(spec, args),
                              refine=chosen["refine"], flip=chosen["flip"])
        results[name] = aflw2000.evaluate(aligner, Path(args.data), limit=args.limit, progress=not args.quiet,
                                 detector=bool(args.detector))
        results[name]["crops"], results[name]["flip"] = aligner.crops, aligner.flip
        if args.detector:
            results[name]["refine"] = aligner.refine
    print(aflw2000.format_table(results))
    if args.detector:
        for name, r in results.items():
            print(f"{name}: faces missed by the detector: {r['missed']}")
    if args.json:
        write_results(args.json, results)
    return 0


def _detection(args: argparse.Namespace) -> int:
    if args.reference and args.weights:
        raise InputError("use either --reference or --weights, not both")
    spec = f"reference:{args.reference}" if args.reference else (args.weights or "default")
    results = {}
    # the mirrored pass applies to the evaluated detector only: the reference keeps its own single pass
    det = load_detector(spec, threads=args.threads, size=args.input_size, flip=args.flip)
    if args.flip:
        det.name = f"{det.name}+flip"
    results[det.name] = detection.evaluate_detector(det, args.data, args.repeats, negatives=args.negatives)
    if args.compare_reference and not args.reference:
        ref = load_detector(f"reference:{args.compare_reference}", threads=args.threads, size=args.input_size)
        results[ref.name] = detection.evaluate_detector(ref, args.data, args.repeats, negatives=args.negatives)
    if args.compare:
        other = load_detector(args.compare, threads=args.threads, size=args.input_size)
        other.name = other.name if other.name not in results else f"{other.name} (compare)"
        results[other.name] = detection.evaluate_detector(other, args.data, args.repeats, negatives=args.negatives)
    print(detection.format_table(results))
    for name, r in results.items():
        if "curve" in r:
            print(detection.format_curve(name, r["curve"]))
    tradeoff = {}
    if args.tradeoff:
        for name, d in [(det.name, det)] + ([(ref.name, ref)] if len(results) > 1 else []):
            tradeoff[name] = detection.size_tradeoff(d, args.data, args.tradeoff, args.repeats)
            print(detection.format_tradeoff(name, tradeoff[name]))
    print("AP counts detections of the many unannotated faces in AFW as false positives (a lower bound); "
          "recall is exact. Misses by cause (first that applies): shared box = a box above the threshold "
          "matched to another face; below threshold = a box at IoU >= 0.4 scored <= the threshold (down to "
          "0.05); misplaced = a box above the threshold at IoU 0.1-0.4; weak and misplaced = the same under it.")
    if args.json:
        first = next(iter(results.values()))
        payload = {**first, "threads": args.threads}
        if len(results) > 1:
            payload["compare"] = results
        if tradeoff:
            payload["input_size_tradeoff"] = tradeoff
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def _stability(args: argparse.Namespace) -> int:
    if args.tune:
        spec = args.weights or (f"reference:{args.reference}" if args.reference else "default")
        # the smoother is tuned for the video pipeline's regressions, which have no mirrored crop
        aligner = FaceAligner(model=spec, detector=lambda img: np.zeros((0, 5)), flip=False)
        r = stability.tune_smoother(aligner, Path(args.tune), progress=not args.quiet)
        print(f"{'setting':<44} {'jitter_still %':>14} {'lag frames':>10} {'error_moving %':>14}")
        for k, v in sorted(r["settings"].items(), key=lambda kv: kv[1]["jitter_still"]):
            print(f"{k:<44} {v['jitter_still']:>14.4f} {v['lag']:>10.2f} {v['error_moving']:>14.4f}")
        print("best:", r["best"], f"(mean speed {100 * r['mean_speed_face_per_frame']:.2f} % of the face per frame)")
        if args.json:
            Path(args.json).write_text(json.dumps(r, indent=2))
        return 0
    models = regressor_specs(args)
    clips: list[Path] = []
    if not args.no_clips:
        vdir = Path(args.videos)
        clips = sorted(vdir.glob("*.mp4")) if vdir.is_dir() else []
        if not clips:
            print(f"tddfa: note: no clips in {vdir}; skipping the real-clip part", file=sys.stderr)
    det_spec = args.detector or (f"reference:{args.reference}" if args.reference else "default")
    results = {}
    for name, spec in models.items():
        detector = load_detector(det_spec, threads=args.threads) if clips else None
        aligner = FaceAligner(model=spec, detector=detector, threads=args.threads,
                              crops=crops_for(spec, args, ours=VIDEO_CROPS),
                              flip=choose_models(spec, flip=args.flip)["flip"])
        r = stability.synthetic_jitter(aligner, Path(args.data), n=args.n, frames=args.frames, seed=args.seed,
                             progress=not args.quiet)
        if clips:
            r["real"] = stability.real_clips(aligner, clips, progress=not args.quiet)
            if args.failure:
                r["failure_detection"] = stability.failure_detection(aligner, clips, progress=not args.quiet)
        r["crops"] = aligner.crops
        results[name] = r
    for name, r in results.items():
        crops = f"({r['crops']} crop{'s' if r['crops'] > 1 else ''})"
        line = (f"{name:<20} {crops} synthetic jitter {r['jitter_nme']:.3f} % ({r['n_sequences']} x "
                f"{r['frames']} frames)")
        real = r.get("real", {})
        if "raw" in real:
            line += (f" | clips: raw {real['raw']:.3f} %, one_euro {real['one_euro']:.3f} %, window "
                     f"{real['window']:.3f} %, {real['fps']:.1f} frames/s | lag on {real['lag']['clip']}: "
                     f"one_euro {real['lag']['one_euro']:+.2f}, window {real['lag']['window']:+.2f} frames")
        fd = r.get("failure_detection")
        if fd:
            line += f" | failure test: detects {100 * fd['detection_rate']:.1f} %, false alarms " \
                    f"{100 * fd['false_alarm_rate']:.2f} %"
        print(line)
    if args.json:
        write_results(args.json, results)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("eval", help="benchmarks: aflw2000, detection, stability")
    s = e.add_subparsers(dest="eval_command", required=True, metavar="BENCHMARK")

    p = s.add_parser("aflw2000", help="AFLW2000-3D: NME per yaw bin and head-pose MAE")
    add_eval_model_args(p, "aflw2000-3d", "AFLW2000-3D pack folder")
    p.add_argument("--detector", nargs="?", const="default", default=None,
                   help="detect faces on the originals instead of using the given ROI boxes "
                        "(optionally a detector spec; 'reference' uses --reference's FaceBoxes)")
    p.add_argument("--refine", type=int, default=None, metavar="N",
                   help="with --detector: re-crops from each face's own landmarks (default 1 for our models, 0 for "
                        "the reference, its own protocol); the given-ROI protocol never refines")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, help="only the first N images (quick checks)")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_aflw2000)

    p = s.add_parser("detection", help="face detection recall / AP / 720p latency on AFW scenes")
    add_data_option(p, "--data", "afw-scenes", "the afw-scenes folder (images/ + annotations.npz)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--reference", metavar="DIR", help=f"{REFERENCE_DIR_HELP}; here: evaluate its FaceBoxes")
    g.add_argument("--weights", metavar="SPEC",
                   help="evaluate this detector: a name (retinaface, faceboxes, faceboxes_int8), a .onnx or a .pth "
                        "(default: the default detector)")
    p.add_argument("--compare", metavar="SPEC", help="also evaluate this detector spec and print both side by side")
    p.add_argument("--negatives", metavar="DIR",
                   help="a folder of face-free photos (e.g. examples/negatives): report false faces per photo")
    p.add_argument("--compare-reference", metavar="DIR",
                   help="also evaluate the reference FaceBoxes in DIR and print both side by side")
    p.add_argument("--json", metavar="OUT", help="write the metrics as JSON")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (default 1)")
    p.add_argument("--repeats", type=int, default=20, help="timed runs for the 720p latency")
    p.add_argument("--input-size", type=size, metavar="WxH",
                   help="cap on the network input (downscale only; default: the detector's own, 416x416 for "
                        "retinaface)")
    p.add_argument("--flip", action="store_true",
                   help="evaluate the detector with its mirrored pass and box voting (CLI --det-flip); the reference "
                        "of --compare-reference keeps its single pass")
    p.add_argument("--tradeoff", type=size, nargs="+", metavar="WxH",
                   help="also report recall and 720p latency at each of these input-size caps")
    p.set_defaults(func=_detection)

    p = s.add_parser("stability", help="temporal stability: synthetic jitter on AFLW2000-3D, real-clip jitter/lag")
    add_eval_model_args(p, "aflw2000-3d", "AFLW2000-3D pack folder")
    p.add_argument("--detector", default=None, help="detector for the clips (default: the package's; 'haar': stand-in)")
    p.add_argument("--videos", default=data_default("videos"), metavar="DIR",
                   help=f"folder of .mp4 clips for the real-clip part (default: ${DATA_ENV}/videos when {DATA_ENV} is "
                        "set)")
    p.add_argument("--no-clips", action="store_true", help="synthetic part only")
    p.add_argument("--failure", action="store_true", help="also measure the tracker's failure test on cut-away faces")
    p.add_argument("--tune", metavar="DIR_300W", help="instead: compare One Euro settings on synthetic motion of "
                   "300W-train faces from DIR (how the defaults were chosen)")
    p.add_argument("-n", type=int, default=200, help="sequences (faces), default 200")
    p.add_argument("--frames", type=int, default=10, help="frames per sequence, default 10")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_stability)
