"""``tddfa train MODE``: train and ship models (``tddfa train-MODE`` is the same command).

    tddfa train [regressor] --config configs/regressor-mb05.json --stage cpu [--out DIR] [--resume] [--smoke]
    tddfa train detector --config configs/detector-faceboxes.json --stage stage1 [--resume] [--export]
    tddfa train export runs/NAME/best.pth --name tddfa_mb05 [--default]
    tddfa train eval runs/NAME/best.pth [...] --data cache/train/val.npz cache/train/val_profiles.npz
    tddfa train pack [--train cache/train/train.npz ...] [--out cache/gpu]   # compact copies for a lent GPU
    tddfa train ensemble A.pth B.pth --out runs/ens.pth        # one network averaging the members' parameters
    tddfa calibrate-verify tddfa_mb05                           # face/no-face threshold -> the model's .json
"""
from __future__ import annotations

import argparse
from pathlib import Path

from . import train_detector
from .options import DATA_ENV, add_data_option, data_default


def _train(args: argparse.Namespace) -> int:
    from ..train.config import load_config, smoke_overrides

    over = smoke_overrides() if args.smoke else {}
    if args.threads:
        over["threads"] = args.threads
    if args.epochs:
        over["epochs"] = args.epochs
    if args.stop_after:
        over["stop_after_steps"] = args.stop_after
    cfg = load_config(args.config, over or None, stage=args.stage)
    out = Path(args.out or Path("cache") / "recipes" / (cfg["name"] + ("_smoke" if args.smoke else "")))
    if (out / "last.pth").exists() and not args.resume:
        from ..errors import InputError

        raise InputError(f"{out} already has a run (last.pth): pass --resume to continue it, or another --out")
    from ..train.trainer import run

    res = run(cfg, out, resume=args.resume)
    print(f"train: best val NME {res.get('best_nme', float('nan')):.3f} (epoch {res.get('best_epoch')}); "
          f"checkpoints in {out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..export.checkpoint import export_checkpoint

    scale, note = None, ""
    if args.roi_box_scale == "auto":
        from ..geometry.roi import BOX_SCALE
        from ..runtime.registry import load_detector
        from ..train.roi_scale import measure_roi_box_scale

        if not args.data_300w:
            from ..errors import UsageError

            raise UsageError(f"--roi-box-scale auto measures on 300W: give --data-300w DIR or set {DATA_ENV}")
        m = measure_roi_box_scale(load_detector(args.detector), args.data_300w)
        scale = m["scale"]
        note = (f"trained on landmark ROIs: detector '{args.detector}' boxes x{BOX_SCALE} give ROIs "
                f"{m['ratio_median']:.3f}x the "
                f"landmark ROI (median; p10-p90 {m['ratio_p10_p90'][0]:.3f}-{m['ratio_p10_p90'][1]:.3f}) on "
                f"{m['n_faces']} 300W {m['split']} faces (no AFW; {m['missed']} not detected), centre offset "
                f"{m['centre_offset_median'][0]:+.3f}, {m['centre_offset_median'][1]:+.3f} of the side")
        print(f"roi_box_scale {scale:.4f}: {note}")
    elif args.roi_box_scale is not None:
        scale = float(args.roi_box_scale)
    paths = export_checkpoint(args.checkpoint, args.name, out_dir=args.out_dir or _models_dir(),
                              make_default=args.default, card=args.card or "", roi_box_scale=scale,
                              roi_box_scale_note=note, pth=not args.no_pth)
    for k, p in paths.items():
        print(f"wrote {p}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from ..train.evaluate import checkpoints_nme

    res = checkpoints_nme(args.checkpoints, args.data, threads=args.threads)
    for ck, per_split in res.items():
        for path, r in per_split.items():
            bins = r["yaw_bins"]
            print(f"{ck}  {Path(path).name}: n {r['n']}  NME {r['nme']:.3f} (median {r['nme_median']:.3f})  yaw "
                  + "  ".join(f"{k} {v['nme']:.3f} (n {v['n']})" for k, v in bins.items() if k != "mean_of_bins")
                  + f"  bins mean {bins['mean_of_bins']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    from ..export.checkpoint import ensemble_checkpoint

    cfg = ensemble_checkpoint(args.checkpoints, args.out)
    print(f"wrote {args.out}: {cfg['arch']} of {', '.join(cfg['members'])} (output whitening of the first)")
    return 0


def _calibrate_verify(args: argparse.Namespace) -> int:
    from .. import FaceAligner
    from ..runtime.registry import resolve_regressor
    from ..train.verify_threshold import measure_verify_threshold, write_verify_threshold

    spec = resolve_regressor(args.model)
    js = spec.onnx.with_suffix(".json")
    st = measure_verify_threshold(FaceAligner(model=str(spec.onnx), detector=args.detector, verify=None),
                                  args.data_300w, step=args.step)
    print(f"{spec.name}: threshold {st['threshold']} ({st['margin']} x max {st['max']:.3f}; median {st['median']:.3f}, "
          f"p99 {st['p99']:.3f}; {st['n_faces']} faces, {st['missed']} not detected)")
    if not args.dry_run:
        write_verify_threshold(js, st)
        print(f"wrote {js}")
    return 0


def _pack(args: argparse.Namespace) -> int:
    from ..facemodel import load_bfm
    from ..train import losses as L
    from ..train.pack import pack_files

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, paths, q in (("train", args.train, args.quality), ("val", [args.val], args.val_quality)):
        st = pack_files(paths, out / f"{name}.pack.npz", q)
        print(f"{out / f'{name}.pack.npz'}: {st['samples']} samples, {st['encoded']} encoded "
              f"({st['mirrored']} stored as mirrors), {st['bytes'] / 1e6:.1f} MB (raw crops {st['raw_bytes'] / 1e6:.0f} MB)")
    fm = load_bfm()
    L.VertexModel.from_face_model(fm, L.vertex_subset(fm, args.vertex_step)).save(out / "vertex_model.npz")
    print(f"{out / 'vertex_model.npz'}: loss vertices (every {args.vertex_step}th + the 68 keypoints)")
    return 0


def _models_dir() -> Path:
    from ..runtime.registry import MODELS_DIR

    return MODELS_DIR


def add_regressor_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``tddfa train [regressor]``."""
    p.add_argument("--config", help="JSON or TOML config or recipe (e.g. configs/regressor-mb05.json); defaults otherwise")
    p.add_argument("--stage", help="the stage of a staged recipe to run (the recipe's error lists them, in order)")
    p.add_argument("--out", help="run folder (default cache/recipes/<config name>, where the next stage looks)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pth")
    p.add_argument("--smoke", action="store_true", help="a few steps on a few samples (tests)")
    p.add_argument("--threads", type=int, help="override the config's torch threads")
    p.add_argument("--epochs", type=int, help="override the config's number of epochs")
    p.add_argument("--stop-after", type=int, metavar="STEPS", help="checkpoint and stop at this global step")
    p.set_defaults(func=_train)


def add_pack_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``tddfa train pack``."""
    p.add_argument("--train", nargs="+", default=["cache/train/train.npz"], help="cached splits to pack into one")
    p.add_argument("--val", default="cache/train/val.npz")
    p.add_argument("--out", default="cache/gpu")
    p.add_argument("--quality", type=int, default=65, help="WebP quality of the training crops")
    p.add_argument("--val-quality", type=int, default=75)
    p.add_argument("--vertex-step", type=int, default=10, help="as the config's loss.vertex_step")
    p.set_defaults(func=_pack)


def add_calibrate_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``tddfa calibrate-verify``."""
    p.add_argument("model", help="shipped name (tddfa_mb05) or .onnx with a sibling .json")
    add_data_option(p, "--data-300w", "300w", "the 300W pack")
    p.add_argument("--detector", default="default")
    p.add_argument("--step", type=int, default=2, help="every STEP-th non-AFW train face")
    p.add_argument("--dry-run", action="store_true", help="print, do not write the .json")
    p.set_defaults(func=_calibrate_verify)


def add_ensemble_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``tddfa train ensemble``."""
    p.add_argument("checkpoints", nargs="+", help="member checkpoints, in the order of the registered ensemble")
    p.add_argument("--out", required=True, help="output .pth")
    p.set_defaults(func=_ensemble)


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``tddfa train eval``."""
    p.add_argument("checkpoints", nargs="+", help="runs/NAME/best.pth ...")
    p.add_argument("--data", nargs="+", default=["cache/train/val.npz"],
                   help="cached splits (val.npz; val_profiles.npz from `tddfa prepare-data --more-profiles test`)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", help="write the numbers here")
    p.set_defaults(func=_evaluate)


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``tddfa train export``."""
    p.add_argument("checkpoint", help="runs/NAME/best.pth or last.pth")
    p.add_argument("--name", required=True, help="model name, e.g. tddfa_mb05")
    p.add_argument("--default", action="store_true", help="also make it the default regressor (default.json)")
    p.add_argument("--out-dir", help="folder (default: the package's models folder)")
    p.add_argument("--card", help="one-line model card stored in the .json")
    p.add_argument("--roi-box-scale", metavar="X|auto",
                   help="detector box -> crop scale stored with the model; 'auto' measures it on 300W train "
                        "with --detector (see tddfa.train.roi_scale)")
    p.add_argument("--detector", default="default", help="detector for --roi-box-scale auto (default: shipped)")
    p.add_argument("--data-300w", default=data_default("300w"), metavar="DIR",
                   help=f"300W pack for --roi-box-scale auto (default: ${DATA_ENV}/300w when {DATA_ENV} is set)")
    p.add_argument("--no-pth", action="store_true", help="write only .onnx and .json (e.g. an ensemble of shipped .pth)")
    p.set_defaults(func=_export)


# the modes of `tddfa train MODE`; each is also a top-level `tddfa train-MODE` (not listed in the help)
MODES = {
    "regressor": (add_regressor_arguments, "train the 3DMM regressor (resumable, logs to runs/NAME/train.log)"),
    "detector": (train_detector.add_arguments, train_detector.HELP),
    "eval": (add_eval_arguments, "NME of training checkpoints on cached validation splits, by yaw bin"),
    "pack": (add_pack_arguments, "compact WebP copies of the training caches (+ loss vertices) to move to another "
                                 "machine, e.g. a GPU box"),
    "export": (add_export_arguments, "export a training checkpoint as a shipped model (.onnx/.json/.pth)"),
    "ensemble": (add_ensemble_arguments, "one checkpoint averaging trained members' 62 parameters (registered "
                                         "combinations, e.g. mb1 + mb05); ship it with `tddfa train export`"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train and ship models: regressor (default), detector, eval, pack, export, "
                                     "ensemble", description="Train and ship models. Without a MODE, `tddfa train "
                                     "[options]` trains the regressor (as `tddfa train regressor`).")
    add_regressor_arguments(p)
    modes = p.add_subparsers(dest="train_mode", metavar="MODE")
    for name, (add, text) in MODES.items():
        add(modes.add_parser(name, help=text, description=text))
        if name != "regressor":
            add(sub.add_parser(f"train-{name}", description=text))
    c = sub.add_parser("calibrate-verify", help="measure a shipped model's face/no-face re-crop threshold on "
                                                "300W train and store it in its .json (FaceAligner verify='auto')")
    add_calibrate_arguments(c)
